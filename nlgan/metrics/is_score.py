"""Inception Score with torch-fidelity's conventions (bias-free logits, 10 splits, shuffled)."""

from __future__ import annotations

import numpy as np
import torch


def inception_score(
    logits: torch.Tensor | np.ndarray, splits: int = 10, shuffle: bool = True, seed: int = 2020
) -> tuple[float, float]:
    """Mean and std over ``splits`` of exp(E_x KL(p(y|x) || p(y))), from logits [N, K]."""
    logits = torch.as_tensor(logits).double()
    n = logits.shape[0]
    if logits.dim() != 2 or n < splits:
        raise ValueError(
            f"Inception Score needs logits [N, K] with N >= splits={splits}, got "
            f"{list(logits.shape)} (score more samples, or fewer splits: nlgan fid --is-splits)"
        )
    if shuffle:  # the same permutation as torch-fidelity, so scores match it exactly
        logits = logits[torch.from_numpy(np.random.RandomState(seed).permutation(n))]
    p = logits.softmax(dim=1)  # [N, K]
    log_p = logits.log_softmax(dim=1)
    scores = []
    for i in range(splits):
        lo, hi = i * n // splits, (i + 1) * n // splits
        p_chunk, log_p_chunk = p[lo:hi], log_p[lo:hi]
        log_marginal = p_chunk.mean(dim=0, keepdim=True).log()  # [1, K]
        kl = (p_chunk * (log_p_chunk - log_marginal)).sum(dim=1)  # [hi - lo]
        scores.append(kl.mean().exp().item())
    return float(np.mean(scores)), float(np.std(scores))
