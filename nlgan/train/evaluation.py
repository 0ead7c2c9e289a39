"""Periodic evaluation of the EMA generator during training (``eval.every`` > 0), and its best.

The backbone (FID Inception by default) and the reference are loaded once, when the trainer is
built, so a wrong ``eval.reference`` or missing weights fail before training starts rather than
at the first evaluation hours later. Scoring goes through :func:`nlgan.metrics.scoring.evaluate`,
the same code as ``nlgan fid``, so in-run and offline numbers agree; the protocol record (resize,
backbone, reference, n, seed, versions) is built once and goes to the tracker's config and into
the best-score record. Under several processes every process scores its shard and all receive
the same numbers.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import torch
from torch import nn

from nlgan.config import ConfigError, DataConfig, EvalConfig
from nlgan.metrics.backbones import BackboneError, backbone_info, load_backbone
from nlgan.metrics.inception import load_inception
from nlgan.metrics.infinity import fid_infinity_min_n
from nlgan.metrics.protocol import DEFAULT_BACKBONE, check_reference_mode, record
from nlgan.metrics.scoring import describe, evaluate, prepare_reference
from nlgan.metrics.sources import SourceError, generator_source
from nlgan.metrics.stats import Stats, StatsError, is_stats_file, stats_made_with
from nlgan.metrics.table import best_key, needs_backbone
from nlgan.metrics.weights import InceptionWeightsError

# Fixed latents, so scores at different steps compare the same z; the same default seed as
# `nlgan fid RUN`, so an offline score of a checkpoint reproduces its in-run score.
EVAL_SEED = 0


class PeriodicEval:
    """Scores a generator with the metrics of ``eval``; set up once, called every eval.every."""

    def __init__(self, cfg: EvalConfig, device: torch.device, data: DataConfig | None = None):
        self.cfg, self.device = cfg, device
        self.options = {"prdc_k": cfg.prdc_k}
        if data is not None and data.name == "pairs":  # the ruler's training set is the run's
            self.options.update(pairs_seed=data.seed, pairs_size=data.size)
        try:
            if not needs_backbone(cfg.metrics):  # pixel rulers (pairs): no feature network
                self.extractor = None
            elif cfg.backbone == DEFAULT_BACKBONE:
                weights = cfg.inception_weights or None
                self.extractor = load_inception(weights, device=device, resize=cfg.resize)
            else:
                self.extractor = load_backbone(cfg.backbone, device, cfg.resize)
            if self.extractor is not None and cfg.reference and is_stats_file(cfg.reference):
                made_with = stats_made_with(cfg.reference)
                hash_ = backbone_info(self.extractor).get("hash") or ""
                check_reference_mode(cfg.reference, cfg.resize, made_with, hash_)
            self.reference = prepare_reference(
                cfg.reference or None, cfg.metrics, self.extractor, batch_size=cfg.batch_size
            )
        except (
            InceptionWeightsError, BackboneError, SourceError, StatsError, OSError, ValueError
        ) as err:  # fmt: skip
            raise ConfigError(f"eval: {str(err).splitlines()[0]}") from None
        if self.extractor is not None and getattr(self.reference, "stats", None) is not None:
            _check_reference(self.reference.stats, self.extractor.feature_dim, cfg.reference)
        need = fid_infinity_min_n(self.extractor.feature_dim) if self.extractor else 0
        if "fid_inf" in cfg.metrics and cfg.n < need:  # before training, not at every eval
            raise ConfigError(
                f"eval.n={cfg.n}: FID∞ of {self.extractor.feature_dim}-d features needs "
                f"eval.n >= {need} (subsets of >= 2.4 x the dimension, spanning 2x)"
            )
        self.protocol = describe(
            cfg.metrics, cfg.n, self.extractor, self.reference, seed=EVAL_SEED, **self.options
        )
        self.protocol["source"] = {"kind": "generator", "path": "EMA generator", "count": cfg.n}

    def score(self, G: nn.Module) -> dict[str, Any]:
        """All scores of ``cfg.n`` samples of ``G`` (latent i, class i mod K), as evaluate gives."""
        return evaluate(
            generator_source(G, self.cfg.n, seed=EVAL_SEED, description="EMA generator"),
            self.reference,
            metrics=self.cfg.metrics,
            n=self.cfg.n,
            batch_size=self.cfg.batch_size,
            extractor=self.extractor,
            device=self.device,
            **self.options,
        )

    def __call__(self, G: nn.Module) -> dict[str, float]:
        """``{"eval/fid": ..., ...}``: the scalar scores of :meth:`score`, for the tracker."""
        return scalars(self.score(G))


def scalars(scores: dict[str, Any]) -> dict[str, float]:
    """Tracker-ready scalars: ``eval/<key>`` for every number but n (per-class lists stay out)."""
    return {
        f"eval/{k}": float(v)
        for k, v in scores.items()
        if k != "n" and isinstance(v, (int, float)) and not isinstance(v, bool)
    }


class BestScore:
    """The best value of one score over a run's evaluations, as a checkpointable record.

    A resumed run keeps its best only when the score was measured the same way: the same
    metric name and the same protocol (n, seed, resize, backbone and its hash, reference and
    its hash, metric options). A score under another protocol (``eval.*`` changed on resume)
    is not comparable, so the best starts afresh and :attr:`notice` says why in one line.
    """

    def __init__(
        self,
        cfg: EvalConfig,
        saved: dict[str, Any] | None = None,
        protocol: dict[str, Any] | None = None,
    ):
        self.key, self.better = best_key(cfg.metrics, cfg.best)
        self.record, self.notice = None, ""
        if not saved or saved.get("metric") != self.key:
            return  # no best yet, or eval.best now names another score
        changed = protocol_changes(saved.get("record", {}).get("protocol"), protocol)
        if changed:
            self.notice = (
                f"eval: best {self.key} {saved['value']:.4g} (step {saved['step']}) was measured "
                f"under another protocol ({', '.join(changed)} changed); starting a new best"
            )
        else:
            self.record = saved

    def update(self, scores: dict[str, Any], step: int, protocol: dict[str, Any]) -> bool:
        """Keep ``scores`` if they beat the best so far; True when they did (save best.pt)."""
        value = float(scores[self.key])
        if not math.isfinite(value):  # a diverged generator's score is never the best
            return False
        if self.record is not None:
            best = self.record["value"]
            if not (value < best if self.better == "lower" else value > best):
                return False
        # plain data only (numbers, strings, lists, dicts), so checkpoints load weights_only
        plain = json.loads(json.dumps(record(scores, protocol)))
        self.record = {
            "metric": self.key,
            "better": self.better,
            "value": value,
            "step": step,
            "record": plain,
        }
        return True


def _comparable(protocol: dict[str, Any] | None) -> dict[str, Any]:
    """The parts of a protocol that decide the numbers, as plain data.

    The list of metrics is left out (adding KID does not change FID), and so is the path of a
    backbone or reference that has a hash (a moved file gives the same numbers).
    """
    plain = json.loads(json.dumps(protocol or {}))  # tuples -> lists, as a checkpoint holds it
    plain.pop("metrics", None)
    for part in ("backbone", "reference"):
        if isinstance(plain.get(part), dict) and plain[part].get("hash"):
            plain[part].pop("path", None)
    return plain


def protocol_changes(before: dict[str, Any] | None, now: dict[str, Any] | None) -> list[str]:
    """The protocol keys whose values differ between two records ([] when comparable)."""
    a, b = _comparable(before), _comparable(now)
    return sorted(key for key in a.keys() | b.keys() if a.get(key) != b.get(key))


def _check_reference(stats: Stats, dim: int, where: str) -> None:
    """Refuse, before training, reference statistics that the first evaluation would choke on."""
    if stats.dim != dim or stats.sigma.shape != (dim, dim):
        raise ConfigError(
            f"eval.reference={where}: statistics of {stats.dim}-d features, but the feature "
            f"network gives {dim}-d ones; recompute them with `nlgan fid REAL --save-stats`"
        )
    if not (np.isfinite(stats.mu).all() and np.isfinite(stats.sigma).all()):
        raise ConfigError(
            f"eval.reference={where}: its mean or covariance holds NaN/inf values; recompute "
            "them with `nlgan fid REAL --save-stats`"
        )
