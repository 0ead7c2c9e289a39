"""Reference statistics: from a stats file, or computed from real images and cached on disk.

The cache key hashes the data set's identity (folder: path plus every file's name, size and
mtime; ``.npz``: path, size, mtime), the resize resolution, the sample count and the extractor's
identity (which includes the weights file's SHA-256). A key never goes stale: changing any of
them makes a new key. Entries live in ``$NLGAN_CACHE_DIR`` or ``~/.cache/nlgan/fid-stats``.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from nlgan.metrics.distributed import rank_and_world
from nlgan.metrics.extract import extract
from nlgan.metrics.inception import FeatureExtractor
from nlgan.metrics.sources import ImageSource, open_images
from nlgan.metrics.stats import Stats, StatsError, is_stats_file, load_stats

CACHE_VERSION = 1


@dataclass(frozen=True)
class Reference:
    """Real-data side of the metrics: statistics (FID) and, when available, features (KID)."""

    stats: Stats
    features: torch.Tensor | None = None  # [n, d] float32; None for statistics files
    description: str = "reference"


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


def _read_entry(path: Path, need_features: bool) -> Reference | None:
    """A cache entry, or None when absent, unreadable or without the features asked for."""
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
    return Reference(stats, feats, description=f"cache {path.name}")


def _write_entry(path: Path, ref: Reference) -> None:
    """Write atomically (a temp file, then rename) so concurrent runs never read half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, Any] = {
        "mu": ref.stats.mu,
        "sigma": ref.stats.sigma,
        "n": np.int64(ref.stats.n),
        "extractor": ref.stats.extractor,
    }
    if ref.features is not None:
        arrays["features"] = ref.features.numpy()
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
    os.replace(tmp, path)


def _broadcast_from_rank0(value: Any, group: dist.ProcessGroup | None) -> Any:
    """Rank 0's ``value`` on every process (so all processes agree on a cache hit)."""
    if rank_and_world(group)[1] == 1:
        return value
    box = [value]
    src = dist.get_global_rank(group, 0) if group is not None else 0
    dist.broadcast_object_list(box, src=src, group=group)
    return box[0]


def compute_reference(
    source: ImageSource,
    extractor: FeatureExtractor,
    n: int | None = None,
    need_features: bool = False,
    batch_size: int = 100,
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
    group: dist.ProcessGroup | None = None,
    progress: bool = False,
) -> Reference:
    """Statistics (and features for KID) of real images, read from / written to the cache."""
    n = len(source) if n is None else n
    identity = source.identity() if use_cache else None
    path = None
    if identity is not None:
        key = cache_key(identity, n, extractor.identity)
        path = Path(cache_dir or default_cache_dir()) / f"{key}.npz"
    rank, _ = rank_and_world(group)
    hit = _read_entry(path, need_features) if path is not None and rank == 0 else None
    hit = _broadcast_from_rank0(hit, group)
    if hit is not None:
        return hit
    out = extract(
        source,
        extractor,
        n=n,
        batch_size=batch_size,
        features=need_features,
        group=group,
        progress=progress,
    )
    ref = Reference(out.stats, out.features, description=source.description)
    if path is not None and rank == 0:
        _write_entry(path, ref)
    return ref


def open_reference(
    reference: str | Path | ImageSource | Stats | Reference,
    extractor: FeatureExtractor,
    need_features: bool = False,
    **kwargs: Any,
) -> Reference:
    """A :class:`Reference` from a stats ``.npz``, image folder / ``.npz``, source or Stats.

    ``kwargs`` go to :func:`compute_reference` (n, batch_size, cache_dir, use_cache, group,
    progress) when images have to be read.
    """
    if isinstance(reference, Reference):
        ref = reference
    elif isinstance(reference, Stats):
        ref = Reference(reference, description="statistics")
    elif isinstance(reference, ImageSource):
        return compute_reference(reference, extractor, need_features=need_features, **kwargs)
    elif Path(reference).suffix.lower() == ".npz" and is_stats_file(reference):
        ref = Reference(load_stats(reference), description=str(reference))
    else:
        source = open_images(reference)
        return compute_reference(source, extractor, need_features=need_features, **kwargs)
    if need_features and ref.features is None:
        raise StatsError(
            f"{ref.description}: KID needs reference images (a folder or .npz of images), "
            "not mean/covariance statistics"
        )
    return ref
