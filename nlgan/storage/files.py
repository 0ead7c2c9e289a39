"""Small file-system rules that several modules share: image extensions and atomic writes.

Every file nlgan writes for a user (checkpoints, grids, exports, statistics, configs) is written
under a temporary name in the same directory and renamed over the final name only when complete,
so a crash or a full disk never leaves a half-written file under a name that looks finished.
Temporary names have one shape, ``.<name>.tmp-<pid><suffix>``, so stale ones left by a killed
process can be recognised and removed (:func:`remove_stale_temps`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

# Image files that data sets, metric sources and sample folders read (lower case).
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm")

_TEMP = re.compile(r"^\.(?P<name>.+)\.tmp-(?P<pid>\d+)(?P<suffix>\.[^.]*)?$")


def is_image_file(path: Path) -> bool:
    """True for a file name with one of :data:`IMAGE_EXTENSIONS` (any case)."""
    return path.suffix.lower() in IMAGE_EXTENSIONS


def temp_path(path: str | Path) -> Path:
    """The temporary name that :func:`atomic_path` writes ``path`` under (suffix kept)."""
    path = Path(path)
    return path.with_name(f".{path.name}.tmp-{os.getpid()}{path.suffix}")


def fsync_dir(directory: str | Path) -> None:
    """Make a rename in ``directory`` durable (a no-op where directories cannot be opened)."""
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


@contextmanager
def atomic_path(path: str | Path, durable: bool = False) -> Iterator[Path]:
    """Yield a temporary path to write ``path`` through; renamed over ``path`` on success.

    The suffix is kept, so libraries that infer a format from the name (PIL, numpy) still do.
    On an exception the temporary file is removed and ``path`` is untouched. ``durable`` also
    fsyncs the file and the directory, for files that must survive a power cut (checkpoints).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    try:
        yield tmp
        if durable:
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
        os.replace(tmp, path)  # atomic on POSIX: readers see the old file or the new one
    finally:
        tmp.unlink(missing_ok=True)
    if durable:
        fsync_dir(path.parent)


@contextmanager
def atomic_write(path: str | Path, mode: str = "wb", durable: bool = False) -> Iterator[IO]:
    """Open a temporary file for writing; it replaces ``path`` only if the block completes."""
    with atomic_path(path, durable=durable) as tmp, open(tmp, mode) as f:
        yield f
        f.flush()


def remove_stale_temps(directory: str | Path) -> list[Path]:
    """Delete temporary files in ``directory`` left by processes that no longer run."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    removed = []
    for entry in directory.iterdir():
        match = _TEMP.match(entry.name)
        if match and entry.is_file() and not _alive(int(match.group("pid"))):
            entry.unlink(missing_ok=True)
            removed.append(entry)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except OSError:
        return False
    return True


def default_file_mode() -> int:
    """The mode a new file gets from ``open()`` here (0o666 less the umask, usually 0o644), for
    files that libraries create private (safetensors writes 0o600)."""
    try:  # Linux: read the umask without changing it (os.umask can only read by setting)
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask
