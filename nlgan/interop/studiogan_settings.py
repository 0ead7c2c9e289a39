"""StudioGAN's settings beyond the model: training hyperparameters (``OPTIMIZATION``,
``LOSS``), how the source sampled (``RUN``), and its FreezeD numbering.

Training: the YAML's values over StudioGAN's defaults, where nlgan has the same knob; a loss
nlgan lacks is recorded as such (the model card names it), never replaced by hinge.

StudioGAN reports its FIDs with the sampling options of ``RUN`` (``-std_stat`` / ``-batch_stat``
on its command line): standing statistics re-estimated over ``standing_step`` batches, or batch
statistics. nlgan samples in eval mode with the stored statistics; the import notes how to match
the source (``nlgan sample RUN --standing-stats N``) or that it cannot (batch statistics).

FreezeD: StudioGAN's ``freezeD=N`` freezes the first N *entries* of D's ``blocks`` list, where
an attention layer is an entry of its own; nlgan's ``train.freeze_d_blocks=K`` counts residual
blocks and freezes the attention after each frozen block with it. So ``freezeD=N`` is
``freeze_d_blocks`` = the number of residual blocks among the first N entries, as long as N does
not freeze a block but not its attention (that split has no nlgan equivalent and is refused).
"""

from __future__ import annotations

from typing import Any

from nlgan.config import ConfigError, TrainConfig
from nlgan.interop.foreign import InteropError

_OPT_DEFAULTS = {"batch_size": 64, "acml_steps": 1, "g_lr": 2e-4, "d_lr": 2e-4, "beta1": 0.5,
                 "beta2": 0.999, "d_updates_per_step": 5}  # fmt: skip


def freeze_d_from_studiogan(entries: list[tuple[str, int]], n: int) -> int:
    """nlgan's ``freeze_d_blocks`` for StudioGAN's ``freezeD=n`` over D's ``blocks`` entries
    (``("block", j)`` / ``("attn", j)``, in order); -1 (StudioGAN's off) and 0 give 0."""
    if isinstance(n, bool) or not isinstance(n, int) or n < -1 or n > len(entries):
        raise InteropError(
            f"freezeD={n!r}: StudioGAN's D here has {len(entries)} entries in its blocks list "
            f"(give -1 for none, or 0..{len(entries)})"
        )
    if n <= 0:
        return 0
    if entries[n - 1][0] == "block" and n < len(entries) and entries[n][0] == "attn":
        raise InteropError(
            f"freezeD={n} freezes D's residual block {sum(k == 'block' for k, _ in entries[:n])}"
            f" but not the attention after it; nlgan freezes both (use freezeD={n + 1}) or "
            f"neither (freezeD={n - 1})"
        )
    return sum(kind == "block" for kind, _ in entries[:n])


def sampling_notes(run: dict[str, Any]) -> list[str]:
    """What nlgan's sampling does differently from the ``RUN`` section's (notes for the user)."""
    notes = []
    if run.get("standing_statistics"):
        steps = run.get("standing_step")
        n = steps if isinstance(steps, int) and steps > 0 else "N"
        notes.append(
            "the source sampled with standing statistics (RUN.standing_statistics): sample "
            f"with `nlgan sample RUN --standing-stats {n}` to match its FIDs"
        )
    if run.get("batch_statistics"):
        notes.append(
            "the source sampled with batch statistics (RUN.batch_statistics); nlgan samples "
            "in eval mode with the stored statistics, so its images and FIDs differ"
        )
    factor = run.get("truncation_factor")
    if isinstance(factor, (int, float)) and not isinstance(factor, bool) and factor > 0:
        notes.append(f"the source sampled truncated (RUN.truncation_factor={factor}): sample "
                     f"with `--truncation {factor}`")  # fmt: skip
    return notes


def train_config(cfg: dict[str, dict[str, Any]]) -> tuple[TrainConfig, dict, dict]:
    """The training hyperparameters of the YAML (over StudioGAN's defaults), where nlgan has the
    same knob; those taken from the source (as typed); and the source's settings nlgan cannot
    express (e.g. ``{"loss": "wasserstein"}``). Without a YAML nothing is known."""
    if not cfg:
        return TrainConfig(), {}, {}
    opt = {**_OPT_DEFAULTS, **cfg.get("OPTIMIZATION", {})}
    model = cfg.get("MODEL", {})
    keys = {"g_lr": "lr_g", "d_lr": "lr_d", "beta1": "beta1", "beta2": "beta2",
            "batch_size": "batch_size", "d_updates_per_step": "d_steps_per_g_step",
            "acml_steps": "grad_accum"}  # fmt: skip
    values = {mine: opt[theirs] for theirs, mine in keys.items() if theirs in opt}
    if model.get("apply_g_ema"):
        values.update(ema_decay=model.get("g_ema_decay"), ema_start=model.get("g_ema_start"))
    loss = cfg.get("LOSS", {}).get("adv_loss", "vanilla")
    unmapped = {}
    if loss in ("hinge", "vanilla"):
        values["loss"] = "hinge" if loss == "hinge" else "nonsat"
    else:
        unmapped["loss"] = str(loss)
    try:
        train = TrainConfig(**values)
    except (ConfigError, TypeError, ValueError):
        return TrainConfig(), {}, unmapped
    return train, {key: getattr(train, key) for key in values}, unmapped
