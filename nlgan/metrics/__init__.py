"""Paper-comparable FID / IS / KID / PRDC / iFID / FID∞: feature backbones, statistics, sources.

Nothing here imports training code, so a checkpoint scores the same offline as during training.
Names load lazily: the config validates metric names against ``nlgan.metrics.table`` without
importing torch (``nlgan --help`` and config errors stay fast).
"""

from __future__ import annotations

from nlgan.lazy import lazy_attributes

_LAZY = {
    "METRICS": "table",
    "MetricOptions": "table",
    "check_metrics": "table",
    "evaluate": "scoring",
    "format_table": "table",
    "Extracted": "extraction",
    "extract": "extraction",
    "fid_from_stats": "frechet",
    "frechet_distance": "frechet",
    "trace_sqrt_product": "frechet",
    "FeatureExtractor": "inception",
    "InceptionExtractor": "inception",
    "load_inception": "inception",
    "BackboneError": "backbones",
    "load_backbone": "backbones",
    "inception_score": "is_score",
    "kernel_inception_distance": "kid",
    "prdc": "manifold",
    "fid_infinity": "infinity",
    "is_infinity": "infinity",
    "intra_class_fid": "intraclass",
    "Reference": "reference_compute",
    "compute_reference": "reference_compute",
    "open_reference": "reference",
    "resize_images": "resize",
    "CallableSource": "sources",
    "CifarSource": "cifar",
    "FolderSource": "sources",
    "ImageSource": "sources",
    "NpzImageSource": "sources",
    "SourceError": "sources",
    "TensorSource": "sources",
    "generator_source": "sources",
    "open_images": "opening",
    "FeatureStats": "stats",
    "Stats": "stats",
    "StatsError": "stats",
    "load_stats": "stats",
    "save_stats": "stats",
    "InceptionWeightsError": "weights",
    "resolve_inception_weights": "weights",
    "record": "protocol",
}

__all__ = sorted(_LAZY)

__getattr__ = lazy_attributes(__name__, {k: f"{__name__}.{v}" for k, v in _LAZY.items()})
