"""Benchmark: FID feature extraction vs torch-fidelity, Fréchet distance vs scipy's sqrtm.

    python bench/bench_fid.py                 # 16 images of 32x32, d = 2048
    python bench/bench_fid.py --n 64 --size 64

Uses the real Inception weights when they are found offline (--inception-weights, the env
variable or the torch hub cache), else random He-scaled weights (same architecture and cost).
Both extractors score the same images with the same weights in the same run; ratios > 1 mean
nlgan is faster.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.linalg
import torch
from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

from nlgan.metrics.frechet import frechet_distance
from nlgan.metrics.inception import load_inception, random_state_dict
from nlgan.metrics.weights import InceptionWeightsError, resolve_inception_weights


def best_of(fn, repeats: int) -> float:
    """Fastest wall time of ``repeats`` calls (after one warm-up call)."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_extraction(weights: Path, n: int, size: int, batch: int, repeats: int) -> None:
    images = torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8)
    ours = load_inception(weights)
    theirs = FeatureExtractorInceptionV3(
        "inception-v3-compat",
        ["2048", "logits_unbiased"],
        feature_extractor_weights_path=str(weights),
    )

    def run(net):
        with torch.no_grad():
            return [net(images[i : i + batch]) for i in range(0, n, batch)]

    t_ours, t_theirs = best_of(lambda: run(ours), repeats), best_of(lambda: run(theirs), repeats)
    a = torch.cat([p for p, _ in run(ours)])
    b = torch.cat([p for p, _ in run(theirs)])
    rel = float((a - b).abs().max() / b.abs().max())
    threads = torch.get_num_threads()
    print(f"feature extraction, {n} images {size}x{size}, batch {batch}, {threads} threads")
    print(f"  torch-fidelity  {n / t_theirs:8.2f} img/s")
    print(f"  nlgan           {n / t_ours:8.2f} img/s   ratio {t_theirs / t_ours:.2f}x")
    print(f"  max relative feature difference {rel:.1e}")


def bench_frechet(dim: int, samples: int, repeats: int) -> None:
    rng = np.random.default_rng(0)
    mix = rng.standard_normal((dim, dim)) / np.sqrt(dim)
    f1 = rng.standard_normal((samples, dim)) @ mix
    f2 = rng.standard_normal((samples, dim)) @ (
        mix + 0.1 * rng.standard_normal((dim, dim)) / np.sqrt(dim)
    )
    mu1, mu2 = f1.mean(0), f2.mean(0)
    s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)

    def with_sqrtm():  # pytorch-fid / TTUR
        covmean = scipy.linalg.sqrtm(s1 @ s2)
        diff = mu1 - mu2
        return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean.real))

    def with_eigvals():  # torch-fidelity 0.4
        tr = np.sqrt(np.linalg.eigvals(s1 @ s2).astype("complex128")).real.sum()
        diff = mu1 - mu2
        return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * tr)

    ours = frechet_distance(mu1, s1, mu2, s2)
    print(f"Fréchet distance, d = {dim}, covariances from {samples} samples (best of {repeats})")
    t_ours = best_of(lambda: frechet_distance(mu1, s1, mu2, s2), repeats)
    timings = {}
    for name, fn in (("scipy sqrtm", with_sqrtm), ("numpy eigvals", with_eigvals)):
        timings[name] = best_of(fn, repeats)
        print(f"  {name:14s}  {timings[name]:7.2f} s   FID {fn():.9f}")
    print(f"  nlgan           {t_ours:7.2f} s   FID {ours:.9f}")
    for name, t in timings.items():
        print(f"  ratio vs {name}: {t / t_ours:.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=16, help="images to extract")
    parser.add_argument("--size", type=int, default=32, help="image size before the 299 resize")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--dim", type=int, default=2048)
    parser.add_argument("--samples", type=int, default=4096, help="samples behind each covariance")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--inception-weights", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        try:
            weights = resolve_inception_weights(args.inception_weights, download=False)
            print(f"weights: {weights}")
        except InceptionWeightsError:
            weights = Path(tmp) / "random-inception.pth"
            torch.save(random_state_dict(), weights)
            print("weights: random He-scaled (real weights not found offline)")
        bench_extraction(weights, args.n, args.size, args.batch_size, args.repeats)
    bench_frechet(args.dim, args.samples, args.repeats)


if __name__ == "__main__":
    main()
