"""The layout of a training run directory, defined once.

::

    RUN/
      config.yaml                    the resolved config (what --resume reads)
      checkpoints/ckpt-<step>.pt     numbered checkpoints, zero-padded so names sort by step
      checkpoints/best.pt            the best evaluation's generators (with eval.every > 0)
      checkpoints/damaged/           checkpoints that failed their checksum, moved out of the way
      samples/step-<step>.png        the EMA generator's grid at that step
      metrics.jsonl                  the local metrics log (storage/runlog.py)
      report.html                    the run's page (nlgan report RUN; train.report)
      wandb/                         tracker files (when wandb is on)
      .lock                          flock()ed by the training process that writes the run

Training writes it; sampling, metrics and the commands read it through this module only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

CONFIG_NAME = "config.yaml"
CHECKPOINT_DIR = "checkpoints"
BEST_NAME = "best.pt"  # never matches the numbered pattern: resume never picks it
SAMPLE_DIR = "samples"
DAMAGED_DIR = "damaged"
LOCK_NAME = ".lock"
METRICS_LOG = "metrics.jsonl"
REPORT_NAME = "report.html"
_CHECKPOINT = re.compile(r"^ckpt-(\d+)\.pt$")


@dataclass(frozen=True)
class RunDir:
    """Paths inside one run directory (nothing is created by looking them up)."""

    root: Path

    def __init__(self, root: str | Path):
        object.__setattr__(self, "root", Path(root))

    @property
    def config(self) -> Path:
        """The run's resolved ``config.yaml``."""
        return self.root / CONFIG_NAME

    @property
    def checkpoints(self) -> Path:
        """The folder of numbered checkpoints."""
        return self.root / CHECKPOINT_DIR

    def checkpoint(self, step: int) -> Path:
        """The checkpoint file of ``step``."""
        return self.checkpoints / f"ckpt-{step:09d}.pt"

    @property
    def best(self) -> Path:
        """The copy of the best-scoring checkpoint (written when the run evaluates)."""
        return self.checkpoints / BEST_NAME

    @property
    def damaged(self) -> Path:
        """Where damaged checkpoints are moved, out of resume's and pruning's sight."""
        return self.checkpoints / DAMAGED_DIR

    @property
    def lock(self) -> Path:
        """The file the writing training process holds an advisory lock on."""
        return self.root / LOCK_NAME

    @property
    def samples(self) -> Path:
        """The folder of in-run sample grids."""
        return self.root / SAMPLE_DIR

    @property
    def metrics_log(self) -> Path:
        """The local metrics log (one JSON record per line)."""
        return self.root / METRICS_LOG

    @property
    def report(self) -> Path:
        """The run's self-contained HTML report."""
        return self.root / REPORT_NAME

    def sample_grid(self, step: int) -> Path:
        """The sample grid written at ``step``."""
        return self.samples / f"step-{step:09d}.png"

    def list_checkpoints(self) -> list[Path]:
        """The numbered checkpoints, oldest first."""
        if not self.checkpoints.is_dir():
            return []
        found = []
        for path in self.checkpoints.iterdir():
            match = _CHECKPOINT.match(path.name)
            if match:
                found.append((int(match.group(1)), path))
        return [p for _, p in sorted(found)]


def checkpoint_step(path: str | Path) -> int | None:
    """The step in a numbered checkpoint's file name, or None for another name."""
    match = _CHECKPOINT.match(Path(path).name)
    return int(match.group(1)) if match else None


def run_root(path: str | Path) -> Path:
    """The run directory for a path that is a run directory or its ``checkpoints/`` folder."""
    path = Path(path)
    return path.parent if path.name == CHECKPOINT_DIR and path.is_dir() else path


def looks_like_run(path: str | Path) -> bool:
    """A directory that holds a run's config or checkpoints folder."""
    path = run_root(path)
    return path.is_dir() and ((path / CONFIG_NAME).is_file() or (path / CHECKPOINT_DIR).is_dir())
