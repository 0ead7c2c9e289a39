"""Kernel Inception Distance: unbiased MMD^2 with a cubic polynomial kernel over random subsets."""

from __future__ import annotations

import warnings

import numpy as np
import torch


def polynomial_kernel(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """k(x, y) = (x . y / d + 1)^3 for all pairs of rows: [m, d] x [k, d] -> [m, k]."""
    return (x @ y.T / x.shape[1] + 1) ** 3


def mmd2_unbiased(x: torch.Tensor, y: torch.Tensor) -> float:
    """Unbiased MMD^2 estimate between two equally sized samples [m, d] (diagonals dropped)."""
    m = x.shape[0]
    k_xx, k_yy, k_xy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
    sum_xx = k_xx.sum() - k_xx.diagonal().sum()
    sum_yy = k_yy.sum() - k_yy.diagonal().sum()
    return float((sum_xx + sum_yy) / (m * (m - 1)) - 2 * k_xy.sum() / (m * m))


def kernel_inception_distance(
    features1: torch.Tensor | np.ndarray,
    features2: torch.Tensor | np.ndarray,
    subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 2020,
) -> tuple[float, float, int]:
    """KID mean and std over ``subsets`` random subsets, and the subset size used.

    Subsets are drawn without replacement as torch-fidelity draws them (same seed, same indices);
    the kernel runs in float64. With fewer than ``subset_size`` samples the subset shrinks to the
    smaller sample count, with a warning, as clean-fid does.
    """
    f1 = torch.as_tensor(features1).double()
    f2 = torch.as_tensor(features2).double()
    if f1.dim() != 2 or f2.dim() != 2 or f1.shape[1] != f2.shape[1]:
        raise ValueError(
            f"KID needs two feature matrices [N, d] of the same d, got {list(f1.shape)} and "
            f"{list(f2.shape)}"
        )
    n1, n2 = f1.shape[0], f2.shape[0]
    size = min(subset_size, n1, n2)
    if size < 2:
        raise ValueError(f"KID needs at least 2 samples on each side, got {n1} and {n2}")
    if size < subset_size:
        warnings.warn(
            f"KID subset size reduced from {subset_size} to {size} (only {min(n1, n2)} "
            "samples); scores are not comparable with papers' 1000-sample subsets",
            UserWarning,
            stacklevel=2,
        )
    rng = np.random.RandomState(seed)
    mmds = np.empty(subsets)
    for i in range(subsets):
        idx1 = torch.from_numpy(rng.choice(n1, size, replace=False))
        idx2 = torch.from_numpy(rng.choice(n2, size, replace=False))
        mmds[i] = mmd2_unbiased(f1[idx1], f2[idx2])
    return float(mmds.mean()), float(mmds.std()), size
