"""Training data sets: labelled image folders, CIFAR-10/100 and the built-in offline digits.

``build_dataset(cfg.data, cfg.model)`` returns a torch ``Dataset`` whose items are
``(x, y)``: ``x`` float32 ``[C, R, R]`` in [-1, 1] with ``R = model.resolution`` and
``C = model.img_channels`` (RGB and grayscale are converted as needed), ``y`` an int64 scalar.
``ds.num_classes`` is the number of classes of the data (0 for a flat folder). An
unconditional model (``model.num_classes=0``) may train on labelled data; it ignores ``y``.

Image folders are checked when the data set is built: every file is decoded in full once
(verdicts cached by path, size and mtime, see :mod:`nlgan.image_checks`), and files that do not
decode or are decompression bombs are skipped with one warning that counts them. A file that
fails later anyway (changed on disk) is replaced by the next image that decodes and counted in
``skipped``: a damaged file never stops a run. High bit-depth images (16-bit PNG, 32-bit int and
float TIFF) are scaled to 8 bits, not saturated (:mod:`nlgan.image_io`).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor
from torch.utils.data import Dataset

from nlgan.config import DataConfig, ModelConfig
from nlgan.errors import NlganError
from nlgan.files import IMAGE_EXTENSIONS
from nlgan.image_checks import check_images
from nlgan.image_io import ImageReadError, open_image
from nlgan.subset import take_subset

_CIFAR = {
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


class DataError(NlganError, ValueError):
    """The training data cannot be used as configured (missing, empty or inconsistent)."""


def _to_model_range(x: Tensor, channels: int, hflip: bool) -> Tensor:
    """uint8 or [0, 1] float image ``[c, R, R]`` -> float32 ``[channels, R, R]`` in [-1, 1]."""
    x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
    if x.shape[0] == 3 and channels == 1:
        # ITU-R 601 luma, the same weights as PIL's convert("L").
        weights = torch.tensor([0.299, 0.587, 0.114]).view(3, 1, 1)
        x = (x * weights).sum(0, keepdim=True)  # [1, R, R]
    elif x.shape[0] == 1 and channels == 3:
        x = x.expand(3, -1, -1)  # [3, R, R]
    if hflip and bool(torch.rand(()) < 0.5):
        x = x.flip(-1)
    return x * 2.0 - 1.0


class TensorImages(Dataset):
    """Images held in memory as ``[N, c, H, W]`` (uint8, or float in [0, 1]) with labels."""

    def __init__(
        self,
        images: Tensor,
        labels: Tensor,
        num_classes: int,
        resolution: int,
        channels: int,
        hflip: bool,
    ) -> None:
        self.images = images
        self.labels = labels.long()
        self.num_classes = num_classes
        self.resolution = resolution
        self.channels = channels
        self.hflip = hflip

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        x = self.images[index]  # [c, H, W]
        if x.shape[-1] != self.resolution:
            x = _resize_tensor(x, self.resolution)
        return _to_model_range(x, self.channels, self.hflip), self.labels[index]


def _resize_tensor(x: Tensor, resolution: int) -> Tensor:
    """Square ``[c, H, W]`` image -> ``[c, R, R]`` float in [0, 1] (antialiased bicubic)."""
    x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
    x = F.interpolate(x[None], size=(resolution, resolution), mode="bicubic", antialias=True)[0]
    return x.clamp(0.0, 1.0)  # bicubic overshoots at edges


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
        return _to_model_range(x, self.channels, self.hflip), self.labels[index]


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
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
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


def build_cifar(
    name: str, root: str | Path, model: ModelConfig, download: bool, hflip: bool
) -> TensorImages:
    """CIFAR-10 or CIFAR-100 (training split) from ``root``; downloads only when asked."""
    from torchvision.datasets import CIFAR10, CIFAR100

    folder, url, num_classes = _CIFAR[name]
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


def build_dataset(data: DataConfig, model: ModelConfig) -> Dataset:
    """The training data set named by ``data.name`` (``data.subset`` of it), at ``model``'s
    resolution and channels."""
    return take_subset(_build_full(data, model), data.subset, data.subset_seed)


def _build_full(data: DataConfig, model: ModelConfig) -> TensorImages | ImageFolder:
    if data.name == "digits":
        return build_digits(model, data.hflip)
    if data.name == "folder":
        return build_image_folder(data.root, model, data.hflip)
    if data.name == "npy":
        from nlgan.data_cache import NpyImages

        dataset = NpyImages(data.root, model, data.hflip)
        if model.num_classes > 0 and dataset.num_classes != model.num_classes:
            raise DataError(
                f"data.root={data.root!r} has {dataset.num_classes} classes but "
                f"model.num_classes={model.num_classes} (set model.num_classes="
                f"{dataset.num_classes})"
            )
        return dataset
    if data.name in _CIFAR:
        return build_cifar(data.name, data.root, model, data.download, data.hflip)
    if data.name == "none":
        raise DataError(
            "data.name=none: this run's weights were imported and it names no training data; "
            "give it with --set data.name=folder --set data.root=PATH (or cifar10 / cifar100)"
        )
    raise DataError(
        f"data.name={data.name!r}: choose one of digits, folder, npy, cifar10, cifar100"
    )
