"""The augmentation probability p: fixed, or steered by ADA's overfitting heuristic.

ADA (Karras et al. 2020) measures how sure D is about the real images it trains on,
``r_t = E[sign(D(real))]`` (0: D cannot tell; 1: D is sure of every real image, i.e. it
overfits), over ``interval`` G steps, and moves p by ``sign(r_t - target)`` times a step sized
so that p could go from 0 to 1 in ``kimg`` thousand real images. The paper's target is 0.6,
its interval 4 steps and its speed 500 kimg; a run of a few thousand steps needs a far smaller
``kimg`` for p to get anywhere (the digits presets use 10).

The controller runs on the host from the per-step statistics the training loop already
averages over processes (one sync per step, as before), so every process holds the same p,
and ``state_dict`` (plain floats) makes a resumed run continue with the same p and the same
partial sums.
"""

from __future__ import annotations

from typing import Any

REAL_SIGN = "d/real_sign"  # the step statistic r_t is estimated from (mean sign of D(real))


def _ignore(values: dict[str, float], step: int) -> None:
    """A fixed p: nothing to learn from the step."""


class AugmentProbability:
    """``p`` for the augmentation pipe; ``observe(values, step)`` feeds it one G step's
    statistics (process-averaged floats, among them ``d/real_sign``)."""

    def __init__(
        self,
        p: float,
        target: float = 0.0,
        interval: int = 4,
        kimg: float = 500.0,
        images_per_step: int = 1,
    ):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"augmentation p={p}: must be in [0, 1]")
        self.p = p
        self.target, self.interval = target, interval
        # How far one adjustment moves p: the images seen in one interval over kimg * 1000.
        self.adjust = images_per_step * interval / (kimg * 1000.0)
        self.sign_sum, self.count = 0.0, 0
        self.r_t = float("nan")  # no estimate yet
        self.adaptive = target > 0
        # Chosen once: a fixed p ignores the statistics.
        self.observe = self._adapt if self.adaptive else _ignore

    def _adapt(self, values: dict[str, float], step: int) -> None:
        """Fold in G step ``step``'s mean sign(D(real)); adjust p every ``interval`` steps."""
        self.sign_sum += values[REAL_SIGN]
        self.count += 1
        if step % self.interval == 0:
            self.r_t = self.sign_sum / self.count
            direction = (self.r_t > self.target) - (self.r_t < self.target)  # sign, 0 at target
            self.p = min(1.0, max(0.0, self.p + direction * self.adjust))
            self.sign_sum, self.count = 0.0, 0

    def scalars(self) -> dict[str, float]:
        """What the tracker and progress bar show: p, and r_t when p adapts."""
        out = {"augment/p": self.p}
        if self.adaptive:
            out["augment/r_t"] = self.r_t
        return out

    def state_dict(self) -> dict[str, Any]:
        """Plain numbers for the checkpoint."""
        return {"p": self.p, "sign_sum": self.sign_sum, "count": self.count, "r_t": self.r_t}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a checkpoint's :meth:`state_dict`."""
        self.p = float(state["p"])
        self.sign_sum, self.count = float(state["sign_sum"]), int(state["count"])
        self.r_t = float(state["r_t"])
