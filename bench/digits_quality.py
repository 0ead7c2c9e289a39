"""Are the digits preset's samples the requested digit, varied, and distributed like the data?

An independent classifier (an RBF SVM on scikit-learn's 8x8 digits, fitted on one half and
scored on the held-out half) labels N samples per class from a run's EMA generator, brought to
8x8 the same way as the real digits (area downsampling, 0..16 ink scale). Prints per-class and
overall accuracy, within-class diversity (mean pairwise distance) of generated vs real digits
taken through the same 16 px round trip, the fraction of near duplicates, and saves a grid.
Also scores real digits after that round trip: the ceiling a perfect generator could reach.

Against the real distribution, in the same 8x8 pixel space (64 dimensions), with the real
digits taken through the training pipeline (upsampling to the model's resolution) and back:
- Fréchet distance between the samples and the real digits, next to its floor, the distance
  between two disjoint halves of the real digits. Both are averaged over SPLITS random
  class-stratified half splits, and the samples are subsampled to the size of a half, so the
  finite-sample bias (which grows like dimensions / samples) is the same on both sides.
- Memorised: the share of samples whose nearest training image is closer than the nearest
  training image of all but MEMORISED_QUANTILE of real digits (digits not trained on; with the
  whole data set, each digit's nearest *other* digit). A generator as novel as real data
  scores about MEMORISED_QUANTILE; one that copies its training images scores 1. The training
  images are the run's own (its ``data.subset``).

    python bench/digits_quality.py runs/digits [--n 100] [--min-accuracy 0.9]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

DUPLICATE_FRACTION = 0.1  # nearest neighbour closer than this x the real mean distance
SPLITS = 10  # random half splits the Fréchet distances are averaged over
MEMORISED_QUANTILE = 0.05  # real digits closer to a training digit than this share: "memorised"


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


def frechet(X_a: np.ndarray, X_b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two sets of 8x8 digits [n, 64]."""
    from nlgan.metrics.frechet import frechet_distance

    mu_a, mu_b = X_a.mean(0), X_b.mean(0)
    cov_a, cov_b = np.cov(X_a, rowvar=False), np.cov(X_b, rowvar=False)
    return frechet_distance(mu_a, cov_a, mu_b, cov_b)


def half_split(labels: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two disjoint halves of the indices, each holding half of every class."""
    a, b = [], []
    for k in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == k))
        a.append(members[: len(members) // 2])
        b.append(members[len(members) // 2 :])
    return np.concatenate(a), np.concatenate(b)


def frechet_vs_floor(X_gen, X_real, y_real, splits: int = SPLITS, seed: int = 0):
    """(samples vs real, real half vs real half), each averaged over ``splits`` half splits."""
    rng = np.random.default_rng(seed)
    gen, floor = [], []
    for _ in range(splits):
        a, b = half_split(y_real, rng)
        size = min(len(a), len(X_gen))
        g = X_gen[rng.permutation(len(X_gen))[:size]]
        gen.append(frechet(g, X_real[b]))
        floor.append(frechet(X_real[a[:size]], X_real[b]))
    return float(np.mean(gen)), float(np.mean(floor))


def nearest_distance(X: np.ndarray, ref: np.ndarray, exclude_self: bool = False) -> np.ndarray:
    """Distance from each row of ``X`` to its nearest row of ``ref`` (itself excluded)."""
    d = torch.cdist(torch.from_numpy(X).double(), torch.from_numpy(ref).double())  # [n, m]
    if exclude_self:
        d.fill_diagonal_(float("inf"))
    return d.min(1).values.numpy()


def memorised(X_gen, X_real, train_idx, quantile: float = MEMORISED_QUANTILE):
    """Share of samples nearer a training digit than the ``quantile`` of real digits are."""
    X_train = X_real[train_idx]
    held_out = np.setdiff1d(np.arange(len(X_real)), train_idx)
    if len(held_out):
        real_nn = nearest_distance(X_real[held_out], X_train)
    else:  # the whole data set was trained on: each digit's nearest other digit
        real_nn = nearest_distance(X_train, X_train, exclude_self=True)
    threshold = float(np.quantile(real_nn, quantile))
    return float((nearest_distance(X_gen, X_train) < threshold).mean()), threshold


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


def evaluate(
    G, n_per_class: int = 100, seed: int = 0, verbose: bool = True, train_idx=None
) -> dict:
    """Accuracy, diversity, Fréchet distance and memorisation of ``G``'s samples (an eval-mode
    class-conditional G); ``train_idx``: the digits it was trained on (None: all)."""
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
    fd, floor = frechet_vs_floor(X_gen, real_round, real_y.numpy())
    train_idx = np.arange(len(real_round)) if train_idx is None else np.asarray(train_idx)
    share, threshold = memorised(X_gen, real_round, train_idx)
    result.update(
        frechet=fd, frechet_floor=floor, frechet_ratio=fd / floor, memorised=share,
        memorised_threshold=threshold, train_images=len(train_idx),
    )  # fmt: skip
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
        print(
            f"Fréchet distance to the real digits (8x8 pixels) {fd:.2f}; floor (real half vs "
            f"real half) {floor:.2f}; ratio {fd / floor:.2f}"
        )
        print(
            f"memorised {share:.3f}: samples nearer one of the {len(train_idx)} training digits "
            f"than {threshold:.2f}, which {MEMORISED_QUANTILE:.0%} of real digits are"
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
    parser.add_argument(
        "--standing-stats", type=int, default=0, metavar="N",
        help="re-estimate G's BN statistics from N batches first (BigGAN's standing stats)",
    )  # fmt: skip
    parser.add_argument("--json", default="", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)

    from nlgan.data import digits_images
    from nlgan.data.subset import subset_indices
    from nlgan.sampling import load_generator, save_grid, standing_stats

    G, cfg = load_generator(args.run)  # the EMA generator, in eval mode
    if args.standing_stats:
        standing_stats(G, batches=args.standing_stats, seed=args.seed)
    train_idx = None
    if cfg.data.subset:  # the digits the run trained on
        train_idx = subset_indices(digits_images(8)[1], cfg.data.subset, cfg.data.subset_seed)
        train_idx = train_idx.numpy()
    result = evaluate(G, args.n, args.seed, train_idx=train_idx)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    run = Path(args.run)
    default = (run if run.is_dir() else run.parent) / "digits_quality.png"
    grid = Path(args.grid) if args.grid else default
    images, _ = generate(G, 10, 10, args.seed)  # [100, C, R, R] in [-1, 1], a row per class
    save_grid((images + 1.0) / 2.0, grid, nrow=10)
    print(f"grid: {grid}")
    return 0 if result["accuracy"] >= args.min_accuracy else 1


if __name__ == "__main__":
    sys.exit(main())
