"""D regularisers for small data: LeCam (Tseng et al. 2021) and balanced consistency (bCR).

A regulariser adds a term to D's loss. It may ask for extra *views* of D's batch (transformed
copies, same labels) which the objective appends to the one D forward of the step: under DDP a
module must not run forward twice before one backward, and one forward is cheaper anyway.

- :class:`LeCam`: ``lambda * (mean relu(D(real) - a_fake)^2 + mean relu(a_real - D(fake))^2)``
  with anchors ``a_real`` / ``a_fake`` = exponential moving averages of the mean D output on real
  and fake images, updated at every D update (every micro-batch, as StudioGAN's accumulation
  loop does) with the current batch folded in before the term is computed, as the reference
  code does. Default decay 0.99 per D update (StudioGAN; lecam-gan's StyleGAN2 code too);
  lecam-gan's BigGAN-CIFAR code uses 0.9. Lambda 0.3 for BigGAN on CIFAR; the term weighs from
  G step ``start`` on, and before it the anchors track the latest values. The anchors are
  tensors on D's device, so updating them costs no host sync; under several processes the
  batch means are averaged over processes first (one tiny all-reduce per D update), so every
  process holds the same anchors. Checkpoints store them as floats.
- :class:`BalancedConsistency`: bCR (Zhao et al. 2021): ``lambda * mean (D(x) - D(T(x)))^2``
  over the reals plus the same over the fakes (one weight for both; the paper uses 10 and 10),
  with T drawn from its own augmentation pipe. Default ``xflip,xint``, the paper's and
  StudioGAN's T: a random horizontal flip (half the images) and an integer shift of up to 1/8
  of the size on each axis, reflect-padded without repeating the edge pixel. One difference:
  StudioGAN draws the shift uniformly from -4..4 at 32 px, xint rounds a uniform draw, so
  shifts of +-4 come half as often. For digits use ``translation`` (zero fill, no flips: a
  mirrored digit is not a digit).
"""

from __future__ import annotations

from collections.abc import Callable
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
    stateful = False  # learns inside the D step, from device tensors: nothing to observe

    def __init__(
        self,
        weight: float,
        decay: float = 0.99,
        start: int = 0,
        average: Callable[[Tensor], Tensor] = lambda t: t,
    ):
        self.weight, self.decay, self.start = weight, decay, start
        self.average = average  # mean over processes (identity on one)
        self.anchors: Tensor | None = None  # [2]: real, fake; None until the first D update

    def views(self, x: Tensor, gen: torch.Generator) -> Tensor:
        """No extra D inputs."""
        return x[:0]

    def __call__(self, out: DOutputs, view_logits: Tensor) -> Tensor:
        """Fold this D update's mean outputs into the anchors, then the weighted LeCam term
        (0 up to G step ``start``, while the anchors copy the latest means)."""
        means = torch.stack([out.real_logits.detach().mean(), out.fake_logits.detach().mean()])
        means = self.average(means.float())  # [2]
        if self.anchors is None or out.step <= self.start:
            self.anchors = means
            return out.real_logits.new_zeros(())
        self.anchors = self.decay * self.anchors.to(means.device) + (1 - self.decay) * means
        anchor_real, anchor_fake = self.anchors
        return self.weight * lecam_term(out.real_logits, out.fake_logits, anchor_real, anchor_fake)

    def observe(self, values: dict[str, float], step: int) -> None:
        """Nothing: the anchors move in the D step."""

    def scalars(self) -> dict[str, float]:
        """The anchors, for the tracker (read when logging)."""
        if self.anchors is None:
            return {}
        real, fake = self.anchors.tolist()
        return {"lecam/anchor_real": real, "lecam/anchor_fake": fake}

    def state_dict(self) -> dict[str, Any]:
        """Plain numbers for the checkpoint."""
        if self.anchors is None:
            return {"anchor_real": None, "anchor_fake": None}
        real, fake = self.anchors.tolist()
        return {"anchor_real": real, "anchor_fake": fake}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a checkpoint's :meth:`state_dict`."""
        real, fake = state["anchor_real"], state["anchor_fake"]
        self.anchors = None if real is None else torch.tensor([real, fake], dtype=torch.float32)


def lecam_term(
    real: Tensor, fake: Tensor, anchor_real: float | Tensor, anchor_fake: float | Tensor
) -> Tensor:
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
