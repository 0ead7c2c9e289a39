"""bench/digits_quality.py's judge: the classifier, the 8x8 mapping and the diversity measures."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
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
