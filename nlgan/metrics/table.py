"""The metric table: every metric defined once — its name, what it needs, its scorer, its rows.

Config validation (``eval.metrics``, ``eval.best``), in-run evaluation, ``nlgan fid`` and the
printed table all read :data:`METRICS`. Adding a metric means one :class:`Metric` entry here
(plus its implementation module and tests); nothing else lists metric names.

What a metric needs, on each side:
- ``needs`` (generated side): ``stats`` (mean / covariance), ``features`` (every feature row),
  ``logits`` (the Inception's class logits), ``labels`` (the class of every sample) and
  ``images`` (the uint8 images themselves, for rulers that read pixels: ``pairs``); a metric
  that needs none of the first three loads no feature network;
- ``reference``: ``""`` (none), ``"stats"`` (a statistics ``.npz`` is enough), ``"features"``
  (reference images) or ``"classes"`` (labelled reference images, per-class statistics).

This module imports no torch: scorers import their implementation when they run, so the config
validates metric names without loading torch.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

Scores = dict[str, Any]


@dataclass(frozen=True)
class MetricOptions:
    """Options of the metrics (defaults follow the papers and torch-fidelity / clean-fid)."""

    is_splits: int = 10  # IS: splits of the samples (mean and std over them)
    kid_subsets: int = 100  # KID: random subsets ...
    kid_subset_size: int = 1000  # ... of this many samples each
    prdc_k: int = 5  # PRDC: k of the k-NN balls (Naeem et al. 2020; Kynkäänniemi et al.: 3)
    infinity_points: int = 15  # FID∞ / IS∞: subset sizes from n / 10 (FID∞: >= 2.4 d) to n
    seed: int = 2020  # IS shuffle, KID subsets, FID∞ / IS∞ subsets (torch-fidelity's seed)
    prdc_chunk_rows: int = 0  # PRDC rows per distance chunk; 0 = about 128 MB of distances
    pairs_seed: int = 0  # pairs: the training set scored against (data.seed ...
    pairs_size: int = 10000  # ... and data.size of the run)

    def as_record(self) -> dict[str, int]:
        """The options as plain data (for the protocol record)."""
        return asdict(self)


@dataclass(frozen=True)
class Metric:
    """One metric: what it needs, how it is scored, how it prints."""

    name: str  # as written in --metrics / eval.metrics
    title: str  # label in the printed table
    needs: frozenset[str]  # generated side: stats, features, logits, labels
    reference: str  # "", "stats", "features" or "classes"
    better: dict[str, str]  # result keys usable as eval.best -> "lower" / "higher"
    score: Callable[[Any, Any, MetricOptions, Any], Scores]  # (generated, reference, opts, group)
    rows: Callable[[Scores], list[tuple[str, str]]]


def _fid(gen: Any, ref: Any, opts: MetricOptions, group: Any) -> Scores:
    from nlgan.metrics.frechet import fid_from_stats

    return {"fid": fid_from_stats(gen.stats, ref.stats)}


def _is(gen: Any, ref: Any, opts: MetricOptions, group: Any) -> Scores:
    from nlgan.metrics.is_score import inception_score

    mean, std = inception_score(gen.logits, splits=opts.is_splits, seed=opts.seed)
    return {"is_mean": mean, "is_std": std}


def _kid(gen: Any, ref: Any, opts: MetricOptions, group: Any) -> Scores:
    from nlgan.metrics.kid import kernel_inception_distance

    mean, std, size = kernel_inception_distance(
        gen.features, ref.features, opts.kid_subsets, opts.kid_subset_size, opts.seed
    )
    return {"kid_mean": mean, "kid_std": std, "kid_subset_size": size}


def _prdc(gen: Any, ref: Any, opts: MetricOptions, group: Any) -> Scores:
    from nlgan.metrics.manifold import prdc

    chunk = opts.prdc_chunk_rows or None
    scores = prdc(ref.features, gen.features, opts.prdc_k, chunk, group, gen.device)
    return {**scores, "prdc_k": opts.prdc_k}


def _ifid(gen: Any, ref: Any, opts: MetricOptions, group: Any) -> Scores:
    from nlgan.metrics.distributed import on_rank0
    from nlgan.metrics.intraclass import check_labels, intra_class_fid

    check_labels(gen.labels, len(ref.classes))  # on every rank, so none waits for a failed one
    # rank 0 reads the per-class cache entries (other nodes may not see that cache)
    per_class = on_rank0(lambda: intra_class_fid(gen.features, gen.labels, ref.classes), group)
    return {"ifid": sum(per_class) / len(per_class), "ifid_per_class": per_class}


def _fid_inf(gen: Any, ref: Any, opts: MetricOptions, group: Any) -> Scores:
    from nlgan.metrics.infinity import fid_infinity

    return {"fid_inf": fid_infinity(gen.features, ref.stats, opts.infinity_points, opts.seed)}


def _is_inf(gen: Any, ref: Any, opts: MetricOptions, group: Any) -> Scores:
    from nlgan.metrics.infinity import is_infinity

    return {"is_inf": is_infinity(gen.logits, opts.infinity_points, opts.seed)}


def _pairs(gen: Any, ref: Any, opts: MetricOptions, group: Any) -> Scores:
    from nlgan.metrics.distributed import on_rank0
    from nlgan.metrics.pairs_score import score_pairs

    # every rank holds all images (gathered); one scores, all receive the numbers
    return on_rank0(
        lambda: score_pairs(gen.images, gen.labels, opts.pairs_seed, opts.pairs_size), group
    )


# Scores that are infinite by definition, not by damage: the pairs ruler's factor FD when fewer
# than 2 samples hold a valid pair (no distribution to fit). Printed as undefined, not refused.
UNDEFINED_WHEN_INFINITE = ("pairs_fd", "pairs_fd_ratio")


def _pairs_rows(s: Scores) -> list[tuple[str, str]]:
    fd = (
        f"{s['pairs_fd']:.4f}  (floor {s['pairs_fd_floor']:.4f}, {s['pairs_fd_ratio']:.2f}x)"
        if math.isfinite(s["pairs_fd"])
        else f"undefined: fewer than 2 valid samples  (floor {s['pairs_fd_floor']:.4f})"
    )
    return [
        ("twin", f"{s['pairs_twin']:.4f}"),
        ("valid", f"{s['pairs_valid']:.4f}"),
        ("class accuracy", f"{s['pairs_class']:.4f}"),
        ("asymmetry", f"{s['pairs_asymmetry']:.4f}"),
        ("factor FD", fd),
        ("memorised", f"{s['pairs_memorised']:.4f}"),
    ]  # fmt: skip


def _ifid_rows(s: Scores) -> list[tuple[str, str]]:
    per_class = s["ifid_per_class"]
    shown = " ".join(f"{v:.2f}" for v in per_class) if len(per_class) <= 10 else "see --json"
    return [("iFID", f"{s['ifid']:.4f}  (mean of {len(per_class)} classes: {shown})")]


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric(
            "fid", "FID", frozenset({"stats"}), "stats", {"fid": "lower"}, _fid,
            lambda s: [("FID", f"{s['fid']:.4f}")],
        ),
        Metric(
            "is", "IS", frozenset({"logits"}), "", {"is_mean": "higher"}, _is,
            lambda s: [("IS", f"{s['is_mean']:.4f} ± {s['is_std']:.4f}")],
        ),
        Metric(
            "kid", "KID", frozenset({"features"}), "features", {"kid_mean": "lower"}, _kid,
            lambda s: [(
                "KID",
                f"{s['kid_mean']:.6f} ± {s['kid_std']:.6f}  (subsets of {s['kid_subset_size']})",
            )],
        ),
        Metric(
            "prdc", "PRDC", frozenset({"features"}), "features",
            {k: "higher" for k in ("precision", "recall", "density", "coverage")}, _prdc,
            lambda s: [
                (f"{k} (k={s['prdc_k']})", f"{s[k]:.4f}")
                for k in ("precision", "recall", "density", "coverage")
            ],
        ),
        Metric(
            "ifid", "iFID", frozenset({"features", "labels"}), "classes", {"ifid": "lower"},
            _ifid, _ifid_rows,
        ),
        Metric(
            "fid_inf", "FID∞", frozenset({"features"}), "stats", {"fid_inf": "lower"}, _fid_inf,
            lambda s: [("FID∞", f"{s['fid_inf']:.4f}")],
        ),
        Metric(
            "is_inf", "IS∞", frozenset({"logits"}), "", {"is_inf": "higher"}, _is_inf,
            lambda s: [("IS∞", f"{s['is_inf']:.4f}")],
        ),
        Metric(
            "pairs", "pairs ruler", frozenset({"images", "labels"}), "",
            {"pairs_twin": "higher", "pairs_class": "higher", "pairs_valid": "higher",
             "pairs_fd_ratio": "lower"},
            _pairs, _pairs_rows,
        ),
    )
}  # fmt: skip


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


def needs(metrics: tuple[str, ...]) -> frozenset[str]:
    """What the generated side must produce for all of ``metrics``."""
    return frozenset().union(*(METRICS[m].needs for m in metrics))


def needs_backbone(metrics: tuple[str, ...]) -> bool:
    """Whether ``metrics`` need a feature network at all (the pixel rulers do not)."""
    return bool(needs(metrics) & {"stats", "features", "logits"}) or bool(reference_needs(metrics))


def reference_needs(metrics: tuple[str, ...]) -> frozenset[str]:
    """What the reference must provide for ``metrics`` ("stats", "features", "classes")."""
    return frozenset(METRICS[m].reference for m in metrics) - {""}


def best_key(metrics: tuple[str, ...], key: str = "") -> tuple[str, str]:
    """The score that picks the best checkpoint, and "lower" / "higher" for its better side.

    ``key`` "" is the first metric's headline score (``fid`` for fid, ``is_mean`` for is, ...).
    """
    choices = {k: d for m in metrics for k, d in METRICS[m].better.items()}
    if not key:
        key = next(iter(METRICS[metrics[0]].better))
    if key not in choices:
        raise ValueError(
            f"eval.best={key!r} is not a score of eval.metrics={','.join(metrics)} "
            f"(choose one of {', '.join(choices)})"
        )
    return key, choices[key]


def check_backbone(metrics: tuple[str, ...], backbone: str) -> None:
    """IS and IS∞ need the Inception's class logits, which a custom backbone does not have."""
    from nlgan.metrics.protocol import DEFAULT_BACKBONE

    with_logits = [m for m in metrics if "logits" in METRICS[m].needs]
    if backbone != DEFAULT_BACKBONE and with_logits:
        raise ValueError(
            f"metrics={','.join(with_logits)} need the Inception's class logits; backbone "
            f"{backbone!r} has none (drop them, or use backbone inception)"
        )


def format_table(scores: Scores) -> str:
    """A small human-readable table of scores, in table order, then the sample count."""
    rows: list[tuple[str, str]] = []
    for metric in METRICS.values():
        if all(key in scores for key in metric.better):
            rows += metric.rows(scores)
    if "n" in scores:
        rows.append(("samples", str(scores["n"])))
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)
