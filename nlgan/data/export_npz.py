"""The training images of any configured data set, as one ``.npz`` other tools can read.

``nlgan prepare --config CONFIG --out train.npz`` writes ``images`` (uint8 ``[N, R, R, C]``,
NHWC, the layout ``nlgan fid`` reads) and ``labels`` (int64 ``[N]``): exactly the images the
run trains on (``data.subset`` applied, no random flips), brought back from the model's [-1, 1]
range. So a tool outside nlgan can score samples against what was trained on.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch

from nlgan.config import Config
from nlgan.data.build import build_dataset
from nlgan.storage.files import atomic_write


def training_arrays(cfg: Config) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images ``[N, R, R, C]`` and int64 labels ``[N]`` of ``cfg``'s training set."""
    data = dataclasses.replace(cfg.data, hflip=False)  # the images themselves, not flips
    dataset = build_dataset(data, cfg.model)
    images, labels = [], []
    for i in range(len(dataset)):
        x, y = dataset[i]  # [C, R, R] in [-1, 1]
        images.append(((x + 1.0) * 127.5).round().clamp(0, 255).to(torch.uint8))
        labels.append(int(y))
    stacked = torch.stack(images).permute(0, 2, 3, 1).contiguous()  # [N, R, R, C]
    return stacked.numpy(), np.asarray(labels, dtype=np.int64)


def write_training_npz(cfg: Config, out: str | Path) -> tuple[Path, int]:
    """Write ``cfg``'s training images and labels to ``out`` (atomically); path and count."""
    images, labels = training_arrays(cfg)
    with atomic_write(out, "wb") as f:
        np.savez(f, images=images, labels=labels)
    return Path(out), len(images)
