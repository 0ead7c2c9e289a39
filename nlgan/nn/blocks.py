"""Residual blocks of the BigGAN / SN-ResNet family, built by layer injection.

Blocks take ``which_conv`` (and G blocks ``which_bn``) factories, usually ``functools.partial``
of :func:`nlgan.nn.sn_conv` and :class:`nlgan.nn.ConditionalBatchNorm2d`, so one block serves
the spectral-normed and the plain variant, conditional and unconditional.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn


class GBlock(nn.Module):
    """Up-sampling G block: BN-ReLU-up-conv3x3-BN-ReLU-conv3x3, plus an up-conv1x1 shortcut."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        which_conv: Callable[..., nn.Module],
        which_bn: Callable[[int], nn.Module],
        upsample: bool = True,
    ):
        super().__init__()
        self.upsample = upsample
        self.bn1 = which_bn(in_channels)
        self.conv1 = which_conv(in_channels, out_channels, kernel_size=3, padding=1)
        self.bn2 = which_bn(out_channels)
        self.conv2 = which_conv(out_channels, out_channels, kernel_size=3, padding=1)
        # An identity shortcut only fits when neither the width nor the size changes.
        self.shortcut = (
            which_conv(in_channels, out_channels, kernel_size=1)
            if in_channels != out_channels or upsample
            else None
        )

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """[B, in, H, W] -> [B, out, 2H, 2W] (same size when not up-sampling)."""
        h = F.relu(self.bn1(x, cond))
        # conv1x1 then up-sample equals BigGAN's up-sample then conv1x1 (nearest up-sampling
        # copies pixels; a 1x1 conv is per pixel) and runs on 4x fewer pixels.
        if self.shortcut is not None:
            x = self.shortcut(x)  # [B, out, H, W]
        if self.upsample:
            h = F.interpolate(h, scale_factor=2, mode="nearest")  # [B, in, 2H, 2W]
            x = F.interpolate(x, scale_factor=2, mode="nearest")  # [B, out, 2H, 2W]
        h = self.conv1(h)  # [B, out, 2H, 2W]
        h = self.conv2(F.relu(self.bn2(h, cond)))
        return h + x


class DBlock(nn.Module):
    """Down-sampling D block; ``first`` selects the optimised form without the leading ReLU.

    A pre-activation block is ReLU-conv3x3-ReLU-conv3x3-avgpool with a conv1x1-avgpool shortcut.
    The first block sees raw images, so it drops the leading ReLU (which would clip half the
    pixel range), as in SN-ResNet and BigGAN. ``relu_shortcut`` feeds the shortcut ReLU(x)
    instead of x: what StudioGAN's D computes, because its in-place ReLU also overwrites the
    tensor its shortcut reads (its weights were trained that way).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        which_conv: Callable[..., nn.Module],
        downsample: bool = True,
        first: bool = False,
        relu_shortcut: bool = False,
    ):
        super().__init__()
        self.downsample = downsample
        self.first = first
        self.relu_shortcut = relu_shortcut and not first
        self.conv1 = which_conv(in_channels, out_channels, kernel_size=3, padding=1)
        self.conv2 = which_conv(out_channels, out_channels, kernel_size=3, padding=1)
        self.shortcut = (
            which_conv(in_channels, out_channels, kernel_size=1)
            if in_channels != out_channels or downsample
            else None
        )

    def _down(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(x, 2) if self.downsample else x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, in, H, W] -> [B, out, H/2, W/2] (same size when not down-sampling)."""
        h = x if self.first else F.relu(x)
        if self.relu_shortcut:
            x = h
        h = self.conv1(h)  # [B, out, H, W]
        h = self._down(self.conv2(F.relu(h)))  # [B, out, H/2, W/2]
        if self.shortcut is None:
            return h + x
        # Pool, then conv1x1: equal to the reverse order (both are linear) on 4x fewer pixels.
        return h + self.shortcut(self._down(x))
