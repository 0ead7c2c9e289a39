"""Residual G / D blocks: shapes, shortcuts, the optimised first D block, layer injection."""

from __future__ import annotations

from functools import partial

import pytest
import torch
import torch.nn.functional as F

from nlgan.nn import ConditionalBatchNorm2d, DBlock, GBlock, SpectralNorm, sn_conv

PLAIN_CONV = partial(sn_conv, sn=False)
SN_CONV = partial(sn_conv, sn=True)


def _count_sn(module: torch.nn.Module) -> int:
    return sum(isinstance(m, SpectralNorm) for m in module.modules())


@pytest.mark.parametrize("which_conv", [PLAIN_CONV, SN_CONV], ids=["plain", "sn"])
def test_gblock_upsamples_with_conditional_bn(which_conv):
    torch.manual_seed(0)
    block = GBlock(8, 4, which_conv, partial(ConditionalBatchNorm2d, cond_dim=3))
    cond = F.one_hot(torch.tensor([0, 2]), 3).float()
    x = torch.randn(2, 8, 5, 5, requires_grad=True)
    out = block(x, cond)
    assert out.shape == (2, 4, 10, 10)
    out.square().mean().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert _count_sn(block) == (3 if which_conv is SN_CONV else 0)  # conv1, conv2, shortcut


def test_gblock_matches_hand_written_forward():
    torch.manual_seed(1)
    block = GBlock(4, 6, PLAIN_CONV, ConditionalBatchNorm2d).train()
    x = torch.randn(3, 4, 4, 4)

    def up(t):
        return F.interpolate(t, scale_factor=2, mode="nearest")

    h = block.conv1(up(F.relu(F.batch_norm(x, None, None, training=True))))
    h = block.conv2(F.relu(F.batch_norm(h, None, None, training=True)))
    expected = h + block.shortcut(up(x))  # BigGAN's order: up-sample, then the 1x1 conv
    torch.testing.assert_close(block(x), expected)


def test_gblock_identity_shortcut_without_upsampling():
    block = GBlock(4, 4, PLAIN_CONV, ConditionalBatchNorm2d, upsample=False)
    assert block.shortcut is None
    assert block(torch.randn(2, 4, 6, 6)).shape == (2, 4, 6, 6)


def test_first_dblock_has_no_leading_relu():
    torch.manual_seed(2)
    first = DBlock(3, 8, PLAIN_CONV, downsample=True, first=True)
    later = DBlock(3, 8, PLAIN_CONV, downsample=True, first=False)
    later.load_state_dict(first.state_dict())
    x = -torch.rand(2, 3, 8, 8)  # all negative: a leading ReLU would zero the residual input
    h_later = F.avg_pool2d(later.conv2(F.relu(later.conv1(F.relu(x)))), 2)
    torch.testing.assert_close(later(x) - later.shortcut(F.avg_pool2d(x, 2)), h_later)
    h_first = F.avg_pool2d(first.conv2(F.relu(first.conv1(x))), 2)
    torch.testing.assert_close(first(x), h_first + first.shortcut(F.avg_pool2d(x, 2)))
    assert not torch.allclose(first(x), later(x))


def test_dblock_shortcut_pool_then_conv_equals_conv_then_pool():
    torch.manual_seed(3)
    block = DBlock(4, 6, PLAIN_CONV, downsample=True)
    x = torch.randn(2, 4, 8, 8)
    torch.testing.assert_close(
        block.shortcut(F.avg_pool2d(x, 2)), F.avg_pool2d(block.shortcut(x), 2)
    )


@pytest.mark.parametrize("down", [True, False])
def test_dblock_shapes_and_shortcut(down):
    block = DBlock(6, 6, SN_CONV, downsample=down)
    assert (block.shortcut is None) == (not down)
    out = block(torch.randn(2, 6, 8, 8))
    assert out.shape == (2, 6, 4, 4) if down else (2, 6, 8, 8)
    assert _count_sn(block) == (3 if down else 2)
    assert DBlock(6, 8, PLAIN_CONV, downsample=False).shortcut is not None
