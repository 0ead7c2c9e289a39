"""Checkpoint files: atomic writes, safe loads, and finding the latest good one in a run dir.

A run directory holds ``config.yaml`` and ``checkpoints/ckpt-<step>.pt``. A checkpoint is a
plain dict of state dicts, numbers, strings and tensors (``FORMAT``, ``config``, ``step``, ``G``,
``D``, ``G_ema``, optimiser states, ...), saved with ``torch.save`` and loaded with
``weights_only=True``, so opening one can never run code. Training and inference (sampling,
metrics) both read checkpoints through this module; it imports nothing from ``nlgan.train``.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import torch

from nlgan.errors import NlganError
from nlgan.files import atomic_write
from nlgan.rundir import RunDir, run_root

FORMAT = "nlgan/1"


class CheckpointError(NlganError, RuntimeError):
    """A checkpoint (or run directory) is missing, damaged or not an nlgan checkpoint."""


def checkpoint_dir(run_dir: str | Path) -> Path:
    """Where a run keeps its checkpoints."""
    return RunDir(run_dir).checkpoints


def checkpoint_path(run_dir: str | Path, step: int) -> Path:
    """The file name of the checkpoint at ``step`` (zero-padded so names sort by step)."""
    return RunDir(run_dir).checkpoint(step)


def save_checkpoint(state: dict[str, Any], path: str | Path) -> Path:
    """Write ``state`` atomically: a crash mid-write never damages an existing checkpoint."""
    path = Path(path)
    with atomic_write(path, durable=True) as f:
        torch.save({"format": FORMAT, **state}, f)
    return path


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint file safely (``weights_only=True``) and check that it is nlgan's."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises several types for truncated / foreign files
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(
            f"{path}: not a readable checkpoint ({reason[:200]}); "
            "it may be damaged or not written by nlgan — use another checkpoint of the run"
        ) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not an nlgan checkpoint (expected format {FORMAT!r})")
    return state


def list_checkpoints(run_dir: str | Path) -> list[Path]:
    """The run's numbered checkpoints, oldest first."""
    return RunDir(run_dir).list_checkpoints()


def load_latest(
    run_dir: str | Path, map_location: str | torch.device = "cpu"
) -> tuple[Path, dict[str, Any]]:
    """Load the newest checkpoint of a run that reads back whole, skipping damaged ones."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise CheckpointError(f"{run_dir}: no such run directory")
    candidates = list_checkpoints(run_dir)
    for path in reversed(candidates):
        try:
            return path, load_checkpoint(path, map_location)
        except CheckpointError as err:
            warnings.warn(f"skipping damaged checkpoint: {err}", stacklevel=2)
    if candidates:
        raise CheckpointError(f"{run_dir}: every checkpoint is damaged ({len(candidates)} tried)")
    raise CheckpointError(
        f"{run_dir}: no checkpoints in {checkpoint_dir(run_dir)} (is this an nlgan run directory?)"
    )


def load_any(path: str | Path, map_location: str | torch.device = "cpu") -> tuple[Path, dict]:
    """Load a checkpoint given either a run directory (latest good one) or a checkpoint file."""
    path = Path(path)
    if path.is_dir():
        return load_latest(run_root(path), map_location)
    if not path.exists():
        raise CheckpointError(f"{path}: no such run directory or checkpoint file")
    return path, load_checkpoint(path, map_location)


def prune_checkpoints(run_dir: str | Path, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` numbered checkpoints; returns what was removed."""
    old = list_checkpoints(run_dir)[:-keep] if keep > 0 else []
    for path in old:
        path.unlink(missing_ok=True)
    return old
