"""One writer per run directory: an advisory lock on ``RUN/.lock`` held by the training process.

Two ``nlgan train --resume R`` started at once (a job submitted twice on a cluster) would both
run and interleave their checkpoints in one folder. The training process therefore holds
``flock(RUN/.lock)`` from the start of the run to its end; a second one is refused in one line
naming the holder's pid. The kernel drops a flock when its process dies, however it dies
(``kill -9``, a crash, an out-of-memory kill), so a lock is never stale: a lock file
whose holder is gone is simply taken again. The file stays (it holds only the last holder's pid)
so that no process ever locks a file that another one has just unlinked. Under several
processes only the main one takes it. Where ``fcntl`` does not exist (Windows) there is no lock.

flock is advisory and local: it keeps nlgan processes apart, and on network file systems it is
only as good as their lock support (NFSv4 and Lustre pass it to the server).
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from nlgan.errors import NlganError
from nlgan.storage.rundir import RunDir

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None


class RunLockError(NlganError, RuntimeError):
    """The run directory is being written by another process, or cannot be locked at all."""


class RunLock:
    """The advisory lock of the process that writes one run directory."""

    def __init__(self, run_dir: str | Path):
        self.path = RunDir(run_dir).lock
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """Whether this object holds the lock now."""
        return self._fd is not None

    def acquire(self) -> RunLock:
        """Take the lock, or raise :class:`RunLockError` naming the process that holds it."""
        if fcntl is None or self._fd is not None:
            return self
        root = self.path.parent
        try:
            root.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as err:
            raise RunLockError(
                f"run directory {root}: cannot write there ({err.strerror or err}); choose a "
                "writable --out (or make it writable)"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            if err.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise RunLockError(f"{self.path}: cannot lock it ({err.strerror})") from None
            raise RunLockError(
                f"{root} is being trained by another process (pid {holder}, which holds "
                f"{self.path}); wait for it to finish or stop it, or train into another --out"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        """Let go of the lock (closing the file releases the flock)."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
