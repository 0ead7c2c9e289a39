"""train.lr_decay_start: both learning rates fall linearly to 0 at train.steps, and resume."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
import yaml

from nlgan.config import ConfigError, TrainConfig
from nlgan.storage.checkpoint import list_checkpoints, load_latest
from nlgan.train.schedule import lr_factor

from clitools import train as _train
from tiny import tiny_run


def test_factor_is_one_then_linear_to_zero():
    assert [lr_factor(s, 0, 10) for s in (1, 5, 10)] == [1.0, 1.0, 1.0]
    assert [lr_factor(s, 6, 10) for s in (1, 6, 7, 8, 10)] == [1.0, 1.0, 0.75, 0.5, 0.0]


def test_a_start_at_or_past_the_end_is_refused():
    with pytest.raises(ConfigError, match="train.lr_decay_start=10 must be below train.steps=10"):
        TrainConfig(steps=10, lr_decay_start=10)
    with pytest.raises(ConfigError, match="train.lr_decay_start must be >= 0"):
        TrainConfig(steps=10, lr_decay_start=-1)


@pytest.mark.slow
def test_logged_rates_follow_the_decay_and_resume_is_exact(tmp_path):
    cfg = tiny_run(steps=4, batch_size=8, ckpt_every=2, keep_ckpts=5, sample_every=0,
                   log_every=1, lr_g=1e-3, lr_d=2e-3, lr_decay_start=1)  # fmt: skip
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    straight, split = tmp_path / "straight", tmp_path / "split"
    _train(str(tmp_path / "c.yaml"), "--out", str(straight))
    records = [json.loads(line) for line in (straight / "metrics.jsonl").read_text().splitlines()]
    rates = {
        r["step"]: (r["values"]["lr/g"], r["values"]["lr/d"])
        for r in records
        if r["kind"] == "train"
    }
    # Set before each step: step s trains at (4 - s) / 3 of the rates (step 1 at the full ones).
    for step, factor in ((1, 1.0), (2, 2 / 3), (3, 1 / 3), (4, 0.0)):
        assert rates[step] == pytest.approx((1e-3 * factor, 2e-3 * factor)), step
    # Resume from step 2 of the same run: the same curve, the same weights bitwise.
    shutil.copytree(straight, split)
    list_checkpoints(split)[-1].unlink()
    _train("--resume", str(split))
    _, a = load_latest(straight)
    _, b = load_latest(split)
    assert a["step"] == b["step"] == 4
    for net in ("G", "D", "G_ema"):
        for key, value in a[net].items():
            assert torch.equal(value, b[net][key]), (net, key)
