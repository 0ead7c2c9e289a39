"""The tiny digits run that the training tests share: 16 px, stage widths 16, attention at 8x8."""

from __future__ import annotations

from typing import Any

TINY_MODEL: dict[str, Any] = {
    "resolution": 16,
    "num_classes": 10,
    "img_channels": 1,
    "z_dim": 8,
    "g_ch": 4,
    "d_ch": 4,
    "g_attn_resolutions": [8],
    "d_attn_resolutions": [8],
}


def tiny_run(**train: Any) -> dict[str, Any]:
    """A config dict (model, digits data, the given ``train`` keys) for a run of seconds."""
    return {"model": dict(TINY_MODEL), "data": {"name": "digits"}, "train": dict(train)}
