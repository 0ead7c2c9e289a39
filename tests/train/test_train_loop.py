"""`nlgan train` end to end on tiny models: run dir layout, exact resume, failures, Ctrl-C."""

from __future__ import annotations

import signal

import pytest
import torch
import yaml

from nlgan.losses import losses_for
from nlgan.storage.checkpoint import list_checkpoints, load_checkpoint, load_latest

from clitools import train as _train
from tiny import tiny_run

TINY = tiny_run(
    steps=2,
    batch_size=8,
    ckpt_every=0,
    sample_every=0,
    log_every=1,
    ema_start=1,
    ema_decay=0.9,
)


@pytest.fixture
def tiny_config(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY))
    return path


def test_two_steps_write_checkpoint_grid_and_config(tiny_config, tmp_path):
    run = tmp_path / "run"
    out = _train(str(tiny_config), "--out", str(run), "--set", "train.sample_every=2")
    assert "done: 2 steps" in out.output
    assert (run / "config.yaml").is_file()
    assert yaml.safe_load((run / "config.yaml").read_text())["model"]["g_ch"] == 4
    assert (run / "samples" / "step-000000002.png").is_file()
    [ckpt] = list_checkpoints(run)
    assert ckpt.name == "ckpt-000000002.pt"
    state = load_checkpoint(ckpt)
    for key in ("config", "G", "D", "G_ema", "opt_G", "opt_D", "rng", "data", "tracker_run_id"):
        assert key in state, key
    assert state["step"] == 2 and state["data"]["batches"] == 2
    from nlgan.sampling import load_generator

    G, cfg = load_generator(run)
    assert cfg.model.g_ch == 4 and G(torch.randn(3, 8), torch.tensor([0, 1, 2])).shape == (
        3,
        1,
        16,
        16,
    )


def _weights(state):
    return {
        f"{net}.{k}": v
        for net in ("G", "D", "G_ema")
        for k, v in state[net].items()
        if isinstance(v, torch.Tensor)
    }


def _opt_tensors(opt_state):
    return [t for s in opt_state["state"].values() for t in s.values() if torch.is_tensor(t)]


@pytest.mark.slow
def test_resume_is_exact(tiny_config, tmp_path):
    # Accumulation, two D steps per G step and random flips: every stream must resume exactly.
    sets = [
        "--set", "train.grad_accum=2",
        "--set", "train.d_steps_per_g_step=2",
        "--set", "data.hflip=true",
        "--set", "train.ema_start=2",
    ]  # fmt: skip
    straight, split = tmp_path / "straight", tmp_path / "split"
    _train(str(tiny_config), "--out", str(straight), "--set", "train.steps=4", *sets)
    _train(str(tiny_config), "--out", str(split), "--set", "train.steps=2", *sets)
    out = _train("--resume", str(split), "--set", "train.steps=4")
    assert "resuming" in out.output and "step 2" in out.output
    _, a = load_latest(straight)
    _, b = load_latest(split)
    assert a["step"] == b["step"] == 4
    wa, wb = _weights(a), _weights(b)
    assert wa.keys() == wb.keys()
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k
    for opt in ("opt_G", "opt_D"):
        for ta, tb in zip(_opt_tensors(a[opt]), _opt_tensors(b[opt]), strict=True):
            assert torch.equal(ta, tb)
    # Sanity: training changed the weights, so the equality above is not trivial.
    first = load_checkpoint(list_checkpoints(split)[0])
    assert not torch.equal(
        first["G"]["stem.parametrizations.weight.original"],
        a["G"]["stem.parametrizations.weight.original"],
    )


@pytest.mark.parametrize("name", ["hinge", "nonsat"])
def test_the_configured_loss_is_the_one_optimised(tiny_config, tmp_path, monkeypatch, name):
    import torch.nn.functional as F

    import nlgan.train.loop as loop

    seen: list[tuple[float, float]] = []  # (loss the trainer got, hinge of the same logits)

    def spy(name_asked):
        d_loss, g_loss = losses_for(name_asked)

        def d_spy(real, fake):
            loss = d_loss(real, fake)
            hinge = F.relu(1 - real).mean() + F.relu(1 + fake).mean()
            seen.append((float(loss.detach()), float(hinge.detach())))
            expected = F.softplus(-real).mean() + F.softplus(fake).mean()
            if name == "nonsat":
                torch.testing.assert_close(loss, expected)
            return loss

        return d_spy, g_loss

    monkeypatch.setattr(loop, "losses_for", spy)
    _train(str(tiny_config), "--out", str(tmp_path / "r"), "--set", f"train.loss={name}")
    assert len(seen) == 2  # one D step per G step, two G steps
    matches_hinge = [abs(got - hinge) < 1e-6 for got, hinge in seen]
    assert all(matches_hinge) == (name == "hinge")
    assert load_latest(tmp_path / "r")[1]["config"]["train"]["loss"] == name


