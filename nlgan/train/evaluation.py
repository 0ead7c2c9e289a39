"""Periodic FID / IS / KID of the EMA generator during training (``eval.every`` > 0).

The Inception network and the reference statistics are loaded once, when the trainer is built,
so a wrong ``eval.reference`` or missing weights fail before training starts rather than at
the first evaluation hours later. Scoring goes through :func:`nlgan.metrics.scoring.evaluate`,
the same code as ``nlgan fid``, so in-run and offline numbers agree. Under several processes
every process scores its shard and all receive the same numbers.
"""

from __future__ import annotations

import torch
from torch import nn

from nlgan.config import ConfigError, EvalConfig
from nlgan.metrics.inception import load_inception
from nlgan.metrics.reference import open_reference
from nlgan.metrics.scoring import evaluate
from nlgan.metrics.sources import SourceError, generator_source
from nlgan.metrics.stats import StatsError
from nlgan.metrics.weights import InceptionWeightsError

# Fixed latents, so scores at different steps compare the same z; the same default seed as
# `nlgan fid RUN`, so an offline score of a checkpoint reproduces its in-run score.
EVAL_SEED = 0


class PeriodicEval:
    """Scores a generator with the metrics of ``eval``; set up once, called every eval.every."""

    def __init__(self, cfg: EvalConfig, device: torch.device):
        self.cfg, self.device = cfg, device
        try:
            self.extractor = load_inception(cfg.inception_weights or None, device=device)
            needs_reference = any(m in cfg.metrics for m in ("fid", "kid"))
            self.reference = (
                open_reference(
                    cfg.reference,
                    self.extractor,
                    need_features="kid" in cfg.metrics,
                    batch_size=cfg.batch_size,
                )
                if needs_reference
                else None
            )
        except (InceptionWeightsError, SourceError, StatsError, OSError) as err:
            raise ConfigError(f"eval: {str(err).splitlines()[0]}") from None

    def __call__(self, G: nn.Module) -> dict[str, float]:
        """``{"eval/fid": ..., ...}`` for ``cfg.n`` samples of ``G`` (latent i, class i mod K)."""
        scores = evaluate(
            generator_source(G, self.cfg.n, seed=EVAL_SEED, description="EMA generator"),
            self.reference,
            metrics=self.cfg.metrics,
            n=self.cfg.n,
            batch_size=self.cfg.batch_size,
            extractor=self.extractor,
            device=self.device,
        )
        return {f"eval/{k}": float(v) for k, v in scores.items() if k != "n"}
