"""Exponential moving average of the generator's weights (the G that gets sampled and scored).

Parameters are interpolated; buffers (BN running statistics, spectral-norm ``u``/``v``/``sigma``)
are copied, as in stylegan2-ada-pytorch: averaging power-iteration vectors gives values that no
network ever had. The copied BN statistics, though, describe G's *current* weights, not the
averaged ones; ``average_bn=True`` (``train.ema_bn=average``) interpolates BN running means and
variances like the parameters instead, so they describe the same window of training (the other
alternative, BigGAN's standing statistics, re-estimates them for sampling: ``--standing-stats``).
Before ``start`` the average simply copies G, so early training does not drag the random
initialisation along for thousands of steps.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

BN_STATISTICS = ("running_mean", "running_var")


class EMA:
    """Keeps ``ema`` = an exponential moving average of ``model``'s parameters."""

    def __init__(self, model: nn.Module, decay: float, start: int = 0, average_bn: bool = False):
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"EMA decay={decay}: must be in [0, 1)")
        self.decay = decay
        self.start = start
        self.ema = copy.deepcopy(model).eval().requires_grad_(False)
        # Chosen once: what is interpolated (parameters, and BN statistics when average_bn)
        # and what is copied (the other buffers). Names, not tensors: moving the module to a
        # device replaces its buffers.
        averaged_bn = {
            f"{name}.{stat}" if name else stat
            for name, m in self.ema.named_modules()
            if average_bn and isinstance(m, _BatchNorm)
            for stat in BN_STATISTICS
        }
        buffers = [name for name, _ in self.ema.named_buffers()]
        self.interpolated = [name for name, _ in self.ema.named_parameters()]
        self.interpolated += [name for name in buffers if name in averaged_bn]
        self.copied = [name for name in buffers if name not in averaged_bn]

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        """Fold ``model`` in after G step ``step`` (1-based); before ``start`` copy it outright."""
        weight = 1.0 - self.decay if step >= self.start else 1.0
        src = {**dict(model.named_parameters()), **dict(model.named_buffers())}
        mine = {**dict(self.ema.named_parameters()), **dict(self.ema.named_buffers())}
        # One fused kernel per dtype/device for all of them, not one per tensor.
        ema = [mine[n] for n in self.interpolated]
        torch._foreach_lerp_(
            ema,
            [src[n].detach().to(e.dtype) for n, e in zip(self.interpolated, ema, strict=True)],
            weight,
        )
        if self.copied:
            torch._foreach_copy_([mine[n] for n in self.copied], [src[n] for n in self.copied])

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The averaged model's state dict (what checkpoints store as ``G_ema``)."""
        return self.ema.state_dict()

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Restore the averaged weights from a checkpoint."""
        self.ema.load_state_dict(state)
