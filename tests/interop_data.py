"""The committed interop fixtures (tests/data/interop/) and how the tests read them.

They were written by tools/make_interop_fixtures.py, which ran BigGAN-PyTorch's, StudioGAN's and
mmcv's own model code (commits in that script); the tests never import those projects.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

INTEROP = Path(__file__).resolve().parent / "data" / "interop"
IMAGE_ATOL = 1e-5  # the bar: max abs difference on [-1, 1] images
TRUNCATION, TRUNCATION_SEED = 0.5, 7  # what the fixtures' z_trunc was drawn with


def reference(name: str) -> dict[str, torch.Tensor]:
    """A fixture folder's reference arrays as tensors (float32, float64 or int64)."""
    with np.load(INTEROP / name / "reference.npz") as ref:
        return {k: torch.from_numpy(ref[k]) for k in ref.files if k != "meta"}


def meta(name: str) -> dict:
    """Which repository, commit and settings made a fixture folder."""
    with np.load(INTEROP / name / "reference.npz") as ref:
        return json.loads(str(ref["meta"]))


def max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    """Max absolute difference, after checking the shapes agree."""
    assert a.shape == b.shape, (a.shape, b.shape)
    return float((a.double() - b.double()).abs().max())


def built_networks(imported) -> dict[str, torch.nn.Module]:
    """The networks of an ``Imported`` (G, G_ema, D as present), loaded and in eval mode."""
    from nlgan.models import Discriminator, Generator

    built = {}
    for key, weights in imported.weights.items():
        model = (Discriminator if key == "D" else Generator)(imported.config.model)
        model.load_state_dict(weights)
        built[key] = model.eval()
    return built
