"""EMA generator: parameters interpolate, buffers are copied, before ema_start it copies G."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nlgan.train.ema import EMA


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))


def test_parameters_interpolate_and_buffers_copy():
    net = _net()
    ema = EMA(net, decay=0.9, start=0)
    before = {k: v.clone() for k, v in ema.ema.named_parameters()}
    with torch.no_grad():
        for p in net.parameters():
            p.add_(1.0)
    net.train()(torch.randn(8, 3))  # changes BN running statistics
    ema.update(net, step=1)
    for name, p in ema.ema.named_parameters():
        expected = 0.9 * before[name] + 0.1 * dict(net.named_parameters())[name]
        torch.testing.assert_close(p, expected)
    for name, b in ema.ema.named_buffers():
        assert torch.equal(b, dict(net.named_buffers())[name]), name


def test_average_bn_interpolates_bn_statistics_and_copies_other_buffers():
    net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    net[0].register_buffer("u", torch.zeros(4))  # like a spectral-norm vector: always copied
    ema = EMA(net, decay=0.9, start=0, average_bn=True)
    before = {k: v.clone() for k, v in ema.ema.named_buffers()}
    net.train()(torch.randn(8, 3) * 3 + 1)  # moves the running statistics
    net[0].u.fill_(1.0)
    ema.update(net, step=1)
    src = dict(net.named_buffers())
    for name in ("1.running_mean", "1.running_var"):
        expected = 0.9 * before[name] + 0.1 * src[name]
        torch.testing.assert_close(dict(ema.ema.named_buffers())[name], expected)
        assert not torch.equal(dict(ema.ema.named_buffers())[name], src[name])
    assert torch.equal(ema.ema[0].u, src["0.u"])
    assert torch.equal(ema.ema[1].num_batches_tracked, src["1.num_batches_tracked"])


def test_copies_before_start_then_averages():
    net = _net()
    ema = EMA(net, decay=0.99, start=3)
    with torch.no_grad():
        net[0].weight.fill_(2.0)
    ema.update(net, step=2)  # before start: an exact copy
    assert torch.equal(ema.ema[0].weight, net[0].weight)
    with torch.no_grad():
        net[0].weight.fill_(4.0)
    ema.update(net, step=3)  # from start on: 0.99 * 2 + 0.01 * 4
    torch.testing.assert_close(ema.ema[0].weight, torch.full_like(net[0].weight, 2.02))


def test_ema_is_a_frozen_eval_copy():
    net = _net()
    ema = EMA(net, decay=0.5)
    assert not ema.ema.training
    assert all(not p.requires_grad for p in ema.ema.parameters())
    assert all(p.requires_grad for p in net.parameters())
    assert ema.ema[0].weight.data_ptr() != net[0].weight.data_ptr()


def test_state_dict_round_trip():
    a = EMA(_net(), decay=0.5)
    b = EMA(nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4)), decay=0.5)
    b.load_state_dict(a.state_dict())
    for (k, v), (_, w) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert torch.equal(v, w), k


def test_bad_decay():
    with pytest.raises(ValueError, match="decay"):
        EMA(_net(), decay=1.0)
