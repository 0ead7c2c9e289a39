"""`nlgan prepare`: a folder decoded once into a uint8 .npy gives exactly the folder's images."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

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


def test_prepare_replaces_none_of_its_three_files_without_overwrite(tmp_path):
    root = _folder(tmp_path / "imgs")
    out = tmp_path / "user.npy"
    for name, text in (("user.json", "my notes"), ("user.labels.npy", "my labels")):
        (tmp_path / name).write_text(text)
        refused = cli("prepare", root, "--out", out, "--resolution", 16, ok=False)
        assert refused.exit_code == 1 and "Traceback" not in refused.output
        assert refused.output.count("\n") == 1, refused.output
        assert f"{tmp_path / name} already exists and prepare writes user.npy" in refused.output
        assert not out.exists() and (tmp_path / name).read_text() == text
        (tmp_path / name).unlink()
    cli("prepare", root, "--out", out, "--resolution", 16)
    (tmp_path / "user.json").write_text("my notes")
    cli("prepare", root, "--out", out, "--resolution", 16, "--overwrite")
    assert json.loads((tmp_path / "user.json").read_text())["count"] == 9


@pytest.mark.slow
def test_a_killed_prepare_leaves_no_temporary_file_after_the_next_one(tmp_path):
    root = tmp_path / "imgs"
    rng = np.random.default_rng(0)
    (root / "c0").mkdir(parents=True)
    for i in range(400):  # enough that the decode loop runs for a while
        array = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
        Image.fromarray(array).save(root / "c0" / f"{i}.png")
    out = tmp_path / "out" / "d.npy"
    out.parent.mkdir()
    cmd = [sys.executable, "-m", "nlgan.cli", "prepare", str(root), "--out", str(out),
           "--resolution", "16"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    end = time.monotonic() + 120
    while not (temps := [p for p in out.parent.iterdir() if ".tmp-" in p.name]):
        assert proc.poll() is None and time.monotonic() < end, "prepare ended first"
        time.sleep(0.002)
    proc.kill()  # kill -9: no cleanup runs
    proc.wait()
    assert [p.name for p in temps] == [f".d.npy.tmp-{proc.pid}.npy"]
    assert temps[0].exists() and not out.exists()
    # What is not a temporary of prepare's own output stays: the user's files, another
    # output's temporary, and a temporary of a process that still runs (pytest's parent).
    keep = [".d.npy.tmp-notes.npy", f".other.npy.tmp-{proc.pid}.npy", "d.npy.tmp-1",
            f".d.json.tmp-{os.getppid()}.json", f".d.json.tmp-{proc.pid}.bak"]  # fmt: skip
    for name in keep:
        (out.parent / name).write_text("mine")
    done = cli("prepare", root, "--out", out, "--resolution", 16)
    assert f"removed {temps[0].name}, left by an earlier prepare that was killed" in done.output
    assert sorted(p.name for p in out.parent.iterdir()) == sorted(
        ["d.npy", "d.labels.npy", "d.json", *keep]
    )
