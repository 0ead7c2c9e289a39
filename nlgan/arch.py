"""Architecture tables keyed by resolution (pure Python, no torch: the config validates with it).

Channel counts are ``ch * multiplier``. G starts from a 4x4 map and doubles the size in every
block; D halves the size in every block marked ``down`` and ends with blocks at a fixed size,
as in BigGAN-PyTorch's tables (SN-ResNet for 16/32 px, BigGAN/SAGAN widths for 64 px and up).
"""

from __future__ import annotations

from dataclasses import dataclass


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


def g_block_widths(resolution: int, ch: int) -> list[int]:
    """Channels of G's block outputs, aligned with :func:`g_feature_sizes`."""
    return [ch * m for m in ARCHS[resolution].g_mults[1:]]


def d_block_widths(resolution: int, ch: int) -> list[int]:
    """Channels of D's block outputs, aligned with :func:`d_feature_sizes`."""
    return [ch * m for m, _ in ARCHS[resolution].d_blocks]
