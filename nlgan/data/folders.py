"""Labelled image folders: class subfolders (or a flat folder), checked once, read on access.

Class folders get labels in :func:`nlgan.data.classes.class_order` (numeric names by number).

Every file is decoded in full once when the data set is built (verdicts cached by path, size
and mtime, see :mod:`nlgan.data.image_checks`), and files that do not decode or are
decompression bombs are skipped with one warning that counts them. A file that fails later
anyway (changed on disk) is replaced by the next image that decodes and counted in
``skipped``: a damaged file never stops a run. High bit-depth images (16-bit PNG, 32-bit int
and float TIFF) are scaled to 8 bits, not saturated (:mod:`nlgan.data.image_io`).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor
from torch.utils.data import Dataset

from nlgan.config import ModelConfig
from nlgan.data.classes import class_order
from nlgan.data.image_checks import check_images
from nlgan.data.image_io import ImageReadError, open_image
from nlgan.data.tensors import DataError, to_model_range
from nlgan.storage.files import IMAGE_EXTENSIONS


class ImageFolder(Dataset):
    """Image files with labels; each is loaded, resized and centre-cropped on access."""

    def __init__(
        self,
        files: list[Path],
        labels: list[int],
        num_classes: int,
        resolution: int,
        channels: int,
        hflip: bool,
    ) -> None:
        self.files = files
        self.labels = torch.tensor(labels, dtype=torch.long)
        self.num_classes = num_classes
        self.resolution = resolution
        self.channels = channels
        self.hflip = hflip
        self.skipped = 0  # draws that fell back to another image (this process only)
        self._warned: set[int] = set()

    def __len__(self) -> int:
        return len(self.files)

    def _load(self, index: int) -> tuple[Image.Image, int]:
        """The image at ``index``, or (if it no longer decodes) the next one that does."""
        mode = "L" if self.channels == 1 else "RGB"
        for offset in range(len(self.files)):
            i = (index + offset) % len(self.files)
            try:
                return open_image(self.files[i], mode), i
            except ImageReadError as err:
                # Changed or damaged since the start-up check: skip it, never stop the run.
                self.skipped += 1
                if i not in self._warned:
                    self._warned.add(i)
                    warnings.warn(f"training data: {err}; using the next image", stacklevel=2)
        raise DataError(f"none of the {len(self.files)} images decodes any more")

    def uint8_image(self, index: int) -> tuple[np.ndarray, int]:
        """The image at ``index`` resized and cropped, uint8 ``[R, R, C]``, and the index used."""
        img, index = self._load(index)
        img = _resize_crop(img, self.resolution)
        r = self.resolution
        return np.asarray(img, dtype=np.uint8).reshape(r, r, -1), index

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        array, index = self.uint8_image(index)
        x = torch.from_numpy(array.copy()).permute(2, 0, 1)  # [H, W, C] -> [C, H, W]
        return to_model_range(x, self.channels, self.hflip), self.labels[index]


def _resize_crop(img: Image.Image, resolution: int) -> Image.Image:
    """Resize the shorter side to ``resolution`` (antialiased), then crop the centre square."""
    w, h = img.size
    scale = resolution / min(w, h)
    size = (max(resolution, round(w * scale)), max(resolution, round(h * scale)))
    img = img.resize(size, Image.Resampling.BICUBIC, reducing_gap=None)  # PIL filters = antialias
    left, top = (size[0] - resolution) // 2, (size[1] - resolution) // 2
    return img.crop((left, top, left + resolution, top + resolution))


def _image_files(directory: Path) -> list[Path]:
    """Image files under ``directory`` (recursively, hidden entries skipped), sorted."""
    return sorted(
        p
        for p in directory.rglob("*")
        if p.suffix.lower() in IMAGE_EXTENSIONS
        and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(directory).parts)
    )


def build_image_folder(root: str | Path, model: ModelConfig, hflip: bool = False) -> ImageFolder:
    """A data set from an image folder: one sub-folder per class, or a flat folder of images."""
    root = Path(root).expanduser()
    if not root.exists():
        raise DataError(
            f"data.root={str(root)!r} does not exist (set data.root to an image folder)"
        )
    if not root.is_dir():
        raise DataError(f"data.root={str(root)!r} is a file, not a folder of images")
    dirs = {p.name: p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")}
    class_dirs = [dirs[name] for name in class_order(dirs)]  # 0, 1, ..., 9, 10 (not 0, 1, 10)
    loose = [p for p in root.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS]
    if class_dirs and loose:
        raise DataError(
            f"data.root={str(root)!r} holds both images and sub-folders: put every image in a "
            "class sub-folder, or use a flat folder of images for unconditional training"
        )
    if class_dirs:
        files, labels = [], []
        for label, directory in enumerate(class_dirs):
            found = _image_files(directory)
            if not found:
                raise DataError(
                    f"class folder {str(directory)!r} has no images "
                    f"({', '.join(IMAGE_EXTENSIONS)}); add images or remove the folder"
                )
            files += found
            labels += [label] * len(found)
        num_classes = len(class_dirs)
    else:
        files = _image_files(root)
        labels = [0] * len(files)
        num_classes = 0
    if not files:
        raise DataError(f"data.root={str(root)!r} has no images ({', '.join(IMAGE_EXTENSIONS)})")
    if model.num_classes > 0 and num_classes != model.num_classes:
        found = f"{num_classes} class folders" if num_classes else "a flat folder (no classes)"
        raise DataError(
            f"data.root={str(root)!r} has {found} but model.num_classes={model.num_classes} "
            f"(set model.num_classes={num_classes})"
        )
    verdicts = check_images(root, files, "L" if model.img_channels == 1 else "RGB")
    keep = [verdicts[f] is None for f in files]
    skipped = keep.count(False)
    if skipped:
        first = next(reason for reason in verdicts.values() if reason)
        warnings.warn(
            f"skipped {skipped} unusable image file(s) of {len(files)} in {root} (e.g. {first})",
            stacklevel=3,
        )
        files = [f for f, k in zip(files, keep, strict=True) if k]
        labels = [lab for lab, k in zip(labels, keep, strict=True) if k]
    if not files:
        raise DataError(f"data.root={str(root)!r}: none of its {skipped} image files is readable")
    return ImageFolder(files, labels, num_classes, model.resolution, model.img_channels, hflip)
