"""`nlgan import`, then the run it writes through every command: sample, attention, fid,
export, train with train.init_from and --resume; one-line errors."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from nlgan.metrics.inception import random_state_dict
from nlgan.sampling import generate, latents_for, load_generator
from nlgan.storage.checkpoint import load_latest

from clitools import cli, png
from interop_data import IMAGE_ATOL, INTEROP, max_diff, reference


def _folder(root, classes: int, per_class: int, size: int = 32):
    rng = np.random.default_rng(0)
    for k in range(classes):
        (root / f"c{k}").mkdir(parents=True)
        for i in range(per_class):
            image = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
            Image.fromarray(image).save(root / f"c{k}" / f"{i}.png")
    return root


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    run = tmp_path_factory.mktemp("import") / "biggan32"
    out = cli("import", "biggan-pytorch", INTEROP / "biggan32", "--out", run).output
    assert "imported D, G, G_ema" in out and "step 1234" in out
    return run


def test_the_imported_run_samples_biggan_pytorchs_images(imported):
    G, cfg = load_generator(imported)  # the EMA generator, G_ema.pth
    ref = reference("biggan32")
    with torch.no_grad():
        assert max_diff(G(ref["z"], ref["y"]), ref["images_ema"]) <= IMAGE_ATOL
    _, state = load_latest(imported)
    assert state["step"] == 1234 and state["imported"]["format"] == "biggan-pytorch"
    assert state["imported"]["source_config"]["G_ch"] == 4 and "opt_D" in state


@pytest.mark.slow  # fid runs the (random-weight) Inception on CPU
@pytest.mark.filterwarnings("ignore:FID from .* samples:UserWarning")
def test_round_trip_sample_attention_fid_and_finetune(imported, tmp_path):
    cli("sample", imported, "--grid", tmp_path / "grid.png", "--classes", "0,1", "--per-class", 2)
    grid = png(tmp_path / "grid.png")
    assert grid.shape[2] == 3 and grid.shape[0] >= 2 * 64 and grid.std() > 1  # 32 px at 2x
    out = cli("attention", imported, "--grid", tmp_path / "attn.png", "--n", 1, "--panel", 32)
    assert "1 attention layer(s)" in out.output and png(tmp_path / "attn.png").std() > 1
    torch.save(random_state_dict(seed=0), tmp_path / "inception.pth")
    data = _folder(tmp_path / "data", classes=2, per_class=5)  # a 10-image folder
    fid = cli("fid", imported, data, "--n", 4, "--batch-size", 4, "--json",
              "--inception-weights", tmp_path / "inception.pth")  # fmt: skip
    scores = json.loads(fid.output[fid.output.index("{") :])
    assert scores["fid"] > 0 and scores["protocol"]["source"]["kind"] == "generator"
    tuned = tmp_path / "tuned"
    cli("train", imported / "config.yaml", "--out", tuned,
        "--set", f"train.init_from={imported}", "--set", "data.name=folder",
        "--set", f"data.root={data}", "--set", "model.num_classes=2",
        "--set", "train.init_classes=reinit", "--set", "train.freeze_d_blocks=2",
        "--set", "train.steps=2", "--set", "train.batch_size=4",
        "--set", "train.sample_every=0", "--set", "train.ckpt_every=0")  # fmt: skip
    _, state = load_latest(tuned)
    record = state["init_from"]
    assert (
        state["step"] == 2
        and record["step"] == 1234
        and record["imported_from"] == "biggan-pytorch"
    )
    assert record["fresh"]["G"] == ["shared.weight"] and record["D"] == "loaded"
    _, source = load_latest(imported)
    for key, value in state["D"].items():  # FreezeD: the first two blocks kept their weights
        if key.startswith(("blocks.0.", "blocks.1.", "attention.0.", "attention.1.")) and (
            key.endswith(("original", "bias", "gamma"))
        ):
            assert torch.equal(value, source["D"][key]), key
    assert not torch.equal(state["D"]["linear.bias"], source["D"]["linear.bias"])


def test_studiogan_import_export_and_sample_agree(tmp_path):
    run = tmp_path / "sagan"
    folder = INTEROP / "studiogan-sagan32"
    cli("import", "studiogan", folder, "--config", folder / "SAGAN-tiny.yaml", "--out", run,
        "--set", "train.steps=5000")  # fmt: skip
    cli("export", run, tmp_path / "g.safetensors")
    from_export, cfg = load_generator(tmp_path / "g.safetensors")
    assert cfg.train.steps == 5000 and cfg.train.d_steps_per_g_step == 5
    ref = reference("studiogan-sagan32")
    with torch.no_grad():  # no G_ema file: the EMA slot holds G
        assert max_diff(from_export(ref["z"], ref["y"]), ref["images"]) <= IMAGE_ATOL
    images = generate(from_export, 3, seed=1, truncation=0.5)
    z, y = latents_for(0, 3, cfg.model.z_dim, cfg.model.num_classes, seed=1, truncation=0.5)
    torch.testing.assert_close(images, (from_export(z, y).detach() + 1) / 2)


def test_resume_names_data_for_an_import_that_had_none(tmp_path):
    source = tmp_path / "weights"
    source.mkdir()
    for name in ("G.pth", "D.pth"):  # no state_dict.pth: no dataset, no step
        shutil.copy(INTEROP / "biggan32" / name, source / name)
    run = tmp_path / "run"
    cli("import", "biggan-pytorch", source, "--out", run, "--set", "train.batch_size=4",
        "--set", "train.steps=1", "--set", "train.sample_every=0")  # fmt: skip
    data = _folder(tmp_path / "data", classes=10, per_class=1)
    with pytest.warns(UserWarning, match="RNG streams restart"):  # an import has no RNG states
        refused = cli("train", "--resume", run, ok=False)
        cli("train", "--resume", run, "--set", "data.name=folder", "--set", f"data.root={data}")
    assert refused.exit_code == 1 and "data.name=none" in refused.output
    _, state = load_latest(run)
    assert state["step"] == 1 and state["config"]["data"]["name"] == "folder"


def test_an_import_without_d_can_be_sampled_and_fine_tuned_but_not_resumed(tmp_path):
    run = tmp_path / "plain"
    cli("import", "biggan-pytorch", INTEROP / "biggan32-plain", "--out", run)
    cli("sample", run, "--grid", tmp_path / "g.png", "--per-class", 1)
    refused = cli("train", "--resume", run, ok=False)
    assert "cannot be resumed, it has no D, opt_D" in refused.output
    assert f"train.init_from={run}" in refused.output
    data = _folder(tmp_path / "data", classes=10, per_class=1)
    with pytest.warns(UserWarning, match="no D weights; D starts afresh"):
        cli("train", run / "config.yaml", "--out", tmp_path / "tuned",
            "--set", f"train.init_from={run}", "--set", "data.name=folder",
            "--set", f"data.root={data}", "--set", "train.steps=1", "--set", "train.batch_size=2",
            "--set", "train.sample_every=0")  # fmt: skip
    _, state = load_latest(tmp_path / "tuned")
    assert state["init_from"]["D"] == "fresh (the source has no D)" and state["step"] == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["biggan-pytorch", "missing-folder"], "not a folder"),
        (["biggan-pytorch", INTEROP / "biggan32", "--set", "model.g_ch=8"], "the model section"),
        (["biggan-pytorch", INTEROP / "biggan32", "--source-set", "G_ch=8"], "says G_ch=8,"),
        (["studiogan", INTEROP / "studiogan-sagan32", "--which", "current"], "no model=G-current"),
    ],
)
def test_import_errors_are_one_line(tmp_path, args, message):
    result = cli("import", *args, "--out", tmp_path / "run", ok=False)
    assert result.exit_code != 0 and message in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_a_non_empty_out_is_refused(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "notes.txt").write_text("mine")
    result = cli("import", "biggan-pytorch", INTEROP / "biggan32", "--out", tmp_path / "run",
                 ok=False)  # fmt: skip
    assert "already exists and is not empty" in result.output
    assert (tmp_path / "run" / "notes.txt").read_text() == "mine"
