"""Start a CPU process group inside a spawned test worker, the way torchrun would."""

from __future__ import annotations

import os

import torch.distributed as dist


def join_gloo_group(rank: int, world: int, tmp: str, **env: str) -> None:
    """Set the variables torchrun sets (accelerate reads them), plus ``env``, and join the group.

    The group meets through a file in ``tmp``, so parallel test runs cannot collide on a port.
    """
    os.environ.update(
        OMP_NUM_THREADS="1",
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE=str(world),
        LOCAL_WORLD_SIZE=str(world),
        **env,
    )
    rendezvous = f"file://{os.path.join(tmp, 'rendezvous')}"
    dist.init_process_group("gloo", init_method=rendezvous, rank=rank, world_size=world)
