"""A real run resumed past a bit-flipped newest checkpoint, pruning to one, stopped by SIGTERM:
a verified checkpoint remains, and the damaged one is moved aside and named."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from nlgan.storage.checkpoint import list_checkpoints, load_checkpoint, load_latest
from nlgan.storage.rundir import checkpoint_step

from clitools import cli
from damage import flip_bytes_inside_a_tensor
from tiny import tiny_run

TINY = tiny_run(steps=10, batch_size=8, ckpt_every=5, keep_ckpts=5, sample_every=0,
                log_every=1, cpu_threads=1)  # fmt: skip
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled"}


def _nlgan(cwd, *args: str, **popen) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "nlgan.cli", *map(str, args)]
    return subprocess.Popen(cmd, cwd=cwd, env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, **popen)  # fmt: skip


@pytest.mark.slow
def test_a_resume_past_a_damaged_checkpoint_keeps_a_good_one_through_pruning_and_sigterm(
    tmp_path,
):
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    run = tmp_path / "run"
    out, _ = _nlgan(tmp_path, "train", "tiny.yaml", "--out", run).communicate(timeout=300)
    assert [checkpoint_step(p) for p in list_checkpoints(run)] == [5, 10], out
    flip_bytes_inside_a_tensor(list_checkpoints(run)[-1])

    proc = _nlgan(tmp_path, "train", "--resume", run, "--set", "train.keep_ckpts=1",
                  "--set", "train.ckpt_every=2", "--set", "train.steps=1000",
                  start_new_session=True)  # fmt: skip
    end = time.monotonic() + 120
    while not [p for p in list_checkpoints(run) if checkpoint_step(p) in range(6, 10)]:
        assert proc.poll() is None and time.monotonic() < end, proc.communicate()[0]
        time.sleep(0.005)
    proc.send_signal(signal.SIGTERM)  # at about step 7 of 1000
    log, _ = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, log
    assert "Traceback" not in log
    step = int(log.split("SIGTERM: stopped at step ")[1].split(";")[0])
    assert 6 <= step < 10, log  # below the damaged step 10, which used to outrank it

    # One line names the damaged checkpoint and where it went (besides resume's "skipping").
    lines = [line for line in log.splitlines() if "ckpt-000000010.pt" in line and "moved" in line]
    assert len(lines) == 1 and "damaged checkpoint ckpt-000000010.pt (damaged" in lines[0], log
    damaged = run / "checkpoints" / "damaged" / "ckpt-000000010.pt"
    assert f"moved to {damaged}" in lines[0]
    assert damaged.is_file()

    # keep_ckpts=1 kept the newest checkpoint, which reads back whole.
    assert [p.name for p in list_checkpoints(run)] == [f"ckpt-{step:09d}.pt"]
    assert load_checkpoint(list_checkpoints(run)[0])["step"] == step
    assert load_latest(run)[1]["step"] == step
    cli("sample", run, "--grid", tmp_path / "grid.png")
    assert (tmp_path / "grid.png").is_file()
