"""Conditional batch normalisation for the generator (SAGAN per-class gains, BigGAN projections).

The normalisation itself is a non-affine ``nn.BatchNorm2d`` held in ``.bn``, so
``nn.SyncBatchNorm.convert_sync_batchnorm`` (cross-replica statistics) replaces just that
submodule and leaves the conditioning untouched. Gain and bias are applied afterwards, in one of
three forms chosen when building:

* ``cond_dim == 0``: plain BN, one learned gain (initialised to 1) and bias (0) per channel;
* ``which_linear is None``: per-class tables, SAGAN style. The conditioning vector is a one-hot
  [B, num_classes] (or a mix of one-hots), gains are ``cond @ gain`` with ``gain`` [num_classes,
  C] initialised to 1 and ``bias`` to 0, so every class starts as plain BN. The tables are not
  spectral-normed (nor in SAGAN): that would rescale the initial gains to 1 / sigma;
* otherwise: projections, BigGAN style. The conditioning vector (a shared class embedding and/or a
  chunk of z) goes through ``which_linear`` layers (spectral-normed when G is):
  ``gain = 1 + W_g cond`` and ``bias = W_b cond``. These weights follow the model's init scheme,
  so the gains start near, not exactly at, 1 — as in BigGAN.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


class ConditionalBatchNorm2d(nn.Module):
    """BatchNorm2d whose per-channel gain and bias depend on a conditioning vector."""

    def __init__(
        self,
        num_features: int,
        cond_dim: int = 0,
        which_linear: Callable[..., nn.Module] | None = None,
        eps: float = 1e-5,
        momentum: float = 0.1,
    ):
        super().__init__()
        if cond_dim < 0:
            raise ValueError(f"cond_dim={cond_dim}: must be >= 0 (0 = unconditional BN)")
        self.num_features = num_features
        self.cond_dim = cond_dim
        self.bn = nn.BatchNorm2d(num_features, eps=eps, momentum=momentum, affine=False)
        self.projected = cond_dim > 0 and which_linear is not None
        # The form is chosen here, once: forward calls the chosen method without branching.
        if cond_dim == 0:
            self.gain = nn.Parameter(torch.ones(num_features))
            self.bias = nn.Parameter(torch.zeros(num_features))
            self._modulate = self._plain
        elif which_linear is None:
            self.gain = nn.Parameter(torch.ones(cond_dim, num_features))
            self.bias = nn.Parameter(torch.zeros(cond_dim, num_features))
            self._modulate = self._per_class
        else:
            self.gain = which_linear(cond_dim, num_features, bias=False)
            self.bias = which_linear(cond_dim, num_features, bias=False)
            self._modulate = self._projected

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """Normalise ``x`` [B, C, H, W]; ``cond`` [B, cond_dim] (None when unconditional)."""
        return self._modulate(self.bn(x), cond)

    def _plain(self, h: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        if cond is not None:
            raise ValueError("this BatchNorm is unconditional: call it without cond")
        return h * self.gain.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)

    def _check_cond(self, h: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        if cond is None or cond.shape != (h.shape[0], self.cond_dim):
            got = None if cond is None else list(cond.shape)
            raise ValueError(
                f"conditional BatchNorm needs cond of shape [{h.shape[0]}, {self.cond_dim}], "
                f"got {got}"
            )
        return cond

    def _per_class(self, h: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        cond = self._check_cond(h, cond).to(self.gain.dtype)
        gain = cond @ self.gain  # [B, cond_dim] @ [cond_dim, C] -> [B, C]
        bias = cond @ self.bias
        return h * gain[:, :, None, None].to(h.dtype) + bias[:, :, None, None].to(h.dtype)

    def _projected(self, h: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        cond = self._check_cond(h, cond)
        gain = 1.0 + self.gain(cond)  # [B, C]
        bias = self.bias(cond)
        return h * gain[:, :, None, None].to(h.dtype) + bias[:, :, None, None].to(h.dtype)

    def extra_repr(self) -> str:
        kind = "plain" if self.cond_dim == 0 else "projected" if self.projected else "per-class"
        return f"{self.num_features}, cond_dim={self.cond_dim}, {kind}"
