"""``nlgan fid`` through click's CliRunner: folders, .npz images and statistics, runs, errors.

The Inception has random He-scaled weights (nothing downloads) and image counts are tiny, so the
small-sample FID warning is expected here and filtered.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from nlgan.cli import main
from nlgan.metrics import FolderSource, TensorSource, evaluate, load_inception
from nlgan.metrics.inception import random_state_dict

pytestmark = [
    pytest.mark.slow,  # each command runs the full Inception on CPU
    pytest.mark.filterwarnings("ignore:FID from .* samples:UserWarning"),
    pytest.mark.filterwarnings("ignore:KID subset size reduced:UserWarning"),
]


def _images(n: int, seed: int, size: int = 16) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def _folder(path, images):
    path.mkdir(parents=True)
    for i, image in enumerate(images):
        Image.fromarray(image).save(path / f"{i}.png")
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("fid-cli")
    weights = root / "random-inception.pth"
    torch.save(random_state_dict(seed=0), weights)
    gen_images = _images(3, 1)
    np.savez(root / "gen.npz", images=gen_images)
    return {
        "root": root,
        "weights": str(weights),
        "gen": str(_folder(root / "gen", gen_images)),
        "gen_npz": str(root / "gen.npz"),
        "real": str(_folder(root / "real", _images(4, 2))),
        "cache": str(root / "cache"),
    }


def _run(data, *args):
    runner = CliRunner(env={"NLGAN_CACHE_DIR": data["cache"]})
    return runner.invoke(main, ["fid", *args, "--inception-weights", data["weights"]])


def _json(result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def folder_fid(data):
    return _json(_run(data, data["gen"], data["real"], "--json"))["fid"]


def test_two_folders_match_the_api(data, folder_fid):
    ext = load_inception(data["weights"])
    expected = evaluate(
        FolderSource(data["gen"]),
        FolderSource(data["real"]),
        extractor=ext,
        cache_dir=data["cache"],
    )
    assert folder_fid == pytest.approx(expected["fid"], rel=1e-9) and folder_fid > 0


def test_saved_statistics_and_npz_images_give_the_same_fid(data, folder_fid, tmp_path):
    stats = tmp_path / "real-stats.npz"
    result = _run(data, data["real"], "--save-stats", str(stats))
    assert result.exit_code == 0, result.output
    with np.load(stats) as f:
        assert f["mu"].shape == (2048,) and f["sigma"].shape == (2048, 2048)
    via_stats = _json(_run(data, data["gen"], str(stats), "--json"))
    assert (via_stats["n"], via_stats["fid"]) == (3, pytest.approx(folder_fid, rel=1e-6))
    via_npz = _json(_run(data, data["gen_npz"], data["real"], "--json"))
    assert via_npz["fid"] == pytest.approx(folder_fid, rel=1e-6)
    same = _json(_run(data, str(stats), str(stats), "--json"))  # two stats files: no network
    assert abs(same["fid"]) < 1e-6


def test_table_output_and_all_metrics(data):
    result = _run(data, data["gen"], data["real"], "--metrics", "fid,kid")
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("FID") and lines[1].startswith("KID") and "subsets of 3" in lines[1]
    assert lines[-1].split() == ["samples", "3"]


def test_is_splits_option_scores_few_samples(data):
    # 3 images cannot fill IS's 10 splits: the error names the option, which then works
    result = _run(data, data["gen"], "--metrics", "is")
    assert result.exit_code == 1 and "fewer splits: nlgan fid --is-splits" in result.output
    record = _json(_run(data, data["gen"], "--metrics", "is", "--is-splits", "3", "--json"))
    # IS = exp(KL) >= 1; with one image per split the KL is 0 up to float rounding (1 - 1e-16)
    assert record["is_mean"] >= 1.0 - 1e-9 and record["protocol"]["options"]["is_splits"] == 3
    assert _run(data, data["gen"], "--metrics", "is", "--is-splits", "0").exit_code == 2


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["{empty}", "{real}"], 1, "no images found in it or its subfolders"),
        (["{gen}"], 2, "give a REFERENCE"),
        (["{gen}", "{real}", "--metrics", "fid,iss"], 2, "choose any of fid, is, kid"),
        (["{gen}", "{real}", "--n", "50"], 1, "50 samples requested but only 3 available"),
        (["{gen}", "{stats}", "--metrics", "kid"], 1, "KID needs reference images"),
        (["{stats}", "{real}", "--metrics", "is"], 2, "holds statistics"),
        (["{broken}", "{real}"], 1, "not a readable .npz file"),
        (["{missing}", "{real}"], 2, "no such file or folder"),
        (["{gen}", "{real}", "--resolution", "0"], 2, "0: must be >= 1"),
        (["{gen}", "{real}", "--n", "-3"], 2, "-3: must be >= 1"),
        (["{gen}", "{real}", "--n", "0"], 2, "0: must be >= 1"),
        (["{gen}", "{real}", "--batch-size", "0"], 2, "0: must be >= 1"),
        (["{small_stats}", "{nan_stats}"], 1, "fid=nan: the statistics or features hold NaN/inf"),
        (["{gen}", "--save-stats", "{stats}"], 1, "--save-stats {stats} already exists"),
        (["{bomb}", "{real}"], 1, "skipped as a possible decompression bomb"),
    ],
)
# The NaN statistics case scores two files that record no protocol, which warns (issue 18.4)
# before the NaN is refused; the warning itself is tested in tests/metrics/test_metrics_stats.py.
@pytest.mark.filterwarnings("ignore:FID of statistics files that do not record:UserWarning")
def test_bad_inputs_are_one_line_errors(data, tmp_path, monkeypatch, args, code, message):
    (tmp_path / "empty").mkdir()
    (tmp_path / "broken.npz").write_bytes(b"PK\x03\x04 cut short")
    np.savez(tmp_path / "stats.npz", mu=np.zeros(2048), sigma=np.eye(2048))
    np.savez(tmp_path / "small.npz", mu=np.zeros(8), sigma=np.eye(8))  # 8-d: FID is instant
    np.savez(tmp_path / "nan.npz", mu=np.full(8, np.nan), sigma=np.eye(8))
    (tmp_path / "bomb").mkdir()
    Image.fromarray(np.zeros((1000, 1000, 3), np.uint8)).save(tmp_path / "bomb" / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100_000)  # 1000 x 1000 is a "bomb" now
    paths = {
        "nan_stats": str(tmp_path / "nan.npz"),
        "small_stats": str(tmp_path / "small.npz"),
        "bomb": str(tmp_path / "bomb"),
        "empty": str(tmp_path / "empty"),
        "stats": str(tmp_path / "stats.npz"),
        "broken": str(tmp_path / "broken.npz"),
        "missing": str(tmp_path / "missing"),
        **data,
    }
    result = _run(data, *[a.format(**paths) for a in args])
    assert result.exit_code == code, result.output
    errors = [line for line in result.output.splitlines() if "Error" in line]
    assert len(errors) == 1 and message.format(**paths) in errors[0], result.output
    assert "Traceback" not in result.output


def test_run_directory_scores_the_ema_generator(data, tmp_path):
    from nlgan.config import config_to_dict
    from nlgan.sampling import generate_uint8
    from nlgan.storage.checkpoint import checkpoint_path, save_checkpoint

    from tiny import tiny_config, tiny_generator

    cfg = tiny_config()
    g_raw, g_ema = tiny_generator(seed=0), tiny_generator(seed=1)
    state = {"config": config_to_dict(cfg), "step": 3, "G": g_raw.state_dict()}
    save_checkpoint({**state, "G_ema": g_ema.state_dict()}, checkpoint_path(tmp_path, 3))
    scores = _json(_run(data, str(tmp_path), data["real"], "--n", "3", "--json"))
    # the same images as `nlgan sample`: latents 0..2 of seed 0, labels 0, 1, 2
    expected_images = torch.from_numpy(generate_uint8(g_ema, 3, seed=0)).permute(0, 3, 1, 2)
    expected = evaluate(
        TensorSource(expected_images),
        FolderSource(data["real"]),
        extractor=load_inception(data["weights"]),
        cache_dir=data["cache"],
    )
    assert (scores["n"], scores["fid"]) == (3, pytest.approx(expected["fid"], rel=1e-6))
    assert scores["protocol"]["seed"] == 0 and scores["protocol"]["source"]["kind"] == "generator"
