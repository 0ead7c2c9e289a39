"""Fréchet distance between two Gaussians, fast and exact.

FID = |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr sqrt(S1 S2). The last term needs no matrix square
root of the non-symmetric S1 S2: with S1 = F F^T (pivoted Cholesky, F is d x rank), the
non-zero eigenvalues of S1 S2 are those of the symmetric PSD matrix F^T S2 F, so
tr sqrt(S1 S2) = sum sqrt(eigvalsh(F^T S2 F)). One factorisation and one symmetric
eigenproblem (smaller when S1 is rank-deficient, n < d): several times faster than
``scipy.linalg.sqrtm`` at d = 2048, with no imaginary residue to discard.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.linalg import lapack

from nlgan.metrics.stats import Stats, StatsError

RECOMMENDED_N = (10_000, 50_000)


def psd_factor(sigma: np.ndarray) -> np.ndarray:
    """F [d, r] with F F^T = sigma, r = numerical rank (pivoted Cholesky, LAPACK ``pstrf``)."""
    sigma = np.ascontiguousarray(sigma, dtype=np.float64)
    chol, piv, rank, info = lapack.dpstrf(sigma, lower=1)
    if info < 0:
        raise StatsError(f"covariance factorisation failed (LAPACK dpstrf info={info})")
    factor = np.empty((sigma.shape[0], rank))
    factor[piv - 1] = np.tril(chol)[:, :rank]  # undo the pivoting: P L L^T P^T = sigma
    return factor


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """tr sqrt(sigma1 @ sigma2) for symmetric PSD matrices, via one symmetric eigenproblem."""
    factor = psd_factor(sigma1)  # [d, r]
    inner = factor.T @ np.asarray(sigma2, dtype=np.float64) @ factor  # [r, r], PSD
    inner = (inner + inner.T) / 2  # exactly symmetric despite rounding
    eig = np.linalg.eigvalsh(inner).clip(min=0)  # tiny negatives are rounding
    return float(np.sqrt(eig).sum())


def frechet_distance(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray
) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2)."""
    mu1, mu2 = np.asarray(mu1, dtype=np.float64), np.asarray(mu2, dtype=np.float64)
    sigma1, sigma2 = np.asarray(sigma1, dtype=np.float64), np.asarray(sigma2, dtype=np.float64)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape:
        raise StatsError(
            f"feature dimensions differ: {mu1.shape[0]} vs {mu2.shape[0]} (both statistics must "
            "come from the same extractor layer, e.g. 2048-d Inception pool3)"
        )
    diff = mu1 - mu2
    tr_covmean = trace_sqrt_product(sigma1, sigma2)
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * tr_covmean)


def warn_if_few_samples(n: int, dim: int, what: str = "FID") -> None:
    """Warn that a score from fewer samples than feature dimensions is strongly biased."""
    if 0 < n < dim:
        warnings.warn(
            f"{what} from {n} samples (< {dim} feature dimensions) is strongly biased upwards "
            f"and not comparable with papers; use {RECOMMENDED_N[0]} or {RECOMMENDED_N[1]} samples",
            UserWarning,
            stacklevel=3,
        )


def fid_from_stats(stats1: Stats, stats2: Stats) -> float:
    """FID between two sets of statistics; checks they come from the same extractor."""
    if stats1.dim != stats2.dim:
        raise StatsError(
            f"feature dimensions differ: {stats1.dim} vs {stats2.dim} (both statistics must come "
            "from the same extractor layer, e.g. 2048-d Inception pool3)"
        )
    if stats1.extractor and stats2.extractor and stats1.extractor != stats2.extractor:
        raise StatsError(
            f"statistics come from different extractors ({stats1.extractor} vs "
            f"{stats2.extractor}); recompute the reference with the same backbone, weights and "
            "--resize mode"
        )
    for stats in (stats1, stats2):
        warn_if_few_samples(stats.n, stats.dim)
    return frechet_distance(stats1.mu, stats1.sigma, stats2.mu, stats2.sigma)
