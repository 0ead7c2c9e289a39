"""`nlgan prepare`: a folder decoded once into a uint8 .npy gives exactly the folder's images."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from nlgan.config import DataConfig
from nlgan.data import DataError, build_dataset

from clitools import cli
from tiny import tiny_model, tiny_run


def _folder(root):
    rng = np.random.default_rng(0)
    for k, size in enumerate([(20, 12), (16, 16), (9, 30)]):
        (root / f"c{k}").mkdir(parents=True)
        for i in range(3):
            array = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
            Image.fromarray(array).save(root / f"c{k}" / f"{i}.png")
    return root


def test_the_prepared_set_gives_the_folders_images_exactly(tmp_path):
    root = _folder(tmp_path / "imgs")
    cli("prepare", root, "--out", tmp_path / "d.npy", "--resolution", 16)
    model = tiny_model(num_classes=3)
    folder = build_dataset(DataConfig(name="folder", root=str(root)), model)
    cached = build_dataset(DataConfig(name="npy", root=str(tmp_path / "d.npy")), model)
    assert len(cached) == len(folder) == 9 and cached.num_classes == 3
    for i in range(len(folder)):
        (xf, yf), (xc, yc) = folder[i], cached[i]
        assert torch.equal(xf, xc) and int(yf) == int(yc), i
    assert isinstance(cached.images, np.memmap)  # read from disk, not decoded


def test_prepare_refuses_and_training_reads_it(tmp_path):
    root = _folder(tmp_path / "imgs")
    out = tmp_path / "d.npy"
    cli("prepare", root, "--out", out, "--resolution", 16, "--channels", 1)
    again = cli("prepare", root, "--out", out, "--resolution", 16, ok=False)
    assert again.exit_code == 1 and "already exists" in again.output
    with pytest.raises(DataError, match="holds 16 px images with 1 channel"):
        build_dataset(DataConfig(name="npy", root=str(out)), tiny_model(resolution=32))
    (tmp_path / "d.json").unlink()  # an unfinished cache is never taken for a finished one
    with pytest.raises(DataError, match="not a complete prepared data set"):
        build_dataset(DataConfig(name="npy", root=str(out)), tiny_model(img_channels=1))
    cli("prepare", root, "--out", out, "--resolution", 16, "--channels", 1, "--overwrite")
    config = tiny_run(steps=2, batch_size=4, sample_every=0, log_every=1)
    config["model"]["num_classes"] = 3
    config["data"] = {"name": "npy", "root": str(out)}
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(config))
    done = cli("train", tmp_path / "run.yaml", "--out", tmp_path / "run")
    assert "done: 2 steps" in done.output
