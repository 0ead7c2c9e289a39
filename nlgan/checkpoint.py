"""Checkpoint files: atomic writes, safe loads, and finding the latest good one in a run dir.

A run directory holds ``config.yaml`` and ``checkpoints/ckpt-<step>.pt`` (plus
``checkpoints/best.pt``, the generators of its best evaluation, when it evaluates). A checkpoint
is a plain dict of state dicts, numbers, strings and tensors (``FORMAT``, ``config``, ``step``,
``G``, ``D``, ``G_ema``, optimiser states, ...), saved with ``torch.save`` and loaded with
``weights_only=True``, so opening one can never run code. Training and inference (sampling,
metrics) both read checkpoints through this module; it imports nothing from ``nlgan.train``.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path
from typing import Any

import torch

FORMAT = "nlgan/1"
_NAME = re.compile(r"^ckpt-(\d+)\.pt$")  # best.pt never matches: resume never picks it
BEST_NAME = "best.pt"


class CheckpointError(RuntimeError):
    """A checkpoint (or run directory) is missing, damaged or not an nlgan checkpoint."""


def checkpoint_dir(run_dir: str | Path) -> Path:
    """Where a run keeps its checkpoints."""
    return Path(run_dir) / "checkpoints"


def checkpoint_path(run_dir: str | Path, step: int) -> Path:
    """The file name of the checkpoint at ``step`` (zero-padded so names sort by step)."""
    return checkpoint_dir(run_dir) / f"ckpt-{step:09d}.pt"


def save_checkpoint(state: dict[str, Any], path: str | Path) -> Path:
    """Write ``state`` atomically: a crash mid-write never damages an existing checkpoint."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {"format": FORMAT, **state}
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)  # atomic on POSIX: readers see the old file or the new one
    finally:
        if tmp.exists():
            tmp.unlink()
    _fsync_dir(path.parent)
    return path


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable; not possible on every platform (e.g. Windows).
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


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


def best_checkpoint_path(run_dir: str | Path) -> Path:
    """Where a run with ``eval.every > 0`` keeps a copy of its best-scoring generators."""
    return checkpoint_dir(run_dir) / BEST_NAME


def resolve_best(run: str | Path) -> Path:
    """The best checkpoint of a run directory (``nlgan sample RUN --best``), or a clear error."""
    run = Path(run)
    if not run.is_dir():
        raise CheckpointError(f"{run}: --best needs a run directory (it reads checkpoints/best.pt)")
    path = best_checkpoint_path(run)
    if not path.is_file():
        raise CheckpointError(
            f"{run}: no best checkpoint ({path}); a run writes one when it evaluates "
            "(eval.every > 0), so score this one with `nlgan fid` or sample without --best"
        )
    return path


def list_checkpoints(run_dir: str | Path) -> list[Path]:
    """The run's numbered checkpoints, oldest first."""
    directory = checkpoint_dir(run_dir)
    if not directory.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in directory.iterdir() if (m := _NAME.match(p.name))]
    return [p for _, p in sorted(found)]


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
        run_dir = path.parent if path.name == "checkpoints" else path
        return load_latest(run_dir, map_location)
    if not path.exists():
        raise CheckpointError(f"{path}: no such run directory or checkpoint file")
    return path, load_checkpoint(path, map_location)


def prune_checkpoints(run_dir: str | Path, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` numbered checkpoints; returns what was removed."""
    old = list_checkpoints(run_dir)[:-keep] if keep > 0 else []
    for path in old:
        path.unlink(missing_ok=True)
    return old
