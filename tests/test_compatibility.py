"""Files written by earlier nlgan versions still load and give the same images.

``tests/data/ckpt-v0.1.0.pt`` was written by nlgan 0.1.0 (commit 60200df: attention in a
ModuleDict keyed by block index, no ``model.arch``), with the EMA generator's first six samples
(seed 0, truncation 0.8) beside it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nlgan.models import Discriminator
from nlgan.sampling import generate_uint8, load_generator
from nlgan.storage.checkpoint import load_checkpoint

DATA = Path(__file__).resolve().parent / "data"


def test_a_v0_1_0_checkpoint_loads_and_samples_the_same_images():
    G, cfg = load_generator(DATA / "ckpt-v0.1.0.pt")
    assert cfg.model.arch == "studiogan"  # the key did not exist: the default is the old table
    expected = np.load(DATA / "ckpt-v0.1.0-samples.npz")["images"]
    images = generate_uint8(G, 6, seed=0, truncation=0.8)
    assert np.abs(images.astype(int) - expected.astype(int)).max() <= 1  # float rounding only
    assert (images != images[0]).any()  # six different images, not a constant
    D = Discriminator(cfg.model)
    D.load_state_dict(load_checkpoint(DATA / "ckpt-v0.1.0.pt")["D"])  # strict: every name fits
