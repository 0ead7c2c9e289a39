"""What the fixture parts share: seeding, moving a model off its initial state, saving arrays."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

TRUNCATION = 0.5  # the truncation threshold the references are drawn with
TRUNCATION_SEED = 7


def seed(value: int) -> torch.Generator:
    """Seed the global RNGs (their constructors draw from them) and return a generator."""
    torch.manual_seed(value)
    np.random.seed(value)
    return torch.Generator().manual_seed(value)


@torch.no_grad()
def warm_up(model: nn.Module, forward, steps: int = 3) -> None:
    """A few training-mode forwards: spectral-norm vectors iterate, BN statistics move."""
    model.train()
    for _ in range(steps):
        forward()
    model.eval()


@torch.no_grad()
def perturb(model: nn.Module, gen: torch.Generator) -> None:
    """Move every BN statistic, BN gain/bias and attention gain away from its initial value,
    so that a test on these weights fails when any of them is mapped wrongly."""
    for name, buf in model.named_buffers():
        leaf = name.rsplit(".", 1)[-1]
        if leaf in ("running_mean", "stored_mean"):
            buf.add_(0.3 * torch.randn(buf.shape, generator=gen))
        elif leaf in ("running_var", "stored_var"):
            buf.mul_(0.5 + 1.5 * torch.rand(buf.shape, generator=gen))
    for name, param in model.named_parameters():
        leaf = name.rsplit(".", 1)[-1]
        if leaf in ("gamma", "sigma"):  # attention gains start at 0 (identity)
            param.copy_(0.5 + 0.5 * torch.rand(param.shape, generator=gen))
        elif param.dim() == 1 and ("bn" in name or "output_layer.0" in name):
            param.add_(0.1 * torch.randn(param.shape, generator=gen))


@torch.no_grad()
def jitter(model: nn.Module, gen: torch.Generator, scale: float = 0.02) -> None:
    """Add small noise to every parameter (an "EMA copy" that differs from G)."""
    for param in model.parameters():
        param.add_(scale * torch.randn(param.shape, generator=gen))


def nlgan_truncated(n: int, z_dim: int) -> torch.Tensor:
    """Latents 0..n-1 of nlgan's stream for TRUNCATION_SEED, truncated at TRUNCATION."""
    from nlgan.sampling import latents

    return latents(0, n, z_dim, seed=TRUNCATION_SEED, truncation=TRUNCATION)


def save_reference(path: Path, meta: dict, **arrays: torch.Tensor) -> None:
    """Reference inputs/outputs as float32/int64 arrays plus a JSON string of facts."""
    np.savez_compressed(
        path,
        meta=np.array(json.dumps(meta, sort_keys=True)),
        **{k: v.detach().cpu().numpy() for k, v in arrays.items()},
    )
