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
# model.attn_affinity: SAGAN's block, then the non-local paper's four (nlgan.nn.AFFINITIES, which
# imports torch; tests/test_model_affinity.py checks that the two lists agree).
ATTN_AFFINITIES = ("sagan", "gaussian", "embedded_gaussian", "dot_product", "concatenation")


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
    _check_attention(cfg)
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


def _attention_stages(cfg: Any) -> list[tuple[str, int, int, str]]:
    """Every attention block as (where, feature-map size, channels, width key), G's then D's."""
    r = cfg.resolution
    g_sizes, g_widths = g_feature_sizes(r), g_block_widths(r, cfg.g_ch, cfg.arch)
    d_sizes, d_widths = d_feature_sizes(r), d_block_widths(r, cfg.d_ch, cfg.arch)
    stages = [
        (f"model.g_attn_resolutions=[{a}]", a, g_widths[g_sizes.index(a)], "g_ch")
        for a in cfg.g_attn_resolutions
    ]
    stages += [  # D: the first block of that size
        (f"model.d_attn_resolutions=[{a}]", a, d_widths[d_sizes.index(a)], "d_ch")
        for a in cfg.d_attn_resolutions
    ]
    for b in cfg.d_attn_blocks:
        _check(
            1 <= b <= len(d_widths),
            f"model.d_attn_blocks=[{b}]: the {r}x{r} discriminator's blocks 1..{len(d_widths)} "
            f"have widths {d_widths}; choose block numbers in that range",
        )
        stages.append((f"model.d_attn_blocks=[{b}]", d_sizes[b - 1], d_widths[b - 1], "d_ch"))
    return stages


def _check_attention(cfg: Any) -> None:
    """Widths that divide every attention stage's channels, a pooling that tiles its map."""
    key_div, value_div, pool = cfg.attn_key_div, cfg.attn_value_div, cfg.attn_pool
    for key, value in (("attn_key_div", key_div), ("attn_value_div", value_div)):
        _check(value >= 1, f"model.{key}={value}: must be >= 1 (a width is channels / {key})")
    _check(pool >= 1, f"model.attn_pool={pool}: must be >= 1 (1 = no key pooling, 2 = SAGAN)")
    # gaussian compares raw features: it has no theta / phi, so no key width to set.
    uses_keys = cfg.attn_affinity != "gaussian"
    _check(
        uses_keys or key_div == 8,
        f"model.attn_key_div={key_div}: attn_affinity=gaussian has no theta / phi (it compares "
        "the raw features), so there is no key width to set; leave attn_key_div at 8",
    )
    for where, size, channels, width in _attention_stages(cfg):
        for key, div, role in (
            ("attn_key_div", key_div if uses_keys else 1, "theta and phi"),
            ("attn_value_div", value_div, "g"),
        ):
            _check(
                channels % div == 0 and channels >= div,
                f"{where}: that stage has {channels} channels (model.{width}="
                f"{getattr(cfg, width)} x multiplier), which model.{key}={div} does not divide "
                f"({role} get channels / {div}); raise model.{width} or choose a divisor of "
                f"{channels}",
            )
        _check(
            size % pool == 0,
            f"{where}: model.attn_pool={pool} does not tile the {size}x{size} feature map; "
            f"choose a divisor of {size} (1 = no pooling, 2 = SAGAN)",
        )
