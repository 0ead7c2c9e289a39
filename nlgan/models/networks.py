"""SAGAN / BigGAN-style Generator and Discriminator built from a :class:`ModelConfig`.

Widths per stage come from the resolution table in :mod:`nlgan.models.arch` (``model.arch`` picks
StudioGAN's or BigGAN-PyTorch's); self-attention goes after the G block whose output has a size
listed in ``g_attn_resolutions``, after the first D block whose output has a size in
``d_attn_resolutions``, and after the D blocks numbered in ``d_attn_blocks``. ``attention`` is a
per-block list (``nn.Identity`` where there is none, as BigGAN does), so ``forward`` has no
look-ups and the state-dict names are ``attention.<block index>.*``. Which block
(``model.attn_affinity``, its widths and key pooling) is chosen in :mod:`nlgan.models.attention`.

Inputs are checked for shape and dtype in ``forward``; label *values* are not (that needs a
host-device sync per call): the public entry points check them instead (:meth:`Generator.embed`,
:mod:`nlgan.sampling`, the data sets and the CLI), and :func:`check_label_values` does it on
demand. Spectral norm (``g_sn`` / ``d_sn``)
wraps every conv, linear and embedding, injected through ``which_conv`` / ``which_linear``.

G: z (or its first chunk, with ``hier``) -> linear -> [B, C, 4, 4] -> up blocks with
conditional BN -> BN-ReLU-conv3x3-tanh. The class-conditioning vector is the one-hot label, or
the shared embedding when ``shared_dim > 0``; with ``hier`` every block also gets its own chunk
of z. D: down blocks -> ReLU -> global sum pool -> linear logit + ``<embed(y), h>`` projection.
"""

from __future__ import annotations

from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from nlgan.config import ModelConfig
from nlgan.models.arch import arch_for, d_block_widths, d_feature_sizes, g_feature_sizes, g_widths
from nlgan.models.attention import attention_block
from nlgan.nn.blocks import DBlock, GBlock
from nlgan.nn.init import init_weights
from nlgan.nn.nonlocal_block import NonLocalBlock
from nlgan.nn.norm import ConditionalBatchNorm2d
from nlgan.nn.spectral import sn_conv, sn_embedding, sn_linear

_INT_DTYPES = (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8)


def check_labels(y: torch.Tensor | None, batch: int | None, num_classes: int, net: str) -> None:
    """Raise a one-line ValueError unless ``y``'s presence, dtype and shape suit the model.

    No host-device sync: the values are checked by :func:`check_label_values`.
    """
    if num_classes == 0:
        if y is not None:
            raise ValueError(
                f"{net} is unconditional (model.num_classes=0): call it without labels y"
            )
        return
    if y is None:
        raise ValueError(
            f"{net} is class-conditional (model.num_classes={num_classes}): pass labels y "
            f"of shape [B]"
        )
    if not isinstance(y, torch.Tensor) or y.dtype not in _INT_DTYPES or y.dim() != 1:
        got = f"{y.dtype} of shape {list(y.shape)}" if isinstance(y, torch.Tensor) else type(y)
        raise ValueError(f"labels y: expected a [B] integer (long) tensor, got {got}")
    if batch is not None and y.shape[0] != batch:
        raise ValueError(f"labels y: {y.shape[0]} labels for a batch of {batch}")


def check_label_values(y: torch.Tensor, num_classes: int) -> None:
    """Raise a one-line ValueError unless every label is in [0, num_classes) (syncs on a GPU)."""
    if y.numel():
        lo, hi = (int(v) for v in torch.aminmax(y))
        if lo < 0 or hi >= num_classes:
            raise ValueError(
                f"labels y: values must be in [0, {num_classes - 1}] "
                f"(model.num_classes={num_classes}), got {lo}..{hi}"
            )


