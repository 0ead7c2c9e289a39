"""Best-checkpoint tracking: best.pt holds the generator that scored best, with its protocol.

A small deterministic stand-in replaces Inception (no weights file offline), as in
tests/test_multiprocess_eval.py; the training and evaluation code paths are the real ones.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

import nlgan.train.evaluation as evaluation
from nlgan.cli import main
from nlgan.config import config_from_dict
from nlgan.models import Generator
from nlgan.storage.checkpoint import (
    best_checkpoint_path,
    list_checkpoints,
    load_checkpoint,
    load_latest,
)
from nlgan.train.run import resume_run

from standin import SmallExtractor
from tiny import tiny_run

# 12 samples per evaluation keep the run to seconds: the small-sample FID warning is expected
pytestmark = pytest.mark.filterwarnings("ignore:FID from .* samples:UserWarning")

PROTOCOL_KEYS = {"metrics", "n", "seed", "truncation", "resize", "backbone", "reference",
                 "source", "options"}  # fmt: skip


@pytest.fixture
def run_setup(tmp_path, monkeypatch):
    real = tmp_path / "real"
    real.mkdir()
    rng = np.random.default_rng(0)
    for i in range(20):
        Image.fromarray(rng.integers(0, 256, (16, 16), dtype=np.uint8)).save(real / f"{i}.png")
    monkeypatch.setattr(evaluation, "load_inception", SmallExtractor)
    monkeypatch.setenv("NLGAN_CACHE_DIR", str(tmp_path / "cache"))
    logged, tracked = [], []
    from nlgan.tracking import Tracker

    original_init = Tracker.__init__

    def recording_init(self, log, run_dir, config, *args, **kwargs):
        tracked.append(config)
        original_init(self, log, run_dir, config, *args, **kwargs)

    monkeypatch.setattr(Tracker, "__init__", recording_init)
    monkeypatch.setattr(Tracker, "log", lambda self, d, step: logged.append({**d, "step": step}))
    return real, logged, tracked


def _config(real, steps: int) -> dict:
    run = tiny_run(steps=steps, batch_size=4, ckpt_every=2, sample_every=0, log_every=0,
                   ema_start=1, ema_decay=0.5, cpu_threads=1)  # fmt: skip
    run["eval"] = {"every": 1, "n": 12, "batch_size": 6, "metrics": ["fid"], "reference": str(real)}
    return run


def _fit(cfg: dict, run_dir, state=None) -> None:
    from nlgan.train.loop import Trainer

    Trainer(config_from_dict(cfg), run_dir, state).fit()


@pytest.mark.slow
def test_best_checkpoint_holds_the_best_generator(run_setup, tmp_path):
    real, logged, tracked = run_setup
    run_dir = tmp_path / "run"
    _fit(_config(real, 4), run_dir)
    fids = {d["step"]: d["eval/fid"] for d in logged if "eval/fid" in d}
    assert sorted(fids) == [1, 2, 3, 4] and len(set(fids.values())) == 4
    best_step = min(fids, key=fids.get)

    best = load_checkpoint(best_checkpoint_path(run_dir))  # weights_only: plain data only
    assert best["step"] == best_step and set(best) >= {"config", "G", "G_ema", "eval_best"}
    record = best["eval_best"]
    assert (record["metric"], record["better"], record["step"]) == ("fid", "lower", best_step)
    assert record["value"] == fids[best_step]
    assert record["record"]["fid"] == fids[best_step] and record["record"]["n"] == 12
    assert set(record["record"]["protocol"]) == PROTOCOL_KEYS
    assert record["record"]["protocol"]["seed"] == evaluation.EVAL_SEED
    assert set(record["record"]["versions"]) == {"nlgan", "torch"}
    assert tracked[0]["eval_protocol"]["reference"]["count"] == 20  # protocol in the tracker

    # best.pt's EMA generator is the one that scored best: scoring it again gives that FID
    cfg = config_from_dict(best["config"])
    G = Generator(cfg.model)
    G.load_state_dict(best["G_ema"])
    again = evaluation.PeriodicEval(cfg.eval, torch.device("cpu"))(G)
    assert again["eval/fid"] == pytest.approx(fids[best_step], rel=1e-6)

    # the regular checkpoints carry the same record; resume never picks best.pt
    path, latest = load_latest(run_dir)
    assert latest["eval_best"] == record and path == list_checkpoints(run_dir)[-1]
    assert all(p.name.startswith("ckpt-") for p in list_checkpoints(run_dir))

    # nlgan sample --best uses it
    out = tmp_path / "best.png"
    direct = tmp_path / "direct.png"
    runner = CliRunner()
    result = runner.invoke(main, ["sample", str(run_dir), "--best", "--grid", str(out)])
    assert result.exit_code == 0, result.output
    path_best = str(best_checkpoint_path(run_dir))
    assert runner.invoke(main, ["sample", path_best, "--grid", str(direct)]).exit_code == 0
    assert out.read_bytes() == direct.read_bytes()


@pytest.mark.slow
def test_resume_with_evaluation_stays_exact(run_setup, tmp_path):
    real, logged, _ = run_setup
    _fit(_config(real, 4), tmp_path / "straight")
    _fit(_config(real, 2), tmp_path / "resumed")
    cfg, run_dir, _, state = resume_run(tmp_path / "resumed", ["train.steps=4"])
    assert state["eval_best"]["step"] in (1, 2)
    from nlgan.train.loop import Trainer

    Trainer(cfg, run_dir, state).fit()
    _, a = load_latest(tmp_path / "straight")
    _, b = load_latest(tmp_path / "resumed")
    for key in ("G", "D", "G_ema"):
        for name, tensor in a[key].items():
            assert torch.equal(tensor, b[key][name]), f"{key}.{name}"
    assert a["eval_best"] == b["eval_best"]
    best_a = load_checkpoint(best_checkpoint_path(tmp_path / "straight"))
    best_b = load_checkpoint(best_checkpoint_path(tmp_path / "resumed"))
    for name, tensor in best_a["G_ema"].items():
        assert torch.equal(tensor, best_b["G_ema"][name]), name


def test_sample_best_without_a_best_checkpoint_is_one_line(tmp_path):
    (tmp_path / "run" / "checkpoints").mkdir(parents=True)
    result = CliRunner().invoke(
        main, ["sample", str(tmp_path / "run"), "--best", "--grid", "g.png"]
    )
    assert result.exit_code == 1 and "no best checkpoint" in result.output
    assert "eval.every > 0" in result.output


def _protocol(**changes) -> dict:
    base = {
        "metrics": ["fid"], "n": 10000, "seed": 0, "truncation": None,
        "resize": "legacy_tensorflow", "backbone": {"name": "inception", "hash": "ab12"},
        "reference": {"kind": "stats", "path": "/data/a.npz", "hash": "cd34", "split": None},
        "source": {"kind": "generator", "path": "EMA generator", "count": 10000},
        "options": {"is_splits": 10, "prdc_k": 5},
    }  # fmt: skip
    return {**base, **changes}


def _saved(protocol: dict) -> dict:
    record = {"schema": "nlgan.eval/1", "fid": 20.0, "protocol": protocol}
    return {"metric": "fid", "better": "lower", "value": 20.0, "step": 400, "record": record}


def test_a_resumed_best_is_kept_only_under_the_same_protocol():
    from nlgan.config import EvalConfig

    cfg = EvalConfig(every=100, reference="/data/a.npz", metrics=("fid",))
    moved = {"kind": "stats", "path": "/elsewhere/a.npz", "hash": "cd34", "split": None}
    for same in (_protocol(), _protocol(metrics=["fid", "kid"]), _protocol(reference=moved)):
        best = evaluation.BestScore(cfg, _saved(_protocol()), same)
        assert best.record is not None and best.notice == ""
        assert not best.update({"fid": 25.0}, 500, same)  # 25 does not beat the saved 20
    changed = _protocol(n=5000, resize="clean")
    best = evaluation.BestScore(cfg, _saved(_protocol()), changed)
    assert best.record is None
    assert best.notice == (
        "eval: best fid 20 (step 400) was measured under another protocol (n, resize changed); "
        "starting a new best"
    )
    assert best.update({"fid": 25.0}, 500, changed)  # the first score under the new protocol
    assert best.record["value"] == 25.0 and best.record["record"]["protocol"]["n"] == 5000
    other_hash = _protocol(backbone={"name": "inception", "hash": "ffff"})
    assert "backbone" in evaluation.BestScore(cfg, _saved(_protocol()), other_hash).notice


def test_in_run_fid_infinity_with_too_few_samples_is_refused_before_training(run_setup):
    from nlgan.config import ConfigError, EvalConfig

    real, _, _ = run_setup
    cfg = EvalConfig(every=1, n=77, metrics=("fid_inf",), reference=str(real))
    with pytest.raises(ConfigError, match=r"eval.n=77: FID∞ of 16-d features needs eval.n >= 78"):
        evaluation.PeriodicEval(cfg, torch.device("cpu"))
    ok = evaluation.PeriodicEval(EvalConfig(**{**cfg.__dict__, "n": 78}), torch.device("cpu"))
    assert ok.cfg.n == 78
