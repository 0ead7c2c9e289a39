"""The latent/class rule: sample i = G(latent i of the seed's stream, class i mod K).

This module owns the rule that makes sampling and FID reproducible. Latents are drawn on the
CPU in fixed chunks of ``LATENT_CHUNK`` samples, each from its own ``torch.Generator`` seeded
from ``(seed, chunk index)``, so the images of a seed do not depend on the batch size, the
device or how the index range is split across processes, and 50,000 latents never sit in memory
at once. Labels cycle through the requested classes (all of them by default), so every class
gets n / K samples. ``nlgan sample``, ``nlgan fid RUN``, the trainer's in-run FID, standing
statistics and ``nlgan attention`` all draw through :func:`latents_for`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from nlgan.errors import SamplingError

LATENT_CHUNK = 1024  # samples per latent chunk; part of what a seed means, so keep it fixed
MIN_TRUNCATION = 0.01  # smaller thresholds make every latent ~0
MAX_REDRAWS = 64  # rounds of BigGAN-style redrawing before inverse-CDF sampling takes over


def truncated_normal(
    shape: tuple[int, ...], truncation: float | None, generator: torch.Generator
) -> Tensor:
    """Standard normal samples; with ``truncation``, entries beyond it are redrawn (BigGAN).

    Redrawing takes a bounded number of rounds (``MAX_REDRAWS``); entries still outside after
    that are drawn by inverse-CDF sampling of the truncated normal, so any threshold of at least
    ``MIN_TRUNCATION`` returns promptly, while usual thresholds (0.3 and up) never get there and
    keep the images their seeds always gave.
    """
    z = torch.randn(shape, generator=generator)
    if truncation is None:
        return z
    if not truncation >= MIN_TRUNCATION:
        raise SamplingError(
            f"truncation={truncation}: use a threshold >= {MIN_TRUNCATION} (below it every "
            "latent is ~0 and all samples are the same image), or none for no truncation"
        )
    flat = z.view(-1)
    todo = (flat.abs() > truncation).nonzero().squeeze(1)  # positions still outside, in order
    for _ in range(MAX_REDRAWS):
        if len(todo) == 0:
            return z
        flat[todo] = torch.randn(len(todo), generator=generator)
        todo = todo[flat[todo].abs() > truncation]
    if len(todo):
        # Inverse CDF on [Phi(-t), Phi(t)] in float64: exact in distribution, one draw each.
        low = torch.special.ndtr(torch.tensor(-float(truncation), dtype=torch.float64))
        u = torch.rand(len(todo), generator=generator, dtype=torch.float64)
        flat[todo] = torch.special.ndtri(low + u * (1 - 2 * low)).to(z.dtype)
        z.clamp_(-truncation, truncation)  # float32 rounding at the edges
    return z


def _chunk_seed(seed: int, chunk: int) -> int:
    # SeedSequence mixes (seed, chunk) so that neighbouring seeds give unrelated streams.
    return int(np.random.SeedSequence([seed, chunk]).generate_state(1, np.uint64)[0] >> 1)


def latents(
    start: int, count: int, z_dim: int, seed: int = 0, truncation: float | None = None
) -> Tensor:
    """Latents ``[count, z_dim]`` of samples ``start .. start+count-1`` of the stream for seed."""
    parts, index, end = [], start, start + count
    while index < end:
        chunk = index // LATENT_CHUNK
        rng = torch.Generator().manual_seed(_chunk_seed(seed, chunk))
        z = truncated_normal((LATENT_CHUNK, z_dim), truncation, rng)  # [CHUNK, z_dim]
        lo = index - chunk * LATENT_CHUNK
        hi = min(LATENT_CHUNK, end - chunk * LATENT_CHUNK)
        parts.append(z[lo:hi])
        index += hi - lo
    return torch.cat(parts) if parts else torch.empty(0, z_dim)


def check_classes(num_classes: int, classes: Sequence[int] | None) -> list[int] | None:
    """The label cycle: None for an unconditional G, else the checked class ids (all if None)."""
    if num_classes == 0:
        if classes:
            raise SamplingError("classes: the generator is unconditional (model.num_classes=0)")
        return None
    if classes is None:
        return list(range(num_classes))
    classes = [int(c) for c in classes]
    if not classes:
        raise SamplingError("classes is empty: give at least one class id, or None for all")
    bad = [c for c in classes if not 0 <= c < num_classes]
    if bad:
        raise SamplingError(f"classes {bad}: class ids must be in [0, {num_classes - 1}]")
    return classes


def labels_for(start: int, count: int, cycle: list[int] | None) -> Tensor | None:
    """Labels ``[count]`` of samples ``start ..``: ``cycle[i mod len(cycle)]`` (None: no labels)."""
    if cycle is None:
        return None
    order = torch.tensor(cycle, dtype=torch.long)
    return order[torch.arange(start, start + count) % len(cycle)]


def latents_for(
    start: int,
    count: int,
    z_dim: int,
    num_classes: int,
    seed: int = 0,
    truncation: float | None = None,
    classes: Sequence[int] | None = None,
) -> tuple[Tensor, Tensor | None]:
    """``(z [count, z_dim], y [count] or None)`` of samples ``start .. start+count-1``.

    Sample i is latent i of the seed's stream with class ``classes[i mod len(classes)]``
    (``classes`` defaults to all ``num_classes``; an unconditional model gets no labels).
    """
    cycle = check_classes(num_classes, classes)
    return latents(start, count, z_dim, seed, truncation), labels_for(start, count, cycle)
