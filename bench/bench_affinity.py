"""Training-step cost of each ``model.attn_affinity``, as a ratio to SAGAN's block in the same run.

A 32 px conditional G and D (``g_ch`` / ``d_ch`` 16, attention at 16x16 in both, every other
``model`` key at its default) take hinge-loss Adam steps: one D step on real + fake, then one G
step, as the trainer does. Kinds are timed in interleaved rounds, so each sees the same machine
load; the figure per kind is the median over rounds of the mean ms per step in a round.

    python bench/bench_affinity.py [--batch 16] [--steps 10] [--rounds 5] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from nlgan.config import ModelConfig
from nlgan.config.model_checks import ATTN_AFFINITIES
from nlgan.losses import d_hinge, g_hinge
from nlgan.models import Discriminator, Generator


class Step:
    """One G + D training step (hinge, Adam) of a freshly built pair."""

    def __init__(self, cfg: ModelConfig, batch: int):
        torch.manual_seed(0)
        self.G, self.D = Generator(cfg), Discriminator(cfg)
        self.opt_G = torch.optim.Adam(self.G.parameters(), 2e-4, betas=(0.0, 0.999))
        self.opt_D = torch.optim.Adam(self.D.parameters(), 2e-4, betas=(0.0, 0.999))
        self.z_dim, self.classes, self.batch = cfg.z_dim, cfg.num_classes, batch
        self.real = torch.rand(batch, 3, cfg.resolution, cfg.resolution) * 2 - 1

    def __call__(self) -> None:
        """D step on real and fake images, then a G step."""
        z, y = torch.randn(self.batch, self.z_dim), torch.randint(self.classes, (self.batch,))
        with torch.no_grad():
            fake = self.G(z, y)
        loss_d = d_hinge(self.D(self.real, y), self.D(fake, y))
        self.opt_D.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_D.step()
        loss_g = g_hinge(self.D(self.G(z, y), y))
        self.opt_G.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_G.step()


def main(argv: list[str] | None = None) -> None:
    """Print ms per step for every affinity and its ratio to ``sagan``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=10, help="steps per kind per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (0 = torch's)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    steps = {}
    for kind in ATTN_AFFINITIES:
        cfg = ModelConfig(resolution=32, g_ch=16, d_ch=16, attn_affinity=kind,
                          g_attn_resolutions=(16,), d_attn_resolutions=(16,))  # fmt: skip
        steps[kind] = Step(cfg, args.batch)
        for _ in range(3):  # warm-up: allocator, first-call overheads
            steps[kind]()
    times: dict[str, list[float]] = {kind: [] for kind in steps}
    for _ in range(args.rounds):
        for kind, step in steps.items():
            start = time.perf_counter()
            for _ in range(args.steps):
                step()
            times[kind].append((time.perf_counter() - start) / args.steps)
    print(f"32 px, g_ch = d_ch = 16, attention at 16x16 in G and D, batch {args.batch}, "
          f"{torch.get_num_threads()} thread(s); median of {args.rounds} rounds x "
          f"{args.steps} steps")  # fmt: skip
    base = statistics.median(times["sagan"])
    for kind, values in times.items():
        ms = 1000 * statistics.median(values)
        spread = f"{1000 * min(values):.1f}-{1000 * max(values):.1f}"
        print(f"{kind:18s} {ms:7.1f} ms/step (rounds {spread})  x{ms / 1000 / base:.2f} of sagan")


if __name__ == "__main__":
    main()