def test_bf16_mixed_precision_runs(tiny_config, tmp_path):
    _train(str(tiny_config), "--out", str(tmp_path / "r"), "--set", "train.mixed_precision=bf16")
    state = load_latest(tmp_path / "r")[1]
    assert state["G"]["stem.parametrizations.weight.original"].dtype == torch.float32
    assert all(torch.isfinite(v).all() for v in _weights(state).values() if v.is_floating_point())


def test_nan_loss_stops_naming_step_and_keeps_last_checkpoint(tiny_config, tmp_path, monkeypatch):
    import nlgan.train.loop as loop
    from nlgan.losses import d_hinge, g_hinge

    calls = {"n": 0}

    def d_loss_nan_at_step_4(real, fake):
        calls["n"] += 1
        loss = d_hinge(real, fake)
        return loss * float("nan") if calls["n"] == 4 else loss

    monkeypatch.setattr(loop, "losses_for", lambda name: (d_loss_nan_at_step_4, g_hinge))
    run = tmp_path / "r"
    args = ["--out", str(run), "--set", "train.steps=6", "--set", "train.ckpt_every=2"]
    result = _train(str(tiny_config), *args, code=1)
    assert "step 4: loss is not finite" in result.output
    assert "ckpt-000000002.pt" in result.output
    assert "Traceback" not in result.output
    assert [p.name for p in list_checkpoints(run)] == ["ckpt-000000002.pt"]


@pytest.fixture
def ctrl_c():
    """Python's own Ctrl-C handler for the test, the one found put back after it. pytest
    started in the background runs with SIGINT ignored, and the trainer leaves an ignored
    signal ignored, so a raised SIGINT would do nothing."""
    found = signal.getsignal(signal.SIGINT)
    if found is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, found)


def test_ctrl_c_saves_a_checkpoint(tiny_config, tmp_path, monkeypatch, ctrl_c):
    from nlgan.train.step import GANStep

    original = GANStep.__call__

    def interrupt_at_step_3(self, step, real):
        out = original(self, step, real)
        if step == 3:
            signal.raise_signal(signal.SIGINT)  # as if the user pressed Ctrl-C now
        return out

    monkeypatch.setattr(GANStep, "__call__", interrupt_at_step_3)
    before = signal.getsignal(signal.SIGINT)
    run = tmp_path / "r"
    result = _train(str(tiny_config), "--out", str(run), "--set", "train.steps=10", code=130)
    assert "Ctrl-C: stopped at step 3" in result.output
    assert [p.name for p in list_checkpoints(run)] == ["ckpt-000000003.pt"]
    assert signal.getsignal(signal.SIGINT) is before  # handler restored


def test_a_late_ctrl_c_after_the_stop_checkpoint_is_reported_as_a_clean_stop(
    tiny_config, tmp_path, monkeypatch, ctrl_c
):
    """A second Ctrl-C that lands after the trainer has written its stop checkpoint and put
    the old handler back (a KeyboardInterrupt on the way out) is a clean stop at that step,
    not "interrupted in the middle of a step"."""
    from nlgan.train.loop import Trainer
    from nlgan.train.step import GANStep

    original_step, original_release = GANStep.__call__, Trainer.release_lock

    def interrupt_at_step_3(self, step, real):
        out = original_step(self, step, real)
        if step == 3:
            signal.raise_signal(signal.SIGINT)
        return out

    def release_then_interrupt(self):
        original_release(self)
        if self.finished:
            signal.raise_signal(signal.SIGINT)  # the late second Ctrl-C

    monkeypatch.setattr(GANStep, "__call__", interrupt_at_step_3)
    monkeypatch.setattr(Trainer, "release_lock", release_then_interrupt)
    run = tmp_path / "r"
    result = _train(str(tiny_config), "--out", str(run), "--set", "train.steps=10", code=130)
    assert "Ctrl-C: stopped at step 3; checkpoint" in result.output
    assert "middle of a step" not in result.output
    assert [p.name for p in list_checkpoints(run)] == ["ckpt-000000003.pt"]


def test_a_second_signal_in_a_step_aborts_without_saving(tiny_config, tmp_path, monkeypatch):
    from nlgan.train.step import GANStep

    original = GANStep.__call__

    def two_signals_in_step_3(self, step, real):
        if step == 3:
            signal.raise_signal(signal.SIGTERM)  # the first: finish the step, then save
            signal.raise_signal(signal.SIGTERM)  # the second, before the step is done
        return original(self, step, real)

    monkeypatch.setattr(GANStep, "__call__", two_signals_in_step_3)
    before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP)}
    run = tmp_path / "r"
    args = ["--out", str(run), "--set", "train.steps=10", "--set", "train.ckpt_every=2"]
    result = _train(str(tiny_config), *args, code=143)
    assert "SIGTERM again: stopped at once; nothing was saved after the last finished " in (
        result.output
    )
    assert "ckpt-000000002.pt" in result.output
    assert [p.name for p in list_checkpoints(run)] == ["ckpt-000000002.pt"]  # nothing of step 3
    assert not [p for p in (run / "checkpoints").iterdir() if p.name.startswith(".")]
    assert {s: signal.getsignal(s) for s in before} == before  # handlers restored


