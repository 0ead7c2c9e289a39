"""The result of an import, written as an nlgan run directory.

The run holds ``config.yaml`` and one checkpoint, ``checkpoints/ckpt-<step>.pt`` (written with
:func:`nlgan.checkpoint.save_checkpoint`, so it carries the content checksum), with the keys a
training checkpoint has: ``G``, ``D`` and ``G_ema`` (a missing generator file is filled from the
other one; a missing ``D`` stays missing), fresh Adam states (the source's optimiser moments
are not imported), no RNG states and data position 0, plus ``imported``: where the weights came
from; its ``metrics.jsonl`` starts with one ``start`` record naming the source (no curves yet).
``nlgan sample / attention / fid / export / report`` read it like any run;
``nlgan train --resume`` continues it when D is present (give the data with
``--set data.name=... --set data.root=...``); ``train.init_from`` starts a new run from it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from nlgan.config import Config, ConfigError, apply_overrides, config_from_dict, config_to_dict
from nlgan.config import save_config as write_config
from nlgan.interop.foreign import InteropError
from nlgan.models.arch import d_feature_sizes
from nlgan.models.networks import Discriminator, Generator
from nlgan.storage.checkpoint import save_checkpoint
from nlgan.storage.rundir import RunDir
from nlgan.storage.runlog import MetricsLog


@dataclass(frozen=True)
class Imported:
    """Converted weights and the nlgan config that reproduces the source model."""

    config: Config
    weights: dict[str, dict[str, torch.Tensor]]  # "G", "G_ema", "D": nlgan state dicts
    step: int  # the source's training iteration
    record: dict[str, Any]  # where it came from (plain data, stored in the checkpoint)


def attention_places(resolution: int, blocks: list[int]) -> tuple[tuple, tuple]:
    """D attention after 1-based ``blocks`` as (d_attn_resolutions, d_attn_blocks): sizes when
    every block is the first of its size (the usual placement), block numbers otherwise."""
    sizes = d_feature_sizes(resolution)
    if all(sizes.index(sizes[b - 1]) == b - 1 for b in blocks):
        return tuple(sizes[b - 1] for b in blocks), ()
    return (), tuple(blocks)


def plain_values(values: dict[str, Any]) -> dict[str, Any]:
    """The JSON-like part of a foreign config (numbers, strings, lists), for the record."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, (bool, int, str)) or value is None:
            out[str(key)] = value
        elif isinstance(value, float) and math.isfinite(value):
            out[str(key)] = value
        elif isinstance(value, (list, tuple)) and all(isinstance(v, (int, str)) for v in value):
            out[str(key)] = list(value)
    return out


def step_number(value: Any, what: str) -> tuple[int, list[str]]:
    """A source's training step as a checkpoint step: a whole number; negative -> 0 (noted)."""
    try:
        step = int(value)
        if step != value and not isinstance(value, str):
            raise ValueError
    except (TypeError, ValueError, OverflowError):
        raise InteropError(f"{what}={value!r} is not a step number (a whole number)") from None
    if step < 0:
        return 0, [f"{what}={step} is negative: the run starts at step 0"]
    return step, []


def apply_run_overrides(cfg: Config, overrides: tuple[str, ...] | list[str]) -> Config:
    """``--set`` for an imported run: data, train, eval and log keys; the model is the source's."""
    model_keys = [item for item in overrides if item.strip().startswith("model.")]
    if model_keys:
        raise InteropError(
            f"--set {model_keys[0].split('=')[0]}: the model section of an import is what the "
            "source weights are; change the data, train, eval or log keys only"
        )
    try:
        return config_from_dict(apply_overrides(config_to_dict(cfg), overrides))
    except ConfigError as err:
        raise InteropError(str(err)) from None


def fresh_optimizer(model: torch.nn.Module, lr: float, betas: tuple[float, float]) -> dict:
    """The state dict of a new Adam over ``model`` (what the trainer builds), with no moments."""
    return torch.optim.Adam(model.parameters(), lr=lr, betas=betas).state_dict()


def checkpoint_state(imported: Imported, cfg: Config) -> dict[str, Any]:
    """The checkpoint content of an imported run (see the module docstring)."""
    weights = dict(imported.weights)
    weights.setdefault("G", weights.get("G_ema"))
    weights.setdefault("G_ema", weights["G"])
    G = Generator(cfg.model)
    G.load_state_dict(weights["G"])  # strict: the converters must produce whole models
    Generator(cfg.model).load_state_dict(weights["G_ema"])
    betas = (cfg.train.beta1, cfg.train.beta2)
    state: dict[str, Any] = {
        "config": config_to_dict(cfg),
        "step": imported.step,
        "G": weights["G"],
        "G_ema": weights["G_ema"],
        "opt_G": fresh_optimizer(G, cfg.train.lr_g, betas),
        "scaler": None,
        "rng": [],
        "data": {"epoch": 0, "position": 0, "batches": 0},
        "world_size": 1,
        "tracker_run_id": None,
        "eval_best": None,
        "imported": {**imported.record, "generated": sorted(set(weights) - set(imported.weights))},
    }
    if "D" in weights:
        D = Discriminator(cfg.model)
        D.load_state_dict(weights["D"])
        state["D"] = weights["D"]
        state["opt_D"] = fresh_optimizer(D, cfg.train.lr_d, betas)
    return state


def write_run(imported: Imported, out: str | Path, overrides: tuple[str, ...] = ()) -> Path:
    """Write ``imported`` as the run directory ``out`` (which must be new or empty)."""
    out = Path(out)
    if imported.step < 0:  # the importers clamp with a note; nothing may name ckpt--0000005.pt
        raise InteropError(f"step {imported.step}: a checkpoint step cannot be negative")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InteropError(f"--out {out}: already exists and is not empty; choose a new folder")
    cfg = apply_run_overrides(imported.config, overrides)
    state = checkpoint_state(imported, cfg)
    layout = RunDir(out)
    layout.checkpoints.mkdir(parents=True, exist_ok=True)
    write_config(cfg, layout.config)
    save_checkpoint(state, layout.checkpoint(imported.step))
    # The run's history starts here: no curves yet, and a fine-tune resumed from it goes on.
    MetricsLog(out, imported.step, source="import", imported=imported.record)
    return layout.checkpoint(imported.step)
