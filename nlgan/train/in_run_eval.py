"""The trainer's periodic evaluation: score the EMA generator, log it, keep ``best.pt``, and
never let a failing evaluation cost a checkpoint.

A failure mid-run (a reference that went missing, a metric error) does not stop training: the
checkpoint of that step is written first, then a one-line warning. Every process takes part in
scoring (each scores its shard) and in the decision to write ``best.pt``.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm.auto import tqdm

from nlgan.checkpoint import best_checkpoint_path, save_checkpoint
from nlgan.errors import NlganError
from nlgan.train.evaluation import scalars

if TYPE_CHECKING:
    from nlgan.train.loop import Trainer


def save_best(trainer: Trainer) -> Path:
    """Write the generators of this step as ``checkpoints/best.pt`` (atomically, rank 0)."""
    path = best_checkpoint_path(trainer.run_dir)
    if trainer.acc.is_main_process:
        state = {
            "config": trainer.config_dict,
            "step": trainer.step,
            "G": trainer.acc.unwrap_model(trainer.G).state_dict(),
            "G_ema": trainer.ema.state_dict(),
            "eval_best": trainer.best.record,
        }
        save_checkpoint(state, path)  # temp file + rename: never half a best.pt
    trainer.acc.wait_for_everyone()
    return path


def score(trainer: Trainer, bar: tqdm) -> dict[str, float]:
    """Metrics of the EMA generator (every process takes part), logged, shown, best kept."""
    raw = trainer.evaluator.score(trainer.ema.ema)
    scores = scalars(raw)
    trainer.tracker.log(scores, trainer.step)
    trainer.metrics_log.eval(trainer.step, scores, trainer.evaluator.protocol)
    if trainer.best.update(raw, trainer.step, trainer.evaluator.protocol):  # same on every rank
        save_best(trainer)
    shown = ", ".join(f"{k.removeprefix('eval/')} {v:.4g}" for k, v in scores.items())
    if trainer.acc.is_main_process:
        bar.write(f"step {trainer.step}: {shown}")
    return scores


def score_or_warn(trainer: Trainer, bar: tqdm) -> None:
    """Score the EMA G; if that fails, checkpoint this step first, then warn and go on."""
    try:
        score(trainer, bar)
    except (NlganError, RuntimeError, ValueError, OSError) as err:
        if trainer.saved_at != trainer.step:
            trainer.last_checkpoint, trainer.saved_at = trainer.save(), trainer.step
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        message = (
            f"step {trainer.step}: evaluation failed ({reason}); checkpoint "
            f"{trainer.last_checkpoint.name} is saved and training goes on"
        )
        if trainer.acc.is_main_process:
            bar.write(f"warning: {message}")
        warnings.warn(message, stacklevel=2)
