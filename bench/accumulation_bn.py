"""How far gradient accumulation is from one big batch when G has batch norm.

k micro-batches of B give exactly the gradient of one batch of kB only for networks without
batch statistics. nlgan's G normalises every block with (conditional) BatchNorm, so each
micro-batch is normalised with its own statistics, as in BigGAN. This prints the relative L2
difference between G's hinge-loss gradient from k micro-batches of 64/k and from one batch of
64, for the digits preset's G and D at initialisation (D has no BN: its gradient is exact).

    python bench/accumulation_bn.py [--seeds 3]
"""

from __future__ import annotations

import argparse

import torch

from nlgan.config import load_preset
from nlgan.losses import g_hinge
from nlgan.models import Discriminator, Generator


def g_gradient(G, D, z, y, chunks: int) -> torch.Tensor:
    """G's gradient of the hinge loss, accumulated over ``chunks`` micro-batches."""
    G.zero_grad()
    for zc, yc in zip(z.chunk(chunks), y.chunk(chunks), strict=True):
        (g_hinge(D(G(zc, yc), yc)) / chunks).backward()
    return torch.cat([p.grad.flatten() for p in G.parameters()])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    cfg = load_preset("digits").model
    print("k  micro-batch  |g_acc - g_64| / |g_64| per seed")
    for k in (2, 4, 8):
        rel = []
        for seed in range(args.seeds):
            torch.manual_seed(seed)
            G, D = Generator(cfg).train(), Discriminator(cfg).train()
            z, y = torch.randn(64, cfg.z_dim), torch.randint(0, cfg.num_classes, (64,))
            full, acc = g_gradient(G, D, z, y, 1), g_gradient(G, D, z, y, k)
            rel.append(float((acc - full).norm() / full.norm()))
        print(f"{k}  {64 // k:11d}  " + "  ".join(f"{r:.3f}" for r in rel))


if __name__ == "__main__":
    main()
