"""The documented CPU launch: ``ACCELERATE_USE_CPU=1 torchrun --nproc_per_node 2 -m nlgan.cli``.

Real subprocesses through the real launcher: two processes form one group of world size 2,
write one run directory and one set of checkpoints, and a resumed run continues exactly.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
import torch
import yaml

from nlgan.storage.checkpoint import checkpoint_path, list_checkpoints, load_checkpoint
from nlgan.storage.runlog import read_records

from tiny import tiny_run

TINY = tiny_run(
    steps=4,
    batch_size=4,
    ckpt_every=2,
    keep_ckpts=5,
    sample_every=2,
    log_every=1,
    ema_start=1,
    ema_decay=0.9,
    cpu_threads=1,
    # Small-data training on: the resume must restore p mid-interval and the LeCam anchors.
    augment="ada,translation,cutout",
    augment_p=0.2,
    ada_target=0.6,
    ada_interval=3,
    ada_kimg=1.0,
    lecam=0.3,
    lecam_start=1,
    bcr=1.0,
)
TINY["data"]["subset"] = 4  # 40 digits: the same on both processes and after the resume


def _torchrun(cwd, *args: str, use_cpu: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled"}
    env.pop("ACCELERATE_USE_CPU", None)
    if use_cpu:
        env["ACCELERATE_USE_CPU"] = "1"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    cmd += ["-m", "nlgan.cli", "train", *args]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def _tensors(state: dict) -> dict[str, torch.Tensor]:
    out = {f"{net}.{k}": v for net in ("G", "D", "G_ema") for k, v in state[net].items()}
    for opt in ("opt_G", "opt_D"):
        for i, s in state[opt]["state"].items():
            out.update({f"{opt}.{i}.{k}": v for k, v in s.items() if torch.is_tensor(v)})
    return out


@pytest.mark.multiprocess
@pytest.mark.slow
def test_torchrun_two_processes_one_run_and_exact_resume(tmp_path):
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    straight = _torchrun(tmp_path, "tiny.yaml", "--out", "straight")
    assert straight.returncode == 0, straight.stderr[-3000:]
    # Printed by the main process only: once, and it counts both processes.
    assert straight.stdout.count("total batch 8 = 4 per process x 2 processes x 1") == 1
    assert straight.stdout.count("done: 4 steps") == 1
    run = tmp_path / "straight"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["straight", "tiny.yaml"]
    assert [p.name for p in list_checkpoints(run)] == ["ckpt-000000002.pt", "ckpt-000000004.pt"]
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == [
        "ckpt-000000002.pt",
        "ckpt-000000004.pt",
    ]  # no temporary or duplicate files
    assert sorted(p.name for p in (run / "samples").iterdir()) == [
        "step-000000002.png",
        "step-000000004.png",
    ]
    # One writer: the start record and each step once, from rank 0.
    records = read_records(run / "metrics.jsonl")
    assert [(r["kind"], r["step"]) for r in records] == [("start", 0)] + [
        ("train", step) for step in (1, 2, 3, 4)
    ]
    assert records[0]["machine"]["num_processes"] == 2
    final = load_checkpoint(checkpoint_path(run, 4))
    assert final["world_size"] == 2 and len(final["rng"]) == 2  # one group of two processes
    assert not torch.equal(final["rng"][0]["torch"], final["rng"][1]["torch"])  # own seeds

    # A run stopped at step 2: its checkpoint is the one the straight run wrote at step 2 (the
    # same state_dict() call), so copying the run without step 4 gives "2 steps, then stop".
    split = tmp_path / "split"
    (split / "checkpoints").mkdir(parents=True)
    shutil.copy(run / "config.yaml", split / "config.yaml")
    shutil.copy(checkpoint_path(run, 2), checkpoint_path(split, 2))
    shutil.copy(run / "metrics.jsonl", split / "metrics.jsonl")  # holds steps 3 and 4 already
    resumed = _torchrun(tmp_path, "--resume", "split")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert resumed.stdout.count("from ckpt-000000002.pt (step 2)") == 1
    again = load_checkpoint(checkpoint_path(split, 4))
    resumed_log = read_records(split / "metrics.jsonl")
    assert [(r["kind"], r["step"]) for r in resumed_log] == [("start", 0)] + [
        ("train", 1),
        ("train", 2),
        ("start", 2),
        ("train", 3),
        ("train", 4),
    ]  # steps 3 and 4 were dropped, then logged again
    for before, after in zip(records[3:], resumed_log[4:], strict=True):  # an exact resume
        for key in ("loss/d", "loss/g", "augment/p", "augment/r_t"):
            assert after["values"][key] == before["values"][key], key
    want, got = _tensors(final), _tensors(again)
    assert want.keys() == got.keys()
    for name, value in want.items():
        assert torch.equal(got[name], value), name
    assert again["data"] == final["data"] and again["step"] == 4
    assert again["objective"] == final["objective"] and torch.equal(
        again["subset"], final["subset"]
    )
    assert final["objective"]["augment"]["p"] != 0.2  # adapted at step 3, after the resume
    start = load_checkpoint(checkpoint_path(run, 2))
    assert not torch.equal(start["G"]["out_conv.bias"], final["G"]["out_conv.bias"])  # it moved


@pytest.mark.multiprocess
@pytest.mark.slow
def test_torchrun_without_accelerate_use_cpu_is_refused(tmp_path):
    """Without a GPU, accelerate ignores torchrun's group: two lone runs in one directory."""
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    result = _torchrun(tmp_path, "tiny.yaml", "--out", "run", use_cpu=False)
    assert result.returncode != 0
    # Each process fails with one line (torchrun then adds its own report of failed children).
    assert result.stderr.count("Error: the launcher started 2 processes but each runs alone") == 2
    assert "ACCELERATE_USE_CPU=1 torchrun" in result.stderr
    assert "raise LaunchError" not in result.stderr
    assert not list_checkpoints(tmp_path / "run")


@pytest.mark.multiprocess
@pytest.mark.slow
def test_a_finished_run_leaves_the_process_group(tmp_path):
    """A process that exits with its gloo group alive can abort at interpreter teardown.

    That abort is rare (a race in gloo's threads), so the test checks its cause instead: after
    ``nlgan train`` returns in a launched process, no process group is left.
    """
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    (tmp_path / "probe.py").write_text(
        "import torch.distributed as dist\n"
        "from nlgan.cli import main\n"
        "main(['train', 'tiny.yaml', '--out', 'run', '--set', 'train.steps=2'],"
        " standalone_mode=False)\n"
        "print('group after train:', dist.is_initialized())\n"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled"}
    env["ACCELERATE_USE_CPU"] = "1"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=1"]
    result = subprocess.run(
        [*cmd, "probe.py"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "group after train: False" in result.stdout
    assert [p.name for p in list_checkpoints(tmp_path / "run")] == ["ckpt-000000002.pt"]
