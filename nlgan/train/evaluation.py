"""Periodic FID / IS / KID of the EMA generator during training (``eval.every`` > 0).

The Inception network and the reference statistics are loaded once, when the trainer is built,
so a wrong ``eval.reference`` or missing weights fail before training starts rather than at
the first evaluation hours later. Scoring goes through :func:`nlgan.metrics.evaluate.evaluate`,
the same code as ``nlgan fid``, so in-run and offline numbers agree. Under several processes
every process scores its shard and all receive the same numbers.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from nlgan.config import ConfigError, EvalConfig
from nlgan.metrics.evaluate import evaluate
from nlgan.metrics.inception import load_inception
from nlgan.metrics.reference import open_reference
from nlgan.metrics.sources import CallableSource, SourceError
from nlgan.metrics.stats import StatsError
from nlgan.metrics.weights import InceptionWeightsError
from nlgan.sampling import latents, to_unit_range

EVAL_SEED = 2024  # fixed latents: scores at different steps compare the same z


def generator_images(
    G: nn.Module, z_dim: int, num_classes: int, device: torch.device
) -> Callable[[int, int], torch.Tensor]:
    """``fn(start, stop)`` -> uint8 [stop - start, C, R, R]; sample i uses latent i, label i % K."""

    @torch.no_grad()
    def images(start: int, stop: int) -> torch.Tensor:
        z = latents(start, stop - start, z_dim, EVAL_SEED).to(device)  # [b, z_dim]
        y = torch.arange(start, stop, device=device) % num_classes if num_classes else None
        return (to_unit_range(G(z, y)) * 255).round().to(torch.uint8)  # [b, C, R, R]

    return images


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

    def __call__(self, G: nn.Module, z_dim: int, num_classes: int) -> dict[str, float]:
        """``{"eval/fid": ..., ...}`` for ``cfg.n`` samples of ``G`` (kept in eval mode)."""
        was_training = G.training
        G.eval()
        try:
            source = CallableSource(
                generator_images(G, z_dim, num_classes, self.device), self.cfg.n, "G_ema"
            )
            scores = evaluate(
                source,
                self.reference,
                metrics=self.cfg.metrics,
                n=self.cfg.n,
                batch_size=self.cfg.batch_size,
                extractor=self.extractor,
                device=self.device,
            )
        finally:
            G.train(was_training)
        return {f"eval/{k}": float(v) for k, v in scores.items() if k != "n"}
