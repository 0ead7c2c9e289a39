"""Architecture tables keyed by resolution (pure Python, no torch: the config validates with it).

Channel counts are ``ch * multiplier``. G starts from a 4x4 map and doubles the size in every
block; D halves the size in every block marked ``down`` and ends with blocks at a fixed size.

Two table families, chosen with ``model.arch``:

- ``studiogan`` (the default, what nlgan has always built): StudioGAN's ``big_resnet`` /
  ``resnet`` widths.
- ``biggan``: BigGAN-PyTorch's ``G_arch`` / ``D_arch`` widths.

They agree everywhere except the 64 px generator: StudioGAN uses ``(16, 8, 4, 2, 1)``,
BigGAN-PyTorch ``(16, 16, 8, 4, 2)`` (twice the width in every block after the stem). Both
use the same discriminators (SN-ResNet for 16/32 px, BigGAN/SAGAN widths from 64 px up).
"""

from __future__ import annotations

from dataclasses import dataclass

ARCH_FAMILIES = ("studiogan", "biggan")
DEFAULT_FAMILY = "studiogan"


@dataclass(frozen=True)
class Arch:
    """Channel multipliers of one resolution's G and D."""

    g_mults: tuple[int, ...]  # multiplier at sizes 4, 8, ..., resolution (G's stem + one per block)
    d_blocks: tuple[tuple[int, bool], ...]  # (out multiplier, downsample) per D block


ARCHS: dict[int, Arch] = {
    16: Arch(g_mults=(4, 4, 4), d_blocks=((4, True), (4, True), (4, False))),
    32: Arch(g_mults=(4, 4, 4, 4), d_blocks=((4, True), (4, True), (4, False), (4, False))),
    64: Arch(
        g_mults=(16, 8, 4, 2, 1),
        d_blocks=((1, True), (2, True), (4, True), (8, True), (16, False)),
    ),
    128: Arch(
        g_mults=(16, 16, 8, 4, 2, 1),
        d_blocks=((1, True), (2, True), (4, True), (8, True), (16, True), (16, False)),
    ),
    256: Arch(
        g_mults=(16, 16, 8, 8, 4, 2, 1),
        d_blocks=((1, True), (2, True), (4, True), (8, True), (8, True), (16, True), (16, False)),
    ),
}

# Where BigGAN-PyTorch's tables differ from the ones above.
_BIGGAN_G_MULTS = {64: (16, 16, 8, 4, 2)}


def arch_for(resolution: int, family: str = DEFAULT_FAMILY) -> Arch:
    """The table of ``resolution`` in ``family`` (``studiogan`` or ``biggan``)."""
    arch = ARCHS[resolution]
    if family == "biggan" and resolution in _BIGGAN_G_MULTS:
        return Arch(g_mults=_BIGGAN_G_MULTS[resolution], d_blocks=arch.d_blocks)
    if family not in ARCH_FAMILIES:
        raise KeyError(family)
    return arch


def g_feature_sizes(resolution: int) -> list[int]:
    """Sizes of G's block outputs, where self-attention may be inserted (8 .. resolution)."""
    n_blocks = len(ARCHS[resolution].g_mults) - 1
    return [4 * 2 ** (i + 1) for i in range(n_blocks)]


def d_feature_sizes(resolution: int) -> list[int]:
    """Sizes of D's block outputs in order; attention at r follows the first block of size r."""
    sizes, size = [], resolution
    for _, down in ARCHS[resolution].d_blocks:
        size = size // 2 if down else size
        sizes.append(size)
    return sizes


def g_widths(resolution: int, ch: int, family: str = DEFAULT_FAMILY) -> list[int]:
    """Channels of G's stem output and block outputs (sizes 4, 8, ..., resolution)."""
    return [ch * m for m in arch_for(resolution, family).g_mults]


def g_block_widths(resolution: int, ch: int, family: str = DEFAULT_FAMILY) -> list[int]:
    """Channels of G's block outputs, aligned with :func:`g_feature_sizes`."""
    return g_widths(resolution, ch, family)[1:]


def d_block_widths(resolution: int, ch: int, family: str = DEFAULT_FAMILY) -> list[int]:
    """Channels of D's block outputs, aligned with :func:`d_feature_sizes`."""
    return [ch * m for m, _ in arch_for(resolution, family).d_blocks]


def estimate_parameters(
    resolution: int,
    g_ch: int,
    d_ch: int,
    z_dim: int,
    num_classes: int,
    img_channels: int = 3,
    family: str = DEFAULT_FAMILY,
) -> int:
    """Roughly how many parameters G and D have together (the convolutions, stem, class tables
    and embeddings; attention and biases add a few percent). Pure arithmetic: nothing is built."""
    g = g_widths(resolution, g_ch, family)
    total = z_dim * g[0] * 16  # G's linear stem to a 4x4 map
    for c_in, c_out in zip(g[:-1], g[1:], strict=True):
        total += 9 * (c_in * c_out + c_out * c_out) + c_in * c_out  # two 3x3 convs + shortcut
        total += 2 * max(num_classes, 1) * (c_in + c_out)  # conditional BN gains and biases
    total += 9 * g[-1] * img_channels
    d = [img_channels, *d_block_widths(resolution, d_ch, family)]
    for c_in, c_out in zip(d[:-1], d[1:], strict=True):
        total += 9 * (c_in * c_out + c_out * c_out) + c_in * c_out
    return total + (num_classes + 1) * d[-1]  # logit and projection embedding
