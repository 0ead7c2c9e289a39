"""The pairs data set follows its spec: a hand-computed pixel, exact mirror symmetry, and the
same images for every process, index order and resumed run (a pure function of seed, index)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from nlgan.config import Config, ConfigError, DataConfig
from nlgan.data import build_dataset
from nlgan.data.pairs import Factors, pairs_factors, pairs_images, render

from clitools import cli
from tiny import tiny_model


def _one(label: int, hue: float, size: float, x: float, y: float) -> np.ndarray:
    arrays = [np.array([v]) for v in (label, hue, size, x, y)]
    return render(Factors(*arrays))[0]  # [32, 32, 3]


def test_a_rendered_pixel_matches_the_hand_computed_value():
    # A square of half side 0.85 s = 2.75 at x = 8: column 11's sub-samples lie at 10.625,
    # 10.875, 11.125, 11.375, of which only the first is within 8 + 2.75, and every sub-row is
    # inside (|dy| <= 0.375), so α = 4/16. Hue 0.25 is HSV (0.5, 1, 0) -> (127.5, 255, 0):
    # round(0.25 c + 0.75 * 128) = (127.875, 159.75, 96) -> (128, 160, 96).
    image = _one(1, 0.25, 2.75 / 0.85, 8.0, 10.0)
    assert image[10, 11].tolist() == [128, 160, 96]
    assert image[10, 20].tolist() == [128, 160, 96]  # its twin at 31 - 8 = 23, mirrored
    assert image[10, 9, 1] == 255 and image[10, 9, 2] == 0  # fully inside: the colour itself
    assert image[10, 12].tolist() == [128, 128, 128]  # outside: the background
    assert image[6, 8].tolist() == [128, 128, 128]  # above the square (|dy| = 4 > 2.75)


def test_shapes_follow_their_inequalities():
    # apex (0, -s) and base (±s, 0.8s): at s = 5 the triangle reaches the row 4 above its
    # centre only at its middle column, and its base row 4 below across +-4 columns
    tri = _one(2, 0.0, 5.0, 10.0, 15.0)[..., 0] > 128
    assert tri[11, 10] and not tri[11, 8]  # near the apex only the centre column
    assert tri[19, 6] and tri[19, 14] and not tri[20, 10]  # base at 15 + 4, nothing below
    plus = _one(3, 0.0, 4.5, 10.0, 15.0)[..., 0] > 128  # bars 1.5 thick, 4.5 long
    assert plus[15, 14] and plus[11, 10] and not plus[12, 13]  # arms yes, corner no
    disk = _one(0, 0.0, 4.0, 10.0, 15.0)[..., 0] > 128
    assert disk[15, 13] and not disk[11, 13]  # (3, 0) inside; (3, -4): no sub-sample within 4


def test_every_image_is_exactly_mirror_symmetric():
    images, labels = pairs_images(7, 0, 64)
    assert images.dtype == np.uint8 and images.shape == (64, 32, 32, 3)
    assert np.array_equal(images, images[:, :, ::-1])
    assert np.bincount(labels).tolist() == [16] * 4  # class i mod 4
    f = pairs_factors(7, np.arange(2000))
    for values, lo, hi in ((f.hue, 0, 1), (f.size, 3, 5), (f.x, 6, 11), (f.y, 6, 25)):
        assert (
            lo <= values.min()
            and values.max() <= hi
            and values.max() - values.min() > 0.9 * (hi - lo)
        )


def test_an_image_depends_only_on_seed_and_index():
    whole, labels = pairs_images(3, 0, 40)
    part, part_labels = pairs_images(3, 25, 31, chunk=4)  # other chunking, other start
    assert np.array_equal(part, whole[25:31]) and np.array_equal(part_labels, labels[25:31])
    assert not np.array_equal(pairs_images(4, 0, 40)[0], whole)  # another seed, other images


def test_every_process_builds_the_same_training_set():
    data = DataConfig(name="pairs", size=24, seed=5)
    model = tiny_model(resolution=32, num_classes=4)
    ds = build_dataset(data, model)
    x = torch.stack([ds[i][0] for i in range(len(ds))])
    again = build_dataset(data, model)  # a resumed run builds it anew
    assert torch.equal(x, torch.stack([again[i][0] for i in range(len(again))]))
    code = (
        "import hashlib; from nlgan.data.pairs import pairs_images; "
        "print(hashlib.sha256(pairs_images(5, 0, 24)[0].tobytes()).hexdigest())"
    )
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    import hashlib

    assert other.stdout.strip() == hashlib.sha256(pairs_images(5, 0, 24)[0].tobytes()).hexdigest()
    # the model sees the uint8 images exactly, in [-1, 1]
    raw = torch.from_numpy(pairs_images(5, 0, 24)[0]).permute(0, 3, 1, 2).float()
    assert torch.allclose(x, raw / 127.5 - 1.0, atol=1e-6)


def test_pairs_needs_four_classes():
    with pytest.raises(ConfigError, match="pairs data set has 4 classes"):
        Config(model=tiny_model(num_classes=10), data=DataConfig(name="pairs"))
    with pytest.raises(ConfigError, match="data.size must be > 0"):
        DataConfig(name="pairs", size=0)


def test_prepare_writes_the_configured_training_set(tmp_path):
    out = tmp_path / "pairs.npz"
    cli("prepare", "--config", "pairs32", "--set", "data.size=12", "--set", "data.seed=2",
        "--out", out)  # fmt: skip
    with np.load(out) as npz:
        images, labels = npz["images"], npz["labels"]
    expected, expected_labels = pairs_images(2, 0, 12)
    assert np.array_equal(images, expected) and np.array_equal(labels, expected_labels)
    refused = cli("prepare", "--config", "pairs32", "--out", out, ok=False)
    assert refused.exit_code == 1 and "already exists" in refused.output
    both = cli("prepare", str(tmp_path), "--config", "pairs32", "--out", out, ok=False)
    assert both.exit_code == 2 and "not both" in both.output
    # the digits preset too: any configured data set, subset applied, labels kept
    digits = tmp_path / "digits.npz"
    cli("prepare", "--config", "digits", "--set", "data.subset=3", "--out", digits)
    with np.load(digits) as npz:
        assert (
            npz["images"].shape == (30, 16, 16, 1)
            and np.bincount(npz["labels"]).tolist() == [3] * 10
        )
