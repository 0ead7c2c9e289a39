"""What a run reports while it trains: the scalars logged every ``train.log_every`` steps and the
progress bar's summary of them."""

from __future__ import annotations

import time

import torch
from torch import nn

from nlgan.models import attention_gammas
from nlgan.nn.spectral import spectral_sigmas


class Meter:
    """Sums the per-step mean losses between two log steps, then turns them into scalars."""

    def __init__(self, images_per_step: int):
        self.images_per_step = images_per_step
        self.sums: dict[str, float] = {}
        self.steps = 0
        self.since = time.perf_counter()

    def add(self, values: dict[str, float]) -> None:
        """Count one step's (process-averaged) losses."""
        for k, v in values.items():
            self.sums[k] = self.sums.get(k, 0.0) + v
        self.steps += 1

    def scalars(
        self, G: nn.Module, D: nn.Module, opt_G: torch.optim.Optimizer, opt_D: torch.optim.Optimizer
    ) -> dict[str, float]:
        """Mean losses, learning rates, images/s, largest SN sigma and attention gammas; resets."""
        now = time.perf_counter()
        n = max(self.steps, 1)
        out = {f"loss/{k.removeprefix('loss_')}": v / n for k, v in self.sums.items()}
        out["lr/g"] = opt_G.param_groups[0]["lr"]
        out["lr/d"] = opt_D.param_groups[0]["lr"]
        out["images_per_s"] = self.steps * self.images_per_step / max(now - self.since, 1e-9)
        for name, model in (("g", G), ("d", D)):
            sigmas = spectral_sigmas(model)
            if sigmas:
                out[f"sigma_max/{name}"] = max(sigmas.values())
            # "Does attention do anything?": gamma = 0 means the layer is still the identity.
            for size, gamma in attention_gammas(model).items():
                out[f"attn_gamma/{name}{size}"] = gamma
        self.sums, self.steps, self.since = {}, 0, now
        return out


def summary(scalars: dict[str, float]) -> dict[str, str]:
    """The progress bar's postfix: losses, images/s and each attention layer's gamma."""
    shown = {
        "d": f"{scalars['loss/d']:.3f}",
        "g": f"{scalars['loss/g']:.3f}",
        "img_s": f"{scalars['images_per_s']:.0f}",
    }
    gammas = [f"{k.split('/')[1]}:{v:.3g}" for k, v in scalars.items() if k.startswith("attn_")]
    if gammas:
        shown["gamma"] = " ".join(gammas)
    return shown
