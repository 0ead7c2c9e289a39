"""Atomic writes, stale temporary files, image extensions and the run-directory layout."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from nlgan.storage.files import (
    IMAGE_EXTENSIONS,
    atomic_path,
    atomic_write,
    is_image_file,
    remove_stale_temps,
    temp_path,
)
from nlgan.storage.rundir import RunDir, checkpoint_step, looks_like_run, run_root


def test_atomic_write_replaces_only_when_the_block_completes(tmp_path):
    target = tmp_path / "sub" / "f.bin"
    with atomic_write(target, durable=True) as f:
        f.write(b"one")
        assert not target.exists()  # nothing under the final name while writing
    assert target.read_bytes() == b"one"
    with pytest.raises(RuntimeError), atomic_write(target) as f:
        f.write(b"half")
        raise RuntimeError("disk full")
    assert target.read_bytes() == b"one"  # the old file is intact
    assert sorted(p.name for p in target.parent.iterdir()) == ["f.bin"]  # no temp left


def test_atomic_path_keeps_the_suffix_for_format_sniffing(tmp_path):
    target = tmp_path / "grid.png"
    with atomic_path(target) as tmp:
        assert tmp.suffix == ".png" and tmp.parent == tmp_path and tmp.name.startswith(".")
        tmp.write_bytes(b"x")
    assert target.read_bytes() == b"x"


def test_stale_temps_of_dead_processes_are_removed(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    dead_pid = int(dead.stdout)
    stale = tmp_path / f".ckpt-000000005.pt.tmp-{dead_pid}.pt"
    mine = temp_path(tmp_path / "ckpt-000000006.pt")
    for path in (stale, mine, tmp_path / "ckpt-000000004.pt", tmp_path / ".hidden"):
        path.write_bytes(b"")
    assert remove_stale_temps(tmp_path) == [stale]
    assert mine.exists() and (tmp_path / "ckpt-000000004.pt").exists()
    assert mine.name == f".ckpt-000000006.pt.tmp-{os.getpid()}.pt"


def test_image_extensions_are_case_insensitive(tmp_path):
    assert ".png" in IMAGE_EXTENSIONS and ".tiff" in IMAGE_EXTENSIONS
    assert is_image_file(tmp_path / "A.JPG") and not is_image_file(tmp_path / "notes.txt")


def test_run_directory_layout(tmp_path):
    run = RunDir(tmp_path / "r")
    assert run.config == tmp_path / "r" / "config.yaml"
    assert run.checkpoint(1250) == tmp_path / "r" / "checkpoints" / "ckpt-000001250.pt"
    assert run.sample_grid(3) == tmp_path / "r" / "samples" / "step-000000003.png"
    assert run.list_checkpoints() == [] and not looks_like_run(run.root)
    run.checkpoints.mkdir(parents=True)
    for step in (20, 3, 100):
        run.checkpoint(step).write_bytes(b"")
    (run.checkpoints / "ckpt-x.pt").write_bytes(b"")
    assert [checkpoint_step(p) for p in run.list_checkpoints()] == [3, 20, 100]
    assert looks_like_run(run.root) and looks_like_run(run.checkpoints)
    assert run_root(run.checkpoints) == run.root
