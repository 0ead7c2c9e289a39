"""The non-local block (Wang et al. 2018) and SAGAN self-attention (Zhang et al. 2019).

``y_i = 1/C(x) * sum_j f(x_i, x_j) g(x_j)`` and ``z = x + gamma * W_z(y)``, for sequences
``[B, C, L]``, images ``[B, C, H, W]`` and videos ``[B, C, T, H, W]``.

Design choices:

- Identity at initialisation: by default a learned scalar ``gamma`` starting at 0 (as in SAGAN),
  not a zero-initialised ``W_z`` — spectral norm divides ``W_z`` by its largest singular value,
  which is 0 for a zero matrix, and BN on ``W_z`` would add batch statistics to a GAN's G and D.
  At init ``z == x`` exactly; ``gamma`` gets a gradient while ``W_z``'s is 0 until ``gamma`` moves.
  Video models (the seed paper's NL-I3D, mmcv's ``NonLocalNd`` with a norm) instead normalise
  ``W_z``: ``w_z_norm=True`` gives ``z = x + BN(W_z y)`` with BN's weight starting at 0 and no
  ``gamma`` (W_z then has no bias: BN supplies the shift).
- ``use_scale`` divides the softmax logits by ``sqrt(d)``, d the key width (the Transformer
  scaling; mmcv's default, off in SAGAN and here by default). ``init_std`` draws theta, phi, g
  and W_z from N(0, init_std) with zero biases (the video models use 0.01) instead of PyTorch's
  default convolution init.
- ``C(x)`` for ``dot_product`` / ``concatenation`` is ``N_k``, the number of key positions summed
  over (``N`` without sub-sampling), so ``y`` is a mean that does not grow with the input size.
- Sub-sampling max-pools the key/value side (after the ``phi`` / ``g`` projections) by
  ``subsample`` per spatial axis, and along time only with ``subsample_time``; odd sizes are
  floored (the last row/column of an odd axis is dropped from the keys, never from the queries).
- Positions are flattened row-major: query ``i`` of an ``[H, W]`` map is ``divmod(i, W)``; key
  ``j`` indexes the pooled grid ``key_shape((H, W))`` the same way.
- Softmax kinds run through ``F.scaled_dot_product_attention`` (``scale=1.0``: the formula has no
  ``1/sqrt(d)`` unless ``use_scale``, and q, k may be padded, so the scale is always passed). Its
  fused kernels need one head width for q, k and v and a contiguous last axis, otherwise PyTorch
  silently uses its math path, which builds the ``N x N_k`` map; so q and k are zero-padded to
  v's width (exact: zeros add nothing to the dot products) or v to theirs.
  ``dot_product`` uses associativity, ``theta (phi^T g) / N_k``, and never forms the map.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize

from nlgan.nn.spectral import sn_conv, sn_linear

AFFINITIES = ("gaussian", "embedded_gaussian", "dot_product", "concatenation")
_SOFTMAX = ("gaussian", "embedded_gaussian")
_SHAPES = {1: "[B, C, L]", 2: "[B, C, H, W]", 3: "[B, C, T, H, W]"}


def _tokens(feature_map: torch.Tensor) -> torch.Tensor:
    """``[B, D, *S] -> [B, N, D]`` (a view: its last axis has stride N)."""
    return feature_map.flatten(2).transpose(1, 2)


def _fit_width(t: torch.Tensor, width: int) -> torch.Tensor:
    """Zero-pad the last axis to ``width``; the result is contiguous, as the fused kernels need."""
    if t.shape[-1] < width:
        t = F.pad(t, (0, width - t.shape[-1]))
    return t.contiguous()


class _Softmax(nn.Module):
    """``f = exp(scale * q_i . k_j)``, ``C(x) = sum_j f``: the (embedded) Gaussian kinds."""

    def __init__(self, scale: float = 1.0):
        super().__init__()
        self.scale = scale

    def weights(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        """Normalised weights ``[B, N, N_k]`` from ``q [B, N, D]`` and ``k [B, N_k, D]``."""
        return torch.softmax((q @ k.transpose(1, 2)) * self.scale, dim=-1)

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """``y [B, N, D_v]`` through the fused kernel, without the ``[N, N_k]`` map."""
        value_width = v.shape[-1]
        width = max(q.shape[-1], value_width)
        q, k, v = (_fit_width(t, width)[:, None] for t in (q, k, v))  # [B, 1, N(_k), width]
        y = F.scaled_dot_product_attention(q, k, v, scale=self.scale)  # [B, 1, N, width]
        return y[:, 0, :, :value_width]


class _DotProduct(nn.Module):
    """``f = q_i . k_j``, ``C(x) = N_k``."""

    def weights(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        """Normalised weights ``[B, N, N_k]``."""
        return (q @ k.transpose(1, 2)) / k.shape[1]

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """``y = q (k^T v) / N_k``: a ``[D, D_v]`` product instead of the ``[N, N_k]`` map."""
        return q @ ((k.transpose(1, 2) @ v) / k.shape[1])


class _Concatenation(nn.Module):
    """``f = ReLU(w_f . [q_i, k_j])``, ``C(x) = N_k``; ``w_f`` is split so pairs are never built."""

    def __init__(self, key_channels: int, sn: bool, eps: float):
        super().__init__()
        self.key_channels = key_channels
        self.w_f = sn_linear(2 * key_channels, 1, bias=False, sn=sn, eps=eps)

    def weights(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        """Normalised weights ``[B, N, N_k]``; ``w_f . [a, b] = w_a . a + w_b . b``."""
        w_a, w_b = self.w_f.weight[0].split(self.key_channels)  # read once: SN runs per access
        a, b = q @ w_a, k @ w_b  # [B, N], [B, N_k]
        return torch.relu(a[:, :, None] + b[:, None, :]) / k.shape[1]

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """``y [B, N, D_v]``; the ``[N, N_k]`` pair scores are inherent to this kind."""
        return self.weights(q, k) @ v


class NonLocalBlock(nn.Module):
    """Generic non-local block ``z = x + gamma * W_z(y)`` (or ``x + BN(W_z y)`` with
    ``w_z_norm``); output shape == input shape."""

    def __init__(
        self,
        channels: int,
        dims: int = 2,
        affinity: str = "embedded_gaussian",
        inter_channels: int | None = None,
        key_channels: int | None = None,
        subsample: int = 1,
        subsample_time: bool = False,
        sn: bool = False,
        eps: float = 1e-6,
        bias: bool = True,
        use_scale: bool = False,
        w_z_norm: bool = False,
        init_std: float | None = None,
    ):
        """``inter_channels`` (default C/2) is g's width, ``key_channels`` (default the same)
        theta's and phi's; ``subsample`` is the key/value max-pooling factor per spatial axis;
        ``use_scale``, ``w_z_norm`` and ``init_std`` are described in the module docstring."""
        super().__init__()
        name = type(self).__name__
        if dims not in _SHAPES:
            raise ValueError(f"{name}: dims={dims!r} is not supported (choose 1, 2 or 3)")
        if affinity not in AFFINITIES:
            raise ValueError(
                f"{name}: unknown affinity {affinity!r} (choose from {', '.join(AFFINITIES)})"
            )
        if isinstance(channels, bool) or not isinstance(channels, int) or channels < 1:
            raise ValueError(f"{name}: channels={channels!r} must be a positive int")
        inter_channels = channels // 2 if inter_channels is None else inter_channels
        key_channels = inter_channels if key_channels is None else key_channels
        for arg, value in (("inter_channels", inter_channels), ("key_channels", key_channels)):
            if value < 1:
                raise ValueError(
                    f"{name}: {arg}={value} with channels={channels}; pass {arg} >= 1 explicitly"
                )
        if isinstance(subsample, bool) or not isinstance(subsample, int) or subsample < 1:
            raise ValueError(
                f"{name}: subsample={subsample!r} must be an int pooling factor >= 1 "
                "(1 = no sub-sampling, 2 = SAGAN)"
            )
        if subsample_time and dims != 3:
            raise ValueError(f"{name}: subsample_time=True needs dims=3 (got dims={dims})")
        if use_scale and affinity not in _SOFTMAX:
            raise ValueError(
                f"{name}: use_scale=True scales softmax logits; affinity={affinity!r} has none "
                "(use gaussian or embedded_gaussian, or use_scale=False)"
            )
        if init_std is not None and not init_std > 0:
            raise ValueError(f"{name}: init_std={init_std!r} must be > 0 (or None: PyTorch's)")

        self.channels, self.dims, self.affinity = channels, dims, affinity
        self.inter_channels, self.key_channels = inter_channels, key_channels
        factor = (subsample if subsample_time else 1,) if dims == 3 else ()
        self.pool_factors = factor + (subsample,) * min(dims, 2)  # per spatial axis
        pool = {1: nn.MaxPool1d, 2: nn.MaxPool2d, 3: nn.MaxPool3d}[dims]
        self.pool = pool(self.pool_factors) if subsample > 1 or subsample_time else nn.Identity()

        def conv(c_in: int, c_out: int, bias: bool = bias) -> nn.Module:
            return sn_conv(c_in, c_out, 1, sn=sn, eps=eps, dims=dims, bias=bias)

        if affinity == "gaussian":  # compares raw features: no embedding
            self.theta: nn.Module = nn.Identity()
            self.phi: nn.Module = nn.Identity()
        else:
            self.theta = conv(channels, key_channels)
            # phi's bias adds a per-query constant to the logits, which a softmax cancels
            self.phi = conv(channels, key_channels, bias and affinity not in _SOFTMAX)
        self.g = conv(channels, inter_channels)
        self.w_z = conv(inter_channels, channels, bias and not w_z_norm)
        # z == x at init either way (see the module docstring); the form is chosen here, once.
        if w_z_norm:
            bn = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d, 3: nn.BatchNorm3d}[dims]
            self.w_z_bn = bn(channels)
            nn.init.zeros_(self.w_z_bn.weight)
            self._residual = self._normalised
        else:
            self.gamma = nn.Parameter(torch.zeros(()))
            self._residual = self._gated
        self.use_scale, self.w_z_norm = use_scale, w_z_norm
        if affinity in _SOFTMAX:
            width = channels if affinity == "gaussian" else key_channels
            self.kernel: nn.Module = _Softmax(width**-0.5 if use_scale else 1.0)
        elif affinity == "dot_product":
            self.kernel = _DotProduct()
        else:
            self.kernel = _Concatenation(key_channels, sn, eps)
        if init_std is not None:
            _normal_init(self, init_std)

    def key_shape(self, spatial: Sequence[int]) -> tuple[int, ...]:
        """The key/value grid for an input of spatial size ``spatial`` (floor pooling)."""
        return tuple(size // f for size, f in zip(spatial, self.pool_factors, strict=True))

    def _check(self, x: torch.Tensor) -> None:
        """One-line errors for a wrong rank, channel count, or an input too small to pool."""
        name = f"{type(self).__name__}(dims={self.dims})"
        if x.dim() != self.dims + 2:
            fix = (
                f"build the block with dims={x.dim() - 2}"
                if x.dim() - 2 in _SHAPES
                else f"pass a rank-{self.dims + 2} tensor"
            )
            raise ValueError(
                f"{name} expects a {_SHAPES[self.dims]} tensor, got shape {tuple(x.shape)}; {fix}"
            )
        if x.shape[1] != self.channels:
            raise ValueError(
                f"{name} was built for {self.channels} channels but the input has {x.shape[1]} "
                f"(shape {tuple(x.shape)}); build it with channels={x.shape[1]}"
            )
        if 0 in self.key_shape(x.shape[2:]):
            raise ValueError(
                f"{name}: input of spatial size {tuple(x.shape[2:])} is too small to max-pool "
                f"by {self.pool_factors} (a pooled axis would be 0); use a larger input or "
                "subsample=1"
            )

    def _qkv(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Query ``[B, N, D]``, key ``[B, N_k, D]`` and value ``[B, N_k, D_v]`` tokens."""
        self._check(x)
        query, key, value = self.theta(x), self.pool(self.phi(x)), self.pool(self.g(x))
        return _tokens(query), _tokens(key), _tokens(value)

    def attention_map(self, x: torch.Tensor) -> torch.Tensor:
        """The weights ``f / C(x)`` as ``[B, N_query, N_key]``: a softmax (rows sum to 1) for the
        Gaussian kinds, ``f / N_key`` (rows need not sum to 1) for dot_product / concatenation."""
        q, k, _ = self._qkv(x)
        return self.kernel.weights(q, k)

    def forward(self, x: torch.Tensor, reference: bool = False) -> torch.Tensor:
        """``z = x + gamma * W_z(y)``; ``reference=True`` builds the attention map explicitly."""
        q, k, v = self._qkv(x)
        y = self.kernel.weights(q, k) @ v if reference else self.kernel.attend(q, k, v)
        y = y.transpose(1, 2).reshape(x.shape[0], self.inter_channels, *x.shape[2:])  # [B, D_v, *S]
        return x + self._residual(self.w_z(y))

    def _gated(self, h: torch.Tensor) -> torch.Tensor:
        return self.gamma * h

    def _normalised(self, h: torch.Tensor) -> torch.Tensor:
        return self.w_z_bn(h)


