"""Reproducible randomness for exact resume: data order, latents and the global RNG states.

Exact resume needs every random draw after step N to be the same whether or not the run
stopped at N. Data order and latents therefore come from generators seeded by a counter
(epoch, step) rather than from a stream whose position would have to be saved; the only
streams left are the global RNGs (used e.g. by random flips), captured as plain tensors and
lists so that ``torch.load(weights_only=True)`` reads them back.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

_MIX = 0x9E3779B97F4A7C15  # golden-ratio constant: spreads nearby integers far apart
_MASK = (1 << 63) - 1


def derive_seed(*parts: int) -> int:
    """A 63-bit seed from integers (base seed, rank, step, ...); different parts, different seed."""
    h = 0
    for p in parts:
        h = ((h ^ (int(p) & _MASK)) * _MIX + 0x632BE59BD9B4E019) & _MASK
        h ^= h >> 29
    return h


def seeded_generator(*parts: int) -> torch.Generator:
    """A CPU torch.Generator seeded from ``parts`` (see :func:`derive_seed`)."""
    return torch.Generator().manual_seed(derive_seed(*parts))


class ResumableBatchSampler:
    """Endless batches of dataset indices: a fresh seeded permutation per epoch, sharded by rank.

    Every rank sees the same permutation of epoch ``e`` (seeded by ``seed`` and ``e``) and takes
    every ``world``-th index from ``rank`` on, so ranks never share an image within an epoch. The
    tail that does not fill a whole batch on every rank is dropped, so all ranks run the same
    number of batches per epoch. ``start_batch`` skips batches already consumed before a resume.
    """

    def __init__(
        self,
        n: int,
        batch_size: int,
        seed: int,
        rank: int = 0,
        world: int = 1,
        start_batch: int = 0,
    ):
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.rank, self.world, self.start_batch = rank, world, start_batch
        self.batches_per_epoch = (n // world) // batch_size
        if self.batches_per_epoch == 0:
            raise ValueError(
                f"the data set has {n} images, fewer than one batch of {batch_size} on each of "
                f"{world} process(es): lower train.batch_size"
            )

    def epoch_order(self, epoch: int) -> torch.Tensor:
        """This rank's indices for ``epoch``, in order ([batches_per_epoch * batch_size])."""
        perm = torch.randperm(self.n, generator=seeded_generator(self.seed, epoch))
        per_rank = self.batches_per_epoch * self.batch_size
        return perm[self.rank :: self.world][:per_rank]

    def __iter__(self) -> Iterator[list[int]]:
        epoch, position = divmod(self.start_batch, self.batches_per_epoch)
        while True:
            order = self.epoch_order(epoch).view(self.batches_per_epoch, self.batch_size)
            for b in range(position, self.batches_per_epoch):
                yield order[b].tolist()
            epoch, position = epoch + 1, 0


def position(batches_consumed: int, batches_per_epoch: int) -> dict[str, int]:
    """The data-order state a checkpoint stores: epoch and batch position within it."""
    epoch, pos = divmod(batches_consumed, batches_per_epoch)
    return {"epoch": epoch, "position": pos, "batches": batches_consumed}


def capture_rng() -> dict[str, Any]:
    """The global torch / numpy / python RNG states as tensors and lists (weights_only-safe)."""
    np_state = np.random.get_state()
    py_state = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "kind": str(np_state[0]),
            "keys": torch.from_numpy(np_state[1].astype(np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "python": [py_state[0], list(py_state[1]), py_state[2]],
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    """Undo :func:`capture_rng`: put the global RNGs back where they were."""
    torch.set_rng_state(state["torch"])
    npst = state["numpy"]
    np.random.set_state(
        (
            npst["kind"],
            npst["keys"].numpy().astype(np.uint32),
            npst["pos"],
            npst["has_gauss"],
            npst["cached_gaussian"],
        )
    )
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])


def seed_everything(seed: int) -> None:
    """Seed the global torch / numpy / python RNGs (models are built right after this)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
