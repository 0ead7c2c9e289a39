"""Adaptive p: ADA's heuristic moves p the right way, at the configured speed, and resumes."""

from __future__ import annotations

import math

import torch

from nlgan.losses import losses_for
from nlgan.train.ada import REAL_SIGN, AugmentProbability
from nlgan.train.augment import AugmentPipe
from nlgan.train.objective import Objective


class MemorisingD(torch.nn.Module):
    """A synthetic D that has memorised the training images: +1 for an exact copy, else -1
    (``overfit=False``: -1 for everything, a D that cannot tell anything apart)."""

    def __init__(self, train_images: torch.Tensor, overfit: bool = True):
        super().__init__()
        self.train_images = train_images.flatten(1)
        self.overfit = overfit
        self.bias = torch.nn.Parameter(torch.zeros(()))

    def forward(self, x, y=None):
        diff = (x.flatten(1)[:, None] - self.train_images[None]).abs().amax(-1)  # [B, N]
        known = (diff.min(1).values < 1e-6).float()
        verdict = 2 * known - 1 if self.overfit else -torch.ones(len(x))
        return verdict + 0 * self.bias


def _run(D, images, p: float, steps: int, **kwargs) -> tuple[list[float], Objective]:
    probability = AugmentProbability(p, target=0.6, interval=2, images_per_step=32, **kwargs)
    objective = Objective(losses_for("hinge"), AugmentPipe(("translation",), 1), probability)
    fakes = -images  # never in the training set
    history = []
    for step in range(1, steps + 1):
        _, stats = objective.d_loss(D, (fakes, None), (images, None), step, 0, 0)
        objective.observe({k: float(v) for k, v in stats.items()}, step)
        history.append(probability.p)
    return history, objective


def test_p_rises_while_d_overfits_and_settles_where_r_t_meets_the_target():
    images = torch.rand(32, 1, 8, 8) * 2 - 1
    history, objective = _run(MemorisingD(images), images, p=0.0, steps=400, kimg=0.64)
    assert history[0] == 0.0 and max(history) > 0.1  # D knew every real image: p went up
    # It settles where a real image is left untouched 80% of the time (r_t = 2 * 0.8 - 1 =
    # 0.6): translation moves (1 - 1/9) of the images it is applied to, so p = 0.2 / (8/9).
    settled = sum(history[-100:]) / 100
    assert abs(settled - 0.225) < 0.06
    assert abs(objective.probability.r_t - 0.6) < 0.3


def test_p_falls_while_d_underfits_and_stops_at_zero():
    images = torch.rand(32, 1, 8, 8) * 2 - 1
    history, _ = _run(MemorisingD(images, overfit=False), images, p=0.5, steps=200, kimg=0.64)
    assert history[1] < 0.5 and history[-1] == 0.0
    assert all(a >= b for a, b in zip(history, history[1:], strict=False))


def test_step_size_follows_kimg_and_p_moves_only_every_interval():
    probability = AugmentProbability(0.0, target=0.6, interval=4, kimg=500, images_per_step=64)
    for step in range(1, 9):
        probability.observe({REAL_SIGN: 1.0}, step)
        expected = (step // 4) * 64 * 4 / 500_000
        assert math.isclose(probability.p, expected), step
    fixed = AugmentProbability(0.3)  # target 0: p never moves, r_t is not shown
    fixed.observe({REAL_SIGN: 1.0}, 4)
    assert fixed.p == 0.3 and fixed.scalars() == {"augment/p": 0.3}


def test_state_dict_continues_mid_interval_exactly():
    def feed(prob, steps):
        for step in steps:
            prob.observe({REAL_SIGN: 0.9 if step % 3 else -0.5}, step)

    straight = AugmentProbability(0.1, target=0.6, interval=4, kimg=1, images_per_step=8)
    feed(straight, range(1, 11))
    first = AugmentProbability(0.1, target=0.6, interval=4, kimg=1, images_per_step=8)
    feed(first, range(1, 7))  # stops halfway through an interval
    resumed = AugmentProbability(0.1, target=0.6, interval=4, kimg=1, images_per_step=8)
    resumed.load_state_dict(first.state_dict())
    feed(resumed, range(7, 11))
    assert resumed.state_dict() == straight.state_dict()
    assert straight.p != 0.1
