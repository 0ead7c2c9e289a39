"""The ``pairs`` metric: the ruler's shares for samples, against real images drawn from the spec.

The real side needs no files: the training set is images ``[0, size)`` of ``seed`` and fresh
real images are the indices after it (:mod:`nlgan.data.pairs`). So the factor Fréchet distance
compares the samples with ``n`` fresh real images and prints next to it its floor, the distance
between those and :data:`FLOOR_SETS` other sets of ``n`` fresh real images (their mean), all
measured by the same ruler. Memorised is
as for the digits: the share of samples nearer (in pixels) to a training image than all but
:data:`MEMORISED_QUANTILE` of fresh real images are.
"""

from __future__ import annotations

import numpy as np

from nlgan.data.pairs import pairs_images
from nlgan.metrics.pairs_ruler import Measured, as_nhwc, asymmetry, factor_rows, measure, twins

MEMORISED_QUANTILE = 0.05
# Real sets of n the floor is averaged over: one Fréchet distance of 1,000 5-d rows still varies
# by about a third from draw to draw, the mean of three by a fifth.
FLOOR_SETS = 3
_CHUNK = 1000  # rows of a distance block


def shares(m: Measured, labels: np.ndarray | None) -> dict[str, float]:
    """valid, class accuracy and twin shares of measured images (labels: their classes)."""
    valid = m.valid.all(1)
    out = {"pairs_valid": float(valid.mean()), "pairs_twin": float(twins(m).mean())}
    if labels is not None:
        labels = np.asarray(labels)[:, None]
        out["pairs_class"] = float((valid & (m.shape == labels).all(1)).mean())
    return out


def shape_by_label(m: Measured, labels: np.ndarray, num_classes: int = 4) -> np.ndarray:
    """Counts ``[K, K + 1]``: row = label, column = the shape read in the left half (the last
    column: no valid object there). Where class accuracy is low, this tells a generator that
    ignores its label (every row alike) from one that draws wrong or vague shapes."""
    out = np.zeros((num_classes, num_classes + 1), dtype=np.int64)
    column = np.where(m.valid[:, 0], m.shape[:, 0], num_classes)
    np.add.at(out, (np.asarray(labels), column), 1)
    return out


def factor_fd(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two sets of factor rows ``[n, 5]``."""
    from nlgan.metrics.frechet import frechet_distance

    if len(a) < 2 or len(b) < 2:
        return float("inf")  # no valid sample: no distribution to compare
    return frechet_distance(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))


def nearest(x: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Euclidean distance (uint8 pixel units) from each image of ``x`` to its nearest in ``ref``."""
    import torch

    r = torch.from_numpy(ref.reshape(len(ref), -1).astype(np.float32))
    r2 = (r * r).sum(1)
    out = []
    for chunk in np.array_split(x.reshape(len(x), -1), max(1, len(x) // _CHUNK)):
        q = torch.from_numpy(chunk.astype(np.float32))
        d2 = (q * q).sum(1, keepdim=True) + r2[None] - 2.0 * q @ r.T  # [c, len(ref)]
        out.append(d2.min(1).values.clamp_min(0).sqrt().numpy())
    return np.concatenate(out)


def score_pairs(
    images: np.ndarray, labels: np.ndarray | None, seed: int = 0, size: int = 10_000
) -> dict[str, float]:
    """Every figure of the ruler for uint8 images (NHWC or NCHW) against the spec's real data.

    ``seed`` and ``size``: the training set (``data.seed``, ``data.size``) of the run scored.
    """
    n = len(images)
    m = measure(images)
    scores = shares(m, labels)
    scores["pairs_asymmetry"] = asymmetry(images)
    fresh, _ = pairs_images(seed, size, size + (1 + FLOOR_SETS) * n)  # never trained on
    real_b = fresh[:n]
    rows_b = factor_rows(measure(real_b))
    fd = factor_fd(factor_rows(m), rows_b)
    floor = float(np.mean([
        factor_fd(factor_rows(measure(fresh[(1 + k) * n : (2 + k) * n])), rows_b)
        for k in range(FLOOR_SETS)
    ]))  # fmt: skip
    train, _ = pairs_images(seed, 0, size)
    threshold = float(np.quantile(nearest(real_b, train), MEMORISED_QUANTILE))
    memorised = float((nearest(as_nhwc(images), train) < threshold).mean())
    scores.update(
        pairs_fd=fd, pairs_fd_floor=floor, pairs_fd_ratio=fd / floor, pairs_memorised=memorised
    )
    return scores