def test_resume_refuses_model_change_and_existing_run(tiny_config, tmp_path):
    run = tmp_path / "r"
    _train(str(tiny_config), "--out", str(run))
    bad = _train("--resume", str(run), "--set", "model.g_ch=8", code=1)
    assert "--set changes model.g_ch=8 (trained with 4), which cannot change" in bad.output
    again = _train(str(tiny_config), "--out", str(run), code=1)
    assert f"--resume {run}" in again.output
    done = _train("--resume", str(run))
    assert "already at step 2" in done.output


def test_bad_config_is_one_line(tmp_path):
    result = _train("--out", str(tmp_path / "r"), "--set", "train.lr_d=fast", code=1)
    assert "train.lr_d='fast': expected a number" in result.output
    assert len(result.output.strip().splitlines()) == 1
    missing = _train(str(tmp_path / "nope.yaml"), code=1)
    assert "nope.yaml': no such file and not a preset name" in missing.output


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:FID from 12 samples")  # expected: a tiny n on purpose
def test_periodic_eval_scores_the_ema_generator(tiny_config, tmp_path, monkeypatch):
    import numpy as np

    from nlgan.metrics.inception import random_state_dict

    weights = tmp_path / "inception.pt"
    torch.save(random_state_dict(seed=0), weights)
    reference = tmp_path / "real.npz"
    rng = np.random.default_rng(0)
    np.savez(reference, images=rng.integers(0, 256, (12, 16, 16), dtype=np.uint8))
    monkeypatch.setenv("NLGAN_CACHE_DIR", str(tmp_path / "cache"))
    logged: list[dict] = []
    from nlgan.tracking import Tracker

    monkeypatch.setattr(Tracker, "log", lambda self, d, step: logged.append({**d, "step": step}))
    sets = {
        "eval.every": 2,
        "eval.n": 12,
        "eval.batch_size": 6,
        "eval.metrics": "fid,is",
        "eval.reference": str(reference),
        "eval.inception_weights": str(weights),
    }
    args = [a for k, v in sets.items() for a in ("--set", f"{k}={v}")]
    out = _train(str(tiny_config), "--out", str(tmp_path / "r"), *args)
    assert "step 2: fid" in out.output
    [scores] = [d for d in logged if "eval/fid" in d]
    assert scores["step"] == 2 and scores["eval/fid"] > 0 and scores["eval/is_mean"] >= 1.0


def test_bad_eval_reference_fails_before_training(tiny_config, tmp_path):
    from nlgan.metrics.inception import random_state_dict

    weights = tmp_path / "inception.pt"
    torch.save(random_state_dict(seed=0), weights)
    sets = ["--set", "eval.every=1", "--set", f"eval.inception_weights={weights}"]
    sets += ["--set", f"eval.reference={tmp_path / 'missing'}"]
    out = _train(str(tiny_config), "--out", str(tmp_path / "r"), *sets, code=1)
    assert out.output.startswith("Error: eval:") and "missing" in out.output
    assert not list_checkpoints(tmp_path / "r")


@pytest.mark.slow
def test_resume_continues_the_same_tracker_run(tiny_config, tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")  # files only, no network
    run = tmp_path / "r"
    _train(str(tiny_config), "--out", str(run))
    _train("--resume", str(run), "--set", "train.steps=3")
    ids = [load_checkpoint(p)["tracker_run_id"] for p in list_checkpoints(run)]
    assert len(ids) == 2 and ids[0] is not None and ids[0] == ids[1]
    assert (run / "wandb").is_dir()


def test_attention_gammas_are_logged_every_log_step(tiny_config, tmp_path, monkeypatch):
    from nlgan.tracking import Tracker

    logged: list[dict] = []
    monkeypatch.setattr(Tracker, "log", lambda self, d, step: logged.append({**d, "step": step}))
    _train(str(tiny_config), "--out", str(tmp_path / "r"), "--set", "train.steps=3")
    assert [d["step"] for d in logged] == [1, 2, 3]
    state = load_latest(tmp_path / "r")[1]
    for net, key in (("g", "G"), ("d", "D")):
        values = [d[f"attn_gamma/{net}8"] for d in logged]
        assert values[0] != 0.0  # the first Adam step moves gamma away from 0
        assert values[-1] == pytest.approx(float(state[key]["attention.0.gamma"]))
