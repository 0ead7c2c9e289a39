"""Multi-process training helpers: launch checks, cross-replica BN, buffer agreement, batch sizes.

The trainer runs the same code on one process and on many (``torchrun`` / ``accelerate
launch``). What has to be added for many is small but easy to get silently wrong:

* a launcher that starts N processes which never form one group (``torchrun`` on a machine
  without a GPU and without ``ACCELERATE_USE_CPU=1``: accelerate then runs every process alone,
  all writing the same run directory) — :func:`check_launch` refuses that;
* BN statistics per shard instead of per batch — :func:`sync_batchnorm` converts G and D
  (``nlgan.nn.sync_bn.convert_sync_batchnorm``: ``torch.nn.SyncBatchNorm`` on CUDA,
  ``CrossReplicaBatchNorm`` elsewhere); module and state-dict names do not change;
* buffers that drift between ranks. DDP broadcasts every buffer from rank 0 at the start of each
  wrapped forward (``broadcast_buffers=True``, accelerate's default), but the buffers written
  *during* the last forward of a step (BN running statistics without cross-replica BN) stay
  rank-local until the next one — and the EMA generator copies them in between.
  :func:`broadcast_buffers` does, right after the step, the same broadcast DDP would do at the
  next forward, so the training trajectory is unchanged while EMA G, checkpoints and
  evaluation see identical buffers on every rank. One more writer exists: a spectral-normed
  layer records ``sigma`` even in eval mode, so a sample grid drawn by rank 0 alone would change
  rank 0's EMA G only; :func:`unchanged_buffers` puts them back.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from nlgan.config import ConfigError
from nlgan.nn.sync_bn import convert_sync_batchnorm


class LaunchError(ConfigError):
    """Processes were started but did not join one process group (``nlgan train``: one line)."""


def total_batch_size(batch_size: int, num_processes: int, grad_accum: int) -> int:
    """Images per optimiser step over all processes: per-process batch x processes x accum."""
    return batch_size * num_processes * grad_accum


def describe_batch(batch_size: int, num_processes: int, grad_accum: int) -> str:
    """One line for the start of a run, e.g. ``total batch 256 = 32 per process x 8 ...``."""
    total = total_batch_size(batch_size, num_processes, grad_accum)
    procs = "process" if num_processes == 1 else "processes"
    return (
        f"total batch {total} = {batch_size} per process x {num_processes} {procs} x "
        f"{grad_accum} accumulation step(s)"
    )


def describe_machine(device: torch.device, num_processes: int) -> dict[str, object]:
    """Host, OS, Python and the device the run trains on, for the metrics log's start record."""
    from nlgan.storage.runlog import machine

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    return {**machine(), "device": name, "num_processes": num_processes, "torch": torch.__version__}


def check_launch(num_processes: int, environ: dict[str, str] | None = None) -> None:
    """Fail if the launcher started more processes than the accelerator joined into one group."""
    env = os.environ if environ is None else environ
    launched = int(env.get("WORLD_SIZE", "1") or 1)
    if launched > num_processes:
        raise LaunchError(
            f"the launcher started {launched} processes but each runs alone "
            f"(accelerate sees {num_processes}); without a GPU set ACCELERATE_USE_CPU=1, e.g. "
            f"ACCELERATE_USE_CPU=1 torchrun --standalone --nproc_per_node {launched} -m "
            "nlgan.cli train ..."
        )


def launched_rank(environ: dict[str, str] | None = None) -> int:
    """This process's rank as the launcher set it (``RANK``; 0 when not launched), pre-group."""
    env = os.environ if environ is None else environ
    return int(env.get("RANK", "0") or 0)


def has_batchnorm(model: nn.Module) -> bool:
    """True if any submodule of ``model`` is a BatchNorm (plain or cross-replica)."""
    return any(isinstance(m, _BatchNorm) for m in model.modules())


def sync_batchnorm(
    model: nn.Module, num_processes: int, enabled: bool, device: torch.device
) -> nn.Module:
    """``model`` with cross-replica BN when ``enabled`` on several processes, else unchanged.

    Parameters, buffers and their names are kept, so state dicts (checkpoints, EMA) are the
    same as in a one-process run.
    """
    if num_processes > 1 and enabled and has_batchnorm(model):
        return convert_sync_batchnorm(model.to(device))
    return model


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


@torch.no_grad()
def broadcast_buffers(*models: nn.Module, src: int = 0) -> None:
    """Overwrite every buffer of ``models`` with rank ``src``'s (no-op in one process).

    Buffers of one dtype and device travel as one flat tensor: one collective per dtype rather
    than one per buffer (a generator has hundreds of small ``u`` / ``v`` / ``sigma`` buffers).
    """
    if not _distributed():
        return
    groups: dict[tuple[torch.dtype, torch.device], list[torch.Tensor]] = {}
    for model in models:
        for buf in model.buffers():
            groups.setdefault((buf.dtype, buf.device), []).append(buf)
    for key in sorted(groups, key=str):  # the same order on every rank
        bufs = groups[key]
        flat = torch.cat([b.reshape(-1) for b in bufs])  # [sum of numels]
        dist.broadcast(flat, src)
        for b, part in zip(bufs, flat.split([b.numel() for b in bufs]), strict=True):
            b.copy_(part.view_as(b))


@contextmanager
def unchanged_buffers(model: nn.Module) -> Iterator[nn.Module]:
    """Run forwards on one rank only (sample grids) without changing ``model``'s buffers."""
    saved = [b.clone() for b in model.buffers()]
    try:
        yield model
    finally:
        with torch.no_grad():
            for buf, old in zip(model.buffers(), saved, strict=True):
                buf.copy_(old)
