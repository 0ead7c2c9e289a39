"""Are the digits preset's samples recognisably the requested digit, and varied?

An independent classifier (an RBF SVM on scikit-learn's 8x8 digits, fitted on one half and
scored on the held-out half) labels N samples per class from a run's EMA generator, brought to
8x8 the same way as the real digits (area downsampling, 0..16 ink scale). Prints per-class and
overall accuracy, within-class diversity (mean pairwise distance) of generated vs real digits
taken through the same 16 px round trip, the fraction of near duplicates, and saves a grid.
Also scores real digits after that round trip: the ceiling a perfect generator could reach.

    python bench/digits_quality.py runs/digits [--n 100] [--min-accuracy 0.9]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

DUPLICATE_FRACTION = 0.1  # nearest neighbour closer than this x the real mean distance


def fit_classifier(seed: int = 0):
    """RBF SVM on half of sklearn's digits; returns (classifier, held-out accuracy, X, y)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.svm import SVC

    digits = load_digits()
    X, y = digits.data, digits.target  # [1797, 64] in 0..16
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.5, stratify=y, random_state=seed)
    clf = SVC(gamma=0.001, C=10.0).fit(X_tr, y_tr)
    return clf, float((clf.predict(X_te) == y_te).mean()), X, y


def to_8x8(images: torch.Tensor) -> np.ndarray:
    """Images [N, C, R, R] in [-1, 1] -> [N, 64] on the 0..16 ink scale of sklearn's digits."""
    x = images.float().mean(1, keepdim=True)  # [N, 1, R, R] (grey)
    x = F.interpolate((x + 1.0) / 2.0, size=(8, 8), mode="area")  # [N, 1, 8, 8] in [0, 1]
    return (x.clamp(0, 1) * 16.0).flatten(1).numpy()


def diversity(X: np.ndarray, labels: np.ndarray, ref_scale: dict[int, float] | None = None):
    """Per class: mean pairwise distance, and fraction of samples with a near-duplicate."""
    mean_dist, dup = {}, {}
    for k in np.unique(labels):
        Xk = torch.from_numpy(X[labels == k]).double()
        d = torch.cdist(Xk, Xk)  # [n, n]
        n = len(Xk)
        mean_dist[int(k)] = float(d.sum() / (n * (n - 1)))
        scale = ref_scale[int(k)] if ref_scale else mean_dist[int(k)]
        d.fill_diagonal_(float("inf"))
        dup[int(k)] = float((d.min(1).values < DUPLICATE_FRACTION * scale).double().mean())
    return mean_dist, dup


@torch.no_grad()
def generate(G, n_per_class: int, num_classes: int, seed: int, batch: int = 250):
    """``n_per_class`` EMA samples of every class -> images [K * n, C, R, R], labels [K * n]."""
    gen = torch.Generator().manual_seed(seed)
    device = next(G.parameters()).device
    labels = torch.arange(num_classes).repeat_interleave(n_per_class)
    z = torch.randn(len(labels), G.cfg.z_dim, generator=gen)
    out = [
        G(zb.to(device), yb.to(device)).cpu()
        for zb, yb in zip(z.split(batch), labels.split(batch), strict=True)
    ]
    return torch.cat(out), labels


def evaluate(G, n_per_class: int = 100, seed: int = 0, verbose: bool = True) -> dict:
    """Classifier accuracy and diversity of ``G``'s samples (G: an eval-mode class-cond. G)."""
    from nlgan.data import digits_images

    clf, held_out, X_real, y_real = fit_classifier()
    K = 10
    images, labels = generate(G, n_per_class, K, seed)
    X_gen, y_gen = to_8x8(images), labels.numpy()
    pred = clf.predict(X_gen)
    per_class = [(pred[y_gen == k] == k).mean() for k in range(K)]
    # Ceiling: real digits after the data pipeline's upsampling, brought back the same way.
    real_up, real_y = digits_images(G.cfg.resolution)
    real_round = to_8x8(real_up * 2 - 1)
    ceiling = float((clf.predict(real_round) == real_y.numpy()).mean())
    # Diversity is compared with the real digits after the same round trip (the 16 px
    # upsampling and area downsampling smooth them, which alone shrinks distances ~0.82x).
    real_dist, real_dup = diversity(real_round, real_y.numpy())
    raw_dist, _ = diversity(X_real, y_real)
    gen_dist, gen_dup = diversity(X_gen, y_gen, ref_scale=real_dist)
    result = {
        "classifier_held_out": held_out,
        "real_round_trip": ceiling,
        "accuracy": float((pred == y_gen).mean()),
        "per_class": per_class,
        "diversity_ratio": float(np.mean([gen_dist[k] / real_dist[k] for k in range(K)])),
        "min_class_diversity_ratio": float(min(gen_dist[k] / real_dist[k] for k in range(K))),
        "diversity_ratio_raw": float(np.mean([gen_dist[k] / raw_dist[k] for k in range(K)])),
        "near_duplicates_gen": float(np.mean(list(gen_dup.values()))),
        "near_duplicates_real": float(np.mean(list(real_dup.values()))),
    }
    if verbose:
        print(f"classifier held-out accuracy on real 8x8 digits: {held_out:.3f}")
        print(f"real digits after the {G.cfg.resolution}px round trip: {ceiling:.3f}")
        print("class  accuracy  diversity(gen/real round trip)  near-dup(gen)")
        for k in range(K):
            ratio = gen_dist[k] / real_dist[k]
            print(f"{k:5d}  {per_class[k]:8.3f}  {ratio:30.2f}  {gen_dup[k]:13.3f}")
        print(
            f"overall accuracy {result['accuracy']:.3f} on {len(y_gen)} samples; "
            f"diversity ratio {result['diversity_ratio']:.2f} (min class "
            f"{result['min_class_diversity_ratio']:.2f}; vs the raw 8x8 digits "
            f"{result['diversity_ratio_raw']:.2f}); near duplicates "
            f"{result['near_duplicates_gen']:.3f} (real {result['near_duplicates_real']:.3f})"
        )
    return result


def main(argv: list[str] | None = None) -> int:
    """Command line: score a run's EMA generator; exit 1 if below --min-accuracy."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="run directory or checkpoint file")
    parser.add_argument("--n", type=int, default=100, help="samples per class")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--grid", default="", help="grid PNG (default RUN/digits_quality.png)")
    parser.add_argument("--min-accuracy", type=float, default=0.0)
    args = parser.parse_args(argv)

    from nlgan.sampling import load_generator, save_grid

    G, _ = load_generator(args.run)  # the EMA generator, in eval mode
    result = evaluate(G, args.n, args.seed)
    run = Path(args.run)
    default = (run if run.is_dir() else run.parent) / "digits_quality.png"
    grid = Path(args.grid) if args.grid else default
    images, _ = generate(G, 10, 10, args.seed)  # [100, C, R, R] in [-1, 1], a row per class
    save_grid((images + 1.0) / 2.0, grid, nrow=10)
    print(f"grid: {grid}")
    return 0 if result["accuracy"] >= args.min_accuracy else 1


if __name__ == "__main__":
    sys.exit(main())
