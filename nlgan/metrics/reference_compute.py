"""Computing reference statistics from real images: the whole set and each class, through
the cache (:mod:`nlgan.metrics.reference_cache`).

Features come from :mod:`nlgan.metrics.extraction`; under torch.distributed the processes share
the extraction and rank 0 reads and writes the cache, telling the others whether it hit.
Opening a reference from what a user gives (a stats file, images, a source) is
:mod:`nlgan.metrics.reference`.
"""

from __future__ import annotations

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
from nlgan.metrics.reference_cache import (
    broadcast_from_rank0,
    entry_path,
    read_entry,
    write_entry,
)
from nlgan.metrics.sources import ImageSource, SourceError, SubsetSource
from nlgan.metrics.stats import Stats


@dataclass(frozen=True)
class Reference:
    """Real-data side of the metrics: statistics (FID), features (KID, PRDC), classes (iFID)."""

    stats: Stats | None  # None only when nothing but per-class statistics was asked for
    features: torch.Tensor | None = None  # [n, d] float32; None for statistics files
    description: str = "reference"
    classes: ClassStats | None = None  # per-class statistics, for intra-class FID
    info: dict[str, Any] = field(default_factory=dict)  # kind, path, count, hash, split


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
    path = entry_path(source, n, extractor, cache_dir) if use_cache else None
    rank, _ = rank_and_world(group)
    hit = read_entry(path, need_features) if path is not None and rank == 0 else None
    hit = broadcast_from_rank0(hit, group)
    if hit is not None:
        return Reference(*hit, description=f"cache {path.name}")
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
        write_entry(path, ref.stats, ref.features)
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
        path = entry_path(subset, len(subset), extractor, cache_dir) if use_cache else None
        cached = path is not None and rank == 0 and read_entry(path, False) is not None
        if broadcast_from_rank0(cached, group):
            entries.append(path)
            continue
        stats = extract(subset, extractor, batch_size=batch_size, group=group).stats
        if path is not None and rank == 0:
            write_entry(path, stats)
        entries.append(path if path is not None else stats)
    return ClassStats(entries, source.class_names)
