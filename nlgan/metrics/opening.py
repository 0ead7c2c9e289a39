"""Opening an image source from what a user typed: a folder, a ``.npz`` or ``cifar10-train:ROOT``.

The source classes are :mod:`nlgan.metrics.sources` (and :mod:`nlgan.metrics.cifar` for CIFAR,
which subclasses them); this module only chooses among them, so neither needs the other.
"""

from __future__ import annotations

import re
from pathlib import Path

from nlgan.metrics.cifar import CifarSource
from nlgan.metrics.sources import FolderSource, ImageSource, NpzImageSource, SourceError

CIFAR_SPEC = re.compile(r"^(?P<name>cifar10|cifar100)-(?P<split>train|test):(?P<root>.+)$")


def open_images(path: str | Path, resolution: int | None = None) -> ImageSource:
    """An image folder, a ``.npz`` of images, or ``cifar10-train:ROOT`` (cifar100, -test)."""
    cifar = CIFAR_SPEC.match(str(path))
    if cifar:
        return CifarSource(cifar["name"], cifar["split"], cifar["root"])
    path = Path(path).expanduser()
    if path.is_dir():
        return FolderSource(path, resolution=resolution)
    if not path.exists():
        raise SourceError(f"{path}: no such file or folder")
    if path.suffix.lower() == ".npz":
        return NpzImageSource(path)
    raise SourceError(
        f"{path}: expected an image folder, a .npz of uint8 images or cifar10-train:ROOT"
    )
