"""Splitting evaluation across processes with torch.distributed (gloo or NCCL).

Each process scores a contiguous shard of the sample indices. FID needs only the sums in
:class:`FeatureStats`, which are all-reduced; IS and KID need per-sample logits / features,
which are all-gathered in rank order, so the result equals a single process scoring [0, n).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import torch
import torch.distributed as dist

T = TypeVar("T")


def rank_and_world(group: dist.ProcessGroup | None = None) -> tuple[int, int]:
    """(rank, world size) in ``group`` (the default group), or (0, 1) without torch.distributed."""
    if not (dist.is_available() and dist.is_initialized()):
        return 0, 1
    return dist.get_rank(group), dist.get_world_size(group)


def shard(n: int, rank: int, world: int) -> tuple[int, int]:
    """The contiguous index range [start, stop) of ``n`` items that ``rank`` handles."""
    return n * rank // world, n * (rank + 1) // world


def all_reduce_sum(tensors: list[torch.Tensor], group: dist.ProcessGroup | None = None) -> None:
    """Sum each tensor in place across processes (no-op in a single process)."""
    if rank_and_world(group)[1] == 1:
        return
    for t in tensors:
        dist.all_reduce(t, op=dist.ReduceOp.SUM, group=group)


def all_gather_rows(rows: torch.Tensor, group: dist.ProcessGroup | None = None) -> torch.Tensor:
    """Concatenate every process's rows [n_r, d] in rank order -> [sum n_r, d]."""
    _, world = rank_and_world(group)
    if world == 1:
        return rows
    count = torch.tensor([rows.shape[0]], dtype=torch.int64, device=rows.device)
    counts = [torch.zeros_like(count) for _ in range(world)]
    dist.all_gather(counts, count, group=group)
    longest = int(max(c.item() for c in counts))
    # all_gather needs equal shapes: pad every shard to the longest, then trim
    padded = rows.new_zeros((longest, *rows.shape[1:]))
    padded[: rows.shape[0]] = rows
    gathered = [torch.empty_like(padded) for _ in range(world)]
    dist.all_gather(gathered, padded.contiguous(), group=group)
    return torch.cat([g[: int(c.item())] for g, c in zip(gathered, counts, strict=True)])


def on_rank0(fn: Callable[[], T], group: dist.ProcessGroup | None = None) -> T:
    """``fn()`` computed by rank 0 alone and sent to every process (plain Python values)."""
    rank, world = rank_and_world(group)
    if world == 1:
        return fn()
    box = [fn() if rank == 0 else None]
    src = dist.get_global_rank(group, 0) if group is not None else 0
    dist.broadcast_object_list(box, src=src, group=group)
    return box[0]
