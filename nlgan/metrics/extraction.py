"""One pass of an extractor over a source: streaming statistics, and features / logits if asked.

Each process reads its shard of [0, n); statistics sums are all-reduced and per-sample rows are
all-gathered, so every process returns the same result as one process reading everything.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist
from tqdm import tqdm

from nlgan.metrics.distributed import all_gather_rows, all_reduce_sum, rank_and_world, shard
from nlgan.metrics.inception import FeatureExtractor
from nlgan.metrics.sources import ImageSource, SourceError
from nlgan.metrics.stats import FeatureStats, Stats


@dataclass(frozen=True)
class Extracted:
    """What one pass produced (None for what was not asked for)."""

    n: int
    stats: Stats | None  # mean / covariance of the pool features
    features: torch.Tensor | None  # [n, d] float32 on the CPU, in index order
    logits: torch.Tensor | None  # [n, K] float32 on the CPU, in index order
    labels: np.ndarray | None = None  # [n] int64 class of every sample (intra-class FID)
    device: str = "cpu"  # where the extractor ran; heavy metrics (PRDC) compute there too
    images: np.ndarray | None = None  # [n, C, H, W] uint8, in index order (pixel rulers)


def extract(
    source: ImageSource,
    extractor: FeatureExtractor | None,
    n: int | None = None,
    batch_size: int = 100,
    stats: bool = True,
    features: bool = False,
    logits: bool = False,
    group: dist.ProcessGroup | None = None,
    progress: bool = False,
    labels: bool | str = False,
    images: bool = False,
) -> Extracted:
    """Run ``extractor`` over images [0, n) of ``source`` (split across processes); keep the
    images themselves if asked. ``extractor`` may be None when only images / labels are."""
    n = len(source) if n is None else n
    if n < 1 or batch_size < 1:
        raise ValueError(f"n={n} and batch_size={batch_size} must both be >= 1")
    source.check_length(n)
    if extractor is None:
        if stats or features or logits:
            raise ValueError("statistics, features and logits need a feature extractor")
        return _images_only(source, n, batch_size, group, progress, labels)
    if logits and not extractor.num_logits:
        raise ValueError(
            f"{extractor.identity} has no class logits, so IS cannot be computed with it; "
            "use --backbone inception for IS"
        )
    classes = _labels(source, labels)
    rank, world = rank_and_world(group)
    start, stop = shard(n, rank, world)
    device = extractor.device
    # float64 sums live next to the features; MPS has no float64, so they go to the CPU there
    sums_device = torch.device("cpu") if device.type == "mps" else device
    running = FeatureStats(extractor.feature_dim, sums_device) if stats else None
    kept_features: list[torch.Tensor] = []
    kept_logits: list[torch.Tensor] = []
    kept_images: list[torch.Tensor] = []
    with tqdm(
        total=stop - start,
        desc=f"features ({source.description})",
        unit="img",
        disable=not progress or rank != 0,
        leave=False,
    ) as bar:
        for batch in source.batches(start, stop, batch_size):
            if images:
                kept_images.append(batch.cpu())
            pool, logit = extractor(batch)  # [B, d], [B, K]
            if running is not None:
                running.update(pool)
            if features:
                kept_features.append(pool)
            if logits:
                kept_logits.append(logit)
            bar.update(batch.shape[0])
    result_stats = None
    if running is not None:
        all_reduce_sum(running.tensors(), group)
        result_stats = running.stats(extractor=extractor.identity)
    return Extracted(
        n=n,
        stats=result_stats,
        features=_gather(kept_features, extractor.feature_dim, device, group) if features else None,
        logits=_gather(kept_logits, extractor.num_logits, device, group) if logits else None,
        labels=classes[:n].copy() if classes is not None else None,
        device=str(sums_device),
        images=_gather_images(kept_images, group) if images else None,
    )


def _labels(source: ImageSource, wanted: bool | str) -> np.ndarray | None:
    """The source's classes when ``wanted`` (the names of the metrics that need them, or
    True); an error naming those metrics when it has none."""
    classes = source.labels() if wanted else None
    if wanted and classes is None:
        who = wanted if isinstance(wanted, str) else "this metric"
        raise SourceError(
            f"{source.description}: {who} needs the class of every generated image: score a "
            "conditional run, a folder with one sub-folder per class, or a .npz with 'labels'"
        )
    return classes


def _images_only(
    source: ImageSource,
    n: int,
    batch_size: int,
    group: dist.ProcessGroup | None,
    progress: bool,
    labels: bool,
) -> Extracted:
    """The images [0, n) (and labels) without a feature network: what pixel rulers read."""
    classes = _labels(source, labels)
    rank, world = rank_and_world(group)
    start, stop = shard(n, rank, world)
    kept = []
    with tqdm(total=stop - start, desc=f"images ({source.description})", unit="img",
              disable=not progress or rank != 0, leave=False) as bar:  # fmt: skip
        for batch in source.batches(start, stop, batch_size):
            kept.append(batch.cpu())
            bar.update(batch.shape[0])
    return Extracted(
        n=n, stats=None, features=None, logits=None,
        labels=classes[:n].copy() if classes is not None else None,
        images=_gather_images(kept, group),
    )  # fmt: skip


def _gather_images(chunks: list[torch.Tensor], group: dist.ProcessGroup | None) -> np.ndarray:
    """Every process's uint8 images [n_r, C, H, W] in rank order, as one numpy array."""
    rows = torch.cat(chunks) if chunks else torch.zeros(0, 3, 1, 1, dtype=torch.uint8)
    if rank_and_world(group)[1] > 1:
        # floats gather on every backend; uint8 values survive the round trip exactly
        device = "cuda" if dist.get_backend(group) == "nccl" else "cpu"
        rows = all_gather_rows(rows.to(device).float(), group).round().to(torch.uint8).cpu()
    return rows.numpy()


def _gather(
    chunks: list[torch.Tensor],
    width: int,
    device: torch.device,
    group: dist.ProcessGroup | None,
) -> torch.Tensor:
    """Concatenate this process's rows, gather every process's in rank order, move to CPU."""
    rows = torch.cat(chunks) if chunks else torch.zeros(0, width, device=device)
    return all_gather_rows(rows.to(device).float(), group).cpu()
