"""The real Trainer on 2 gloo processes: seeds, cross-replica BN, buffers and checkpoints agree.

Each spawned rank builds :class:`nlgan.train.Trainer` exactly as ``nlgan train`` does under
``torchrun``, trains a few steps and dumps what it holds in memory; the test compares ranks.
"""

from __future__ import annotations

import os

import pytest
import torch
import torch.multiprocessing as mp
from torch.nn.modules.batchnorm import _BatchNorm

from nlgan.config import config_from_dict
from nlgan.models import Discriminator, Generator
from nlgan.nn.sync_bn import CrossReplicaBatchNorm
from nlgan.storage.checkpoint import load_latest
from nlgan.train.distributed import (
    LaunchError,
    check_launch,
    describe_batch,
    sync_batchnorm,
    total_batch_size,
)

from gloo import join_gloo_group
from tiny import tiny_run

TINY = tiny_run(
    steps=3,
    batch_size=4,
    ckpt_every=0,
    sample_every=0,
    log_every=1,
    ema_start=1,
    ema_decay=0.9,
    cpu_threads=1,
)
WORLD = 2
# Small-data training: every process must draw the same subset and hold the same p / anchors.
SMALL_DATA = {
    "augment": "ada,translation",
    "augment_p": 0.3,
    "ada_target": 0.6,
    "ada_interval": 1,
    "ada_kimg": 1.0,
    "lecam": 0.3,
    "lecam_start": 1,
    "bcr": 1.0,
}
SCENARIOS = {  # name: (train, data) overrides
    "sync_bn=True": ({"sync_bn": True}, {}),
    "sync_bn=False": ({"sync_bn": False}, {}),
    "small_data": (SMALL_DATA, {"subset": 3}),
}


def _snapshot(trainer) -> dict[str, dict[str, torch.Tensor]]:
    acc = trainer.acc
    nets = {
        "G": acc.unwrap_model(trainer.G).state_dict(),
        "D": acc.unwrap_model(trainer.D).state_dict(),
        "G_ema": trainer.ema.state_dict(),
    }
    # Clones: a state dict shares storage with the live model, which training changes.
    return {net: {k: v.clone() for k, v in sd.items()} for net, sd in nets.items()}


def _worker(rank: int, world: int, out_dir: str) -> None:
    join_gloo_group(rank, world, out_dir, ACCELERATE_USE_CPU="1", WANDB_MODE="disabled")
    for name in SCENARIOS:  # one group for all: starting processes is the slow part
        _train(rank, name, os.path.join(out_dir, name))
    acc = _stop_on_rank_1(rank, os.path.join(out_dir, "signal"))
    acc.end_training()


def _stop_on_rank_1(rank: int, out_dir: str):
    """SIGTERM reaches rank 1 alone, during its step 2 (a scheduler often signals one first)."""
    import signal

    from nlgan.train.loop import Trainer
    from nlgan.train.step import GANStep

    original = GANStep.__call__

    def signal_rank_1(self, step, real):
        if step == 2 and rank == 1:
            signal.raise_signal(signal.SIGTERM)
        return original(self, step, real)

    GANStep.__call__ = signal_rank_1
    values = {**TINY, "train": {**TINY["train"], "steps": 10}}
    trainer = Trainer(config_from_dict(values), os.path.join(out_dir, "run"))
    result = trainer.fit()
    GANStep.__call__ = original
    torch.save({"step": result.step, "signal": result.signal}, os.path.join(out_dir, f"r{rank}.pt"))
    return trainer.acc


