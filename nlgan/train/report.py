"""What a run reports every ``train.log_every`` steps, and the progress bar's summary of it.

The tracker gets losses (``loss/d``, ``loss/g``), D's statistics (``d/real``, ``d/fake``,
``d/real_sign``, regulariser terms ``reg/<name>``), learning rates, images/s, the largest
spectral-norm sigma of G and D, every attention layer's gamma, and the objective's state
(``augment/p``, ``augment/r_t``, LeCam anchors).
"""

from __future__ import annotations

import torch
from torch import nn

from nlgan.models import attention_gammas
from nlgan.nn.spectral import spectral_sigmas


def log_scalars(
    sums: dict[str, float],
    n: int,
    images_per_s: float,
    models: tuple[nn.Module, nn.Module],
    optimisers: tuple[torch.optim.Optimizer, torch.optim.Optimizer],
    objective: dict[str, float],
) -> dict[str, float]:
    """The scalars of one log step: ``sums`` of ``n`` steps' values averaged, and the rest."""
    # Losses as loss/d, loss/g; D's statistics (d/real, reg/lecam, ...) under their own names.
    out = {k.replace("loss_", "loss/"): v / n for k, v in sums.items()}
    out.update(objective)
    out["lr/g"] = optimisers[0].param_groups[0]["lr"]
    out["lr/d"] = optimisers[1].param_groups[0]["lr"]
    out["images_per_s"] = images_per_s
    for name, model in zip(("g", "d"), models, strict=True):
        sigmas = spectral_sigmas(model)
        if sigmas:
            out[f"sigma_max/{name}"] = max(sigmas.values())
        # "Does attention do anything?": gamma = 0 means the layer is still the identity.
        for size, gamma in attention_gammas(model).items():
            out[f"attn_gamma/{name}{size}"] = gamma
    return out


def bar_summary(scalars: dict[str, float]) -> dict[str, str]:
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
