"""A run's local metrics log, ``RUN/metrics.jsonl``: its history on the run's own disk.

wandb keeps curves only where it is on and synced; this file keeps them whatever wandb's mode.
One JSON object per line, each with ``kind``, ``step`` (G step) and ``time`` (Unix seconds):

- ``start``: a process began (or resumed) writing at ``step``; ``source`` (train / import),
  ``nlgan`` version, ``machine``, and anything the writer adds (an import's ``imported``);
- ``train``: the scalars logged every ``train.log_every`` steps under ``values`` (``loss/d``,
  ``attn_gamma/g8``, ``augment/p``, ``lr/g``, ``images_per_s``, ...);
- ``eval``: the scores of an evaluation under ``values`` (``eval/fid``, ...) with the
  ``protocol`` that measured them.

Each record is appended with one ``write`` of a whole line, then flushed and fsynced, so a
``kill -9`` leaves at most a torn last line, which readers skip. Resuming from step S drops the
records after S first (the steps are trained again), so the log never holds a step twice.
Non-finite numbers are written as ``null`` (strict JSON, readable by any tool). Nothing here
imports torch: the report and other readers load it without the training stack.
"""

from __future__ import annotations

import json
import math
import os
import platform
import socket
import time
import warnings
from pathlib import Path
from typing import Any

from nlgan.storage.files import atomic_write
from nlgan.storage.rundir import RunDir

KINDS = ("start", "train", "eval")


def _plain(value: Any) -> Any:
    """JSON-ready copy: non-finite floats become None; anything but plain data is refused."""
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    # A tensor here would mean a host sync inside the step: the loop hands over floats only.
    raise TypeError(f"metrics log: {type(value).__name__} is not plain data (give Python floats)")


def encode(record: dict[str, Any]) -> bytes:
    """One record as a complete line of UTF-8 JSON."""
    return (json.dumps(_plain(record), separators=(",", ":"), allow_nan=False) + "\n").encode()


def read_records(path: str | Path) -> list[dict[str, Any]]:
    """The records of a log, oldest first; a torn (unparseable) line is skipped; [] if none."""
    path = Path(path)
    if not path.is_file():
        return []
    records = []
    for line in path.read_bytes().splitlines():
        try:
            record = json.loads(line)
        except (ValueError, UnicodeDecodeError):  # a write cut short by kill -9
            continue
        if isinstance(record, dict) and record.get("kind") in KINDS and "step" in record:
            records.append(record)
    return records


def machine() -> dict[str, Any]:
    """Where this process runs: host, OS, Python (the trainer adds device and processes)."""
    return {
        "host": socket.gethostname(),
        "platform": platform.platform(terse=True),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }


def nlgan_version() -> str:
    """The version of the nlgan that writes."""
    from nlgan import __version__

    return __version__


class MetricsLog:
    """Appends records to ``RUN/metrics.jsonl`` (only where ``enabled``: rank 0)."""

    def __init__(
        self,
        run_dir: str | Path,
        step: int,
        enabled: bool = True,
        source: str = "train",
        **start: Any,
    ):
        self.path = RunDir(run_dir).metrics_log
        self.enabled = enabled
        if not enabled:
            return
        self._keep_until(step)
        self.append("start", step, source=source, nlgan=nlgan_version(), **start)

    def _keep_until(self, step: int) -> None:
        """Drop records after ``step`` (resumed steps are logged again) and any torn line."""
        if not self.path.is_file():
            return
        raw = self.path.read_bytes()
        kept = [r for r in read_records(self.path) if int(r["step"]) <= step]
        text = b"".join(encode(r) for r in kept)
        if text != raw:
            with atomic_write(self.path, durable=True) as f:
                f.write(text)

    def append(self, kind: str, step: int, **fields: Any) -> None:
        """Append one record: a single write of the whole line, then fsync."""
        if not self.enabled:
            return
        line = encode({"kind": kind, "step": int(step), "time": time.time(), **fields})
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as err:  # a full disk must not stop training: warn once, stop logging
            self.enabled = False
            warnings.warn(
                f"writing {self.path} failed ({err.strerror or err}); the local metrics log is "
                "off for the rest of this run",
                stacklevel=2,
            )

    def train(self, step: int, values: dict[str, float]) -> None:
        """The scalars of a log step (Python numbers the loop has already read back)."""
        self.append("train", step, values=values)

    def eval(self, step: int, values: dict[str, float], protocol: dict[str, Any]) -> None:
        """The scores of an evaluation and the protocol that measured them."""
        self.append("eval", step, values=values, protocol=protocol)
