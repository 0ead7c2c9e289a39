"""Spectral normalisation (Miyato et al. 2018) with one power iteration per training forward.

Unlike ``torch.nn.utils.parametrizations.spectral_norm`` this records the current estimate of
the largest singular value in a ``sigma`` buffer, so training can log it, and runs the power
iteration in float32 even under autocast (a bf16 power iteration drifts). The module may be cast
(``.to(torch.bfloat16)``, ``.half()``, ``.double()``): the ``u``/``v``/``sigma`` buffers follow
the cast, the arithmetic stays in float32 (float64 for a double weight), and the normalised
weight comes back in the weight's dtype.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize


class SpectralNorm(nn.Module):
    """Parametrization ``W -> W / sigma(W)``; ``u``, ``v`` and ``sigma`` are buffers."""

    def __init__(self, weight: torch.Tensor, n_power_iterations: int = 1, eps: float = 1e-6):
        super().__init__()
        if n_power_iterations < 1:
            raise ValueError(f"n_power_iterations={n_power_iterations}: must be >= 1")
        self.n_power_iterations = n_power_iterations
        self.eps = eps
        rows = weight.shape[0]
        cols = weight.numel() // rows
        gen = torch.Generator().manual_seed(rows * 7919 + cols)  # deterministic, rank-independent
        u = F.normalize(torch.randn(rows, generator=gen), dim=0, eps=eps)
        v = F.normalize(torch.randn(cols, generator=gen), dim=0, eps=eps)
        self.register_buffer("_u", u.to(weight.device))
        self.register_buffer("_v", v.to(weight.device))
        self.register_buffer("sigma", torch.ones((), device=weight.device))
        # Without a warm start, a model used in eval mode before any training forward would
        # divide by u^T W v for random u, v (any size, even negative).
        self.reset_estimate(weight)

    @torch.no_grad()
    def reset_estimate(self, weight: torch.Tensor, n_power_iterations: int = 15) -> None:
        """Re-run the power iteration on ``weight`` (the raw one), e.g. after re-initialising it."""
        w = _matrix(weight.detach())  # [out, in * prod(kernel)]
        u, v = self._u.to(w.dtype), self._v.to(w.dtype)
        for _ in range(n_power_iterations):
            v = F.normalize(w.t() @ u, dim=0, eps=self.eps)
            u = F.normalize(w @ v, dim=0, eps=self.eps)
        self._u.copy_(u)
        self._v.copy_(v)
        self.sigma.copy_(torch.dot(u, w @ v))

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device_type=weight.device.type, enabled=False):
            w = _matrix(weight)  # [out, in * prod(kernel)]
            if self.training:
                with torch.no_grad():
                    u, v = self._u.to(w.dtype), self._v.to(w.dtype)
                    for _ in range(self.n_power_iterations):
                        v = F.normalize(w.t() @ u, dim=0, eps=self.eps)
                        u = F.normalize(w @ v, dim=0, eps=self.eps)
                    self._u.copy_(u)
                    self._v.copy_(v)
            # Clones: the buffers change in place at the next training forward, which must not
            # invalidate tensors that autograd saved for this one.
            u = self._u.to(w.dtype, copy=True, memory_format=torch.contiguous_format)
            v = self._v.to(w.dtype, copy=True, memory_format=torch.contiguous_format)
            sigma = torch.dot(u, w @ v)
            with torch.no_grad():
                self.sigma.copy_(sigma)
        return weight / sigma.to(weight.dtype)


def _matrix(weight: torch.Tensor) -> torch.Tensor:
    """The weight as a matrix in the power iteration's dtype: float32, or float64 if wider."""
    return weight.flatten(1).to(torch.promote_types(weight.dtype, torch.float32))


def spectral_norm(module: nn.Module, name: str = "weight", eps: float = 1e-6) -> nn.Module:
    """Spectral-normalise ``module.<name>`` in place (one power iteration per forward)."""
    weight = getattr(module, name)
    parametrize.register_parametrization(module, name, SpectralNorm(weight, eps=eps))
    return module


def spectral_sigmas(model: nn.Module) -> dict[str, float]:
    """Current sigma estimate of every spectral-normed weight in ``model``, by module name."""
    return {
        name: float(m.sigma) for name, m in model.named_modules() if isinstance(m, SpectralNorm)
    }


def sn_conv(*args, sn: bool = True, eps: float = 1e-6, dims: int = 2, **kwargs) -> nn.Module:
    """A 1D/2D/3D convolution, spectral-normed when ``sn``."""
    conv = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}[dims](*args, **kwargs)
    return spectral_norm(conv, eps=eps) if sn else conv


def sn_linear(*args, sn: bool = True, eps: float = 1e-6, **kwargs) -> nn.Module:
    """A linear layer, spectral-normed when ``sn``."""
    layer = nn.Linear(*args, **kwargs)
    return spectral_norm(layer, eps=eps) if sn else layer


def sn_embedding(*args, sn: bool = True, eps: float = 1e-6, **kwargs) -> nn.Module:
    """An embedding table, spectral-normed when ``sn`` (as in SAGAN's projection D)."""
    layer = nn.Embedding(*args, **kwargs)
    return spectral_norm(layer, eps=eps) if sn else layer
