"""Adversarial losses as pure functions of discriminator logits.

Each loss takes the raw (pre-sigmoid) logits ``D(x) -> [B]`` and returns a scalar to minimise.
The trainer picks a ``(d_loss, g_loss)`` pair once, by name, with :func:`losses_for`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch.nn.functional as F
from torch import Tensor

DLoss = Callable[[Tensor, Tensor], Tensor]
GLoss = Callable[[Tensor], Tensor]


def d_hinge(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Hinge loss for D (SAGAN/BigGAN): mean relu(1 - D(real)) + mean relu(1 + D(fake))."""
    return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()


def g_hinge(fake_logits: Tensor) -> Tensor:
    """Hinge loss for G: -mean D(G(z))."""
    return -fake_logits.mean()


def d_nonsat(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Standard GAN loss for D: -log sigmoid(real) - log(1 - sigmoid(fake)), written stably."""
    # softplus(-x) = -log sigmoid(x) and softplus(x) = -log(1 - sigmoid(x)), without overflow.
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def g_nonsat(fake_logits: Tensor) -> Tensor:
    """Non-saturating loss for G: -log sigmoid(D(G(z)))."""
    return F.softplus(-fake_logits).mean()


_LOSSES: dict[str, tuple[DLoss, GLoss]] = {
    "hinge": (d_hinge, g_hinge),
    "nonsat": (d_nonsat, g_nonsat),
}


def losses_for(name: str) -> tuple[DLoss, GLoss]:
    """The ``(d_loss, g_loss)`` pair called ``name`` ("hinge" or "nonsat")."""
    try:
        return _LOSSES[name]
    except KeyError:
        raise ValueError(
            f"loss {name!r} is unknown: choose one of {', '.join(_LOSSES)} (train.loss)"
        ) from None


__all__ = ["d_hinge", "d_nonsat", "g_hinge", "g_nonsat", "losses_for"]
