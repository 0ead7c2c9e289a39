"""Cross-replica BN: 2 processes x B equal one process x 2B (outputs, gradients, running stats)."""

from __future__ import annotations

import os

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from nlgan.nn.sync_bn import CrossReplicaBatchNorm, convert_sync_batchnorm

from gloo import join_gloo_group


def _model() -> nn.Module:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU())
    with torch.no_grad():
        model[1].weight.uniform_(0.5, 1.5)
        model[1].bias.uniform_(-0.5, 0.5)
    return model


def _data() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(8, 3, 5, 6, generator=gen) * 2 + 0.5
    target = torch.randn(8, 4, 5, 6, generator=gen)
    return x, target


def _step(model: nn.Module, x: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
    x = x.clone().requires_grad_(True)
    y = model(x)
    ((y - target) ** 2).sum().backward()
    out = {"y": y.detach(), "x_grad": x.grad}
    out.update({f"grad.{n}": p.grad for n, p in model.named_parameters()})
    out.update({f"buf.{n}": b.clone() for n, b in model.named_buffers()})
    return out


def _worker(rank: int, world: int, out_dir: str) -> None:
    join_gloo_group(rank, world, out_dir)
    try:
        model = convert_sync_batchnorm(_model())
        assert isinstance(model[1], CrossReplicaBatchNorm)
        x, target = _data()
        shard = slice(rank * 4, rank * 4 + 4)
        result = _step(model, x[shard], target[shard])
        for key in [k for k in result if k.startswith("grad.")]:
            dist.all_reduce(result[key])  # what DDP does (before its division by world size)
        torch.save(result, os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


@pytest.mark.multiprocess
def test_two_processes_match_one_process_on_the_whole_batch(tmp_path):
    mp.spawn(_worker, args=(2, str(tmp_path)), nprocs=2, join=True)
    x, target = _data()
    full = _step(_model(), x, target)
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2)]
    torch.testing.assert_close(torch.cat([r["y"] for r in ranks]), full["y"], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(
        torch.cat([r["x_grad"] for r in ranks]), full["x_grad"], atol=1e-4, rtol=1e-4
    )
    for key in [k for k in full if k.startswith(("grad.", "buf."))]:
        for r in ranks:
            torch.testing.assert_close(r[key], full[key], atol=1e-4, rtol=1e-4, msg=key)


@pytest.mark.multiprocess
def test_without_sync_the_shards_differ(tmp_path):
    """The check above can fail: plain per-process BN normalises each shard by its own stats."""
    x, target = _data()
    full = _step(_model(), x, target)
    shard = _step(_model(), x[:4], target[:4])
    assert not torch.allclose(shard["y"], full["y"][:4], atol=1e-3)


def test_single_process_equals_batchnorm():
    x, target = _data()
    plain = _step(_model(), x, target)
    synced = _step(convert_sync_batchnorm(_model()), x, target)
    for key in plain:
        torch.testing.assert_close(synced[key], plain[key], msg=key)


def test_convert_keeps_parameters_and_buffers():
    model = _model()
    model[1].running_mean.fill_(0.3)
    converted = convert_sync_batchnorm(model)
    assert isinstance(converted[1], CrossReplicaBatchNorm)
    assert torch.all(converted[1].running_mean == 0.3)
    assert torch.equal(converted[1].weight, _model()[1].weight)
