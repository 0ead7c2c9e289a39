"""Shared test set-up: nothing may touch the network, and accelerate's singletons start clean."""

from __future__ import annotations

import os
import tempfile

import pytest

os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# Caches (reference statistics, image checks) go to a folder of this session, not ~/.cache.
os.environ.setdefault("NLGAN_CACHE_DIR", tempfile.mkdtemp(prefix="nlgan-test-cache-"))


@pytest.fixture(autouse=True)
def _fresh_accelerate_state():
    """Accelerator state is a process-wide singleton; reset it so tests do not leak into others."""
    yield
    try:
        from accelerate.state import AcceleratorState, PartialState
    except ImportError:  # pragma: no cover - accelerate is a hard dependency
        return
    AcceleratorState._reset_state(reset_partial_state=True)
    PartialState._reset_state()


@pytest.fixture
def tiny_model():
    """The shared tiny model: call it (with any field overridden) for its ``ModelConfig``."""
    from tiny import tiny_model as make

    return make


@pytest.fixture(scope="session")
def tiny_run_dir(tmp_path_factory):
    """A real run directory: two training steps of the tiny model (3 classes, RGB, 16 px) on a
    folder of random images, with G attention at 8 and 16 and a checkpoint at each step."""
    import numpy as np
    from PIL import Image

    from clitools import cli

    root = tmp_path_factory.mktemp("tiny_run")
    rng = np.random.default_rng(0)
    for k in range(3):
        (root / "imgs" / f"c{k}").mkdir(parents=True)
        for i in range(4):
            img = rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)
            Image.fromarray(img).save(root / "imgs" / f"c{k}" / f"{i}.png")
    out = root / "run"
    cli(
        "train", "--out", out,
        "--set", "model.resolution=16", "--set", "model.num_classes=3",
        "--set", "model.g_ch=4", "--set", "model.d_ch=4", "--set", "model.z_dim=8",
        "--set", "model.img_channels=3",
        "--set", "model.g_attn_resolutions=8,16", "--set", "model.d_attn_resolutions=8",
        "--set", "data.name=folder", "--set", f"data.root={root / 'imgs'}",
        "--set", "train.steps=2", "--set", "train.batch_size=4", "--set", "train.ckpt_every=1",
        "--set", "train.sample_every=0", "--set", "train.log_every=1",
    )  # fmt: skip
    return out
