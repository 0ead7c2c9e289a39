"""The named data sets: CIFAR-10/100 (from a folder, downloaded only when asked), the built-in
offline digits (scikit-learn's 8x8 digits, upsampled) and the procedural pairs."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from nlgan.config import ModelConfig
from nlgan.data.tensors import DataError, TensorImages

CIFAR_SETS = {
    "cifar10": (
        "cifar-10-batches-py",
        "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        10,
    ),
    "cifar100": (
        "cifar-100-python",
        "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
        100,
    ),
}


def build_cifar(
    name: str, root: str | Path, model: ModelConfig, download: bool, hflip: bool
) -> TensorImages:
    """CIFAR-10 or CIFAR-100 (training split) from ``root``; downloads only when asked."""
    from torchvision.datasets import CIFAR10, CIFAR100

    folder, url, num_classes = CIFAR_SETS[name]
    if not str(root):
        raise DataError(
            f"data.root is empty: data.name={name} needs --set data.root=DIR "
            f"where DIR/{folder}/ holds the extracted {url}"
        )
    root = Path(root).expanduser()
    where = root / folder
    cls = CIFAR10 if name == "cifar10" else CIFAR100
    try:
        cifar = cls(str(root), train=True, download=download)
    except RuntimeError:  # torchvision's "Dataset not found or corrupted"
        raise DataError(
            f"{name} not found or damaged in {where}/: download {url} and extract it into "
            f"{root}/ (or set data.download=true with internet access)"
        ) from None
    except OSError as err:  # network failures while downloading (URLError is an OSError)
        raise DataError(
            f"{name}: download into {root}/ failed ({type(err).__name__}); without internet, "
            f"fetch {url} elsewhere and extract it into {root}/"
        ) from None
    _check_classes(name, num_classes, model)
    images = torch.from_numpy(cifar.data).permute(0, 3, 1, 2).contiguous()  # [N, 3, 32, 32]
    labels = torch.tensor(cifar.targets, dtype=torch.long)
    return TensorImages(images, labels, num_classes, model.resolution, model.img_channels, hflip)


def _check_classes(name: str, num_classes: int, model: ModelConfig) -> None:
    if model.num_classes > 0 and model.num_classes != num_classes:
        raise DataError(
            f"model.num_classes={model.num_classes}: {name} has {num_classes} classes "
            f"(use {num_classes}, or 0 for unconditional)"
        )


def digits_images(resolution: int) -> tuple[Tensor, Tensor]:
    """scikit-learn's 1,797 8x8 digits as ``[N, 1, R, R]`` floats in [0, 1] (ink = 1), labels."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = torch.from_numpy(bunch.images).float()[:, None] / 16.0  # [N, 1, 8, 8], 16 = full ink
    # Bicubic upsampling keeps strokes smooth; antialias matters only if R < 8.
    x = F.interpolate(x, size=(resolution, resolution), mode="bicubic", antialias=True)
    return x.clamp(0.0, 1.0).contiguous(), torch.from_numpy(bunch.target).long()


def build_digits(model: ModelConfig, hflip: bool = False) -> TensorImages:
    """The built-in offline digits set at the model's resolution (held in memory: it is tiny)."""
    _check_classes("digits", 10, model)
    images, labels = digits_images(model.resolution)
    return TensorImages(images, labels, 10, model.resolution, model.img_channels, hflip)


def build_pairs(model: ModelConfig, size: int, seed: int, hflip: bool = False) -> TensorImages:
    """The ``pairs`` training set: images [0, size) of ``seed``, rendered into memory."""
    from nlgan.data.pairs import NUM_CLASSES, pairs_images

    _check_classes("pairs", NUM_CLASSES, model)
    images, labels = pairs_images(seed, 0, size)  # [N, 32, 32, 3] uint8
    images = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()  # [N, 3, 32, 32]
    return TensorImages(
        images, torch.from_numpy(labels), NUM_CLASSES, model.resolution, model.img_channels, hflip
    )
