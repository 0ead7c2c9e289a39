"""BigGAN-PyTorch's settings beyond the model: its options (``state_dict.pth``'s config with
``--source-set`` over it, checked), training hyperparameters, and how it sampled.

Sampling: BigGAN-PyTorch draws z ~ N(0, ``z_var``); nlgan draws N(0, 1) and cannot fold a scale
of z into a spectral-normed first layer, so ``z_var`` != 1 is refused. It samples with batch
statistics unless ``G_eval_mode``, and ``accumulate_stats`` re-estimates standing statistics
first; both are recorded with the import, and the import notes how to match them.
"""

from __future__ import annotations

import re
from typing import Any

from nlgan.config import ConfigError, TrainConfig
from nlgan.interop.foreign import InteropError

_NUMBERS = ("BN_eps", "SN_eps", "dim_z", "shared_dim", "G_ch", "D_ch", "resolution", "n_classes",
            "z_var", "num_standing_accumulations")  # fmt: skip
# BigGAN-PyTorch's sampling options (utils.py defaults), recorded with the import.
_SAMPLING = {"z_var": 1.0, "G_eval_mode": False, "accumulate_stats": False,
             "num_standing_accumulations": 16}  # fmt: skip


def source_options(info: dict[str, Any], overrides: dict[str, Any] | None, where: str) -> dict:
    """state_dict.pth's ``config`` with ``--source-set`` values over it; numbers checked."""
    config = info.get("config")
    if config is not None and not isinstance(config, dict):
        raise InteropError(
            f"{where}: its config is a {type(config).__name__}, not BigGAN-PyTorch's dict of "
            "options (give the options with --source-set KEY=VALUE, or remove the file)"
        )
    src = {**(config or {}), **(overrides or {})}
    for key in _NUMBERS:
        value = src.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise InteropError(
                f"BigGAN-PyTorch option {key}={value!r} is not a number: fix it with "
                f"--source-set {key}=..."
            )
    for key in ("G_attn", "D_attn"):  # "16_32", "0" or a number
        value = src.get(key)
        if value is not None and not re.fullmatch(r"\d+(_\d+)*", str(value)):
            raise InteropError(
                f"BigGAN-PyTorch option {key}={value!r} is not a list of sizes like '16_32' "
                f"or '0': fix it with --source-set {key}=..."
            )
    return src


def sampling_notes(src: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """BigGAN-PyTorch's sampling options (recorded) and what nlgan does differently (notes).

    ``z_var`` != 1 is refused: nlgan draws z from N(0, 1) and cannot fold a scale of z into a
    spectral-normed first layer. BigGAN-PyTorch samples with batch statistics unless
    ``G_eval_mode``; ``accumulate_stats`` re-estimates standing statistics first.
    """
    options = {key: src.get(key) for key in _SAMPLING}  # None: not in the source's config
    if options["z_var"] is not None and float(options["z_var"]) != 1.0:
        raise InteropError(
            f"BigGAN-PyTorch option not supported by the importer: z_var={options['z_var']} "
            "(nlgan samples z ~ N(0, 1); to sample with that anyway: --source-set z_var=1)"
        )
    notes = []
    if options["accumulate_stats"]:
        n = options["num_standing_accumulations"] or _SAMPLING["num_standing_accumulations"]
        notes.append(
            f"the source sampled with standing statistics (accumulate_stats, {n} "
            f"accumulations): sample with `nlgan sample RUN --standing-stats {n}` to match"
        )
    elif options["G_eval_mode"] is False:
        notes.append(
            "the source sampled in train mode, with batch statistics (G_eval_mode=False); "
            "nlgan samples in eval mode with the stored statistics, so its images differ"
        )
    return options, notes


def train_config(src: dict[str, Any]) -> tuple[TrainConfig, dict[str, Any]]:
    """The training hyperparameters BigGAN-PyTorch ran with, where nlgan has the same knob, and
    those taken from the source, as typed (the rest are nlgan's defaults, not the source's)."""
    keys = {"G_lr": "lr_g", "D_lr": "lr_d", "G_B1": "beta1", "G_B2": "beta2",
            "batch_size": "batch_size", "num_D_steps": "d_steps_per_g_step",
            "ema_decay": "ema_decay", "ema_start": "ema_start", "seed": "seed"}  # fmt: skip
    values = {mine: src[theirs] for theirs, mine in keys.items() if theirs in src}
    if src and src.get("num_G_accumulations", 1) == src.get("num_D_accumulations", 1):
        values["grad_accum"] = int(src.get("num_D_accumulations", 1))
    if src:
        values["loss"] = "hinge"  # BigGAN-PyTorch's train_fns use its hinge losses only
    try:
        train = TrainConfig(**values)
    except (ConfigError, TypeError, ValueError):
        return TrainConfig(), {}
    return train, {key: getattr(train, key) for key in values}
