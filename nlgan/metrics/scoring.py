"""``evaluate``: any metrics of the table for a source of images against a reference, in one pass.

The trainer calls this during training and ``nlgan fid`` calls it offline, so a checkpoint scores
the same either way. What each metric needs (statistics, features, logits, labels; what kind of
reference) comes from :data:`nlgan.metrics.table.METRICS`; the features are extracted once and
every metric is scored from them. Under torch.distributed every process must call it with the
same arguments.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from nlgan.metrics.extraction import extract
from nlgan.metrics.inception import FeatureExtractor
from nlgan.metrics.reference import Reference, open_reference
from nlgan.metrics.sources import ImageSource
from nlgan.metrics.stats import Stats
from nlgan.metrics.table import (
    METRICS,
    MetricOptions,
    check_metrics,
    needs,
    needs_backbone,
    reference_needs,
)


def prepare_reference(
    reference: str | Path | ImageSource | Stats | Reference | None,
    metrics: tuple[str, ...],
    extractor: FeatureExtractor,
    **kwargs: Any,
) -> Reference | None:
    """The reference with what ``metrics`` need from it (None when none of them needs one).

    ``kwargs`` go to :func:`nlgan.metrics.reference.compute_reference` (n, batch_size,
    cache_dir, use_cache, group, progress).
    """
    wanted = reference_needs(metrics)
    if not wanted:
        return None
    if reference is None:
        names = [m for m in metrics if METRICS[m].reference]
        raise ValueError(
            f"{', '.join(METRICS[m].title for m in names)} need a reference (statistics .npz "
            "or real images)"
        )
    return open_reference(
        reference,
        extractor,
        need_features="features" in wanted,
        need_classes="classes" in wanted,
        need_stats="stats" in wanted or "features" in wanted,
        **kwargs,
    )


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
    resize: str | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Score ``n`` images of ``source`` (default: all) against ``reference``.

    Returns ``{"n", <the requested metrics' keys>}``, e.g. ``fid``, ``is_mean`` / ``is_std``,
    ``kid_mean`` / ``kid_std`` / ``kid_subset_size``, ``precision`` / ``recall`` / ``density``
    / ``coverage``, ``ifid`` / ``ifid_per_class``, ``fid_inf``, ``is_inf``. ``reference`` is a
    statistics ``.npz``, an image folder / ``.npz`` of images / ``cifar10-train:ROOT`` (its
    statistics are cached), an ImageSource, Stats, or a prepared Reference (pass one to score
    many times without re-reading it); IS alone needs none. ``extractor`` defaults to the FID
    Inception from ``inception_weights`` on ``device`` with ``resize``. ``options`` are fields
    of :class:`~nlgan.metrics.table.MetricOptions` (``is_splits``, ``kid_subsets``, ``prdc_k``,
    ...). Under torch.distributed each process reads its shard of [0, n); all get the same scores.
    """
    metrics = check_metrics(metrics)
    opts = MetricOptions(**options)
    if reference is None and reference_needs(metrics):
        prepare_reference(None, metrics, extractor)  # the one-line error naming the metrics
    if extractor is None and needs_backbone(metrics):
        from nlgan.metrics.inception import load_inception
        from nlgan.metrics.protocol import DEFAULT_RESIZE

        extractor = load_inception(
            inception_weights, device=device or "cpu", resize=resize or DEFAULT_RESIZE
        )
    n = len(source) if n is None else n
    ref = prepare_reference(
        reference,
        metrics,
        extractor,
        n=reference_n,
        batch_size=batch_size,
        cache_dir=cache_dir,
        use_cache=use_cache,
        group=process_group,
        progress=progress,
    )
    wanted = needs(metrics)
    generated = extract(
        source,
        extractor if needs_backbone(metrics) else None,
        n=n,
        batch_size=batch_size,
        stats="stats" in wanted,
        features="features" in wanted,
        logits="logits" in wanted,
        # which metrics need the classes, named in the error when the source has none
        labels=", ".join(METRICS[m].title for m in metrics if "labels" in METRICS[m].needs),
        images="images" in wanted,
        group=process_group,
        progress=progress,
    )
    scores: dict[str, Any] = {"n": n}
    for name in metrics:
        scores.update(METRICS[name].score(generated, ref, opts, process_group))
    return scores


def describe(
    metrics: str | tuple[str, ...],
    n: int,
    extractor: FeatureExtractor | None,
    reference: Reference | None,
    source: ImageSource | None = None,
    seed: int | None = None,
    truncation: float | None = None,
    **options: Any,
) -> dict[str, Any]:
    """The protocol record's ``protocol`` part for scores :func:`evaluate` made with these inputs.

    ``seed`` and ``truncation`` are the latents' (generated images); None for image files.
    """
    from nlgan.metrics.backbones import backbone_info
    from nlgan.metrics.protocol import protocol

    if extractor is None:  # pixel rulers alone: no feature network took part
        backbone = {"name": None, "identity": None, "hash": None}
    else:
        backbone = backbone_info(extractor)
    return protocol(
        metrics=check_metrics(metrics),
        n=n,
        resize=backbone.get("resize"),
        backbone=backbone,
        reference=reference.info if reference is not None else None,
        source=source.info() if source is not None else None,
        seed=seed,
        truncation=truncation,
        options=MetricOptions(**options).as_record(),
    )
