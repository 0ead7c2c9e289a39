"""Which checkpoints a run keeps: verified ones, never the one just written; damaged ones are
moved to checkpoints/damaged/ and named, never counted."""

from __future__ import annotations

import pytest
import torch

from nlgan.storage import checkpoint as ck
from nlgan.storage.retention import Retention, set_aside_newer

from damage import flip_bytes_inside_a_tensor


def _save(run, step: int):
    state = {"step": step, "G": {"w": torch.full((64, 64), float(step))}, "config": {"a": 1}}
    return ck.save_checkpoint(state, ck.checkpoint_path(run, step))


def _names(run) -> list[str]:
    return [p.name for p in ck.list_checkpoints(run)]


def test_a_damaged_newer_checkpoint_never_costs_the_good_ones(tmp_path):
    # The case: good ckpt-10, bit-flipped ckpt-20, then a resumed run writes ckpt-12
    # with keep_ckpts=1. Ranking by step alone deleted 10 and 12 and kept only the damaged 20.
    _save(tmp_path, 10)
    flip_bytes_inside_a_tensor(_save(tmp_path, 20))
    newest = _save(tmp_path, 12)
    with pytest.warns(UserWarning, match=r"damaged checkpoint ckpt-000000020.pt \(damaged \(its"):
        removed = Retention(tmp_path, keep=1).prune(newest)
    assert [p.name for p in removed] == ["ckpt-000000010.pt"]
    assert _names(tmp_path) == ["ckpt-000000012.pt"]
    assert ck.load_latest(tmp_path)[1]["step"] == 12
    assert [p.name for p in (tmp_path / "checkpoints" / "damaged").iterdir()] == [
        "ckpt-000000020.pt"
    ]


def test_damaged_checkpoints_are_not_counted_as_kept(tmp_path):
    for step in (1, 2, 3):
        _save(tmp_path, step)
    flip_bytes_inside_a_tensor(ck.checkpoint_path(tmp_path, 3))
    newest = _save(tmp_path, 4)
    with pytest.warns(UserWarning, match="damaged checkpoint ckpt-000000003.pt"):
        Retention(tmp_path, keep=3).prune(newest)
    assert _names(tmp_path) == ["ckpt-000000001.pt", "ckpt-000000002.pt", "ckpt-000000004.pt"]


def test_a_resume_sets_aside_the_damaged_checkpoints_above_its_step(tmp_path):
    _save(tmp_path, 10)
    flip_bytes_inside_a_tensor(_save(tmp_path, 20))
    (tmp_path / "checkpoints" / "damaged").mkdir()
    (tmp_path / "checkpoints" / "damaged" / "ckpt-000000020.pt").write_bytes(b"an earlier one")
    with pytest.warns(UserWarning, match="moved to .*damaged/ckpt-000000020.2.pt"):
        moved = set_aside_newer(tmp_path, 10)
    assert [m.source.name for m in moved] == ["ckpt-000000020.pt"]
    assert _names(tmp_path) == ["ckpt-000000010.pt"]
    assert (tmp_path / "checkpoints" / "damaged" / "ckpt-000000020.pt").read_bytes() == (
        b"an earlier one"  # never replaced
    )
    # A good checkpoint above the resumed step was written by someone else since: refuse.
    _save(tmp_path, 30)
    with pytest.raises(ck.CheckpointError, match="another process is writing this run"):
        set_aside_newer(tmp_path, 10)
    assert _names(tmp_path) == ["ckpt-000000010.pt", "ckpt-000000030.pt"]


def test_a_run_verifies_an_old_checkpoint_once(tmp_path, monkeypatch):
    from nlgan.storage import retention

    for step in (1, 2):
        _save(tmp_path, step)
    loads = []
    real = retention.load_checkpoint
    monkeypatch.setattr(retention, "load_checkpoint", lambda p: loads.append(p.name) or real(p))
    keeper = Retention(tmp_path, keep=3)
    keeper.prune(_save(tmp_path, 3))
    keeper.prune(_save(tmp_path, 4))
    assert loads == ["ckpt-000000002.pt", "ckpt-000000001.pt"]  # not again, not 3 (written)
    assert _names(tmp_path) == ["ckpt-000000002.pt", "ckpt-000000003.pt", "ckpt-000000004.pt"]
