"""Checkpoint files: atomic writes survive a crash mid-save; the latest good one is found."""

from __future__ import annotations

import gc
import signal
import time

import pytest
import torch

import nlgan
from nlgan.storage import checkpoint as ck


def _state(step: int) -> dict:
    return {"step": step, "G": {"w": torch.full((64, 64), float(step))}, "config": {"a": 1}}


def test_round_trip_and_format(tmp_path):
    path = ck.save_checkpoint(_state(5), ck.checkpoint_path(tmp_path, 5))
    assert path.name == "ckpt-000000005.pt"
    state = ck.load_checkpoint(path)
    assert state["step"] == 5 and state["format"] == ck.FORMAT
    assert state["nlgan_version"] == nlgan.__version__  # which release wrote it
    assert torch.equal(state["G"]["w"], torch.full((64, 64), 5.0))


def test_crash_during_save_keeps_previous_checkpoint(tmp_path, monkeypatch):
    path = ck.checkpoint_path(tmp_path, 10)
    ck.save_checkpoint(_state(1), path)
    real_save = torch.save

    def half_then_crash(obj, f, *args, **kwargs):
        import io

        buf = io.BytesIO()
        real_save(obj, buf)
        with open(f, "wb") as out:
            out.write(buf.getvalue()[: len(buf.getvalue()) // 2])
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(torch, "save", half_then_crash)
    with pytest.raises(OSError, match="simulated"):
        ck.save_checkpoint(_state(2), path)
    monkeypatch.undo()
    assert ck.load_checkpoint(path)["step"] == 1  # the old file, intact
    leftovers = [p.name for p in path.parent.iterdir() if p.name != path.name]
    assert leftovers == []  # no half-written file that looks like a checkpoint
    assert ck.list_checkpoints(tmp_path) == [path]


class _Stop(BaseException):
    """Stands in for a second Ctrl-C's Abort: raised by a signal handler, not an Exception."""


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs interval timers")
def test_a_signal_in_the_middle_of_a_save_propagates_and_damages_nothing(tmp_path):
    # A handler that raises, as the trainer's second stop signal does, fired at times spread
    # over a save: the exception must come out of save_checkpoint itself (not turned into a
    # "short write" OSError, not a crashed process), and the previous file must stay whole.
    path = ck.checkpoint_path(tmp_path, 1)
    state = {"step": 1, "G": {f"w{i}": torch.randn(20_000) for i in range(100)}}
    start = time.perf_counter()
    ck.save_checkpoint(state, path)
    duration = time.perf_counter() - start

    def stop(signum, frame):
        raise _Stop

    previous = signal.signal(signal.SIGALRM, stop)
    stopped = 0
    try:
        for i in range(40):
            signal.setitimer(signal.ITIMER_REAL, duration * (i + 0.5) / 40)
            try:
                ck.save_checkpoint(state, path)
                signal.setitimer(signal.ITIMER_REAL, 0)
            except _Stop:
                stopped += 1
            assert ck.load_checkpoint(path)["step"] == 1
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    gc.collect()  # torch's writer of an interrupted save is finalised: must not write anything
    assert stopped > 0
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_latest_skips_damaged(tmp_path):
    ck.save_checkpoint(_state(1), ck.checkpoint_path(tmp_path, 1))
    ck.save_checkpoint(_state(2), ck.checkpoint_path(tmp_path, 2))
    broken = ck.checkpoint_path(tmp_path, 3)
    broken.write_bytes(ck.checkpoint_path(tmp_path, 2).read_bytes()[:100])
    with pytest.warns(UserWarning, match="skipping damaged"):
        path, state = ck.load_latest(tmp_path)
    assert path.name == "ckpt-000000002.pt" and state["step"] == 2


def test_missing_and_foreign(tmp_path):
    with pytest.raises(ck.CheckpointError, match="no checkpoints"):
        ck.load_latest(tmp_path)
    foreign = tmp_path / "x.pt"
    torch.save({"w": torch.zeros(1)}, foreign)
    with pytest.raises(ck.CheckpointError, match="not an nlgan checkpoint"):
        ck.load_checkpoint(foreign)


def test_prune_keeps_newest(tmp_path):
    for s in (1, 2, 3, 4):
        ck.save_checkpoint(_state(s), ck.checkpoint_path(tmp_path, s))
    removed = ck.prune_checkpoints(tmp_path, keep=2)
    assert [p.name for p in removed] == ["ckpt-000000001.pt", "ckpt-000000002.pt"]
    assert [p.name for p in ck.list_checkpoints(tmp_path)] == [
        "ckpt-000000003.pt",
        "ckpt-000000004.pt",
    ]
