"""Paper-comparable FID / IS / KID: the FID Inception, streaming statistics, image sources.

Nothing here imports training code, so a checkpoint scores the same offline as during training.
"""

from nlgan.metrics.evaluate import METRICS, check_metrics, evaluate, format_table
from nlgan.metrics.extract import Extracted, extract
from nlgan.metrics.frechet import fid_from_stats, frechet_distance, trace_sqrt_product
from nlgan.metrics.inception import FeatureExtractor, InceptionExtractor, load_inception
from nlgan.metrics.inception_score import inception_score
from nlgan.metrics.kid import kernel_inception_distance
from nlgan.metrics.reference import Reference, compute_reference, open_reference
from nlgan.metrics.sources import (
    CallableSource,
    FolderSource,
    ImageSource,
    NpzImageSource,
    SourceError,
    TensorSource,
    generator_source,
    open_images,
)
from nlgan.metrics.stats import FeatureStats, Stats, StatsError, load_stats, save_stats
from nlgan.metrics.weights import InceptionWeightsError, resolve_inception_weights

__all__ = [
    "METRICS",
    "CallableSource",
    "Extracted",
    "FeatureExtractor",
    "FeatureStats",
    "FolderSource",
    "ImageSource",
    "InceptionExtractor",
    "InceptionWeightsError",
    "NpzImageSource",
    "Reference",
    "SourceError",
    "Stats",
    "StatsError",
    "TensorSource",
    "check_metrics",
    "compute_reference",
    "evaluate",
    "extract",
    "fid_from_stats",
    "format_table",
    "generator_source",
    "frechet_distance",
    "inception_score",
    "kernel_inception_distance",
    "load_inception",
    "load_stats",
    "open_images",
    "open_reference",
    "resolve_inception_weights",
    "save_stats",
    "trace_sqrt_product",
]
