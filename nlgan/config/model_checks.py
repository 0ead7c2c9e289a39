"""What a model config's structure must satisfy: attention placement and widths, the
parameter count, the hierarchical z split; one-line :class:`ConfigError`s naming the key.

Kept apart from :mod:`nlgan.config` (which calls :func:`check_structure` from
``ModelConfig.__post_init__``) so that the dataclasses stay readable. Pure Python, no torch.
"""

from __future__ import annotations

from typing import Any

from nlgan.config.values import ConfigError
from nlgan.models.arch import (
    d_block_widths,
    d_feature_sizes,
    estimate_parameters,
    g_block_widths,
    g_feature_sizes,
)

# Larger models cannot be built (or trained) on any single machine: refuse them up front instead
# of failing in the allocator or swapping for hours.
MAX_PARAMETERS = 2_000_000_000


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


def check_structure(cfg: Any) -> None:
    """Refuse a ``ModelConfig`` whose networks cannot be built as described."""
    r = cfg.resolution
    for net, attn, sizes in (
        ("g", cfg.g_attn_resolutions, g_feature_sizes(r)),
        ("d", cfg.d_attn_resolutions, sorted(set(d_feature_sizes(r)))),
    ):
        for a in attn:
            _check(
                a in sizes,
                f"model.{net}_attn_resolutions=[{a}]: {a} is not a feature-map size of a "
                f"{r}x{r} {'generator' if net == 'g' else 'discriminator'} "
                f"(choose from {', '.join(str(s) for s in sizes)})",
            )
    _check(
        cfg.shared_dim == 0 or cfg.num_classes > 0,
        f"model.shared_dim={cfg.shared_dim}: a shared class embedding needs classes "
        "(set model.num_classes > 0, or model.shared_dim=0 for an unconditional model)",
    )
    for net, attn, sizes, widths in (
        (
            "g",
            cfg.g_attn_resolutions,
            g_feature_sizes(r),
            g_block_widths(r, cfg.g_ch, cfg.arch),
        ),
        (
            "d",
            cfg.d_attn_resolutions,
            d_feature_sizes(r),
            d_block_widths(r, cfg.d_ch, cfg.arch),
        ),
    ):
        for a in attn:
            channels = widths[sizes.index(a)]  # D: the first block of that size
            _check(
                channels % 8 == 0,
                f"model.{net}_attn_resolutions=[{a}]: that stage has {channels} channels "
                f"(model.{net}_ch={getattr(cfg, net + '_ch')} x multiplier); self-attention "
                f"needs a multiple of 8 (raise model.{net}_ch)",
            )
    d_widths = d_block_widths(r, cfg.d_ch, cfg.arch)
    for b in cfg.d_attn_blocks:
        _check(
            1 <= b <= len(d_widths) and d_widths[b - 1] % 8 == 0,
            f"model.d_attn_blocks=[{b}]: the {r}x{r} discriminator's blocks 1..{len(d_widths)} "
            f"have widths {d_widths}; self-attention needs a width that is a multiple of 8",
        )
    params = estimate_parameters(r, cfg.g_ch, cfg.d_ch, cfg.z_dim, cfg.num_classes,
                                 cfg.img_channels, cfg.arch)  # fmt: skip
    _check(
        params <= MAX_PARAMETERS,
        f"model.g_ch={cfg.g_ch}, model.d_ch={cfg.d_ch}, model.z_dim={cfg.z_dim} give about "
        f"{params / 1e9:.3g} billion parameters (limit {MAX_PARAMETERS / 1e9:.0f} billion; "
        "BigGAN at 256 px has 0.16): lower them",
    )
    if cfg.hier:
        chunks = len(g_feature_sizes(r)) + 1
        _check(
            cfg.z_dim % chunks == 0,
            f"model.z_dim={cfg.z_dim}: with model.hier=true it must split evenly into "
            f"{chunks} chunks (one per G block plus the stem) at resolution {r}",
        )
