"""BigGAN's "standing statistics": re-estimate G's batch-norm statistics just for sampling.

By default nlgan samples with G's BN in eval mode, using the running statistics that training
accumulated (with the EMA generator, statistics that EMA copied from G). BigGAN reports better
samples when, instead, the statistics are re-estimated from many fresh forward passes of the
final weights: that is what :func:`standing_stats` does. Spectral-norm power iterations stay in
eval mode meanwhile, so only BN statistics change.
"""

from __future__ import annotations

import torch
from torch.nn.modules.batchnorm import _BatchNorm

from nlgan.errors import SamplingError
from nlgan.models.networks import Generator
from nlgan.sampling.latents import latents_for

# Added to the seed, so the latents of the statistics never coincide with the samples'.
STREAM_OFFSET = 2**31


@torch.no_grad()
def standing_stats(
    G: Generator,
    batches: int = 16,
    batch_size: int = 64,
    seed: int = 0,
    truncation: float | None = None,
) -> Generator:
    """Replace every BN's running mean/var by the average over ``batches`` fresh batches."""
    if batches < 1 or batch_size < 2:
        raise SamplingError(
            f"standing stats: need batches >= 1 and batch_size >= 2, got {batches} and {batch_size}"
        )
    norms = [m for m in G.modules() if isinstance(m, _BatchNorm)]
    if not norms:
        return G
    G.eval()
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the batches below
        m.train()
    param = next(G.parameters())
    cfg = G.cfg
    try:
        for b in range(batches):
            z, y = latents_for(
                b * batch_size, batch_size, cfg.z_dim, cfg.num_classes, seed + STREAM_OFFSET,
                truncation,
            )  # fmt: skip
            G(z.to(param.device, param.dtype), None if y is None else y.to(param.device))
    finally:
        for m, momentum in zip(norms, momenta, strict=True):
            m.momentum = momentum
        G.eval()
    return G
