"""Checkpoint files: atomic writes, safe loads, and finding the latest good one in a run dir.

A run directory holds ``config.yaml`` and ``checkpoints/ckpt-<step>.pt`` (plus
``checkpoints/best.pt``, the generators of its best evaluation, when it evaluates). A checkpoint
is a plain dict of state dicts, numbers, strings and tensors (``FORMAT``, ``config``, ``step``,
``G``, ``D``, ``G_ema``, optimiser states, ...), saved with ``torch.save`` and loaded with
``weights_only=True``, so opening one can never run code. Each carries a SHA-256 of its content
(``checksum``), verified on load: a flipped bit inside a tensor makes the file "damaged" like a
truncated one (skipped on resume with a warning that names it, refused by sampling and
metrics). Training and inference (sampling, metrics) both read checkpoints through this module;
it imports nothing from ``nlgan.train``.
"""

from __future__ import annotations

import errno
import hashlib
import os
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from nlgan import __version__
from nlgan.errors import NlganError, first_line
from nlgan.storage.files import atomic_path
from nlgan.storage.rundir import RunDir, run_root

FORMAT = "nlgan/1"
CHECKSUM = "checksum"  # key of the content digest; not part of the state handed to callers


class CheckpointError(NlganError, RuntimeError):
    """A checkpoint (or run directory) is missing, damaged or not an nlgan checkpoint."""


def checkpoint_dir(run_dir: str | Path) -> Path:
    """Where a run keeps its checkpoints."""
    return RunDir(run_dir).checkpoints


def checkpoint_path(run_dir: str | Path, step: int) -> Path:
    """The file name of the checkpoint at ``step`` (zero-padded so names sort by step)."""
    return RunDir(run_dir).checkpoint(step)


def content_digest(state: Any) -> str:
    """SHA-256 over every value of a checkpoint's content (tensors by dtype, shape and bytes)."""
    h = hashlib.sha256()
    _feed(h, state)
    return "sha256:" + h.hexdigest()


def _feed(h: Any, value: Any) -> None:
    if isinstance(value, torch.Tensor):
        t = value.detach().cpu().contiguous().reshape(-1)
        h.update(f"T{t.dtype}{tuple(value.shape)}".encode())
        h.update(memoryview(t.view(torch.uint8).numpy()))
    elif isinstance(value, dict):
        h.update(f"D{len(value)}".encode())
        for key, item in value.items():  # insertion order survives torch.save / torch.load
            _feed(h, key)
            _feed(h, item)
    elif isinstance(value, (list, tuple)):
        h.update(f"L{len(value)}".encode())
        for item in value:
            _feed(h, item)
    else:  # str, int, float (repr round-trips), bool, None
        h.update(f"{type(value).__name__}:{value!r};".encode())


def save_checkpoint(state: dict[str, Any], path: str | Path) -> Path:
    """Write ``state`` atomically, with a checksum of its content that loading verifies.

    A crash, a full disk or a signal during the write never damages an existing checkpoint.
    """
    path = Path(path)
    content = {"format": FORMAT, "nlgan_version": __version__, **state}
    content[CHECKSUM] = content_digest(content)
    with atomic_path(path, durable=True) as tmp:
        # torch writes the file itself, from C++: no Python runs inside its writes, so a stop
        # signal's exception (Abort, KeyboardInterrupt) only ever rises from torch.save's Python
        # part and propagates whole. Given a Python file object instead, torch swallows an
        # exception raised in its write() and may write to the file again after it is closed,
        # which ends the process with ``terminate``.
        try:
            torch.save(content, str(tmp))
        except RuntimeError as err:
            # torch reports a failed write (disk full, quota, size limit) without its errno.
            raise _os_reason(tmp) or OSError(
                errno.EIO, f"short write ({str(err).strip()[:120]})"
            ) from None
    return path


def _os_reason(tmp: Path) -> OSError | None:
    """The operating system's error for a file whose write failed, found by writing one more
    byte (a full disk, a quota or a file-size limit fails it the same way); None if it works."""
    try:
        with open(tmp, "ab") as f:
            f.write(b"\0")
            f.flush()
            os.fsync(f.fileno())
    except OSError as err:
        return err
    return None


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint file safely (``weights_only=True``) and check that it is nlgan's."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises several types for truncated / foreign files
        reason = first_line(err)
        raise CheckpointError(
            f"{path}: not a readable checkpoint ({reason[:200]}); "
            "it may be damaged or not written by nlgan — use another checkpoint of the run"
        ) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not an nlgan checkpoint (expected format {FORMAT!r})")
    stored = state.pop(CHECKSUM, None)  # absent in checkpoints of nlgan 0.1.0
    if stored is not None and stored != content_digest(state):
        raise CheckpointError(
            f"{path}: damaged (its content does not match the checksum written with it); "
            "use another checkpoint of the run"
        )
    return state


def best_checkpoint_path(run_dir: str | Path) -> Path:
    """Where a run with ``eval.every > 0`` keeps a copy of its best-scoring generators."""
    return RunDir(run_dir).best


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


def load_weights(model: nn.Module, weights: dict[str, torch.Tensor], what: str) -> None:
    """Strict ``model.load_state_dict(weights)``; a mismatch (e.g. weights of another
    ``model.attn_affinity``) is a one-line :class:`CheckpointError` that starts with ``what``."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(weights))
    unexpected = sorted(set(weights) - set(expected))
    reshaped = sorted(
        k for k in set(expected) & set(weights) if tuple(weights[k].shape) != expected[k].shape
    )
    if missing or unexpected or reshaped:
        example = (missing or unexpected or reshaped)[0]
        raise CheckpointError(
            f"{what} do not fit the {type(model).__name__.lower()} its config describes "
            f"({len(missing)} missing, {len(unexpected)} unexpected, {len(reshaped)} wrongly "
            f"shaped tensors, e.g. {example!r})"
        )
    model.load_state_dict(weights)
