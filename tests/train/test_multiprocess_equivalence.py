"""2 processes x batch B train exactly like 1 process x batch 2B (gloo, CPU, cross-replica BN).

Spawned workers drive :class:`nlgan.train.step.GANStep` through a real multi-process
accelerator (DDP on gloo), with G (and D, if it had BN) converted by the trainer's own
:func:`nlgan.train.distributed.sync_batchnorm`. Every rank is fed its slice of the very latents
and real images that one process gets whole, so any difference is the distributed machinery's.

The optimiser is SGD rather than Adam on purpose: a conv bias right before a BN has a gradient
that is zero in exact arithmetic and ~1e-9 of rounding noise in practice; Adam's first step
turns that noise into +-lr, which would hide what is compared here (the gradients).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest
import torch
import torch.multiprocessing as mp
from accelerate import Accelerator
from torch import Tensor

from nlgan.losses import losses_for
from nlgan.models import Discriminator, Generator
from nlgan.nn.sync_bn import CrossReplicaBatchNorm
from nlgan.train.distributed import sync_batchnorm
from nlgan.train.step import GANStep, Latents

from gloo import join_gloo_group
from tiny import tiny_model

MODEL = tiny_model(num_classes=4, img_channels=1)
B = 4  # per-process micro-batch
WORLD = 2
STEPS = 2
LR = 0.05  # small: two steps stay in a regime where float rounding is not amplified


@dataclass(frozen=True)
class ShardedLatents(Latents):
    """The latents one process of ``world`` sees: its slice of every one-process micro-batch."""

    world: int = 1
    micro: int = B  # this process's micro-batch size

    def draw(self, step: int, phase: int, n: int) -> tuple[Tensor, Tensor | None]:
        z, y = Latents(self.z_dim, self.num_classes, self.seed).draw(step, phase, n * self.world)
        return self._shard(z), self._shard(y)

    def _shard(self, t: Tensor) -> Tensor:
        """This rank's rows of every micro-batch: [k * world * micro, ...] -> [k * micro, ...]."""
        per_micro = t.view(-1, self.world, self.micro, *t.shape[1:])  # [k, world, micro, ...]
        return per_micro[:, self.rank].reshape(-1, *t.shape[1:])


def _real_micro_batches(accum: int) -> list[tuple[Tensor, Tensor]]:
    """Full-size (WORLD * B) real micro-batches for every D micro-step of the run."""
    gen = torch.Generator().manual_seed(7)
    n = STEPS * accum
    x = torch.rand(n, WORLD * B, 1, 16, 16, generator=gen) * 2 - 1
    y = torch.randint(MODEL.num_classes, (n, WORLD * B), generator=gen)
    return list(zip(x, y, strict=True))


def _train(acc: Accelerator, sync_bn: bool, rank: int, world: int) -> dict[str, object]:
    """STEPS GAN steps on this rank's shard; the unwrapped state dicts and losses afterwards."""
    torch.manual_seed(0)
    G, D = Generator(MODEL), Discriminator(MODEL)
    G = sync_batchnorm(G, world, sync_bn, acc.device)
    D = sync_batchnorm(D, world, sync_bn, acc.device)
    opt_G = torch.optim.SGD(G.parameters(), lr=LR)
    opt_D = torch.optim.SGD(D.parameters(), lr=LR)
    G, D, opt_G, opt_D = acc.prepare(G, D, opt_G, opt_D)
    b = WORLD * B // world
    latents = ShardedLatents(MODEL.z_dim, MODEL.num_classes, 3, rank, world=world, micro=b)
    mine = slice(rank * b, (rank + 1) * b)
    real = iter(
        [(x[mine], y[mine]) for x, y in _real_micro_batches(acc.gradient_accumulation_steps)]
    )
    step = GANStep(acc, G, D, opt_G, opt_D, losses_for("hinge"), latents, b)
    losses = [step(s, real) for s in range(1, STEPS + 1)]
    G_plain, D_plain = acc.unwrap_model(G), acc.unwrap_model(D)
    return {
        "G": G_plain.state_dict(),
        "D": D_plain.state_dict(),
        "losses": torch.stack([torch.stack([v["loss_d"], v["loss_g"]]) for v in losses]),
        "cross_replica_bn": sum(isinstance(m, CrossReplicaBatchNorm) for m in G_plain.modules()),
    }


