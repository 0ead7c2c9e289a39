"""Deterministic batched generation and class grids from a trained generator.

Every function here returns float images in [0, 1] (:func:`~nlgan.sampling.images.to_uint8`
turns them into uint8 arrays). Generation runs under ``no_grad`` inside :func:`eval_mode`, so
batch norm uses its running statistics and G's previous mode is restored afterwards (the trainer
samples from a model it is training). Which latent and class sample i gets is the rule of
:mod:`nlgan.sampling.latents`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import torch
from torch import Tensor, nn

from nlgan.errors import SamplingError
from nlgan.models.networks import Generator
from nlgan.sampling.images import to_uint8, to_unit_range
from nlgan.sampling.latents import check_classes, latents, latents_for


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put ``model`` in eval mode for the block; its previous train/eval mode comes back after."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


@torch.no_grad()
def forward_images(G: Generator, z: Tensor, y: Tensor | None) -> Tensor:
    """One eval-mode forward: ``[B, C, R, R]`` in [0, 1] on G's device (inputs moved there)."""
    param = next(G.parameters())
    with eval_mode(G):
        images = G(z.to(param.device, param.dtype), None if y is None else y.to(param.device))
    return to_unit_range(images)


def iter_generate(
    G: Generator,
    n: int,
    classes: Sequence[int] | None = None,
    truncation: float | None = None,
    seed: int = 0,
    batch_size: int = 64,
) -> Iterator[tuple[Tensor, Tensor | None]]:
    """Yield ``(images [b, C, R, R] in [0, 1] on G's device, labels [b] or None)`` batches.

    Sample i is G(latent i of the seed's stream, class ``classes[i mod K]``), so every class
    gets n / K samples; an unconditional G yields None labels.
    """
    if n < 0 or batch_size <= 0:
        raise SamplingError(f"n={n}, batch_size={batch_size}: need n >= 0 and batch_size > 0")
    check_classes(G.cfg.num_classes, classes)  # before the first batch, not in the middle
    for start in range(0, n, batch_size):
        count = min(batch_size, n - start)
        z, y = latents_for(start, count, G.cfg.z_dim, G.cfg.num_classes, seed, truncation, classes)
        yield forward_images(G, z, y), y


def generate(
    G: Generator,
    n: int,
    classes: Sequence[int] | None = None,
    truncation: float | None = None,
    seed: int = 0,
    batch_size: int = 64,
) -> Tensor:
    """``n`` images ``[n, C, R, R]`` in [0, 1] on the CPU (see :func:`iter_generate`)."""
    batches = [
        images.cpu() for images, _ in iter_generate(G, n, classes, truncation, seed, batch_size)
    ]
    if not batches:
        r = G.cfg.resolution
        return torch.empty(0, G.cfg.img_channels, r, r)
    return torch.cat(batches)


def generate_uint8(
    G: Generator,
    n: int,
    classes: Sequence[int] | None = None,
    truncation: float | None = None,
    seed: int = 0,
    batch_size: int = 64,
) -> np.ndarray:
    """Like :func:`generate`, as a uint8 array ``[n, R, R, C]``."""
    return to_uint8(generate(G, n, classes, truncation, seed, batch_size))


def class_grid(
    G: Generator,
    per_class: int = 8,
    seed: int = 0,
    truncation: float | None = None,
    classes: Sequence[int] | None = None,
    batch_size: int = 64,
) -> Tensor:
    """A grid's images ``[rows * per_class, C, R, R]`` in [0, 1]: one row per class.

    Every row uses the same ``per_class`` latents (latents 0 .. per_class-1), so a column shows
    one z across classes. An unconditional G gives ``per_class`` rows of distinct latents.
    """
    if per_class <= 0:
        raise SamplingError(f"per_class={per_class}: must be > 0")
    cycle = check_classes(G.cfg.num_classes, classes)
    if cycle is None:
        z = latents(0, per_class * per_class, G.cfg.z_dim, seed, truncation)
        y = None
    else:
        z = latents(0, per_class, G.cfg.z_dim, seed, truncation).repeat(len(cycle), 1)
        y = torch.tensor(cycle, dtype=torch.long).repeat_interleave(per_class)  # [K * per_class]
    parts = []
    for start in range(0, len(z), batch_size):
        stop = start + batch_size
        labels = None if y is None else y[start:stop]
        parts.append(forward_images(G, z[start:stop], labels).cpu())
    return torch.cat(parts)