class Generator(nn.Module):
    """Residual generator: ``G(z, y)`` or ``G(z, emb=G.embed(y))`` -> images in [-1, 1]."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        widths = g_widths(cfg.resolution, cfg.g_ch, cfg.arch)  # sizes 4, 8, ..., R
        sizes = g_feature_sizes(cfg.resolution)  # block outputs: 8, 16, ..., R
        which_conv = partial(sn_conv, sn=cfg.g_sn, eps=cfg.sn_eps)
        which_linear = partial(sn_linear, sn=cfg.g_sn, eps=cfg.sn_eps)

        self.conditional = cfg.num_classes > 0
        self.shared = None
        if self.conditional and cfg.shared_dim > 0:
            # BigGAN-PyTorch leaves it plain (model.shared_sn=false); nlgan's default normed it.
            sn = cfg.g_sn and cfg.shared_sn
            self.shared = sn_embedding(cfg.num_classes, cfg.shared_dim, sn=sn, eps=cfg.sn_eps)
        # Width of G.embed(y): the shared embedding, else the one-hot (0 when unconditional).
        self.embed_dim = cfg.shared_dim if self.shared is not None else cfg.num_classes
        # hier: z splits into one chunk for the stem and one per block (BigGAN).
        self.z_chunk = cfg.z_dim // (len(sizes) + 1) if cfg.hier else 0
        cond_dim = self.embed_dim + self.z_chunk
        projected = self.shared is not None or cfg.hier
        which_bn = partial(
            ConditionalBatchNorm2d,
            cond_dim=cond_dim,
            which_linear=which_linear if projected else None,
            eps=cfg.bn_eps,
        )

        self.stem = which_linear(self.z_chunk or cfg.z_dim, widths[0] * 4 * 4)
        self.blocks = nn.ModuleList(
            GBlock(widths[i], widths[i + 1], which_conv, which_bn) for i in range(len(sizes))
        )
        # One entry per block: attention after that block, or the identity.
        self.attention = nn.ModuleList(
            attention_block(cfg, widths[i + 1], cfg.g_sn)
            if size in cfg.g_attn_resolutions
            else nn.Identity()
            for i, size in enumerate(sizes)
        )
        self.attention_sizes = [s for s in sizes if s in cfg.g_attn_resolutions]
        self.out_bn = ConditionalBatchNorm2d(widths[-1], eps=cfg.bn_eps)
        self.out_conv = which_conv(widths[-1], cfg.img_channels, kernel_size=3, padding=1)
        init_weights(self, cfg.init)

    def embed(self, y: torch.Tensor) -> torch.Tensor:
        """Class-conditioning vector [B, embed_dim]: shared embedding, or the float one-hot."""
        if not self.conditional:
            raise ValueError(
                "Generator.embed: the generator is unconditional (model.num_classes=0) and has "
                "no class embedding"
            )
        check_labels(y, None, self.cfg.num_classes, "Generator")
        check_label_values(y, self.cfg.num_classes)
        return self._embed(y)

    def _embed(self, y: torch.Tensor) -> torch.Tensor:
        if self.shared is not None:
            return self.shared(y)  # [B, shared_dim]
        return F.one_hot(y.long(), self.cfg.num_classes).to(self.out_bn.gain.dtype)  # [B, K]

    def _conditioning(
        self, z: torch.Tensor, y: torch.Tensor | None, emb: torch.Tensor | None
    ) -> torch.Tensor | None:
        """Validate the inputs and return the class-conditioning vector (None if unconditional)."""
        if z.dim() != 2 or z.shape[1] != self.cfg.z_dim:
            raise ValueError(f"z: expected shape [B, {self.cfg.z_dim}], got {list(z.shape)}")
        if not self.conditional:
            if y is not None or emb is not None:
                raise ValueError(
                    "Generator is unconditional (model.num_classes=0): call G(z) without y or emb"
                )
            return None
        if y is not None and emb is not None:
            raise ValueError("Generator: pass labels y or a conditioning vector emb, not both")
        if y is None and emb is None:
            raise ValueError(
                f"Generator is class-conditional (model.num_classes={self.cfg.num_classes}): "
                "call G(z, y) with labels y of shape [B], or G(z, emb=G.embed(y))"
            )
        if y is not None:
            check_labels(y, z.shape[0], self.cfg.num_classes, "Generator")
            emb = self._embed(y)
        if emb.shape != (z.shape[0], self.embed_dim):
            raise ValueError(
                f"emb: expected shape [{z.shape[0]}, {self.embed_dim}] (what G.embed(y) "
                f"returns), got {list(emb.shape)}"
            )
        return emb

    def forward(
        self,
        z: torch.Tensor,
        y: torch.Tensor | None = None,
        emb: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """[B, z_dim] (+ labels [B] or emb [B, E]) -> images [B, img_channels, R, R] in [-1, 1]."""
        emb = self._conditioning(z, y, emb)
        if self.z_chunk:
            z_stem, *z_blocks = z.split(self.z_chunk, dim=1)
            conds = [c if emb is None else torch.cat([emb, c], dim=1) for c in z_blocks]
        else:
            z_stem, conds = z, [emb] * len(self.blocks)
        h = self.stem(z_stem).view(z.shape[0], -1, 4, 4)  # [B, C0, 4, 4]
        for block, attention, cond in zip(self.blocks, self.attention, conds, strict=True):
            h = attention(block(h, cond))  # [B, C_i+1, 2H, 2W]
        h = F.relu(self.out_bn(h))
        return torch.tanh(self.out_conv(h))  # [B, img_channels, R, R]

    def attention_layers(self) -> list[NonLocalBlock]:
        """The attention blocks (any ``model.attn_affinity``) in forward order."""
        return [m for m in self.attention if isinstance(m, NonLocalBlock)]


class Discriminator(nn.Module):
    """Residual projection discriminator: ``D(x, y)`` -> logits [B] (no sigmoid)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        widths = [cfg.img_channels, *d_block_widths(cfg.resolution, cfg.d_ch, cfg.arch)]
        sizes = d_feature_sizes(cfg.resolution)
        which_conv = partial(sn_conv, sn=cfg.d_sn, eps=cfg.sn_eps)
        self.blocks = nn.ModuleList(
            DBlock(widths[i], widths[i + 1], which_conv, down, i == 0, cfg.d_relu_shortcut)
            for i, (_, down) in enumerate(arch_for(cfg.resolution, cfg.arch).d_blocks)
        )
        # Attention after the first block with each listed output size (sizes can repeat), and
        # after every block listed by its 1-based index.
        first = [
            (i == sizes.index(s) and s in cfg.d_attn_resolutions) or i + 1 in cfg.d_attn_blocks
            for i, s in enumerate(sizes)
        ]
        self.attention = nn.ModuleList(
            attention_block(cfg, widths[i + 1], cfg.d_sn) if on else nn.Identity()
            for i, on in enumerate(first)
        )
        self.attention_sizes = [s for s, on in zip(sizes, first, strict=True) if on]
        self.linear = sn_linear(widths[-1], 1, sn=cfg.d_sn, eps=cfg.sn_eps)
        self.class_embed = None
        if cfg.num_classes > 0:
            self.class_embed = sn_embedding(
                cfg.num_classes, widths[-1], sn=cfg.d_sn, eps=cfg.sn_eps
            )
        init_weights(self, cfg.init)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Images [B, img_channels, R, R] (+ labels [B]) -> logits [B]."""
        c, r = self.cfg.img_channels, self.cfg.resolution
        if x.dim() != 4 or tuple(x.shape[1:]) != (c, r, r):
            raise ValueError(
                f"Discriminator: expected images of shape [B, {c}, {r}, {r}] "
                f"(model.img_channels, model.resolution), got {list(x.shape)}"
            )
        check_labels(y, x.shape[0], self.cfg.num_classes, "Discriminator")
        h = x
        for block, attention in zip(self.blocks, self.attention, strict=True):
            h = attention(block(h))  # [B, C_i, H_i, W_i]
        h = F.relu(h).sum(dim=(2, 3))  # global sum pooling: [B, C]
        out = self.linear(h).squeeze(1)  # [B]
        if self.class_embed is not None:
            out = out + (self.class_embed(y) * h).sum(dim=1)  # projection term
        return out

    def attention_layers(self) -> list[NonLocalBlock]:
        """The attention blocks (any ``model.attn_affinity``) in forward order."""
        return [m for m in self.attention if isinstance(m, NonLocalBlock)]


def attention_gammas(model: Generator | Discriminator) -> dict[int | str, float]:
    """Each self-attention layer's learned ``gamma`` (0 = the layer does nothing), by the
    feature-map size it runs at (``"8.2"`` for the second layer at 8x8, when sizes repeat).
    Reads the values to the host: call it when logging."""
    out: dict[int | str, float] = {}
    seen: dict[int, int] = {}
    for size, layer in zip(model.attention_sizes, model.attention_layers(), strict=True):
        seen[size] = seen.get(size, 0) + 1
        out[size if seen[size] == 1 else f"{size}.{seen[size]}"] = float(layer.gamma.detach())
    return out
