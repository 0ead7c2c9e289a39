"""Inception Score and KID on fixed features: the formulas, and torch-fidelity's numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch_fidelity.metric_isc import isc_features_to_metric
from torch_fidelity.metric_kid import kid_features_to_metric

from nlgan.metrics.is_score import inception_score
from nlgan.metrics.kid import kernel_inception_distance, mmd2_unbiased, polynomial_kernel


def test_inception_score_formula_without_shuffle():
    logits = torch.tensor(
        [[2.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 1.0], [1.0, 1.0, 0.0]], dtype=torch.float64
    )
    expected = []
    for chunk in (logits[:2], logits[2:]):
        p = chunk.softmax(1).numpy()
        marginal = p.mean(0)
        kl = (p * (np.log(p) - np.log(marginal))).sum(1).mean()
        expected.append(math.exp(kl))
    mean, std = inception_score(logits, splits=2, shuffle=False)
    assert mean == pytest.approx(np.mean(expected), rel=1e-12)
    assert std == pytest.approx(np.std(expected), rel=1e-12)


def test_inception_score_extremes():
    confident = torch.eye(10) * 50  # every class once, each sample certain: IS = #classes
    assert inception_score(confident.repeat(2, 1), splits=2, shuffle=False)[0] == pytest.approx(10)
    assert inception_score(torch.zeros(20, 10), splits=2)[0] == pytest.approx(1.0)


def test_inception_score_matches_torch_fidelity():
    logits = torch.randn(200, 1008, generator=torch.Generator().manual_seed(0)) * 3
    theirs = isc_features_to_metric(logits, splits=10, shuffle=True, rng_seed=2020)
    mean, std = inception_score(logits)
    assert mean == pytest.approx(theirs["inception_score_mean"], rel=1e-12)
    assert std == pytest.approx(theirs["inception_score_std"], rel=1e-10)


def test_inception_score_needs_enough_samples():
    with pytest.raises(ValueError, match="N >= splits=10"):
        inception_score(torch.zeros(5, 10))


def test_kernel_and_unbiased_mmd_formulas():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((6, 4)), rng.standard_normal((6, 4)) + 0.5
    k = lambda a, b: (a @ b / 4 + 1) ** 3  # noqa: E731
    m = 6
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    assert float(polynomial_kernel(tx, ty)[2, 3]) == pytest.approx(k(x[2], y[3]))
    assert mmd2_unbiased(tx, ty) == pytest.approx(xx + yy - 2 * xy, rel=1e-12)


def test_kid_matches_torch_fidelity_subsets():
    gen = torch.Generator().manual_seed(1)
    f1 = torch.randn(120, 32, generator=gen)
    f2 = torch.randn(90, 32, generator=gen) * 1.1 + 0.2
    theirs = kid_features_to_metric(
        f1, f2, kid_subsets=7, kid_subset_size=40, rng_seed=2020, verbose=False,
        kid_kernel="poly", kid_kernel_poly_degree=3, kid_kernel_poly_gamma=None,
        kid_kernel_poly_coef0=1,
    )  # fmt: skip
    mean, std, size = kernel_inception_distance(f1, f2, subsets=7, subset_size=40, seed=2020)
    assert size == 40
    # torch-fidelity computes the kernel in float32; we use float64
    assert mean == pytest.approx(theirs["kernel_inception_distance_mean"], rel=1e-4)
    assert std == pytest.approx(theirs["kernel_inception_distance_std"], rel=1e-3)
    assert mean > 0.01  # the distributions differ


def test_kid_is_near_zero_for_one_distribution_and_seeded():
    gen = torch.Generator().manual_seed(2)
    f1, f2 = torch.randn(400, 16, generator=gen), torch.randn(400, 16, generator=gen)
    same = kernel_inception_distance(f1, f2, subsets=10, subset_size=200, seed=5)
    again = kernel_inception_distance(f1, f2, subsets=10, subset_size=200, seed=5)
    shifted = kernel_inception_distance(f1, f2 + 0.5, subsets=10, subset_size=200, seed=5)
    assert same == again
    assert abs(same[0]) < 0.05 * shifted[0]


def test_kid_shrinks_subsets_with_a_warning():
    f = torch.randn(12, 8, generator=torch.Generator().manual_seed(3))
    with pytest.warns(UserWarning, match="subset size reduced from 1000 to 12"):
        _, _, size = kernel_inception_distance(f, f + 0.1, subsets=3)
    assert size == 12
    with pytest.raises(ValueError, match="same d"):
        kernel_inception_distance(f, torch.zeros(12, 9))
