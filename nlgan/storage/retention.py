"""Which numbered checkpoints a run keeps: the newest *verified* ones, never the one just written.

Pruning by step number alone can delete every good checkpoint: a bit-flipped ``ckpt-20``
outranks the good ``ckpt-10`` and every checkpoint of a run resumed from step 10, so with
``train.keep_ckpts=1`` each new checkpoint was deleted as soon as it was written. Here a
checkpoint counts towards ``keep_ckpts`` only once it reads back whole (its checksum matches);
a damaged one is moved to ``checkpoints/damaged/`` (out of resume's sight, kept for the user to
look at or delete) and named in one warning. Checkpoints that this process wrote or resumed
from are trusted without reading them again, so a run verifies each old file at most once.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from nlgan.storage.checkpoint import CheckpointError, load_checkpoint
from nlgan.storage.rundir import RunDir, checkpoint_step


@dataclass(frozen=True)
class SetAside:
    """A damaged checkpoint moved out of the run's numbered checkpoints."""

    source: Path
    target: Path
    reason: str

    def message(self) -> str:
        """The one-line warning that names it."""
        return (
            f"damaged checkpoint {self.source.name} ({self.reason}) moved to {self.target}; "
            "it is not resumed from nor counted among train.keep_ckpts"
        )


def _identity(path: Path) -> tuple[str, int, int, int]:
    st = path.stat()
    return (path.name, st.st_ino, st.st_size, st.st_mtime_ns)


def _reason(err: CheckpointError, path: Path) -> str:
    """``damaged (its content does not match ...)`` out of a load error's message."""
    return str(err).removeprefix(f"{path}: ").split(";")[0]


def set_aside(path: Path, reason: str) -> SetAside:
    """Move a damaged checkpoint into ``checkpoints/damaged/`` (never over an earlier one)."""
    folder = RunDir(path.parent.parent).damaged
    folder.mkdir(exist_ok=True)
    target, n = folder / path.name, 1
    while target.exists():
        n += 1
        target = folder / f"{path.stem}.{n}{path.suffix}"
    os.replace(path, target)
    moved = SetAside(path, target, reason)
    warnings.warn(moved.message(), stacklevel=2)
    return moved


def set_aside_newer(run_dir: str | Path, step: int) -> list[SetAside]:
    """On resume from ``step``: move the damaged checkpoints of later steps aside.

    The resume skipped them because they did not read back; left in place they would rank above
    every checkpoint the resumed run writes. A later checkpoint that *does* read back means that
    another process wrote it after this resume read its own: refuse rather than guess.
    """
    moved = []
    for path in RunDir(run_dir).list_checkpoints():
        later = checkpoint_step(path)
        if later is None or later <= step:
            continue
        try:
            load_checkpoint(path)
        except CheckpointError as err:
            moved.append(set_aside(path, _reason(err, path)))
            continue
        raise CheckpointError(
            f"{path} (step {later}) appeared after this resume read step {step}: another "
            f"process is writing this run; wait for it to finish, then resume again"
        )
    return moved


@dataclass
class Retention:
    """Prunes a run's numbered checkpoints to the newest ``keep`` that verify."""

    run_dir: Path
    keep: int
    _good: set[tuple[str, int, int, int]] = field(default_factory=set)

    def trust(self, path: Path) -> None:
        """Count ``path`` as verified (this process wrote it, or loaded it whole)."""
        self._good.add(_identity(path))

    def verified(self, path: Path) -> bool:
        """Whether ``path`` reads back whole; a damaged one is set aside (and warned about)."""
        if _identity(path) in self._good:
            return True
        try:
            load_checkpoint(path)
        except CheckpointError as err:
            set_aside(path, _reason(err, path))
            return False
        self.trust(path)
        return True

    def prune(self, newest: Path) -> list[Path]:
        """Keep ``newest`` (just written) and the newest verified others up to ``keep``;
        delete older ones. Returns the deleted paths, oldest first.

        A checkpoint of a *later* step than ``newest`` is never deleted as old: it is kept if
        it verifies and set aside if not (a resume sets those aside first; see
        :func:`set_aside_newer`).
        """
        self.trust(newest)
        step = checkpoint_step(newest)
        kept, removed = 1, []
        others = [p for p in RunDir(self.run_dir).list_checkpoints() if p != newest]
        for path in reversed(others):  # newest step first
            later = step is not None and (checkpoint_step(path) or 0) > step
            if kept < self.keep or later:
                kept += self.verified(path)
            else:
                path.unlink(missing_ok=True)
                removed.append(path)
        return removed[::-1]
