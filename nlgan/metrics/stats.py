"""Streaming feature statistics (mean, unbiased covariance) and their ``.npz`` files.

Sums of features and of their outer products are kept in float64 (a float32 running sum of 50k
2048-d outer products loses ~3 digits), so statistics can be merged across batches and processes
by plain addition. Files hold ``mu`` and ``sigma`` like pytorch-fid's and TTUR's, so either side
reads the other's; ``n``, ``extractor``, ``resize`` and ``backbone_hash`` are extra keys those
tools ignore. The last two carry the protocol, so scoring one statistics file against another
can check that both were made the same way (other tools' files record neither: "unknown").
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nlgan.errors import NlganError
from nlgan.metrics.protocol import UNKNOWN, cleanfid_name


class StatsError(NlganError, ValueError):
    """A statistics file is unreadable, or two sets of statistics do not match."""


@dataclass(frozen=True)
class Stats:
    """Mean and covariance of a feature distribution (float64 numpy)."""

    mu: np.ndarray  # [d]
    sigma: np.ndarray  # [d, d]
    n: int = 0  # samples behind them; 0 when unknown (files from other tools)
    extractor: str = ""  # identity of the feature extractor; "" when unknown

    @property
    def dim(self) -> int:
        """Feature dimension."""
        return int(self.mu.shape[0])


class FeatureStats:
    """Running float64 sums of features and outer products; add batches, then ``stats()``."""

    def __init__(self, dim: int, device: str | torch.device = "cpu"):
        self.dim = dim
        self.n = torch.zeros((), dtype=torch.float64, device=device)
        self.total = torch.zeros(dim, dtype=torch.float64, device=device)
        self.outer = torch.zeros(dim, dim, dtype=torch.float64, device=device)

    def update(self, features: torch.Tensor) -> None:
        """Add a batch of features [B, dim]."""
        if features.dim() != 2 or features.shape[1] != self.dim:
            raise StatsError(f"expected features [B, {self.dim}], got {list(features.shape)}")
        f = features.to(device=self.total.device, dtype=torch.float64)
        self.n += f.shape[0]
        self.total += f.sum(0)
        self.outer.addmm_(f.T, f)  # += f^T f, [dim, dim]

    def tensors(self) -> list[torch.Tensor]:
        """The sums, for an all-reduce (summing them across processes merges the statistics)."""
        return [self.n, self.total, self.outer]

    def stats(self, extractor: str = "") -> Stats:
        """Mean and unbiased covariance of everything added so far."""
        n = int(self.n.item())
        if n < 2:
            raise StatsError(f"statistics need at least 2 samples, got {n}")
        mu = self.total / n
        sigma = (self.outer - n * torch.outer(mu, mu)) / (n - 1)
        sigma = (sigma + sigma.T) / 2  # exactly symmetric despite rounding
        return Stats(mu.cpu().numpy(), sigma.cpu().numpy(), n=n, extractor=extractor)


def stats_from_features(features: np.ndarray | torch.Tensor, extractor: str = "") -> Stats:
    """One-shot statistics of a feature matrix [N, d] (np.mean / np.cov(rowvar=False))."""
    f = np.asarray(features, dtype=np.float64)
    return Stats(f.mean(0), np.cov(f, rowvar=False), n=f.shape[0], extractor=extractor)


def save_stats(stats: Stats, path: str | Path, backbone: dict[str, Any] | None = None) -> None:
    """Write ``mu``, ``sigma`` (+ ``n``, ``extractor``, and the backbone's ``resize`` and
    ``backbone_hash`` when given) to ``path`` (pytorch-fid compatible)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    made_with = {
        key: str((backbone or {}).get(field) or "")
        for key, field in (("resize", "resize"), ("backbone_hash", "hash"))
    }
    with open(path, "wb") as f:  # a file object stops numpy from appending ".npz"
        np.savez(
            f, mu=stats.mu, sigma=stats.sigma, n=np.int64(stats.n), extractor=stats.extractor,
            **{key: value for key, value in made_with.items() if value},
        )  # fmt: skip


def stats_made_with(path: str | Path) -> dict[str, str]:
    """The ``resize`` and ``backbone_hash`` a statistics file records ("unknown" if it does not).

    clean-fid's published files name their resize mode in the file name; nothing records their
    network's hash.
    """
    made_with = {"resize": UNKNOWN, "backbone_hash": UNKNOWN}
    parsed = cleanfid_name(path)
    if parsed is not None:
        made_with["resize"] = parsed["mode"]
    try:
        with np.load(path, allow_pickle=False) as data:
            for key in made_with:
                if key in data.files and str(data[key]):
                    made_with[key] = str(data[key])
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        pass  # load_stats says what is wrong with the file
    return made_with


def is_stats_file(path: str | Path) -> bool:
    """Whether ``path`` is an ``.npz`` holding ``mu`` and ``sigma`` (statistics, not images)."""
    try:
        with np.load(path) as data:
            return "mu" in data.files and "sigma" in data.files
    except (OSError, ValueError, zipfile.BadZipFile):
        return False


def load_stats(path: str | Path) -> Stats:
    """Read statistics written by nlgan, pytorch-fid (``--save-stats``) or TTUR."""
    try:
        with np.load(path, allow_pickle=False) as data:
            if "mu" not in data.files or "sigma" not in data.files:
                raise StatsError(
                    f"{path}: no 'mu' and 'sigma' arrays (keys: {', '.join(data.files)}); "
                    "make statistics with `nlgan fid IMAGES --save-stats FILE.npz`"
                )
            mu = np.asarray(data["mu"], dtype=np.float64)
            sigma = np.asarray(data["sigma"], dtype=np.float64)
            n = int(data["n"]) if "n" in data.files else 0
            extractor = str(data["extractor"]) if "extractor" in data.files else ""
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        if isinstance(err, StatsError):
            raise
        raise StatsError(
            f"{path}: not a readable .npz file ({type(err).__name__}); re-create it with "
            "`nlgan fid IMAGES --save-stats FILE.npz`"
        ) from None
    if mu.ndim != 1 or sigma.shape != (mu.shape[0], mu.shape[0]):
        raise StatsError(
            f"{path}: mu {list(mu.shape)} and sigma {list(sigma.shape)} are not [d] and [d, d]"
        )
    return Stats(mu, sigma, n=n, extractor=extractor)
