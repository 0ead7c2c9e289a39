"""What D and G minimise: the adversarial loss on augmented images, plus D's regularisers.

:class:`Objective` is built once from the config (:func:`build_objective`): the loss pair, the
augmentation pipe and its probability p (nlgan/train/augment.py, nlgan/train/ada.py) and the
regularisers (nlgan/train/regularizers.py). :class:`~nlgan.train.step.GANStep` calls ``d_loss`` /
``g_loss`` for every micro-batch (where LeCam's anchors learn, on the device); the training loop
calls ``observe`` after every G step with the step's statistics averaged over processes, which is
where adaptive p learns. Everything stateful here is plain floats (``state_dict``), so checkpoints
hold it and a resumed run continues exactly.

D sees fakes and reals through the same augmentation, drawn per image from one generator
seeded by (seed, rank, G step, phase, micro-batch): the same draws after a resume, different
ones for every D update. In the G step D sees G's images through the augmentation too, with
gradients flowing through it back to G.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import torch
from torch import Tensor, nn

from nlgan.config.augment_names import parse_ops
from nlgan.losses import DLoss, GLoss
from nlgan.train.ada import REAL_SIGN, AugmentProbability
from nlgan.train.augment import AugmentPipe
from nlgan.train.regularizers import (
    FAKE_MEAN,
    REAL_MEAN,
    BalancedConsistency,
    DOutputs,
    LeCam,
)
from nlgan.train.state import seeded_generator

AUGMENT_STREAM = 3  # derive_seed stream id (the loop uses 1 and 2)


class Regularizer(Protocol):
    """A term of D's loss; may append views of D's batch to the D forward (see regularizers)."""

    name: str
    stateful: bool  # learns from observe() (LeCam's anchors), so the loop must feed it

    def views(self, x: Tensor, gen: torch.Generator) -> Tensor: ...
    def __call__(self, out: DOutputs, view_logits: Tensor) -> Tensor: ...
    def observe(self, values: dict[str, float], step: int) -> None: ...
    def scalars(self) -> dict[str, float]: ...
    def state_dict(self) -> dict[str, Any]: ...
    def load_state_dict(self, state: dict[str, Any]) -> None: ...


class Objective:
    """D's and G's losses for one micro-batch, with augmentation and regularisers."""

    def __init__(
        self,
        losses: tuple[DLoss, GLoss],
        pipe: AugmentPipe | None = None,
        probability: AugmentProbability | None = None,
        regularizers: Sequence[Regularizer] = (),
        seed: int = 0,
        rank: int = 0,
    ):
        self.d_loss_fn, self.g_loss_fn = losses
        self.pipe = pipe or AugmentPipe((), channels=3)  # no ops: the identity, no draws
        self.probability = probability or AugmentProbability(0.0)
        self.regularizers = tuple(regularizers)
        self.seed, self.rank = seed, rank

    def _generator(self, step: int, phase: int, micro: int) -> torch.Generator:
        return seeded_generator(self.seed, AUGMENT_STREAM, self.rank, step, phase, micro)

    def d_loss(
        self,
        D: nn.Module,
        fake: tuple[Tensor, Tensor | None],
        real: tuple[Tensor, Tensor | None],
        step: int,
        phase: int,
        micro: int,
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """D's loss to back-propagate, and detached statistics (``loss_d``: the adversarial
        part; ``d/real``, ``d/fake``: mean outputs; ``d/real_sign``; ``reg/<name>`` terms)."""
        (x_fake, y_fake), (x_real, y_real) = fake, real
        gen = self._generator(step, phase, micro)
        x = torch.cat([x_fake, x_real.to(x_fake.dtype)])  # [2B, C, R, R]
        y = None if y_fake is None else torch.cat([y_fake, y_real])  # [2B]
        x = self.pipe(x, self.probability.p, gen)  # the same transforms for fakes and reals
        views = [reg.views(x, gen) for reg in self.regularizers]  # [2B or 0, C, R, R] each
        # One D forward for everything (BigGAN; DDP allows one forward per backward).
        x_all = torch.cat([x, *views])
        y_all = None if y is None else torch.cat([y, *(y[: len(v)] for v in views)])
        logits = D(x_all, y_all).float()
        sizes = [len(x_fake), len(x_real), *(len(v) for v in views)]
        fake_logits, real_logits, *view_logits = logits.split(sizes)
        loss = self.d_loss_fn(real_logits, fake_logits)
        out = DOutputs(fake_logits, real_logits, step)
        stats = {
            "loss_d": loss.detach(),
            REAL_MEAN: real_logits.detach().mean(),
            FAKE_MEAN: fake_logits.detach().mean(),
            REAL_SIGN: real_logits.detach().sign().mean(),
        }
        total = loss
        for reg, v_logits in zip(self.regularizers, view_logits, strict=True):
            term = reg(out, v_logits)
            stats[f"reg/{reg.name}"] = term.detach()
            total = total + term
        return total, stats

    def g_loss(
        self, D: nn.Module, x_fake: Tensor, y: Tensor | None, step: int, phase: int, micro: int
    ) -> Tensor:
        """G's loss: D's verdict on G's images through the augmentation (differentiable)."""
        x = self.pipe(x_fake, self.probability.p, self._generator(step, phase, micro))
        return self.g_loss_fn(D(x, y).float())

    @property
    def observes(self) -> bool:
        """Whether :meth:`observe` changes anything (adaptive p, LeCam): otherwise the loop
        need not read the step's statistics back from the device."""
        return self.probability.adaptive or any(r.stateful for r in self.regularizers)

    def observe(self, values: dict[str, float], step: int) -> None:
        """After G step ``step``: adapt p and the regularisers' state (process-averaged values)."""
        self.probability.observe(values, step)
        for reg in self.regularizers:
            reg.observe(values, step)

    def scalars(self) -> dict[str, float]:
        """p, r_t and the regularisers' state, for the tracker and the progress bar."""
        out = self.probability.scalars() if self.pipe.ops else {}
        for reg in self.regularizers:
            out.update(reg.scalars())
        return out

    def state_dict(self) -> dict[str, Any]:
        """Plain data for the checkpoint."""
        return {
            "augment": self.probability.state_dict(),
            **{reg.name: reg.state_dict() for reg in self.regularizers},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a checkpoint (parts it lacks, e.g. from older versions, stay fresh)."""
        if "augment" in state:
            self.probability.load_state_dict(state["augment"])
        for reg in self.regularizers:
            if reg.name in state:
                reg.load_state_dict(state[reg.name])


def build_objective(
    train: Any,
    channels: int,
    losses: tuple[DLoss, GLoss],
    images_per_step: int,
    rank: int,
    average: Callable[[Tensor], Tensor] = lambda t: t,
) -> Objective:
    """The objective a ``TrainConfig`` asks for (``images_per_step``: real images per G step
    over all processes, which sets how fast adaptive p moves; ``average``: the mean of a
    tensor over processes, for LeCam's anchors)."""
    regularizers: list[Regularizer] = []
    if train.lecam > 0:
        regularizers.append(LeCam(train.lecam, train.lecam_decay, train.lecam_start, average))
    if train.bcr > 0:
        regularizers.append(
            BalancedConsistency(train.bcr, AugmentPipe(parse_ops(train.bcr_augment), channels))
        )
    probability = AugmentProbability(
        train.augment_start_p, train.ada_target, train.ada_interval, train.ada_kimg, images_per_step
    )
    return Objective(
        losses,
        AugmentPipe(parse_ops(train.augment), channels),
        probability,
        regularizers,
        seed=train.seed,
        rank=rank,
    )
