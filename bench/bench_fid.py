"""Benchmark: feature extraction (per resize mode) vs torch-fidelity, Fréchet distance vs scipy's
sqrtm, and every metric of the table at --metrics-n samples (features once, then each metric).

    python bench/bench_fid.py                       # 16 images of 32x32, d = 2048; metrics at 10k
    python bench/bench_fid.py --n 64 --size 64 --metrics-n 50000
    python bench/bench_fid.py --skip-extraction --skip-frechet    # the metric timings only

Uses the real Inception weights when they are found offline (--inception-weights, the env
variable or the torch hub cache), else random He-scaled weights (same architecture and cost).
Both extractors score the same images with the same weights in the same run; ratios > 1 mean
nlgan is faster. The metric timings use synthetic features (non-negative, correlated, 2048-d, in
10 classes) rather than --metrics-n real extractions, which would take hours on a CPU; the
extraction rate measured above gives the time that part would take.
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

from nlgan.metrics.extraction import Extracted
from nlgan.metrics.frechet import frechet_distance
from nlgan.metrics.inception import load_inception, random_state_dict
from nlgan.metrics.intraclass import ClassStats
from nlgan.metrics.protocol import RESIZE_MODES
from nlgan.metrics.reference import Reference
from nlgan.metrics.stats import FeatureStats, stats_from_features
from nlgan.metrics.table import METRICS, MetricOptions
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
    for mode in RESIZE_MODES[1:]:
        other = load_inception(weights, resize=mode)
        t_mode = best_of(lambda net=other: run(net), repeats)
        print(f"  nlgan --resize {mode:<16s} {n / t_mode:8.2f} img/s")


def synthetic_features(
    n: int, dim: int, classes: int, seed: int, spread: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Non-negative correlated features [n, dim] (like pooled ReLU activations) and labels.

    Real and fake share class centres and mixing (seed 0); ``seed`` draws the noise and
    ``spread`` widens it, so the two sets overlap the way a fair generator's do.
    """
    shared = np.random.default_rng(0)
    centres = shared.standard_normal((classes, 64))
    mix = shared.standard_normal((64, dim)) / 8
    labels = np.arange(n) % classes
    latent = centres[labels] + spread * np.random.default_rng(seed).standard_normal((n, 64))
    return np.abs(latent @ mix).astype(np.float32), labels


def bench_metrics(n: int, dim: int, classes: int) -> None:
    """Every metric of the table from features computed once, as ``evaluate`` scores them."""
    fake, fake_labels = synthetic_features(n, dim, classes, 1, spread=1.2)
    real, real_labels = synthetic_features(n, dim, classes, 2)
    logits = torch.from_numpy(np.random.default_rng(3).standard_normal((n, 1008)).astype("f4"))
    start = time.perf_counter()
    running = FeatureStats(dim)
    running.update(torch.from_numpy(fake))
    gen = Extracted(n, running.stats(), torch.from_numpy(fake), logits, fake_labels)
    t_stats = time.perf_counter() - start
    per_class = ClassStats([stats_from_features(real[real_labels == c]) for c in range(classes)])
    ref = Reference(stats_from_features(real), torch.from_numpy(real), "synthetic", per_class)
    threads = torch.get_num_threads()
    print(
        f"metrics from features: n = {n} generated and {n} reference, d = {dim}, "
        f"{classes} classes, {threads} threads (synthetic features)"
    )
    print(f"  generated statistics (streaming float64 sums)  {t_stats:7.2f} s")
    opts = MetricOptions()
    for name, metric in METRICS.items():
        start = time.perf_counter()
        scores = metric.score(gen, ref, opts, None)
        seconds = time.perf_counter() - start
        shown = ", ".join(f"{k} {v:.4g}" for k, v in scores.items() if isinstance(v, float))
        print(f"  {name:8s} {seconds:7.2f} s   {shown}")


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
    parser.add_argument("--metrics-n", type=int, default=10_000, help="samples per side, metrics")
    parser.add_argument("--classes", type=int, default=10, help="classes for iFID")
    parser.add_argument("--skip-extraction", action="store_true")
    parser.add_argument("--skip-frechet", action="store_true")
    args = parser.parse_args()
    if not args.skip_extraction:
        extraction(args)
    if not args.skip_frechet:
        bench_frechet(args.dim, args.samples, args.repeats)
    if args.metrics_n:
        bench_metrics(args.metrics_n, args.dim, args.classes)


def extraction(args: argparse.Namespace) -> None:
    """Feature extraction with the real weights when found offline, else random ones."""
    with tempfile.TemporaryDirectory() as tmp:
        try:
            weights = resolve_inception_weights(args.inception_weights, download=False)
            print(f"weights: {weights}")
        except InceptionWeightsError:
            weights = Path(tmp) / "random-inception.pth"
            torch.save(random_state_dict(), weights)
            print("weights: random He-scaled (real weights not found offline)")
        bench_extraction(weights, args.n, args.size, args.batch_size, args.repeats)


if __name__ == "__main__":
    main()
