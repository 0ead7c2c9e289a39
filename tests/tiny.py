"""The one tiny model the tests share (16 px, stage widths 16, attention at 8x8 in G and D).

``tiny_model(**overrides)`` builds its ``ModelConfig`` (the ``tiny_model`` fixture in conftest.py
returns this function); ``tiny_run(**train)`` is the config dict of a digits run of seconds.
"""

from __future__ import annotations

from typing import Any

TINY_MODEL: dict[str, Any] = {
    "resolution": 16,
    "num_classes": 3,
    "img_channels": 3,
    "z_dim": 8,
    "g_ch": 4,
    "d_ch": 4,
    "g_attn_resolutions": [8],
    "d_attn_resolutions": [8],
}
# The same model for the digits data set: 10 classes, gray.
DIGITS_MODEL: dict[str, Any] = {**TINY_MODEL, "num_classes": 10, "img_channels": 1}


def tiny_model(**overrides: Any):
    """The tiny ``ModelConfig``, with any field overridden."""
    from nlgan.config import ModelConfig

    values = {**TINY_MODEL, **overrides}
    for key in ("g_attn_resolutions", "d_attn_resolutions"):
        values[key] = tuple(values[key])
    return ModelConfig(**values)


def tiny_run(**train: Any) -> dict[str, Any]:
    """A config dict (tiny model, digits data, the given ``train`` keys) for a run of seconds.

    ``train.report`` is off unless given: the report costs seconds that only its tests need."""
    train = {"report": False, **train}
    return {"model": dict(DIGITS_MODEL), "data": {"name": "digits"}, "train": train}


def tiny_generator(seed: int = 0, **overrides: Any):
    """A freshly initialised tiny Generator (seeded), in eval mode."""
    import torch

    from nlgan.models import Generator

    torch.manual_seed(seed)
    return Generator(tiny_model(**overrides)).eval()


def tiny_config(**model: Any):
    """A whole ``Config`` around the tiny model (CIFAR-10 as the nominal data set)."""
    from nlgan.config import Config, DataConfig

    return Config(model=tiny_model(**model), data=DataConfig(name="cifar10"))
