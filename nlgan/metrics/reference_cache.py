"""The cache of reference statistics on disk: keys, entries, and agreeing on a hit.

The cache key hashes the data set's identity (folder: path plus every file's name, size and
mtime; ``.npz``: path, size, mtime), the resize resolution, the sample count and the extractor's
identity (which includes the weights file's SHA-256). A key never goes stale: changing any of
them makes a new key. Entries live in ``$NLGAN_CACHE_DIR`` or ``~/.cache/nlgan/fid-stats``.
The extractor's identity names the backbone, its weights and the resize mode, so each mode and
backbone has its own entries. Intra-class FID caches one entry per class (the key adds the class).
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from nlgan.metrics.distributed import rank_and_world
from nlgan.metrics.inception import FeatureExtractor
from nlgan.metrics.sources import ImageSource
from nlgan.metrics.stats import Stats

CACHE_VERSION = 1


def default_cache_dir() -> Path:
    """``$NLGAN_CACHE_DIR``, else ``$XDG_CACHE_HOME/nlgan/fid-stats`` (~/.cache by default)."""
    if os.environ.get("NLGAN_CACHE_DIR"):
        return Path(os.environ["NLGAN_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "nlgan" / "fid-stats"


def cache_key(source_identity: dict[str, Any], n: int, extractor_identity: str) -> str:
    """Hex key for statistics of ``n`` images of a source under an extractor."""
    blob = json.dumps(
        {
            "version": CACHE_VERSION,
            "source": source_identity,
            "n": n,
            "extractor": extractor_identity,
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def read_entry(path: Path, need_features: bool) -> tuple[Stats, torch.Tensor | None] | None:
    """A cache entry's statistics (and features), or None when absent, unreadable or without
    the features asked for."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            if need_features and "features" not in data.files:
                return None
            stats = Stats(data["mu"], data["sigma"], int(data["n"]), str(data["extractor"]))
            feats = torch.from_numpy(data["features"]) if "features" in data.files else None
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None  # a damaged entry is recomputed and overwritten
    return stats, feats


def write_entry(path: Path, stats: Stats, features: torch.Tensor | None = None) -> None:
    """Write atomically (a temp file, then rename) so concurrent runs never read half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, Any] = {
        "mu": stats.mu,
        "sigma": stats.sigma,
        "n": np.int64(stats.n),
        "extractor": stats.extractor,
    }
    if features is not None:
        arrays["features"] = features.numpy()
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
    os.replace(tmp, path)


def broadcast_from_rank0(value: Any, group: dist.ProcessGroup | None) -> Any:
    """Rank 0's ``value`` on every process (so all processes agree on a cache hit)."""
    if rank_and_world(group)[1] == 1:
        return value
    box = [value]
    src = dist.get_global_rank(group, 0) if group is not None else 0
    dist.broadcast_object_list(box, src=src, group=group)
    return box[0]


def entry_path(
    source: ImageSource, n: int, extractor: FeatureExtractor, cache_dir: str | Path | None
) -> Path | None:
    """The cache file of ``n`` images of ``source`` under ``extractor``; None when the source
    has no stable identity (a generator, a tensor)."""
    identity = source.identity()
    if identity is None:
        return None
    return (
        Path(cache_dir or default_cache_dir()) / f"{cache_key(identity, n, extractor.identity)}.npz"
    )
