"""Fréchet distance: exact against the SVD nuclear-norm identity, for n > d and n < d."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from torch_fidelity.metric_fid import fid_statistics_to_metric

from nlgan.metrics.frechet import (
    fid_from_stats,
    frechet_distance,
    psd_factor,
    trace_sqrt_product,
)
from nlgan.metrics.stats import Stats, StatsError, stats_from_features


def _sym_sqrt(s: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh(s)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def _reference_trace(s1: np.ndarray, s2: np.ndarray) -> float:
    # tr sqrt(S1 S2) = || sqrt(S1) sqrt(S2) ||_*  (sum of singular values)
    return float(np.linalg.svd(_sym_sqrt(s1) @ _sym_sqrt(s2), compute_uv=False).sum())


def _features(n: int, d: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mixing = rng.standard_normal((d, d)) / np.sqrt(d)
    return rng.standard_normal((n, d)) @ mixing * rng.uniform(0.2, 2.0, d) + rng.normal(size=d)


@pytest.mark.parametrize(
    "n1, n2",
    [(400, 300), (20, 500), (500, 25), (30, 40)],  # full rank, one or both rank-deficient (d=64)
)
def test_trace_matches_svd_identity(n1, n2):
    d = 64
    s1 = np.cov(_features(n1, d, 1), rowvar=False)
    s2 = np.cov(_features(n2, d, 2), rowvar=False)
    expected = _reference_trace(s1, s2)
    assert trace_sqrt_product(s1, s2) == pytest.approx(expected, rel=1e-6)
    assert trace_sqrt_product(s2, s1) == pytest.approx(expected, rel=1e-6)


def test_fid_matches_svd_identity_and_torch_fidelity():
    f1, f2 = _features(300, 48, 3), _features(250, 48, 4)
    a, b = stats_from_features(f1), stats_from_features(f2)
    diff = a.mu - b.mu
    expected = (
        diff @ diff + np.trace(a.sigma) + np.trace(b.sigma) - 2 * _reference_trace(a.sigma, b.sigma)
    )
    fid = frechet_distance(a.mu, a.sigma, b.mu, b.sigma)
    assert fid == pytest.approx(expected, rel=1e-9)
    theirs = fid_statistics_to_metric(
        {"mu": a.mu, "sigma": a.sigma}, {"mu": b.mu, "sigma": b.sigma}, False
    )
    assert fid == pytest.approx(theirs["frechet_inception_distance"], rel=1e-8)


def test_pivoted_cholesky_factor_reconstructs_and_finds_rank():
    s = np.cov(_features(10, 32, 5), rowvar=False)  # rank 9
    factor = psd_factor(s)
    assert factor.shape == (32, 9)
    np.testing.assert_allclose(factor @ factor.T, s, atol=1e-12 * np.abs(s).max())


def test_same_distribution_scores_zero_and_mean_shift_scores_its_square():
    s = stats_from_features(_features(200, 16, 6))
    assert abs(frechet_distance(s.mu, s.sigma, s.mu, s.sigma)) < 1e-9 * np.trace(s.sigma)
    shift = np.full(16, 0.5)
    assert frechet_distance(s.mu + shift, s.sigma, s.mu, s.sigma) == pytest.approx(4.0, rel=1e-9)


def test_warns_below_feature_dimension():
    small = stats_from_features(_features(20, 32, 7))
    big = stats_from_features(_features(100, 32, 8))
    with pytest.warns(UserWarning, match="20 samples .* 10000 or 50000"):
        fid_from_stats(small, big)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fid_from_stats(big, big)


def test_mismatched_dimensions_is_a_clear_error():
    a = Stats(np.zeros(4), np.eye(4), n=10)
    b = Stats(np.zeros(8), np.eye(8), n=10)
    with pytest.raises(StatsError, match="feature dimensions differ: 4 vs 8"):
        fid_from_stats(a, b)


def test_statistics_from_different_extractors_are_refused():
    a = Stats(np.zeros(4), np.eye(4), n=10, extractor="inception:sha256=aaa")
    b = Stats(np.zeros(4), np.eye(4), n=10, extractor="inception:sha256=bbb")
    with pytest.raises(StatsError, match="different extractors"):
        fid_from_stats(a, b)
    assert fid_from_stats(a, Stats(np.zeros(4), np.eye(4))) == pytest.approx(0.0, abs=1e-12)
