"""The real-image stream of one process: per-process RNGs, the data set, its resumable sampler
and loader, positioned where a checkpoint left off.

Data order is a pure function of (train.seed, rank, batches consumed), so a resume continues the
same order; creating the loader's iterator consumes no global RNG (it has its own generator).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import torch
from accelerate import Accelerator
from torch.utils.data import DataLoader

from nlgan.config import Config
from nlgan.data import DataError, build_dataset
from nlgan.data.subset import check_subset
from nlgan.train.state import (
    ResumableBatchSampler,
    derive_seed,
    position,
    restore_rng,
    seed_everything,
    seeded_generator,
)

LOADER_STREAM = 1  # stream ids for derive_seed, so per-purpose seeds never coincide
PROCESS_STREAM = 2


class RealStream:
    """Endless (x, y) batches of this process, counting what was consumed (workers may
    prefetch further) so a checkpoint records the exact position."""

    def __init__(self, cfg: Config, acc: Accelerator, state: dict[str, Any] | None):
        tc = cfg.train
        rank, world = acc.process_index, acc.num_processes
        seed_everything(derive_seed(tc.seed, PROCESS_STREAM, rank))
        if state and len(state.get("rng", [])) == world:
            restore_rng(state["rng"][rank])
        elif state:
            warnings.warn(
                f"resuming on {world} process(es) from a checkpoint written by "
                f"{len(state.get('rng', []))}: RNG streams restart, so the resume is not exact",
                stacklevel=3,
            )
        dataset = build_dataset(cfg.data, cfg.model)  # data.subset: the same on every process
        self.subset = check_subset(dataset, state.get("subset") if state else None)
        self.batches = int(state["data"]["batches"]) if state else 0
        try:
            self.sampler = ResumableBatchSampler(
                len(dataset), tc.batch_size, tc.seed, rank, world, start_batch=self.batches
            )
        except ValueError as err:
            raise DataError(str(err)) from None
        self.loader = DataLoader(
            dataset,
            batch_sampler=self.sampler,
            num_workers=cfg.data.num_workers,
            pin_memory=acc.device.type == "cuda",
            prefetch_factor=4 if cfg.data.num_workers else None,  # decode ahead of the step
            generator=seeded_generator(tc.seed, LOADER_STREAM, rank, self.batches),
        )

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for x, y in self.loader:
            self.batches += 1
            yield x, y

    def position(self) -> dict[str, int]:
        """Where the stream stands, for a checkpoint: batches consumed, epoch and position in it."""
        return position(self.batches, self.sampler.batches_per_epoch)

    @property
    def skipped(self) -> int:
        """Unreadable images the data set skipped so far (0 for sets that never skip)."""
        return getattr(self.loader.dataset, "skipped", 0)
