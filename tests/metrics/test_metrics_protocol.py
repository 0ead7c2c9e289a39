"""The protocol record: every field in ``nlgan fid --json``, resize and backbone in the record.

The Inception has random He-scaled weights (nothing downloads) and image counts are tiny, so
the small-sample warnings are expected here and filtered.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from nlgan.cli import main
from nlgan.metrics.inception import random_state_dict
from nlgan.metrics.protocol import SCHEMA, check_reference_mode, cleanfid_name, versions
from nlgan.metrics.weights import file_sha256

pytestmark = [
    pytest.mark.slow,  # each command runs the full Inception on CPU
    pytest.mark.filterwarnings("ignore:FID from .* samples:UserWarning"),
    pytest.mark.filterwarnings("ignore:KID subset size reduced:UserWarning"),
]

PROTOCOL_KEYS = {
    "metrics", "n", "seed", "truncation", "resize", "backbone", "reference", "source", "options",
}  # fmt: skip


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("protocol")
    weights = root / "random-inception.pth"
    torch.save(random_state_dict(seed=0), weights)
    rng = np.random.default_rng(0)
    for side, count in (("gen", 10), ("real", 8)):  # IS needs >= 10 samples (10 splits)
        for i in range(count):
            folder = root / side / f"c{i % 2}"  # two classes: sub-folders c0, c1
            folder.mkdir(parents=True, exist_ok=True)
            pixels = rng.integers(0, 256, (12, 12, 3), dtype=np.uint8) // (1 + i % 2)
            Image.fromarray(pixels).save(folder / f"{i}.png")
    return root


def _run(data, *args) -> dict:
    runner = CliRunner(env={"NLGAN_CACHE_DIR": str(data / "cache")})
    weights = str(data / "random-inception.pth")
    result = runner.invoke(main, ["fid", *args, "--inception-weights", weights, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_json_record_has_every_protocol_field(data):
    with pytest.warns(UserWarning, match="iFID from 5 samples per class"):  # 10 images, 2 classes
        out = _run(data, str(data / "gen"), str(data / "real"), "--metrics",
                   "fid,is,kid,prdc,ifid", "--prdc-k", "2")  # fmt: skip
    assert out["schema"] == SCHEMA and out["versions"] == versions()
    assert set(out["versions"]) == {"nlgan", "torch"}
    for key in ("n", "fid", "is_mean", "is_std", "kid_mean", "precision", "recall", "density",
                "coverage", "ifid", "ifid_per_class"):  # fmt: skip
        assert key in out, key
    assert len(out["ifid_per_class"]) == 2 and out["ifid"] == pytest.approx(
        sum(out["ifid_per_class"]) / 2
    )
    protocol = out["protocol"]
    assert set(protocol) == PROTOCOL_KEYS
    assert protocol["metrics"] == ["fid", "is", "kid", "prdc", "ifid"] and protocol["n"] == 10
    assert protocol["resize"] == "legacy_tensorflow" and protocol["options"]["prdc_k"] == 2
    backbone = protocol["backbone"]
    assert backbone["name"] == "inception" and backbone["resize"] == "legacy_tensorflow"
    assert backbone["hash"] == file_sha256(data / "random-inception.pth")
    reference = protocol["reference"]
    assert reference["kind"] == "folder" and reference["count"] == 8
    assert reference["path"] == str((data / "real").resolve()) and reference["split"] is None
    assert reference["hash"].startswith("sha256:")  # a small folder is hashed by content
    assert reference["hash"] != protocol["source"]["hash"]
    assert protocol["source"]["kind"] == "folder" and protocol["source"]["count"] == 10
    assert protocol["seed"] is None and protocol["truncation"] is None  # image files: no latents


def test_resize_mode_changes_the_score_and_is_recorded(data):
    legacy = _run(data, str(data / "gen"), str(data / "real"))
    clean = _run(data, str(data / "gen"), str(data / "real"), "--resize", "clean")
    assert clean["protocol"]["resize"] == "clean"
    assert clean["protocol"]["backbone"]["identity"].endswith(":resize=clean")
    assert clean["fid"] != pytest.approx(legacy["fid"], rel=1e-3)
    saved = data / "real-clean.npz"
    runner = CliRunner(env={"NLGAN_CACHE_DIR": str(data / "cache")})
    weights = str(data / "random-inception.pth")
    args = ["fid", str(data / "real"), "--save-stats", str(saved), "--inception-weights", weights]
    assert runner.invoke(main, [*args, "--resize", "clean"]).exit_code == 0
    # statistics made in one mode refuse to be compared with images scored in another
    result = runner.invoke(main, ["fid", str(data / "gen"), str(saved), "--inception-weights",
                                  weights])  # fmt: skip
    assert result.exit_code == 1 and "made with resize clean" in result.output  # recorded in it


def test_cleanfid_statistics_load_as_they_are_and_their_mode_is_checked(data, tmp_path):
    stats = tmp_path / "toy_clean_train_12.npz"  # clean-fid's naming: dataset_mode_split_res
    np.savez_compressed(stats, mu=np.zeros(2048), sigma=np.eye(2048))  # as clean-fid saves them
    out = _run(data, str(data / "gen"), str(stats), "--resize", "clean")
    assert out["fid"] > 0 and out["protocol"]["reference"]["split"] == "train"
    assert out["protocol"]["reference"]["kind"] == "stats"
    assert cleanfid_name(stats) == {
        "dataset": "toy",
        "mode": "clean",
        "split": "train",
        "res": "12",
    }
    with pytest.raises(ValueError, match="pass --resize clean"):
        check_reference_mode(stats, "legacy_tensorflow", {})
