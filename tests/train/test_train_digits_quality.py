"""bench/digits_quality.py's judge: classifier, 8x8 mapping, diversity, Fréchet, memorisation."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from nlgan.data import digits_images

_BENCH = Path(__file__).resolve().parents[2] / "bench" / "digits_quality.py"
_spec = importlib.util.spec_from_file_location("digits_quality", _BENCH)
dq = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(dq)  # a script, not a package module: load it by path
diversity, fit_classifier, to_8x8 = dq.diversity, dq.fit_classifier, dq.to_8x8


def test_classifier_recognises_real_digits_after_the_round_trip():
    clf, held_out, X, y = fit_classifier()
    assert held_out > 0.95 and X.shape == (1797, 64) and X.max() == 16
    up, labels = digits_images(16)  # [N, 1, 16, 16] in [0, 1]
    X_round = to_8x8(up * 2 - 1)  # back to [N, 64] on the 0..16 scale
    assert X_round.shape == (1797, 64) and 0 <= X_round.min() and X_round.max() <= 16
    assert (clf.predict(X_round) == labels.numpy()).mean() > 0.95


def test_to_8x8_is_an_area_mean_on_the_ink_scale():
    img = -torch.ones(1, 3, 16, 16)  # all background
    img[:, :, :2, :2] = 1.0  # one 2x2 block of full ink -> one 8x8 pixel at 16
    out = to_8x8(img)
    assert out[0, 0] == 16 and out[0, 1:].sum() == 0


def test_diversity_flags_duplicates_and_collapse():
    rng = np.random.default_rng(0)
    varied = rng.uniform(0, 16, (40, 64))
    labels = np.zeros(40, dtype=int)
    dist, dup = diversity(varied, labels)
    assert dup[0] == 0.0 and dist[0] > 10
    collapsed = np.repeat(varied[:1], 40, axis=0) + rng.normal(0, 0.01, (40, 64))
    c_dist, c_dup = diversity(collapsed, labels, ref_scale=dist)
    assert c_dup[0] == 1.0 and c_dist[0] < 0.01 * dist[0]


def _real_round_trip():
    up, labels = digits_images(16)
    return to_8x8(up * 2 - 1), labels.numpy()


def test_frechet_of_fresh_draws_sits_at_the_floor_and_a_shift_adds_its_square():
    rng = np.random.default_rng(0)
    mix = rng.normal(size=(64, 64)) / 8  # a correlated 64-d "pixel" distribution, 10 classes

    def draw(n):
        return rng.normal(size=(n, 64)) @ mix + 8, np.arange(n) % 10

    X_real, y_real = draw(1800)
    X_gen, _ = draw(1000)  # new draws of the same distribution: as good as real data
    fd, floor = dq.frechet_vs_floor(X_gen, X_real, y_real)
    assert floor > 0 and 0.8 < fd / floor < 1.25
    fd_off, _ = dq.frechet_vs_floor(X_gen * 1.3, X_real, y_real)  # too spread out
    assert fd_off > 3 * floor
    A = rng.normal(size=(4000, 64))
    assert dq.frechet(A, A) == pytest.approx(0.0, abs=1e-6)
    shifted = dq.frechet(A, A + 0.5)  # same covariance, means 0.5 apart in each of 64 dims
    assert shifted == pytest.approx(64 * 0.25, rel=1e-6)


def test_memorised_tells_copies_from_new_digits():
    X, y = _real_round_trip()
    train_idx = np.arange(0, len(X), 10)  # a 10% "subset"
    copies = X[train_idx][np.arange(500) % len(train_idx)]
    share, _ = dq.memorised(copies, X, train_idx)
    assert share == 1.0
    held_out = np.setdiff1d(np.arange(len(X)), train_idx)
    share, _ = dq.memorised(X[held_out], X, train_idx)
    assert share == pytest.approx(dq.MEMORISED_QUANTILE, abs=0.01)  # real digits: by definition
    share_full, _ = dq.memorised(X, X, np.arange(len(X)))  # whole set: nearest *other* digit
    assert share_full == 1.0  # each real digit is its own training image
