"""D regularisers for small data: LeCam (Tseng et al. 2021) and balanced consistency (bCR).

A regulariser adds a term to D's loss. It may ask for extra *views* of D's batch (transformed
copies, same labels) which the objective appends to the one D forward of the step: under DDP a
module must not run forward twice before one backward, and one forward is cheaper anyway.

- :class:`LeCam`: ``lambda * (mean relu(D(real) - a_fake)^2 + mean relu(a_real - D(fake))^2)``
  with anchors ``a_real`` / ``a_fake`` = exponential moving averages of the mean D output on real
  and fake images (paper and StudioGAN: decay 0.99, lambda 0.3 for BigGAN on CIFAR, weights from
  the step ``start`` on; before it the anchors track the latest values). The anchors live on the
  host and are updated after each G step from the process-averaged means, so every process
  holds the same anchors and checkpoints store them as floats; the step that uses them sees the
  averages up to the previous G step (the reference code folds in the current batch first; with
  decay 0.99 the difference is one part in a hundred of one step).
- :class:`BalancedConsistency`: bCR (Zhao et al. 2021): ``lambda * mean (D(x) - D(T(x)))^2``
  over the reals plus the same over the fakes (one weight for both; the paper uses 10 and 10),
  with T drawn from its own augmentation pipe (default: translation; flips would teach D that
  flipped digits are digits).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from nlgan.train.augment import AugmentPipe

REAL_MEAN, FAKE_MEAN = "d/real", "d/fake"  # step statistics: mean D output on real / fake


@dataclass(frozen=True)
class DOutputs:
    """D's verdicts in one micro-batch (on the augmented images) and the G step it belongs to."""

    fake_logits: Tensor  # [B]
    real_logits: Tensor  # [B]
    step: int


class LeCam:
    """LeCam regularisation toward EMA anchors of D's outputs (``name`` = "lecam")."""

    name = "lecam"
    stateful = True

    def __init__(self, weight: float, decay: float = 0.99, start: int = 0):
        self.weight, self.decay, self.start = weight, decay, start
        self.anchor_real: float | None = None  # None until the first step was seen
        self.anchor_fake: float | None = None

    def views(self, x: Tensor, gen: torch.Generator) -> Tensor:
        """No extra D inputs."""
        return x[:0]

    def __call__(self, out: DOutputs, view_logits: Tensor) -> Tensor:
        """The weighted LeCam term (0 before ``start`` and before the anchors exist)."""
        if self.anchor_real is None or out.step <= self.start:
            return out.real_logits.new_zeros(())
        return self.weight * lecam_term(
            out.real_logits, out.fake_logits, self.anchor_real, self.anchor_fake
        )

    def observe(self, values: dict[str, float], step: int) -> None:
        """Fold G step ``step``'s mean D outputs into the anchors."""
        real, fake = values[REAL_MEAN], values[FAKE_MEAN]
        if self.anchor_real is None or step <= self.start:
            self.anchor_real, self.anchor_fake = real, fake
        else:
            self.anchor_real = self.decay * self.anchor_real + (1 - self.decay) * real
            self.anchor_fake = self.decay * self.anchor_fake + (1 - self.decay) * fake

    def scalars(self) -> dict[str, float]:
        """The anchors, for the tracker."""
        if self.anchor_real is None:
            return {}
        return {"lecam/anchor_real": self.anchor_real, "lecam/anchor_fake": self.anchor_fake}

    def state_dict(self) -> dict[str, Any]:
        """Plain numbers for the checkpoint."""
        return {"anchor_real": self.anchor_real, "anchor_fake": self.anchor_fake}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a checkpoint's :meth:`state_dict`."""
        self.anchor_real, self.anchor_fake = state["anchor_real"], state["anchor_fake"]


def lecam_term(real: Tensor, fake: Tensor, anchor_real: float, anchor_fake: float) -> Tensor:
    """``mean relu(real - anchor_fake)^2 + mean relu(anchor_real - fake)^2`` (unweighted)."""
    return F.relu(real - anchor_fake).pow(2).mean() + F.relu(anchor_real - fake).pow(2).mean()


class BalancedConsistency:
    """bCR: D should say the same about an image and a transformed copy (``name`` = "bcr")."""

    name = "bcr"
    stateful = False

    def __init__(self, weight: float, pipe: AugmentPipe):
        self.weight, self.pipe = weight, pipe

    def views(self, x: Tensor, gen: torch.Generator) -> Tensor:
        """T(x) for every image D saw (fakes and reals): [2B, C, R, R]."""
        return self.pipe(x, 1.0, gen)

    def __call__(self, out: DOutputs, view_logits: Tensor) -> Tensor:
        """``weight * (mean over reals + mean over fakes) of (D(x) - D(T(x)))^2``."""
        fake_view, real_view = view_logits.split([len(out.fake_logits), len(out.real_logits)])
        fake = (out.fake_logits - fake_view).pow(2).mean()
        return self.weight * (fake + (out.real_logits - real_view).pow(2).mean())

    def observe(self, values: dict[str, float], step: int) -> None:
        """Stateless."""

    def scalars(self) -> dict[str, float]:
        """Nothing to show beyond its loss term."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        """Stateless."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Stateless."""
