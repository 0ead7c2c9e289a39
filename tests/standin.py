"""The stand-in feature network of the metric tests (the real FID Inception is not offline).

Pooled pixels through a fixed random projection: cheap, deterministic, and the same interface
as the Inception (uint8 images in, features and logits out). It takes and ignores any arguments,
so it can also replace ``load_inception`` in code under test.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


class SmallExtractor:
    """uint8 [B, 1|3, H, W] -> (features [B, 16], logits [B, 10])."""

    identity = "standin-extractor-v1"
    device = torch.device("cpu")
    feature_dim = 16
    num_logits = 10

    def __init__(self, *args, **kwargs):
        gen = torch.Generator().manual_seed(0)
        self.proj = torch.randn(48, 16, generator=gen) / 4
        self.head = torch.randn(16, 10, generator=gen)

    def __call__(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = F.adaptive_avg_pool2d(images.float().expand(-1, 3, -1, -1) / 255, 4)  # [B, 3, 4, 4]
        pool = torch.tanh(x.flatten(1) @ self.proj)  # [B, 16]
        return pool, pool @ self.head  # [B, 10]
