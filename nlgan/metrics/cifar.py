"""CIFAR-10/100 as a labelled image source: the standard references for intra-class FID.

Named on the command line as ``cifar10-train:ROOT`` (or ``cifar10-test``, ``cifar100-...``),
where ``ROOT/cifar-10-batches-py/`` holds the python version, as ``nlgan train`` reads it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nlgan.metrics.sources import SourceError, TensorSource


class CifarSource(TensorSource):
    """A CIFAR-10/100 split read by torchvision from ``root`` (never downloaded here)."""

    def __init__(self, name: str, split: str, root: str | Path):
        from torchvision.datasets import CIFAR10, CIFAR100

        self.name, self.split, self.root = name, split, Path(root).expanduser()
        cls = CIFAR10 if name == "cifar10" else CIFAR100
        try:
            data = cls(str(self.root), train=split == "train", download=False)
        except RuntimeError:  # torchvision's "Dataset not found or corrupted"
            raise SourceError(
                f"{name}-{split}:{self.root}: {name} not found or damaged there; extract the "
                f"python version of {name} into {self.root}/ (as `nlgan train` reads it)"
            ) from None
        images = torch.from_numpy(data.data).permute(0, 3, 1, 2)  # [N, 3, 32, 32]
        super().__init__(images, f"{name}-{split}", np.asarray(data.targets), len(data.classes))
        self.class_names = tuple(data.classes)

    def identity(self) -> dict[str, Any]:
        # torchvision checks the files' md5 sums on load, so name, split and root identify them
        return {"kind": self.name, "split": self.split, "root": str(self.root.resolve())}

    def info(self) -> dict[str, Any]:
        digest = hashlib.sha256(self.images.numpy().tobytes()).hexdigest()[:16]
        return {
            "kind": self.name,
            "path": str(self.root.resolve()),
            "count": len(self),
            "hash": digest,
            "split": self.split,
        }
