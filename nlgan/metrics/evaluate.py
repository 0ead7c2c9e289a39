"""``evaluate``: FID / IS / KID of a source of images against a reference, in one pass.

The trainer calls this during training and ``nlgan fid`` calls it offline, so a checkpoint scores
the same either way. Under torch.distributed every process must call it with the same arguments.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.distributed as dist

from nlgan.metrics.extract import extract
from nlgan.metrics.frechet import fid_from_stats
from nlgan.metrics.inception import FeatureExtractor, load_inception
from nlgan.metrics.inception_score import inception_score
from nlgan.metrics.kid import kernel_inception_distance
from nlgan.metrics.reference import Reference, open_reference
from nlgan.metrics.sources import ImageSource
from nlgan.metrics.stats import Stats

METRICS = ("fid", "is", "kid")


def check_metrics(metrics: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Normalise ``"fid,kid"`` / ``["fid", "kid"]`` and reject unknown names."""
    names = metrics.split(",") if isinstance(metrics, str) else list(metrics)
    names = [m.strip().lower() for m in names if m.strip()]
    unknown = [m for m in names if m not in METRICS]
    if unknown or not names:
        raise ValueError(
            f"metrics={','.join(unknown) or '(none)'}: choose any of {', '.join(METRICS)}"
        )
    return tuple(dict.fromkeys(names))


def evaluate(
    source: ImageSource,
    reference: str | Path | ImageSource | Stats | Reference | None = None,
    metrics: str | tuple[str, ...] = ("fid",),
    n: int | None = None,
    batch_size: int = 100,
    extractor: FeatureExtractor | None = None,
    inception_weights: str | Path | None = None,
    device: str | torch.device | None = None,
    process_group: dist.ProcessGroup | None = None,
    reference_n: int | None = None,
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
    progress: bool = False,
    is_splits: int = 10,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    seed: int = 2020,
) -> dict[str, float]:
    """Score ``n`` images of ``source`` (default: all) against ``reference``.

    Returns ``{"n", "fid", "is_mean", "is_std", "kid_mean", "kid_std", "kid_subset_size"}``,
    the keys of the requested metrics only. ``reference`` is a statistics ``.npz``, an image
    folder / ``.npz`` of images (its statistics are cached), an ImageSource, Stats, or a prepared
    Reference (pass one to score many times without re-reading it); IS alone needs none.
    ``extractor`` defaults to the FID Inception from ``inception_weights`` on ``device``.
    Under torch.distributed each process reads its shard of [0, n) and all get the same scores.
    """
    metrics = check_metrics(metrics)
    if reference is None and ("fid" in metrics or "kid" in metrics):
        raise ValueError("FID and KID need a reference (statistics .npz or real images)")
    if extractor is None:
        extractor = load_inception(inception_weights, device=device or "cpu")
    n = len(source) if n is None else n
    ref = None
    if reference is not None and ("fid" in metrics or "kid" in metrics):
        ref = open_reference(
            reference,
            extractor,
            need_features="kid" in metrics,
            n=reference_n,
            batch_size=batch_size,
            cache_dir=cache_dir,
            use_cache=use_cache,
            group=process_group,
            progress=progress,
        )
    out = extract(
        source,
        extractor,
        n=n,
        batch_size=batch_size,
        stats="fid" in metrics,
        features="kid" in metrics,
        logits="is" in metrics,
        group=process_group,
        progress=progress,
    )
    scores: dict[str, float] = {"n": n}
    if "fid" in metrics:
        scores["fid"] = fid_from_stats(out.stats, ref.stats)
    if "is" in metrics:
        scores["is_mean"], scores["is_std"] = inception_score(
            out.logits, splits=is_splits, seed=seed
        )
    if "kid" in metrics:
        mean, std, size = kernel_inception_distance(
            out.features, ref.features, subsets=kid_subsets, subset_size=kid_subset_size, seed=seed
        )
        scores.update(kid_mean=mean, kid_std=std, kid_subset_size=size)
    return scores


def format_table(scores: dict[str, float]) -> str:
    """A small human-readable table of what :func:`evaluate` returned."""
    rows: list[tuple[str, str]] = []
    if "fid" in scores:
        rows.append(("FID", f"{scores['fid']:.4f}"))
    if "is_mean" in scores:
        rows.append(("IS", f"{scores['is_mean']:.4f} ± {scores['is_std']:.4f}"))
    if "kid_mean" in scores:
        subset = f"  (subsets of {scores['kid_subset_size']})"
        rows.append(("KID", f"{scores['kid_mean']:.6f} ± {scores['kid_std']:.6f}{subset}"))
    if "n" in scores:
        rows.append(("samples", str(scores["n"])))
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)
