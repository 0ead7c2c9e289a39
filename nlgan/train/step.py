"""One GAN training step: D step(s) then a G step, each accumulated over micro-batches.

Every micro-batch runs inside exactly one ``accelerator.accumulate(G, D)`` block. accelerate
counts those blocks to decide when gradients sync and optimisers really step, so the D phase
and the G phase each run ``grad_accum`` blocks and the counter stays aligned with the phases;
wrapping D and G in separate blocks per micro-batch would double-count and step every time.
Losses are means per micro-batch and ``accelerator.backward`` divides by ``grad_accum``, so k
micro-batches of size B give the gradient of one batch of size kB *for networks without batch
statistics* (nlgan's D; tested to float rounding). G normalises every block with BatchNorm, and
each micro-batch is normalised with its own statistics (as in BigGAN), so G's accumulated
gradient is not the big batch's: for the digits G at initialisation it differs by 5-9% (k=2 x
32), 6-13% (k=4 x 16) and 7-18% (k=8 x 8) in relative L2 norm from one batch of 64 (3 seeds,
``bench/accumulation_bn.py``). Inherent to BN, not a bug; cross-replica BN does not change it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from accelerate import Accelerator
from torch import Tensor, nn

from nlgan.losses import DLoss, GLoss
from nlgan.train.objective import Objective
from nlgan.train.state import seeded_generator

RealBatches = Iterator[tuple[Tensor, Tensor]]


@dataclass(frozen=True)
class Latents:
    """Latents and fake labels drawn from a generator seeded by (seed, rank, step, phase).

    Seeding by counters makes the draws of step N independent of whether the run was resumed,
    and drawing a whole phase (``grad_accum`` micro-batches) at once makes k micro-batches of
    size B see the same latents as one batch of size kB.
    """

    z_dim: int
    num_classes: int  # 0 = unconditional: labels are None
    seed: int
    rank: int = 0

    def draw(self, step: int, phase: int, n: int) -> tuple[Tensor, Tensor | None]:
        """``n`` latents [n, z_dim] and labels [n] (or None) for ``phase`` of G step ``step``."""
        gen = seeded_generator(self.seed, self.rank, step, phase)
        z = torch.randn(n, self.z_dim, generator=gen)
        y = torch.randint(self.num_classes, (n,), generator=gen) if self.num_classes else None
        return z, y


class GANStep:
    """Callable that runs one full GAN step and returns the detached mean losses."""

    def __init__(
        self,
        accelerator: Accelerator,
        G: nn.Module,
        D: nn.Module,
        opt_G: torch.optim.Optimizer,
        opt_D: torch.optim.Optimizer,
        losses: tuple[DLoss, GLoss] | Objective,
        latents: Latents,
        batch_size: int,
        d_steps_per_g_step: int = 1,
        conditional: bool = True,
        memory_format: torch.memory_format = torch.contiguous_format,
    ):
        self.acc, self.G, self.D = accelerator, G, D
        self.opt_G, self.opt_D = opt_G, opt_D
        # A plain loss pair trains without augmentation or regularisers.
        self.objective = losses if isinstance(losses, Objective) else Objective(losses)
        self.latents = latents
        self.batch_size = batch_size
        self.d_steps = d_steps_per_g_step
        self.memory_format = memory_format  # real images in the layout G's convolutions use
        # In the G step D is frozen and called without its DDP wrapper: D gets no gradients
        # then, and DDP would otherwise wait for them at the next reduction. Parameters frozen
        # when building (FreezeD) stay frozen: only the trainable ones are switched.
        self.D_frozen = accelerator.unwrap_model(D)
        self.d_trainable = [p for p in D.parameters() if p.requires_grad]
        # Chosen once here, not branched on in the loop: real labels are kept or dropped.
        self.real_labels: Callable[[Tensor], Tensor | None] = (
            (lambda y: y) if conditional else (lambda y: None)
        )

    def _micro_batches(self, step: int, phase: int) -> list[tuple[Tensor, Tensor | None]]:
        k = self.acc.gradient_accumulation_steps
        z, y = self.latents.draw(step, phase, k * self.batch_size)  # [kB, z_dim], [kB]
        dev = self.acc.device
        zs = z.to(dev).split(self.batch_size)
        ys = [None] * k if y is None else y.to(dev).split(self.batch_size)
        return list(zip(zs, ys, strict=True))

    def d_step(self, step: int, phase: int, real: RealBatches) -> dict[str, Tensor]:
        """One D update (``grad_accum`` micro-batches); returns mean loss and statistics."""
        self._train_d(True)
        sums: dict[str, Tensor] = {}
        for i, (z, y_fake) in enumerate(self._micro_batches(step, phase)):
            x_real, y_real = next(real)
            x_real = x_real.to(self.acc.device, non_blocking=True,
                               memory_format=self.memory_format)  # fmt: skip
            y_real = self.real_labels(y_real.to(self.acc.device, non_blocking=True))
            with self.acc.accumulate(self.G, self.D):
                with torch.no_grad():
                    x_fake = self.G(z, y_fake)  # [B, C, R, R]
                loss, stats = self.objective.d_loss(
                    self.D, (x_fake, y_fake), (x_real, y_real), step, phase, i
                )
                self.acc.backward(loss)
                self.opt_D.step()
                self.opt_D.zero_grad(set_to_none=True)
            for k, v in stats.items():
                sums[k] = sums[k] + v if k in sums else v
        return {k: v / self.acc.gradient_accumulation_steps for k, v in sums.items()}

    def g_step(self, step: int, phase: int) -> Tensor:
        """One G update through the frozen D; returns the mean G loss."""
        self._train_d(False)
        total = torch.zeros((), device=self.acc.device)
        for i, (z, y) in enumerate(self._micro_batches(step, phase)):
            with self.acc.accumulate(self.G, self.D):
                x_fake = self.G(z, y)  # [B, C, R, R]
                loss = self.objective.g_loss(self.D_frozen, x_fake, y, step, phase, i)
                self.acc.backward(loss)
                self.opt_G.step()
                self.opt_G.zero_grad(set_to_none=True)
            total += loss.detach()
        self._train_d(True)
        return total / self.acc.gradient_accumulation_steps

    def _train_d(self, on: bool) -> None:
        for p in self.d_trainable:
            p.requires_grad_(on)

    def __call__(self, step: int, real: RealBatches) -> dict[str, Tensor]:
        """Run G step ``step`` (1-based): ``d_steps_per_g_step`` D updates, then one G update.

        Returns detached means: ``loss_d``, ``loss_g`` and D's statistics (see Objective)."""
        d_stats = [self.d_step(step, j, real) for j in range(self.d_steps)]
        out = {k: torch.stack([s[k] for s in d_stats]).mean() for k in d_stats[0]}
        out["loss_g"] = self.g_step(step, self.d_steps)
        return out
