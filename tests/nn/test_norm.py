"""Conditional batch norm: per-class gains, projections, batch vs running statistics."""

from __future__ import annotations

from functools import partial

import pytest
import torch
import torch.nn.functional as F

from nlgan.nn import ConditionalBatchNorm2d, sn_linear


def _onehot(labels: list[int], k: int) -> torch.Tensor:
    return F.one_hot(torch.tensor(labels), k).float()


def test_per_class_tables_start_at_gain_one_bias_zero():
    bn = ConditionalBatchNorm2d(6, cond_dim=4)
    assert bn.gain.shape == (4, 6) and bn.bias.shape == (4, 6)
    assert torch.equal(bn.gain, torch.ones(4, 6)) and torch.equal(bn.bias, torch.zeros(4, 6))
    assert type(bn.bn) is torch.nn.BatchNorm2d and not bn.bn.affine


def test_classes_identical_at_init_and_different_after_gains_change():
    torch.manual_seed(0)
    bn = ConditionalBatchNorm2d(3, cond_dim=5).eval()
    x = torch.randn(1, 3, 4, 4).expand(2, -1, -1, -1)  # the same image twice
    out = bn(x, _onehot([1, 3], 5))
    torch.testing.assert_close(out[0], out[1])
    with torch.no_grad():
        bn.gain[3] = torch.tensor([2.0, 0.5, -1.0])
        bn.bias[3] = torch.tensor([0.1, 0.2, 0.3])
    out = bn(x, _onehot([1, 3], 5))
    assert not torch.allclose(out[0], out[1])
    normed = bn.bn(x[:1])[0]
    torch.testing.assert_close(out[0], normed)  # class 1 still plain BN
    expected = normed * torch.tensor([2.0, 0.5, -1.0])[:, None, None]
    torch.testing.assert_close(out[1], expected + torch.tensor([0.1, 0.2, 0.3])[:, None, None])


def test_mixed_one_hot_interpolates_gains():
    bn = ConditionalBatchNorm2d(2, cond_dim=2).eval()
    with torch.no_grad():
        bn.gain.copy_(torch.tensor([[1.0, 1.0], [3.0, 5.0]]))
    x = torch.ones(1, 2, 2, 2)
    out = bn(x, torch.tensor([[0.5, 0.5]]))
    gains = torch.tensor([2.0, 3.0])[:, None, None]
    torch.testing.assert_close(out[0], bn.bn(x)[0] * gains)


def test_train_mode_uses_batch_statistics():
    torch.manual_seed(1)
    bn = ConditionalBatchNorm2d(4, cond_dim=3).train()
    x = torch.randn(8, 4, 5, 5) * 3 + 2
    out = bn(x, _onehot([0, 1, 2, 0, 1, 2, 0, 1], 3))
    torch.testing.assert_close(out.mean(dim=(0, 2, 3)), torch.zeros(4), atol=1e-5, rtol=0)
    torch.testing.assert_close(
        out.var(dim=(0, 2, 3), unbiased=False), torch.ones(4), atol=1e-3, rtol=0
    )
    # running stats moved 10% of the way (momentum 0.1) towards the batch mean
    torch.testing.assert_close(bn.bn.running_mean, 0.1 * x.mean(dim=(0, 2, 3)))


def test_eval_mode_uses_running_statistics():
    bn = ConditionalBatchNorm2d(2).eval()
    with torch.no_grad():
        bn.bn.running_mean.copy_(torch.tensor([1.0, -2.0]))
        bn.bn.running_var.copy_(torch.tensor([4.0, 0.25]))
    x = torch.zeros(3, 2, 2, 2)
    out = bn(x)
    eps = bn.bn.eps
    expected = torch.tensor([-1.0 / (4.0 + eps) ** 0.5, 2.0 / (0.25 + eps) ** 0.5])
    torch.testing.assert_close(out, expected[None, :, None, None].expand(3, 2, 2, 2))


def test_unconditional_is_plain_affine_bn():
    torch.manual_seed(2)
    bn = ConditionalBatchNorm2d(3).train()
    ref = torch.nn.BatchNorm2d(3).train()
    with torch.no_grad():
        bn.gain.copy_(torch.tensor([1.5, 2.0, 0.5]))
        bn.bias.copy_(torch.tensor([0.0, 1.0, -1.0]))
        ref.weight.copy_(bn.gain)
        ref.bias.copy_(bn.bias)
    x = torch.randn(4, 3, 6, 6)
    torch.testing.assert_close(bn(x), ref(x))
    torch.testing.assert_close(bn.bn.running_var, ref.running_var)


def test_projected_gains_from_shared_embedding():
    torch.manual_seed(3)
    which_linear = partial(sn_linear, sn=True)
    bn = ConditionalBatchNorm2d(4, cond_dim=6, which_linear=which_linear).eval()
    cond = torch.randn(2, 6)
    x = torch.randn(2, 4, 3, 3)
    gain = 1 + bn.gain(cond)
    bias = bn.bias(cond)
    expected = bn.bn(x) * gain[:, :, None, None] + bias[:, :, None, None]
    torch.testing.assert_close(bn(x, cond), expected)
    assert bn.gain.parametrizations.weight.original.shape == (4, 6)
    out = bn(x, cond)
    out.sum().backward()
    assert bn.gain.parametrizations.weight.original.grad.abs().sum() > 0


def test_sync_batchnorm_conversion_replaces_only_the_normalisation():
    bn = ConditionalBatchNorm2d(4, cond_dim=3)
    converted = torch.nn.SyncBatchNorm.convert_sync_batchnorm(bn)
    assert isinstance(converted.bn, torch.nn.SyncBatchNorm)
    assert converted.gain.shape == (3, 4)


def test_bad_conditioning_errors():
    bn = ConditionalBatchNorm2d(2, cond_dim=3)
    with pytest.raises(ValueError, match=r"cond of shape \[4, 3\], got None"):
        bn(torch.randn(4, 2, 2, 2))
    with pytest.raises(ValueError, match=r"got \[4, 2\]"):
        bn(torch.randn(4, 2, 2, 2), torch.randn(4, 2))
    with pytest.raises(ValueError, match="unconditional: call it without cond"):
        ConditionalBatchNorm2d(2)(torch.randn(4, 2, 2, 2), torch.randn(4, 3))
    with pytest.raises(ValueError, match="cond_dim=-1"):
        ConditionalBatchNorm2d(2, cond_dim=-1)
