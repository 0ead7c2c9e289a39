"""Which shape does a pairs run's generator draw for each label? (docs/pairs.md)

Class accuracy alone cannot tell a G that ignores its label from one that draws the label's
shape badly. This reads the left-hand object of ``--n`` EMA samples (latent i, class i mod 4,
as the ruler scores them) and prints one row per label: how many read as each shape, and how
many have no valid object on the left.

    python bench/pairs_shapes.py runs/pairs32 [--n 1000] [--raw]
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

SHAPES = ("disk", "square", "triangle", "plus")


def shape_table(run: str, n: int = 1000, ema: bool = True) -> np.ndarray:
    """The counts of :func:`nlgan.metrics.pairs_score.shape_by_label` for a run's samples."""
    import torch

    from nlgan.metrics.pairs_ruler import measure
    from nlgan.metrics.pairs_score import shape_by_label
    from nlgan.metrics.sources import generator_source
    from nlgan.sampling import load_generator

    G, _ = load_generator(run, ema=ema, device="cpu")
    source = generator_source(G, n, seed=0)
    with torch.no_grad():
        images = torch.cat(list(source.batches(0, n, 250))).numpy()
    labels = source.labels()
    return shape_by_label(measure(images), labels, G.cfg.num_classes)


def format_table(counts: np.ndarray) -> str:
    """Markdown: one row per label, its shapes' counts and the 'no object' count."""
    head = "| label | " + " | ".join(SHAPES) + " | no object |"
    lines = [head, "|" + "---|" * (len(SHAPES) + 2)]
    for label, row in enumerate(counts):
        lines.append(f"| {SHAPES[label]} | " + " | ".join(str(int(c)) for c in row) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="a pairs run folder (or checkpoint)")
    parser.add_argument("--n", type=int, default=1000, help="samples (default 1000)")
    parser.add_argument("--raw", action="store_true", help="the raw G instead of the EMA G")
    args = parser.parse_args(argv)
    print(format_table(shape_table(args.run, args.n, ema=not args.raw)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
