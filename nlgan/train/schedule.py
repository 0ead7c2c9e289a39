"""Learning-rate schedule: constant, or a linear decay to 0 over the end of the run.

The rate is a pure function of the G step, set before every step, so a resumed run continues
the same curve (the optimisers' saved ``lr`` is overwritten). Both optimisers follow one factor,
which keeps the two-time-scale ratio lr_d / lr_g of the config.
"""

from __future__ import annotations

import torch

from nlgan.config import TrainConfig


def lr_factor(step: int, start: int, steps: int) -> float:
    """The multiplier of the configured rates at G step ``step`` (1-based): 1 up to ``start``,
    then linear to 0 at ``steps``; ``start = 0`` keeps it at 1."""
    if start <= 0 or step <= start:
        return 1.0
    return max(0.0, (steps - step) / (steps - start))


class LrSchedule:
    """Sets both optimisers' learning rates for a step (a no-op when the rate is constant)."""

    def __init__(self, tc: TrainConfig, opt_G: torch.optim.Optimizer, opt_D: torch.optim.Optimizer):
        self.tc = tc
        self.pairs = ((opt_G, tc.lr_g), (opt_D, tc.lr_d))

    def __call__(self, step: int) -> None:
        if not self.tc.lr_decay_start:
            return
        factor = lr_factor(step, self.tc.lr_decay_start, self.tc.steps)
        for opt, base in self.pairs:
            for group in opt.param_groups:
                group["lr"] = base * factor
