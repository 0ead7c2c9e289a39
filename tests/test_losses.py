"""Losses match their formulas, are differentiable and are chosen by name."""

from __future__ import annotations

import math

import pytest
import torch

from nlgan.losses import d_hinge, d_nonsat, g_hinge, g_nonsat, losses_for


def test_hinge_values_by_hand():
    real = torch.tensor([2.0, 0.5, -1.0])  # relu(1 - r) = 0, 0.5, 2 -> mean 2.5 / 3
    fake = torch.tensor([-2.0, 0.0, 1.0])  # relu(1 + f) = 0, 1, 2 -> mean 1
    assert d_hinge(real, fake).item() == pytest.approx(2.5 / 3 + 1.0)
    assert g_hinge(fake).item() == pytest.approx(1.0 / 3)  # -mean(-2, 0, 1)


def test_hinge_is_zero_beyond_the_margin():
    assert d_hinge(torch.full((4,), 1.5), torch.full((4,), -3.0)).item() == 0.0


def test_nonsat_values_by_hand():
    real = torch.tensor([0.0, 1.0])
    fake = torch.tensor([0.0, -2.0])
    expected_d = (math.log(2) + math.log1p(math.exp(-1.0))) / 2 + (
        math.log(2) + math.log1p(math.exp(-2.0))
    ) / 2
    assert d_nonsat(real, fake).item() == pytest.approx(expected_d, rel=1e-6)
    expected_g = (math.log(2) + math.log1p(math.exp(2.0))) / 2
    assert g_nonsat(fake).item() == pytest.approx(expected_g, rel=1e-6)


def test_nonsat_matches_bce_and_stays_finite_for_large_logits():
    real, fake = torch.randn(64) * 5, torch.randn(64) * 5
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    ref = bce(real, torch.ones(64)) + bce(fake, torch.zeros(64))
    assert d_nonsat(real, fake).item() == pytest.approx(ref.item(), rel=1e-5)
    big = torch.tensor([200.0, -200.0])
    assert torch.isfinite(d_nonsat(big, -big)) and torch.isfinite(g_nonsat(-big))
    assert g_nonsat(torch.tensor([-200.0])).item() == pytest.approx(200.0)


def test_gradients_flow_to_the_logits():
    fake = torch.tensor([0.3, -0.2], requires_grad=True)
    g_hinge(fake).backward()
    assert torch.allclose(fake.grad, torch.tensor([-0.5, -0.5]))


def test_losses_for_by_name():
    assert losses_for("hinge") == (d_hinge, g_hinge)
    assert losses_for("nonsat") == (d_nonsat, g_nonsat)
    with pytest.raises(ValueError, match="choose one of hinge, nonsat"):
        losses_for("wgan")
