"""Every model.attn_affinity trains through the real trainer, resumes bitwise, draws attention
maps, and refuses to continue or start from weights of another affinity with one line."""

from __future__ import annotations

import pytest
import torch
import yaml

from nlgan.sampling import load_generator
from nlgan.storage.checkpoint import CheckpointError, load_latest, save_checkpoint

from clitools import cli
from clitools import train as _train
from tiny import tiny_run

PAPER_KINDS = ("gaussian", "embedded_gaussian", "dot_product", "concatenation")
# "sagan" (the default) resumes exactly in tests/train/test_train_loop.py.


def _config(tmp_path, kind: str):
    run = tiny_run(steps=2, batch_size=8, ckpt_every=0, sample_every=0, log_every=1,
                   ema_start=1, ema_decay=0.9)  # fmt: skip
    run["model"]["attn_affinity"] = kind
    path = tmp_path / f"{kind}.yaml"
    path.write_text(yaml.safe_dump(run))
    return path


def _weights(state):
    return {f"{net}.{k}": v for net in ("G", "D", "G_ema") for k, v in state[net].items()}


@pytest.mark.slow
@pytest.mark.parametrize("kind", PAPER_KINDS)
def test_each_kind_trains_and_resumes_bitwise(tmp_path, kind):
    config = _config(tmp_path, kind)
    straight, split = tmp_path / "straight", tmp_path / "split"
    _train(config, "--out", straight, "--set", "train.steps=3")
    _train(config, "--out", split)
    out = _train("--resume", split, "--set", "train.steps=3")
    assert "resuming" in out.output
    _, a = load_latest(straight)
    _, b = load_latest(split)
    assert a["step"] == b["step"] == 3
    assert a["config"]["model"]["attn_affinity"] == kind
    wa, wb = _weights(a), _weights(b)
    assert wa.keys() == wb.keys()
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k
    # The attention blocks took part: their gammas left 0 in both networks.
    for net in ("G", "D"):
        assert float(a[net]["attention.0.gamma"]) != 0.0
    # The trained G rebuilds from its run and draws its attention maps.
    G, cfg = load_generator(split)
    assert cfg.model.attn_affinity == kind and G.attention_layers()[0].affinity == kind
    grid = tmp_path / "attn.png"
    result = cli("attention", split, "--grid", grid, "--n", 2, "--panel", 32)
    assert "1 attention layer(s)" in result.output and grid.is_file()


def test_another_affinity_is_refused_on_resume_init_from_and_load(tmp_path):
    run = tmp_path / "run"
    _train(_config(tmp_path, "dot_product"), "--out", run)
    bad = _train("--resume", run, "--set", "model.attn_affinity=sagan", code=1)
    assert "model.attn_affinity='sagan' (trained with 'dot_product')" in bad.output
    assert len(bad.output.strip().splitlines()) == 1
    other = _train(_config(tmp_path, "concatenation"), "--out", tmp_path / "new",
                   "--set", f"train.init_from={run}", code=1)  # fmt: skip
    assert "its model has model.attn_affinity='dot_product'" in other.output
    assert len(other.output.strip().splitlines()) == 1
    # A run whose configs name another affinity than its weights: one line, not torch's keys.
    path, state = load_latest(run)
    state["config"]["model"]["attn_affinity"] = "concatenation"
    save_checkpoint(state, path)
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["model"]["attn_affinity"] = "concatenation"
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    with pytest.raises(CheckpointError) as err:
        load_generator(run)
    assert "G_ema weights do not fit the generator" in str(err.value)
    assert "\n" not in str(err.value)
    broken = _train("--resume", run, "--set", "train.steps=3", code=1)
    *_, error = broken.output.strip().splitlines()  # after the "resuming ..." line
    assert error.startswith("Error: the checkpoint's G weights do not fit the generator its")