def _worker(rank: int, world: int, out_dir: str) -> None:
    join_gloo_group(rank, world, out_dir)
    torch.set_num_threads(1)
    # All scenarios in one group: starting processes costs far more than these steps.
    acc = Accelerator(cpu=True, gradient_accumulation_steps=1)
    assert acc.num_processes == world and acc.process_index == rank
    results = {"sync": _train(acc, True, rank, world), "plain": _train(acc, False, rank, world)}
    acc = Accelerator(cpu=True, gradient_accumulation_steps=2)  # same group, 2 micro-batches
    assert acc.gradient_accumulation_steps == 2
    results["sync_accum2"] = _train(acc, True, rank, world)
    torch.save(results, os.path.join(out_dir, f"rank{rank}.pt"))
    acc.end_training()  # destroys the process group


@pytest.fixture(scope="module")
def ranks(tmp_path_factory) -> list[dict]:
    """What each of the two processes ended with, per scenario."""
    out = tmp_path_factory.mktemp("ranks")
    mp.spawn(_worker, args=(WORLD, str(out)), nprocs=WORLD, join=True)
    return [torch.load(out / f"rank{r}.pt", weights_only=True) for r in range(WORLD)]


def _one_process(accum: int) -> dict[str, object]:
    return _train(Accelerator(cpu=True, gradient_accumulation_steps=accum), True, 0, 1)


def _max_diff(a: dict[str, Tensor], b: dict[str, Tensor]) -> float:
    return max(
        float((a[k].double() - b[k].double()).abs().max()) for k in a if a[k].is_floating_point()
    )


def _assert_ranks_identical(ranks: list[dict], key: str) -> None:
    for net in ("G", "D"):
        for name, value in ranks[0][key][net].items():
            assert torch.equal(value, ranks[1][key][net][name]), f"{net}.{name} differs by rank"


def _assert_matches(got: dict, want: dict) -> None:
    for net in ("G", "D"):
        assert got[net].keys() == want[net].keys()  # same names as a one-process model
        for name, value in want[net].items():
            torch.testing.assert_close(got[net][name], value, atol=2e-6, rtol=1e-5, msg=name)


@pytest.mark.multiprocess
@pytest.mark.slow
def test_two_processes_train_like_one_with_twice_the_batch(ranks):
    reference = _one_process(accum=1)
    assert ranks[0]["sync"]["cross_replica_bn"] > 0 and reference["cross_replica_bn"] == 0
    _assert_ranks_identical(ranks, "sync")
    _assert_matches(ranks[0]["sync"], reference)
    # Each rank's loss is the mean over its shard; their mean is the one-process loss.
    mean_loss = (ranks[0]["sync"]["losses"] + ranks[1]["sync"]["losses"]) / 2
    torch.testing.assert_close(mean_loss, reference["losses"], atol=1e-6, rtol=1e-5)
    # Training moved the weights, so the match above is not a match of initial weights.
    torch.manual_seed(0)
    assert _max_diff(Generator(MODEL).state_dict(), reference["G"]) > 1e-2
    # The check can fail: with per-process BN the shards are normalised by their own
    # statistics, the fakes differ, and so do D's and G's updates.
    plain = ranks[0]["plain"]
    assert plain["cross_replica_bn"] == 0
    assert _max_diff(plain["G"], reference["G"]) > 1e-3
    assert _max_diff(plain["D"], reference["D"]) > 1e-3


@pytest.mark.multiprocess
@pytest.mark.slow
def test_accumulation_and_processes_multiply(ranks):
    """2 processes x B x 2 micro-batches == 1 process x 2B x 2 micro-batches (total batch 4B)."""
    reference = _one_process(accum=2)
    _assert_ranks_identical(ranks, "sync_accum2")
    _assert_matches(ranks[0]["sync_accum2"], reference)
    assert _max_diff(ranks[0]["sync_accum2"]["G"], ranks[0]["sync"]["G"]) > 1e-3  # new data
