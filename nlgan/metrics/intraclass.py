"""Intra-class FID (iFID, as StudioGAN reports it): FID per class, and their mean.

Each class of the generated samples (sample i of a conditional generator has class i mod K) is
compared with the same class of a labelled reference: a class folder (sub-folders are classes
0..K-1 in :func:`nlgan.data.classes.class_order`, numeric names by number, the rule of the `folder`
data set) or a CIFAR split. The reference's per-class statistics are computed one class at a time
(one d x d accumulator in memory) and cached per class; :class:`ClassStats` reads them back one at
a time, so a 100-class reference never holds 100 covariances in memory at once.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from nlgan.metrics.frechet import frechet_distance
from nlgan.metrics.stats import Stats, StatsError, stats_from_features


class ClassStats:
    """Per-class reference statistics: in memory, or cache files read when asked for."""

    def __init__(self, entries: Sequence[Stats | Path], names: Sequence[str] = ()):
        self.entries, self.names = list(entries), tuple(names)

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, c: int) -> Stats:
        entry = self.entries[c]
        if isinstance(entry, Stats):
            return entry
        with np.load(entry, allow_pickle=False) as data:
            return Stats(data["mu"], data["sigma"], int(data["n"]), str(data["extractor"]))


def check_labels(labels: np.ndarray, classes: int) -> None:
    """Every class 0..classes-1 must have >= 2 generated samples, and no label may exceed it."""
    labels = np.asarray(labels)
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        raise StatsError(
            f"generated labels run to {int(labels.max())} but the reference has {classes} "
            "classes; use a reference with the generator's classes"
        )
    counts = np.bincount(labels, minlength=classes)
    if counts.min() < 2:
        c = int(counts.argmin())
        raise StatsError(
            f"iFID: class {c} has {int(counts[c])} generated samples (need >= 2 per class); "
            f"score more samples (--n >= {2 * classes})"
        )


def intra_class_fid(
    features: torch.Tensor | np.ndarray,
    labels: np.ndarray,
    reference: ClassStats,
    extractor: str = "",
) -> list[float]:
    """FID of every class's features [n_c, d] against that class's reference statistics."""
    f = np.asarray(features, dtype=np.float64)
    labels = np.asarray(labels)
    classes = len(reference)
    if labels.shape != (f.shape[0],):
        raise ValueError(f"{len(labels)} labels for {f.shape[0]} feature rows")
    check_labels(labels, classes)
    fewest = int(np.bincount(labels, minlength=classes).min())
    if fewest < f.shape[1]:  # as plain FID warns: each class's FID is biased upwards
        warnings.warn(
            f"iFID from {fewest} samples per class (< {f.shape[1]} feature dimensions) is "
            "strongly biased upwards and not comparable with papers; score more samples per class",
            UserWarning,
            stacklevel=2,
        )
    scores = []
    for c in range(classes):
        rows = f[labels == c]
        ref = reference[c]
        if extractor and ref.extractor and ref.extractor != extractor:
            raise StatsError(
                f"class {c}: reference statistics come from {ref.extractor}, not {extractor}"
            )
        gen = stats_from_features(rows)
        scores.append(frechet_distance(gen.mu, gen.sigma, ref.mu, ref.sigma))
    return scores
