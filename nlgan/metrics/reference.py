"""Reference statistics: from a stats file, or computed from real images and cached on disk.

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from nlgan.metrics.distributed import rank_and_world
from nlgan.metrics.extraction import extract
from nlgan.metrics.inception import FeatureExtractor
from nlgan.metrics.intraclass import ClassStats
from nlgan.metrics.protocol import cleanfid_name
from nlgan.metrics.sources import ImageSource, SourceError, SubsetSource, open_images
from nlgan.metrics.stats import Stats, StatsError, is_stats_file, load_stats
from nlgan.metrics.weights import file_sha256

CACHE_VERSION = 1


@dataclass(frozen=True)
class Reference:
    """Real-data side of the metrics: statistics (FID), features (KID, PRDC), classes (iFID)."""

    stats: Stats | None  # None only when nothing but per-class statistics was asked for
    features: torch.Tensor | None = None  # [n, d] float32; None for statistics files
    description: str = "reference"
    classes: ClassStats | None = None  # per-class statistics, for intra-class FID
    info: dict[str, Any] = field(default_factory=dict)  # kind, path, count, hash, split


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


def _entry_path(
    source: ImageSource, n: int, extractor: FeatureExtractor, cache_dir: str | Path | None
) -> Path | None:
    identity = source.identity()
    if identity is None:
        return None
    return (
        Path(cache_dir or default_cache_dir()) / f"{cache_key(identity, n, extractor.identity)}.npz"
    )


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
    need_classes: bool = False,
    need_stats: bool = True,
) -> Reference:
    """Statistics (features for KID / PRDC, per-class statistics for iFID) of real images.

    Everything is read from / written to the cache; under torch.distributed the processes
    share the work and rank 0 reads and writes the cache.
    """
    n = len(source) if n is None else n
    source.check_length(n)
    info = {**source.info(), "count": n}
    classes = None
    if need_classes:
        classes = _class_statistics(source, extractor, n, batch_size, cache_dir, use_cache, group)
    if not (need_stats or need_features):
        return Reference(None, None, source.description, classes, info)
    whole = _whole_set(
        source, extractor, n, need_features, batch_size, cache_dir, use_cache, group, progress
    )
    return Reference(whole.stats, whole.features, whole.description, classes, info)


def _whole_set(
    source: ImageSource,
    extractor: FeatureExtractor,
    n: int,
    need_features: bool,
    batch_size: int,
    cache_dir: str | Path | None,
    use_cache: bool,
    group: dist.ProcessGroup | None,
    progress: bool,
) -> Reference:
    """Statistics (and features) of images [0, n) of ``source``, through the cache."""
    path = _entry_path(source, n, extractor, cache_dir) if use_cache else None
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


def _class_statistics(
    source: ImageSource,
    extractor: FeatureExtractor,
    n: int,
    batch_size: int,
    cache_dir: str | Path | None,
    use_cache: bool,
    group: dist.ProcessGroup | None,
) -> ClassStats:
    """Per-class statistics of images [0, n), one class at a time, each cached on its own."""
    labels = source.labels()
    if labels is None or not source.num_classes:
        raise SourceError(
            f"{source.description}: intra-class FID needs a labelled reference: a folder with "
            "one sub-folder per class, cifar10-train:ROOT, or a .npz with 'labels'"
        )
    labels = labels[:n]
    rank, _ = rank_and_world(group)
    entries: list[Stats | Path] = []
    for c in range(source.num_classes):
        subset = SubsetSource(source, np.flatnonzero(labels == c), f"class {c}")
        if len(subset) < 2:
            raise SourceError(
                f"{source.description}: class {c} has {len(subset)} reference images; iFID "
                "needs at least 2 per class"
            )
        path = _entry_path(subset, len(subset), extractor, cache_dir) if use_cache else None
        cached = path is not None and rank == 0 and _read_entry(path, False) is not None
        if _broadcast_from_rank0(cached, group):
            entries.append(path)
            continue
        stats = extract(subset, extractor, batch_size=batch_size, group=group).stats
        if path is not None and rank == 0:
            _write_entry(path, Reference(stats, description=subset.description))
        entries.append(path if path is not None else stats)
    return ClassStats(entries, source.class_names)


def stats_file_info(path: str | Path, stats: Stats) -> dict[str, Any]:
    """Protocol-record identity of a statistics file (split and resize from clean-fid's name)."""
    parsed = cleanfid_name(path) or {}
    info = {
        "kind": "stats",
        "path": str(Path(path).resolve()),
        "count": stats.n or None,
        "hash": file_sha256(path)[:16],
        "split": parsed.get("split"),
    }
    if parsed:
        info["cleanfid"] = parsed
    return info


def open_reference(
    reference: str | Path | ImageSource | Stats | Reference,
    extractor: FeatureExtractor,
    need_features: bool = False,
    need_classes: bool = False,
    **kwargs: Any,
) -> Reference:
    """A :class:`Reference` from a stats ``.npz``, image folder / ``.npz``, source or Stats.

    ``kwargs`` go to :func:`compute_reference` (n, batch_size, cache_dir, use_cache, group,
    progress, need_stats) when images have to be read.
    """
    needs = dict(need_features=need_features, need_classes=need_classes)
    if isinstance(reference, Reference):
        ref = reference
    elif isinstance(reference, Stats):
        ref = Reference(reference, description="statistics", info={"kind": "stats"})
    elif isinstance(reference, ImageSource):
        return compute_reference(reference, extractor, **needs, **kwargs)
    elif Path(reference).suffix.lower() == ".npz" and is_stats_file(reference):
        stats = load_stats(reference)
        info = stats_file_info(reference, stats)
        ref = Reference(stats, description=str(reference), info=info)
    else:
        source = open_images(reference)
        return compute_reference(source, extractor, **needs, **kwargs)
    if need_features and ref.features is None:
        raise StatsError(
            f"{ref.description}: KID needs reference images (a folder or .npz of images; PRDC "
            "too), not mean/covariance statistics"
        )
    if need_classes and ref.classes is None:
        raise StatsError(
            f"{ref.description}: iFID needs labelled reference images (one sub-folder per "
            "class, or cifar10-train:ROOT), not statistics"
        )
    return ref
