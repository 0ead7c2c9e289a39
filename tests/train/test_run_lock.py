"""One writer per run directory: a second training process is refused in one line naming the
first one's pid; the lock goes with its process, however that process ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from nlgan.storage.checkpoint import list_checkpoints, load_latest
from nlgan.storage.lock import RunLock, RunLockError
from nlgan.storage.rundir import checkpoint_step

from tiny import tiny_run

TINY = tiny_run(steps=1000, batch_size=8, ckpt_every=2, keep_ckpts=2, sample_every=0,
                log_every=1, cpu_threads=1)  # fmt: skip
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled"}


def _nlgan(cwd, *args: object) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "nlgan.cli", "train", *map(str, args)]
    return subprocess.Popen(cmd, cwd=cwd, env=ENV, stdout=subprocess.PIPE, text=True,
                            stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip


def _refused(proc: subprocess.Popen, holder: int) -> str:
    log, _ = proc.communicate(timeout=300)
    assert proc.returncode == 1, log
    errors = [line for line in log.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and "Traceback" not in log, log
    assert f"is being trained by another process (pid {holder}, which holds" in errors[0]
    return errors[0]


@pytest.fixture
def config(tmp_path):
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    return tmp_path / "tiny.yaml"


def test_the_lock_is_one_holder_at_a_time_and_goes_with_release(tmp_path):
    first = RunLock(tmp_path / "run").acquire()
    with pytest.raises(RunLockError, match=f"another process \\(pid {os.getpid()}, which"):
        RunLock(tmp_path / "run").acquire()  # flock: a second open file is refused, even here
    first.release()
    with RunLock(tmp_path / "run") as again:
        assert again.held
    assert not again.held


@pytest.mark.slow
def test_a_second_training_process_is_refused_and_a_killed_one_leaves_no_stale_lock(
    config, tmp_path
):
    run = tmp_path / "run"
    first = _nlgan(tmp_path, config, "--out", run)
    end = time.monotonic() + 180
    while not list_checkpoints(run):
        assert first.poll() is None and time.monotonic() < end, first.communicate()[0]
        time.sleep(0.01)
    second = _nlgan(tmp_path, "--resume", run)
    line = _refused(second, first.pid)
    assert str(run / ".lock") in line
    assert first.poll() is None  # the first run goes on, untouched
    first.send_signal(signal.SIGKILL)  # no cleanup runs: the kernel drops the flock
    first.wait()
    step = load_latest(run)[1]["step"]
    again = _nlgan(tmp_path, "--resume", run, "--set", f"train.steps={step + 1}")
    log, _ = again.communicate(timeout=300)
    assert again.returncode == 0 and f"done: {step + 1} steps" in log, log
    assert checkpoint_step(list_checkpoints(run)[-1]) == step + 1


@pytest.mark.slow
def test_a_fresh_run_into_an_out_that_is_being_written_is_refused(config, tmp_path):
    run = tmp_path / "run"
    with RunLock(run):  # this test process is the other writer
        proc = _nlgan(tmp_path, config, "--out", run, "--set", "train.steps=1")
        _refused(proc, os.getpid())
    assert not list_checkpoints(run) and not (run / "config.yaml").exists()
    # The lock file left behind does not make the folder "not a run" for the next start.
    done = _nlgan(tmp_path, config, "--out", run, "--set", "train.steps=1")
    log, _ = done.communicate(timeout=300)
    assert done.returncode == 0, log
