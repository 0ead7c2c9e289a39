"""Precision, recall, density and coverage from k-nearest-neighbour manifolds in feature space.

Improved precision / recall (Kynkäänniemi et al. 2019) and density / coverage (Naeem et al.
2020), with the definitions of Naeem et al.'s ``prdc`` package, which the tests match exactly:
a sample's radius is the distance to its k-th nearest neighbour in its own set (itself not
counted), and "inside a ball" is strict (<).

- precision: share of fake samples inside at least one real ball;
- recall: share of real samples inside at least one fake ball;
- density: (1 / k) x the mean number of real balls a fake sample lies in;
- coverage: share of real samples whose nearest fake sample lies inside their own ball.

``prdc`` holds three full N x N distance matrices (50k x 50k float32 is 10 GB each); here the
distances are computed in float64 row chunks ``[chunk, m]`` and reduced at once, so memory stays
at ``chunk x m``. Under torch.distributed every process has all features (gathered, as for KID),
handles a contiguous shard of the rows, and the radii and counts are gathered / summed: every
process returns what one process computes.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.distributed as dist

from nlgan.metrics.distributed import all_gather_rows, all_reduce_sum, rank_and_world, shard

DEFAULT_K = 5  # Naeem et al. 2020 (and StudioGAN); Kynkäänniemi et al. 2019 used 3
CHUNK_ELEMENTS = 1 << 24  # float64 distances per chunk: 128 MB


def _distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Euclidean distances [len(a), len(b)] in float64 (rows of features)."""
    sq = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T
    return sq.clamp_min_(0).sqrt_()


def _rows_per_chunk(columns: int, chunk_rows: int | None) -> int:
    return chunk_rows or max(1, CHUNK_ELEMENTS // max(columns, 1))


def knn_radii(
    features: torch.Tensor,
    k: int,
    chunk_rows: int | None = None,
    group: dist.ProcessGroup | None = None,
    device: str | torch.device = "cpu",
) -> torch.Tensor:
    """Distance of every row to its k-th nearest other row, float64 [n] (chunked, sharded)."""
    x = torch.as_tensor(features).to(device, torch.float64)
    n = x.shape[0]
    if not 1 <= k < n:
        raise ValueError(f"k={k}: a k-NN radius needs 1 <= k < samples ({n}); lower --prdc-k")
    rank, world = rank_and_world(group)
    start, stop = shard(n, rank, world)
    step = _rows_per_chunk(n, chunk_rows)
    radii = []
    for lo in range(start, stop, step):
        hi = min(lo + step, stop)
        d = _distances(x[lo:hi], x)  # [hi - lo, n]
        rows = torch.arange(hi - lo, device=x.device)
        d[rows, rows + lo] = 0.0  # a row's distance to itself, exactly (prdc / sklearn do too)
        radii.append(d.kthvalue(k + 1, dim=1).values)  # the k+1-th smallest counts itself
    mine = torch.cat(radii) if radii else x.new_zeros(0)
    return all_gather_rows(mine[:, None], group)[:, 0]


def prdc(
    real_features: torch.Tensor | np.ndarray,
    fake_features: torch.Tensor | np.ndarray,
    k: int = DEFAULT_K,
    chunk_rows: int | None = None,
    group: dist.ProcessGroup | None = None,
    device: str | torch.device = "cpu",
) -> dict[str, float]:
    """Precision, recall, density and coverage of fake features [m, d] against real [n, d].

    Distances are computed on ``device`` in float64 (a GPU makes 50k x 50k take seconds).
    """
    real = torch.as_tensor(real_features).to(device, torch.float64)
    fake = torch.as_tensor(fake_features).to(device, torch.float64)
    if real.dim() != 2 or fake.dim() != 2 or real.shape[1] != fake.shape[1]:
        raise ValueError(
            f"PRDC needs two feature matrices [N, d] of the same d, got {list(real.shape)} and "
            f"{list(fake.shape)}"
        )
    real_radii = knn_radii(real, k, chunk_rows, group, device)  # [n]
    fake_radii = knn_radii(fake, k, chunk_rows, group, device)  # [m]
    n, m = real.shape[0], fake.shape[0]
    rank, world = rank_and_world(group)
    start, stop = shard(n, rank, world)
    balls_per_fake = real.new_zeros(m)  # real balls containing each fake
    hits = real.new_zeros(2)  # [recall, coverage] numerators
    step = _rows_per_chunk(m, chunk_rows)
    for lo in range(start, stop, step):
        hi = min(lo + step, stop)
        d = _distances(real[lo:hi], fake)  # [hi - lo, m]
        r = real_radii[lo:hi, None]
        balls_per_fake += (d < r).sum(0, dtype=torch.float64)
        hits[0] += (d < fake_radii[None, :]).any(1).sum()
        hits[1] += (d.min(1).values < r[:, 0]).sum()
    all_reduce_sum([balls_per_fake, hits], group)
    return {
        "precision": float((balls_per_fake > 0).double().mean()),
        "recall": float(hits[0] / n),
        "density": float(balls_per_fake.sum() / (k * m)),
        "coverage": float(hits[1] / n),
    }
