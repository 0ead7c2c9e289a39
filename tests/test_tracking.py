"""Tracking: disabled is a no-op, offline writes a wandb run, failures never break a run."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import time
import warnings

import numpy as np
import pytest

from nlgan.config import LogConfig
from nlgan.tracking import Tracker, resolve_mode


@pytest.fixture
def wandb_env(tmp_path, monkeypatch):
    """Keep every wandb file in tmp and make sure nothing prompts or reaches the network."""
    for var, sub in (
        ("WANDB_DIR", "wandb_dir"),
        ("WANDB_CACHE_DIR", "cache"),
        ("WANDB_CONFIG_DIR", "config"),
        ("WANDB_DATA_DIR", "data"),
        ("WANDB_ARTIFACT_DIR", "artifacts"),
    ):
        monkeypatch.setenv(var, str(tmp_path / sub))
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)  # never used: no run here goes online
    monkeypatch.delenv("WANDB_MODE", raising=False)
    return tmp_path


def history_bytes(run_dir, expect: bytes, timeout_s: float = 20.0) -> bytes:
    """The run's .wandb log once it contains ``expect``.

    wandb-core writes the log in a separate process and ``finish()`` can return a moment before
    the last records reach the file, so poll briefly instead of reading once.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        data = b"".join(p.read_bytes() for p in (run_dir / "wandb").glob("offline-run-*/*.wandb"))
        if expect in data or time.monotonic() > deadline:
            return data
        time.sleep(0.1)


def test_disabled_never_imports_wandb_or_writes_files(tmp_path):
    run_dir = tmp_path / "run"
    code = textwrap.dedent(
        f"""
        import sys
        import numpy as np
        from nlgan.config import LogConfig
        from nlgan.tracking import Tracker
        for log, enabled in ((LogConfig(wandb="disabled"), True),
                             (LogConfig(wandb="offline"), False)):
            t = Tracker(log, {str(run_dir)!r}, {{"a": 1}}, enabled=enabled)
            assert t.run_id is None and not t.active
            t.log({{"loss/d": 1.0}}, step=1)
            t.log_image("samples", np.zeros((4, 4, 3), np.uint8), step=1)
            t.finish()
        assert "wandb" not in sys.modules, "wandb was imported"
        """
    )
    env = {"PATH": "/usr/bin:/bin", "WANDB_MODE": "", "HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert not run_dir.exists()


def test_mode_comes_from_the_environment_first(monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    assert resolve_mode(LogConfig(wandb="disabled")) == "offline"
    monkeypatch.setenv("WANDB_MODE", "disabled")
    assert resolve_mode(LogConfig(wandb="online")) == "disabled"
    monkeypatch.setenv("WANDB_MODE", "dryrun")
    assert resolve_mode(LogConfig()) == "offline"
    monkeypatch.delenv("WANDB_MODE")
    assert resolve_mode(LogConfig(wandb="online")) == "online"
    monkeypatch.setenv("WANDB_MODE", "sometimes")
    with pytest.raises(ValueError, match="WANDB_MODE='sometimes': choose one of"):
        resolve_mode(LogConfig())


@pytest.mark.slow
def test_offline_run_holds_the_report_as_html_and_artifact(wandb_env):
    run_dir = wandb_env / "run"
    page = wandb_env / "report.html"
    page.write_text("<!doctype html><p>the run's page</p>")
    tracker = Tracker(LogConfig(wandb="offline"), run_dir, {})
    tracker.log_html("report", page, step=4)
    assert tracker.active  # no error turned tracking off
    tracker.finish()
    saved = list((run_dir / "wandb").glob("offline-run-*/files/media/html/report_*.html"))
    assert len(saved) == 1 and "the run's page" in saved[0].read_text()
    assert b"report-" in history_bytes(run_dir, b"report-")  # the artifact's name


def test_offline_run_holds_history_config_and_image(wandb_env):
    run_dir = wandb_env / "run"
    tracker = Tracker(LogConfig(wandb="offline"), run_dir, {"train": {"lr_d": 0.0004}})
    assert tracker.active and isinstance(tracker.run_id, str) and tracker.mode == "offline"
    tracker.log({"loss/d": 0.25, "images_per_s": 120.0}, step=10)
    image = np.zeros((8, 12, 3), np.uint8)
    image[:, :6] = 255
    tracker.log_image("samples", image, step=10, caption="step 10")
    tracker.log({"loss/d": 0.125}, step=20)
    tracker.finish()
    tracker.finish()  # twice is fine
    assert not tracker.active

    pngs = list((run_dir / "wandb").glob("offline-run-*/files/media/images/samples_10_*.png"))
    assert len(pngs) == 1
    from PIL import Image

    with Image.open(pngs[0]) as png:
        assert png.size == (12, 8)
    history = history_bytes(run_dir, b"0.125")
    assert re.search(rb"loss/d.{1,4}0\.25", history, re.S)
    assert re.search(rb"loss/d.{1,4}0\.125", history, re.S)
    assert re.search(rb"images_per_s.{1,4}120", history, re.S)
    assert b"lr_d" in history and b"0.0004" in history  # the config
    assert tracker.run_id is None


@pytest.mark.slow
def test_online_init_failure_falls_back_to_offline(wandb_env, monkeypatch):
    import wandb

    real_init, calls = wandb.init, []

    def flaky_init(*args, **kwargs):
        calls.append(kwargs["mode"])
        if len(calls) == 1:
            raise wandb.errors.CommError("network unreachable")
        return real_init(*args, **kwargs)

    monkeypatch.setattr(wandb, "init", flaky_init)
    with pytest.warns(UserWarning, match="online init failed .*logging offline instead"):
        tracker = Tracker(LogConfig(wandb="online"), wandb_env / "run", {"a": 1})
    assert calls == ["online", "offline"]
    assert tracker.mode == "offline" and tracker.active
    tracker.log({"fallback_metric": 1.5}, step=1)
    tracker.finish()
    assert re.search(rb"fallback_metric.{1,4}1\.5", history_bytes(wandb_env / "run", b"1.5"), re.S)


@pytest.mark.slow
def test_log_errors_warn_once_and_disable_tracking(wandb_env):
    tracker = Tracker(LogConfig(wandb="offline"), wandb_env / "run", {})

    def broken(*args, **kwargs):
        raise OSError("disk full")

    tracker._run.log = broken
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tracker.log({"loss/d": 1.0}, step=1)
        tracker.log({"loss/d": 2.0}, step=2)
        tracker.log_image("samples", np.zeros((4, 4, 3), np.uint8), step=2)
        tracker.finish()
    messages = [str(w.message) for w in caught]
    assert len(messages) == 1 and "wandb.log failed (OSError: disk full)" in messages[0]
    assert not tracker.active and tracker.mode == "disabled"


@pytest.mark.slow
def test_resume_continues_the_same_run_id(wandb_env):
    first = Tracker(LogConfig(wandb="offline"), wandb_env / "run", {})
    run_id = first.run_id
    first.log({"loss/g": 1.0}, step=5)
    first.finish()
    second = Tracker(LogConfig(wandb="offline"), wandb_env / "run", {}, resume_id=run_id)
    assert second.run_id == run_id
    second.log({"loss/g": 0.5}, step=6)
    second.finish()
    history = history_bytes(wandb_env / "run", b"0.5")
    assert re.search(rb"loss/g.{1,4}0\.5", history, re.S)
