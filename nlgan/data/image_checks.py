"""Which files of an image folder decode: checked once, remembered by path, size and mtime.

A training folder is decoded in full once (a JPEG with a valid header and a garbled body fails
only then, not at ``verify()``), and the verdicts are cached in
``$NLGAN_CACHE_DIR/image-checks/`` (``~/.cache/nlgan/fid-stats/image-checks`` by default), keyed
by the folder. A file is checked again when its size or modification time changes.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from nlgan.data.image_io import ImageReadError, open_image
from nlgan.storage.files import atomic_write


def cache_dir() -> Path:
    """Where verdicts are kept (beside nlgan's other caches)."""
    if os.environ.get("NLGAN_CACHE_DIR"):
        base = Path(os.environ["NLGAN_CACHE_DIR"]).expanduser()
    else:
        base = (
            Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "nlgan" / "fid-stats"
        )
    return base / "image-checks"


def _load(path: Path) -> dict[str, list]:
    try:
        entries = json.loads(path.read_text())
        return entries if isinstance(entries, dict) else {}
    except (OSError, ValueError):
        return {}  # absent or damaged: check everything again


def check_images(root: Path, files: list[Path], mode: str) -> dict[Path, str | None]:
    """For each file, None if it decodes, else the one-line reason it does not."""
    root = root.resolve()
    cache = cache_dir() / f"{hashlib.sha256(str(root).encode()).hexdigest()[:24]}.json"
    known = _load(cache)
    verdicts: dict[Path, str | None] = {}
    fresh: dict[str, list] = {}
    for path in files:
        stat = path.stat()
        key = str(path.resolve().relative_to(root))
        stamp = [stat.st_size, stat.st_mtime_ns]
        entry = known.get(key)
        if entry is not None and entry[:2] == stamp:
            reason = entry[2]
        else:
            try:
                open_image(path, mode)
                reason = None
            except ImageReadError as err:
                reason = str(err)
        verdicts[path] = reason
        fresh[key] = [*stamp, reason]
    if fresh != known:
        try:
            with atomic_write(cache, "w") as f:
                json.dump(fresh, f)
        except OSError:
            pass  # a read-only cache only costs the next start another check
    return verdicts
