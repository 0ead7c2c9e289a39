"""Opening the real-data side of the metrics from what a user gives: a statistics ``.npz``
(ours or clean-fid's), an image folder or ``.npz``, an image source, or :class:`Stats`.

Three modules, one job each: this one reads (and refuses a reference that cannot serve the
metrics asked for), :mod:`nlgan.metrics.reference_compute` computes statistics from images,
:mod:`nlgan.metrics.reference_cache` keeps them on disk under a key that never goes stale.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nlgan.metrics.inception import FeatureExtractor
from nlgan.metrics.opening import open_images
from nlgan.metrics.protocol import cleanfid_name
from nlgan.metrics.reference_compute import Reference, compute_reference
from nlgan.metrics.sources import ImageSource
from nlgan.metrics.stats import Stats, StatsError, is_stats_file, load_stats
from nlgan.metrics.weights import file_sha256

__all__ = ["Reference", "compute_reference", "open_reference", "stats_file_info"]


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