@torch.no_grad()
def _normal_init(block: NonLocalBlock, std: float) -> None:
    """Draw theta, phi, g and W_z from N(0, std), biases 0 (spectral norm restarted)."""
    for layer in (block.theta, block.phi, block.g, block.w_z):
        if isinstance(layer, nn.Identity):
            continue
        if parametrize.is_parametrized(layer, "weight"):
            weight = layer.parametrizations.weight.original
            nn.init.normal_(weight, 0.0, std)
            for p in layer.parametrizations.weight:
                p.reset_estimate(weight)
        else:
            nn.init.normal_(layer.weight, 0.0, std)
        if layer.bias is not None:
            layer.bias.zero_()


class SelfAttention(NonLocalBlock):
    """SAGAN / BigGAN self-attention: the embedded-Gaussian block without biases, theta and phi
    at C/8, g at C/2, 2x2 max-pooled keys/values, spectral norm and ``gamma`` starting at 0."""

    def __init__(
        self,
        channels: int,
        sn: bool = True,
        eps: float = 1e-6,
        subsample: int = 2,
        key_div: int = 8,
        value_div: int = 2,
    ):
        """``channels`` must be divisible by ``key_div`` (theta and phi get ``channels //
        key_div``) and ``value_div`` (g gets ``channels // value_div``); ``subsample=1``
        disables key/value pooling."""
        for arg, div in (("key_div", key_div), ("value_div", value_div)):
            if isinstance(div, bool) or not isinstance(div, int) or div < 1:
                raise ValueError(f"SelfAttention: {arg}={div!r} must be an int >= 1")
        if (
            isinstance(channels, bool)
            or not isinstance(channels, int)
            or channels < max(key_div, value_div)
            or channels % key_div
            or channels % value_div
        ):
            raise ValueError(
                f"SelfAttention: channels={channels!r} must be a positive multiple of "
                f"{math.lcm(key_div, value_div)} (theta and phi have channels // {key_div} "
                f"outputs, g channels // {value_div})"
            )
        super().__init__(
            channels,
            dims=2,
            affinity="embedded_gaussian",
            inter_channels=channels // value_div,
            key_channels=channels // key_div,
            subsample=subsample,
            sn=sn,
            eps=eps,
            bias=False,  # as BigGAN-PyTorch's Attention
        )
