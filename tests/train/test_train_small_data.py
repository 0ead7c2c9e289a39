"""`nlgan train` with augmentation, adaptive p, LeCam, bCR and a data subset, end to end."""

from __future__ import annotations

import pytest
import torch
import yaml

from nlgan.storage.checkpoint import list_checkpoints, load_checkpoint, load_latest
from nlgan.tracking import Tracker

from clitools import train as _train
from tiny import tiny_run

SMALL = tiny_run(
    steps=2,
    batch_size=8,
    ckpt_every=0,
    sample_every=0,
    log_every=1,
    ema_start=1,
    ema_decay=0.9,
    augment="ada,translation,cutout",
    augment_p=0.3,
    ada_target=0.6,
    ada_interval=3,  # a resume at step 2 lands mid-interval
    ada_kimg=1.0,  # p moves by (images per step) x 3 / 1000 per adjustment: visibly
    lecam=0.3,
    lecam_start=1,
    bcr=1.0,
)
SMALL["data"]["subset"] = 3  # 30 digits


@pytest.fixture
def small_config(tmp_path):
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(SMALL))
    return path


@pytest.mark.slow
def test_resume_is_exact_with_augmentation_adaptive_p_and_regularisers(small_config, tmp_path):
    sets = ["--set", "train.grad_accum=2", "--set", "train.d_steps_per_g_step=2"]
    straight, split = tmp_path / "straight", tmp_path / "split"
    _train(str(small_config), "--out", str(straight), "--set", "train.steps=5", *sets)
    _train(str(small_config), "--out", str(split), "--set", "train.steps=2", *sets)
    _train("--resume", str(split), "--set", "train.steps=5")
    _, a = load_latest(straight)
    _, b = load_latest(split)
    for net in ("G", "D", "G_ema"):
        for k, v in a[net].items():
            assert torch.equal(v, b[net][k]), f"{net}.{k}"
    assert a["objective"] == b["objective"]  # p, its partial sums, r_t, LeCam anchors
    assert torch.equal(a["subset"], b["subset"]) and len(a["subset"]) == 30
    # Not trivially equal: p (at step 3) and the anchors moved after the checkpoint at step 2,
    # which held half an interval of r_t sums.
    first = load_checkpoint(list_checkpoints(split)[0])["objective"]
    assert first["augment"]["p"] == 0.3 and first["augment"]["count"] == 2
    assert a["objective"]["augment"]["p"] != 0.3
    assert first["lecam"] != a["objective"]["lecam"]


def test_p_r_t_and_regulariser_terms_are_logged_and_shown(small_config, tmp_path, monkeypatch):
    logged: list[dict] = []
    monkeypatch.setattr(Tracker, "log", lambda self, d, step: logged.append({**d, "step": step}))
    out = _train(str(small_config), "--out", str(tmp_path / "r"), "--set", "train.steps=3")
    for key in ("augment/p", "augment/r_t", "reg/lecam", "reg/bcr", "d/real_sign", "loss/d"):
        assert all(key in d for d in logged), key
    assert logged[1]["augment/p"] == 0.3 != logged[2]["augment/p"]  # adjusted at step 3
    assert logged[0]["reg/lecam"] == 0.0 and logged[-1]["reg/lecam"] > 0  # from step 2 on
    assert "p=" in out.output  # the progress bar shows p


def test_a_changed_subset_is_refused_on_resume(small_config, tmp_path):
    run = tmp_path / "r"
    _train(str(small_config), "--out", str(run))
    [ckpt] = list_checkpoints(run)
    state = load_checkpoint(ckpt)
    state["subset"] = state["subset"] + 1  # as if the data folder had changed underneath
    torch.save(state, ckpt)
    out = _train("--resume", str(run), "--set", "train.steps=3", code=1)
    assert "data.subset: the images drawn now differ from the checkpoint's" in out.output
    refused = _train("--resume", str(run), "--set", "data.subset=4", code=1)
    assert "changes data.subset=4 (trained with 3), which cannot change when resuming" in (
        refused.output
    )


def test_unknown_augmentation_is_a_one_line_config_error(tmp_path):
    out = _train("--out", str(tmp_path / "r"), "--set", "train.augment=flip", code=1)
    assert "train.augment='flip': augmentation 'flip' is unknown" in out.output
    assert len(out.output.strip().splitlines()) == 1
