"""What a run reports while it trains: the scalars logged every ``train.log_every`` steps and the
progress bar's summary of them."""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
from torch import Tensor, nn

from nlgan.models.networks import attention_gammas
from nlgan.nn.spectral import spectral_sigmas


class Meter:
    """Sums the per-step losses on the device (no host sync per step) and watches for the first
    non-finite one; read back only when logging, saving, sampling or evaluating."""

    def __init__(
        self,
        images_per_step: int,
        mean: Callable[[Tensor], Tensor] = lambda t: t,
        maximum: Callable[[Tensor], Tensor] = lambda t: t,
    ):
        self.images_per_step = images_per_step
        self.mean, self.maximum = mean, maximum  # reductions over processes
        self.keys: list[str] = []
        self.sums: Tensor | None = None
        self.bad_step: Tensor | None = None  # first step whose losses were not finite; 0 = none
        self.bad_values: Tensor | None = None
        self.steps = 0
        self.since = time.perf_counter()

    def add(self, losses: dict[str, Tensor], step: int) -> None:
        """Count step ``step``'s losses, all on the device."""
        if not self.keys:
            self.keys = list(losses)
        values = torch.stack([losses[k].detach().float() for k in self.keys])  # [k]
        if self.sums is None or self.bad_step is None:
            self.sums = torch.zeros_like(values)
            self.bad_step = torch.zeros((), dtype=torch.long, device=values.device)
            self.bad_values = torch.zeros_like(values)
        self.sums = self.sums + values
        newly = (self.bad_step == 0) & ~torch.isfinite(values).all()
        self.bad_step = torch.where(newly, step, self.bad_step)
        self.bad_values = torch.where(newly, values, self.bad_values)
        self.steps += 1

    def first_nonfinite(self) -> tuple[int, dict[str, float]] | None:
        """The first step (on any process) whose losses were not finite, with them; or None."""
        if self.bad_step is None:
            return None
        step = int(self.maximum(self.bad_step.clone()))  # one sync, only when asked
        if step == 0:
            return None
        values = self.bad_values.tolist()
        return step, dict(zip(self.keys, values, strict=True))

    def scalars(
        self, G: nn.Module, D: nn.Module, opt_G: torch.optim.Optimizer, opt_D: torch.optim.Optimizer
    ) -> dict[str, float]:
        """Mean losses, learning rates, images/s, largest SN sigma and attention gammas; resets."""
        now = time.perf_counter()
        n = max(self.steps, 1)
        sums = self.mean(self.sums).tolist() if self.sums is not None else []
        # Losses as loss/d, loss/g; D's statistics (d/real, reg/lecam, ...) under their names.
        out = {k.replace("loss_", "loss/"): v / n for k, v in zip(self.keys, sums, strict=True)}
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
        self.sums = torch.zeros_like(self.sums) if self.sums is not None else None
        self.steps, self.since = 0, now
        return out


def summary(scalars: dict[str, float]) -> dict[str, str]:
    """The progress bar's postfix: losses, images/s, augmentation p, attention gammas."""
    shown = {
        "d": f"{scalars['loss/d']:.3f}",
        "g": f"{scalars['loss/g']:.3f}",
        "img_s": f"{scalars['images_per_s']:.0f}",
    }
    if "augment/p" in scalars:
        shown["p"] = f"{scalars['augment/p']:.3f}"
    gammas = [f"{k.split('/')[1]}:{v:.3g}" for k, v in scalars.items() if k.startswith("attn_")]
    if gammas:
        shown["gamma"] = " ".join(gammas)
    return shown
