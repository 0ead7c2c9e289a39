"""FID∞ and IS∞ (Chong & Forsyth 2020): the scores extrapolated to infinitely many samples.

FID and IS computed from N samples are biased, and the bias depends on the generator, so
models compared at a fixed N can swap order. Both are close to linear in 1 / N, so the score
is computed on random subsets of ``points`` sizes from n / 10 to n (15 sizes: 5,000 to 50,000
for n = 50,000, the paper's setting), a line is fitted against 1 / N, and its value at
1 / N = 0 is reported. IS at each size uses one split, as the paper's code does.

FID_N is linear in 1 / N only once N is well above the feature dimension d: below it the
sample covariance is rank-deficient and FID_N bends upwards, so a line through such points
overshoots (Gaussians with a true FID of 1.28 gave FID∞ = -14.2 from subsets of 1,000 at
d = 2,048). FID∞'s smallest subset is therefore at least ``MIN_SAMPLES_PER_DIM`` x d (4,916 at
d = 2,048, just under the paper's 5,000, so n = 50,000 keeps the paper's grid), and the
subsets must span at least ``MIN_SPAN`` x in size: n below 2 x 2.4 x d (9,832 at d = 2,048)
is refused rather than extrapolated from a sliver of 1 / N.

The paper drew latents from a scrambled Sobol sequence and used torchvision's ImageNet
Inception, not the FID Inception; nlgan keeps its own latents and network, so FID∞ / IS∞ here
are not comparable with the paper's published values, only with each other.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from nlgan.metrics.frechet import frechet_distance
from nlgan.metrics.is_score import inception_score
from nlgan.metrics.stats import Stats, StatsError, stats_from_features

DEFAULT_POINTS = 15
MIN_SAMPLES_PER_DIM = 2.4  # smallest subset / feature dimension (the paper: 5,000 / 2,048)
MIN_SPAN = 2  # largest subset / smallest subset, at least


def fid_infinity_min_n(dim: int) -> int:
    """The fewest samples FID∞ accepts for ``dim``-dimensional features."""
    return MIN_SPAN * math.ceil(MIN_SAMPLES_PER_DIM * dim)


def subset_sizes(n: int, points: int = DEFAULT_POINTS, dim: int = 0) -> np.ndarray:
    """``points`` evenly spaced sample counts from max(n / 10, 2.4 x dim) to n (distinct)."""
    if points < 2 or n < 20:
        raise ValueError(
            f"extrapolation needs >= 2 points and >= 20 samples, got points={points}, n={n}"
        )
    smallest = max(n // 10, math.ceil(MIN_SAMPLES_PER_DIM * dim))
    if n < MIN_SPAN * smallest:
        raise StatsError(
            f"FID∞ from {n} samples of {dim}-d features: its subsets must hold >= "
            f"{MIN_SAMPLES_PER_DIM} x {dim} samples and span 2x, so it needs n >= "
            f"{fid_infinity_min_n(dim)} (generate more samples, or score fid instead)"
        )
    return np.unique(np.linspace(smallest, n, points).astype(np.int64))


def extrapolate(sizes: np.ndarray, values: np.ndarray) -> float:
    """The least-squares line through (1 / N, value), evaluated at 1 / N = 0."""
    slope, intercept = np.polyfit(1.0 / np.asarray(sizes, dtype=np.float64), values, deg=1)
    return float(intercept)


def fid_infinity(
    features: torch.Tensor | np.ndarray,
    reference: Stats,
    points: int = DEFAULT_POINTS,
    seed: int = 2020,
) -> float:
    """FID∞ of features [n, d] against reference statistics (random subsets, seeded)."""
    f = np.asarray(features, dtype=np.float64)
    sizes = subset_sizes(f.shape[0], points, dim=f.shape[1])
    rng = np.random.RandomState(seed)
    values = []
    for size in sizes:
        part = stats_from_features(f[rng.permutation(f.shape[0])[:size]])
        values.append(frechet_distance(part.mu, part.sigma, reference.mu, reference.sigma))
    return extrapolate(sizes, np.array(values))


def is_infinity(
    logits: torch.Tensor | np.ndarray, points: int = DEFAULT_POINTS, seed: int = 2020
) -> float:
    """IS∞ of logits [n, K] (one split per subset size, random subsets, seeded)."""
    logits = torch.as_tensor(logits)
    sizes = subset_sizes(logits.shape[0], points)
    rng = np.random.RandomState(seed)
    values = []
    for size in sizes:
        index = torch.from_numpy(rng.permutation(logits.shape[0])[:size])
        values.append(inception_score(logits[index], splits=1, shuffle=False)[0])
    return extrapolate(sizes, np.array(values))