def _train(rank: int, scenario: str, out_dir: str):
    from nlgan.train.loop import Trainer  # after the environment is set, as under torchrun

    train, data = SCENARIOS[scenario]
    values = {**TINY, "train": {**TINY["train"], **train}, "data": {**TINY["data"], **data}}
    trainer = Trainer(config_from_dict(values), os.path.join(out_dir, "run"))
    acc = trainer.acc
    G = acc.unwrap_model(trainer.G)
    report = {
        "world": acc.num_processes,
        "ddp_broadcasts_buffers": [trainer.G.broadcast_buffers, trainer.D.broadcast_buffers],
        "cross_replica_bn": sum(isinstance(m, CrossReplicaBatchNorm) for m in G.modules()),
        "ema_cross_replica_bn": sum(
            isinstance(m, CrossReplicaBatchNorm) for m in trainer.ema.ema.modules()
        ),
        "initial": _snapshot(trainer),
        "latents": trainer.gan_step.latents.draw(1, 0, 4)[0],
        "data_order": trainer.sampler.epoch_order(0),
    }
    trainer.fit()
    report["final"] = _snapshot(trainer)
    report["subset"] = trainer.subset
    report["objective"] = trainer.objective.state_dict()
    torch.save(report, os.path.join(out_dir, f"rank{rank}.pt"))
    return acc


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Run directory of each scenario, after both ranks trained in it."""
    out = tmp_path_factory.mktemp("runs")
    mp.spawn(_worker, args=(WORLD, str(out)), nprocs=WORLD, join=True)
    return out


def _assert_bitwise_equal(a: dict, b: dict) -> None:
    for net in ("G", "D", "G_ema"):
        assert a[net].keys() == b[net].keys()
        for name in a[net]:
            assert torch.equal(a[net][name], b[net][name]), f"{net}.{name} differs between ranks"


@pytest.mark.multiprocess
@pytest.mark.slow
@pytest.mark.parametrize("sync_bn", [True, False], ids=["sync_bn", "per_process_bn"])
def test_ranks_agree_on_every_weight_and_buffer(runs, sync_bn):
    out = runs / f"sync_bn={sync_bn}"
    r0, r1 = (torch.load(out / f"rank{r}.pt", weights_only=True) for r in range(WORLD))
    assert r0["world"] == r1["world"] == WORLD
    assert r0["ddp_broadcasts_buffers"] == [True, True]  # accelerate's DDP default, relied on
    # Where seeds must agree: the initial weights. Where they must differ: latents, data shard.
    _assert_bitwise_equal(r0["initial"], r1["initial"])
    assert not torch.equal(r0["latents"], r1["latents"])
    assert not set(r0["data_order"].tolist()) & set(r1["data_order"].tolist())
    # Cross-replica BN in G when asked for (digits G: two per block + the output BN), never
    # in the EMA copy (it only runs in eval mode, on one process at a time).
    assert r0["cross_replica_bn"] == (5 if sync_bn else 0)
    assert r0["ema_cross_replica_bn"] == 0
    # After training every parameter and buffer (BN running stats, spectral-norm u / v /
    # sigma) of G, D and EMA G is bitwise identical on both ranks.
    _assert_bitwise_equal(r0["final"], r1["final"])
    bn_var = "blocks.0.bn1.bn.running_var"
    assert not torch.equal(r0["final"]["G_ema"][bn_var], r0["initial"]["G_ema"][bn_var])
    # The checkpoint (written by rank 0 alone) holds those tensors under one-process names and
    # loads strictly into plain models, so 1-process and N-process checkpoints interchange.
    _, state = load_latest(out / "run")
    assert state["step"] == 3 and state["world_size"] == WORLD and len(state["rng"]) == WORLD
    cfg = config_from_dict(state["config"])
    G, D, G_ema = Generator(cfg.model), Discriminator(cfg.model), Generator(cfg.model)
    for net, model in (("G", G), ("D", D), ("G_ema", G_ema)):
        model.load_state_dict(state[net], strict=True)
        for name, value in state[net].items():
            assert torch.equal(value, r0["final"][net][name]), f"{net}.{name}"
    assert not any(isinstance(m, CrossReplicaBatchNorm) for m in G.modules())
    assert any(isinstance(m, _BatchNorm) for m in G.modules())


@pytest.mark.multiprocess
@pytest.mark.slow
def test_a_signal_on_one_rank_stops_every_rank_after_the_same_step(runs):
    import signal

    reports = [torch.load(runs / "signal" / f"r{r}.pt", weights_only=True) for r in range(WORLD)]
    assert reports == [{"step": 2, "signal": int(signal.SIGTERM)}] * WORLD  # rank 0 too
    _, state = load_latest(runs / "signal" / "run")
    assert state["step"] == 2 and len(state["rng"]) == WORLD


def test_total_batch_size_is_per_process_times_processes_times_accumulation():
    assert total_batch_size(32, 8, 2) == 512
    line = describe_batch(32, 8, 2)
    assert line == "total batch 512 = 32 per process x 8 processes x 2 accumulation step(s)"
    assert describe_batch(16, 1, 1).startswith("total batch 16 = 16 per process x 1 process x")


def test_processes_that_did_not_join_one_group_are_refused():
    check_launch(2, {"WORLD_SIZE": "2"})
    check_launch(1, {})
    with pytest.raises(LaunchError, match="ACCELERATE_USE_CPU=1 torchrun --standalone"):
        check_launch(1, {"WORLD_SIZE": "2"})


def test_total_batch_size_is_logged_once_and_given_to_the_tracker(tmp_path, monkeypatch, capsys):
    import nlgan.train.loop as loop
    import nlgan.train.periodic as periodic

    seen = {}

    class RecordingTracker(periodic.Tracker):
        def __init__(self, log, run_dir, config, **kwargs):
            seen["config"] = config
            super().__init__(log, run_dir, config, **kwargs)

    monkeypatch.setattr(periodic, "Tracker", RecordingTracker)
    values = {**TINY, "train": {**TINY["train"], "grad_accum": 3}}
    trainer = loop.Trainer(config_from_dict(values), tmp_path / "run")
    assert seen["config"]["distributed"] == {"num_processes": 1, "total_batch_size": 12}
    assert seen["config"]["train"]["grad_accum"] == 3  # the rest of the config is all there
    assert "distributed" not in trainer.config_dict  # checkpoints keep the plain config
    out = capsys.readouterr().out
    assert out.count("total batch 12 = 4 per process x 1 process x 3 accumulation step(s)") == 1


def test_sync_batchnorm_converts_any_bn_only_when_several_processes_and_enabled():
    def d_with_bn() -> torch.nn.Module:  # nlgan's D has no BN; a D that had one is converted
        return torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4))

    cpu = torch.device("cpu")
    keys = list(d_with_bn().state_dict())
    converted = sync_batchnorm(d_with_bn(), 2, True, cpu)
    assert isinstance(converted[1], CrossReplicaBatchNorm)
    assert list(converted.state_dict()) == keys
    for processes, enabled in ((1, True), (2, False)):
        kept = sync_batchnorm(d_with_bn(), processes, enabled, cpu)
        assert type(kept[1]) is torch.nn.BatchNorm2d
    no_bn = torch.nn.Linear(2, 2)
    assert sync_batchnorm(no_bn, 2, True, cpu) is no_bn


@pytest.mark.multiprocess
@pytest.mark.slow
def test_ranks_agree_on_the_subset_p_and_anchors(runs):
    r0, r1 = (torch.load(runs / "small_data" / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    assert torch.equal(r0["subset"], r1["subset"]) and len(r0["subset"]) == 30
    assert r0["objective"] == r1["objective"]  # from process-averaged statistics
    assert r0["objective"]["augment"]["p"] != 0.3  # it adapted
    assert r0["objective"]["lecam"]["anchor_real"] is not None
    _assert_bitwise_equal(r0["final"], r1["final"])
    assert not set(r0["data_order"].tolist()) & set(r1["data_order"].tolist())
    _, state = load_latest(runs / "small_data" / "run")
    assert state["objective"] == r0["objective"] and torch.equal(state["subset"], r0["subset"])
