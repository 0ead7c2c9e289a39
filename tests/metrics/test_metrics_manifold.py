"""Precision / recall / density / coverage: equal to the ``prdc`` package, chunked or not."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from prdc import compute_prdc

from nlgan.metrics.manifold import knn_radii, prdc


def _features(n: int, d: int, seed: int, scale: float = 1.0, shift: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, d)) * scale + shift).astype(np.float32)


@pytest.mark.parametrize("k", [3, 5])
def test_equals_the_prdc_package(k, capsys):
    real = _features(300, 16, 0)
    fake = _features(250, 16, 1, scale=1.2, shift=0.2)
    theirs = compute_prdc(real, fake, nearest_k=k)
    capsys.readouterr()  # prdc prints the sample counts
    ours = prdc(real, fake, k=k)
    assert ours.keys() == theirs.keys()
    for key, value in theirs.items():
        assert ours[key] == pytest.approx(float(value), abs=1e-12), key
    assert 0 < ours["precision"] < 1 and 0 < ours["coverage"] < 1  # not a degenerate case


def test_chunked_knn_equals_unchunked():
    x = torch.from_numpy(_features(97, 8, 2))
    whole = knn_radii(x, 4)
    for rows in (1, 7, 50):
        torch.testing.assert_close(knn_radii(x, 4, chunk_rows=rows), whole, rtol=0, atol=1e-12)
    direct = torch.cdist(x.double(), x.double()).sort(dim=1).values[:, 4]  # 0 = itself
    torch.testing.assert_close(whole, direct, rtol=1e-9, atol=1e-9)


def test_chunked_prdc_equals_unchunked():
    real, fake = _features(80, 6, 3), _features(70, 6, 4, shift=0.3)
    whole = prdc(real, fake, k=3)
    assert prdc(real, fake, k=3, chunk_rows=9) == whole
    assert prdc(real, fake, k=3, chunk_rows=1) == whole


def test_identical_sets_score_one():
    real = _features(60, 5, 5)
    scores = prdc(real, real.copy(), k=3)
    assert scores["precision"] == scores["recall"] == scores["coverage"] == 1.0


def test_k_must_be_below_the_sample_count():
    with pytest.raises(ValueError, match="k=5: a k-NN radius needs 1 <= k < samples"):
        prdc(_features(5, 3, 6), _features(9, 3, 7), k=5)
