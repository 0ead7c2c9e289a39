"""Sources of uint8 images for the metrics: folders, ``.npz`` arrays, tensors, generators.

Every source has a length and yields uint8 batches [B, C, H, W] (C = 1 or 3) for any index range
[start, stop), which is how processes split the work. ``identity()`` describes a source for the
reference-statistics cache (None: never cached, e.g. a generator).
"""

from __future__ import annotations

import hashlib
import zipfile
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nlgan.errors import NlganError
from nlgan.files import IMAGE_EXTENSIONS
from nlgan.image_io import ImageReadError, open_image

NPZ_IMAGE_KEYS = ("images", "arr_0", "x", "imgs")


class SourceError(NlganError, ValueError):
    """An image source is empty, unreadable or shorter than requested."""


class ImageSource(ABC):
    """A fixed number of uint8 images, readable by index range."""

    description: str = "images"

    @abstractmethod
    def __len__(self) -> int:
        """Number of images available."""

    @abstractmethod
    def batches(self, start: int, stop: int, batch_size: int) -> Iterator[torch.Tensor]:
        """Yield the images [start, stop) as uint8 batches [B, C, H, W] of at most batch_size."""

    def identity(self) -> dict[str, Any] | None:
        """What identifies these images for the statistics cache; None = do not cache."""
        return None

    def check_length(self, n: int) -> None:
        """Fail clearly when fewer than ``n`` images are available."""
        if n > len(self):
            raise SourceError(
                f"{self.description}: {n} samples requested but only {len(self)} available "
                f"(pass --n {len(self)} or fewer, or add images)"
            )


def _square(image: torch.Tensor, resolution: int) -> torch.Tensor:
    """Resize the shorter side to ``resolution`` (antialiased bilinear) and centre-crop."""
    from torchvision.transforms.v2 import functional as TF

    image = TF.resize(image, [resolution], antialias=True)
    return TF.center_crop(image, [resolution, resolution])


class FolderSource(ImageSource):
    """Image files under a folder (recursive, sorted); grayscale and RGBA become RGB."""

    def __init__(self, root: str | Path, resolution: int | None = None):
        self.root = Path(root).expanduser()
        self.resolution = resolution
        self.description = str(self.root)
        if not self.root.is_dir():
            raise SourceError(f"{self.root}: not a folder")
        self.files = sorted(
            p for p in self.root.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()
        )
        if not self.files:
            raise SourceError(
                f"{self.root}: no images found in it or its subfolders "
                f"(looked for {', '.join(IMAGE_EXTENSIONS)})"
            )

    def __len__(self) -> int:
        return len(self.files)

    def _read(self, path: Path) -> torch.Tensor:
        try:  # any bit depth, scaled to 8 bits; damaged files and bombs are one-line errors
            array = np.asarray(open_image(path, "RGB"))  # [H, W, 3] uint8
        except ImageReadError as err:
            raise SourceError(f"{err}; remove or fix it") from None
        image = torch.from_numpy(array.copy()).permute(2, 0, 1)  # [3, H, W]
        return image if self.resolution is None else _square(image, self.resolution)

    def batches(self, start: int, stop: int, batch_size: int) -> Iterator[torch.Tensor]:
        pending: list[torch.Tensor] = []
        for path in self.files[start:stop]:
            image = self._read(path)
            # images of another size start a new batch: each keeps its exact 299 resize
            if pending and (len(pending) == batch_size or image.shape != pending[0].shape):
                yield torch.stack(pending)
                pending = []
            pending.append(image)
        if pending:
            yield torch.stack(pending)

    def identity(self) -> dict[str, Any]:
        listing = hashlib.sha256()
        for path in self.files:
            stat = path.stat()
            listing.update(
                f"{path.relative_to(self.root)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode()
            )
        return {
            "kind": "folder",
            "root": str(self.root.resolve()),
            "files": listing.hexdigest(),
            "count": len(self.files),
            "resolution": self.resolution,
        }


class TensorSource(ImageSource):
    """Images already in memory: uint8 [N, C, H, W]."""

    def __init__(self, images: torch.Tensor, description: str = "tensor"):
        if images.dtype != torch.uint8 or images.dim() != 4 or images.shape[1] not in (1, 3):
            raise SourceError(
                f"{description}: expected uint8 images [N, 1 or 3, H, W], got {images.dtype} "
                f"{list(images.shape)}"
            )
        self.images = images
        self.description = description

    def __len__(self) -> int:
        return self.images.shape[0]

    def batches(self, start: int, stop: int, batch_size: int) -> Iterator[torch.Tensor]:
        for lo in range(start, stop, batch_size):
            yield self.images[lo : min(lo + batch_size, stop)]


class NpzImageSource(TensorSource):
    """A ``.npz`` of uint8 images, NHWC (or NHW for grayscale), under ``images`` or ``arr_0``."""

    def __init__(self, path: str | Path):
        self.path = Path(path).expanduser()
        try:
            with np.load(self.path, allow_pickle=False) as data:
                if "mu" in data.files and "sigma" in data.files:
                    raise SourceError(
                        f"{self.path}: holds statistics (mu, sigma), not images; use it as the "
                        "reference, or pass an image folder / .npz of images"
                    )
                key = next((k for k in NPZ_IMAGE_KEYS if k in data.files), None)
                if key is None and len(data.files) == 1:
                    key = data.files[0]
                if key is None:
                    raise SourceError(
                        f"{self.path}: no image array (keys: {', '.join(data.files)}); store "
                        "images under 'images' or 'arr_0'"
                    )
                array = data[key]
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
            if isinstance(err, SourceError):
                raise
            raise SourceError(
                f"{self.path}: not a readable .npz file ({type(err).__name__}); re-create it "
                "with numpy.savez(path, images=uint8_array_NHWC)"
            ) from None
        if array.ndim == 3:
            array = array[..., None]  # [N, H, W] grayscale -> [N, H, W, 1]
        if array.dtype != np.uint8 or array.ndim != 4 or array.shape[-1] not in (1, 3):
            raise SourceError(
                f"{self.path}: '{key}' is {array.dtype} {list(array.shape)}; expected uint8 "
                "images [N, H, W, 3] (NHWC, values 0..255)"
            )
        # [N, H, W, C] -> [N, C, H, W]; a view, so a 50k-image array is not copied
        super().__init__(torch.from_numpy(array).permute(0, 3, 1, 2), str(self.path))

    def identity(self) -> dict[str, Any]:
        stat = self.path.stat()
        return {
            "kind": "npz",
            "path": str(self.path.resolve()),
            "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
            "count": len(self),
        }


class CallableSource(ImageSource):
    """Images made on demand: ``fn(start, stop)`` returns uint8 [stop - start, C, H, W].

    This is how a generator plugs in: sample i must depend only on i (e.g. seeded by index),
    so that any split of [0, n) across processes scores the same images.
    """

    def __init__(
        self, fn: Callable[[int, int], torch.Tensor], length: int, description: str = "generator"
    ):
        self.fn = fn
        self.length = length
        self.description = description

    def __len__(self) -> int:
        return self.length

    def batches(self, start: int, stop: int, batch_size: int) -> Iterator[torch.Tensor]:
        for lo in range(start, stop, batch_size):
            hi = min(lo + batch_size, stop)
            images = self.fn(lo, hi)
            if images.dtype != torch.uint8 or images.shape[0] != hi - lo:
                raise SourceError(
                    f"{self.description}: fn({lo}, {hi}) returned {images.dtype} "
                    f"{list(images.shape)}; expected uint8 [{hi - lo}, C, H, W]"
                )
            yield images


def generator_source(
    G: torch.nn.Module,
    n: int,
    seed: int = 0,
    truncation: float | None = None,
    description: str = "generator",
) -> CallableSource:
    """``n`` images of a generator (``G.cfg`` a ModelConfig), as ``nlgan sample`` makes them.

    Sample i is G(latent i of the seed's stream, class i mod K): it depends only on i, so any
    split across processes scores the same images, and a conditional G is class-balanced.
    The trainer and ``nlgan fid RUN`` both score through this.
    """
    # lazy: the metrics import no model code until a G is scored
    from nlgan.sampling import forward_images, latents_for

    num_classes, z_dim = G.cfg.num_classes, G.cfg.z_dim

    def images(start: int, stop: int) -> torch.Tensor:
        z, y = latents_for(start, stop - start, z_dim, num_classes, seed, truncation)
        unit = forward_images(G, z, y)  # [B, C, R, R] in [0, 1], BN in eval mode
        return (unit * 255).round().to(torch.uint8)  # as sampling.to_uint8, but kept NCHW

    return CallableSource(images, n, description=description)


def open_images(path: str | Path, resolution: int | None = None) -> ImageSource:
    """An image folder or a ``.npz`` of images as an :class:`ImageSource`."""
    path = Path(path).expanduser()
    if path.is_dir():
        return FolderSource(path, resolution=resolution)
    if not path.exists():
        raise SourceError(f"{path}: no such file or folder")
    if path.suffix.lower() == ".npz":
        return NpzImageSource(path)
    raise SourceError(f"{path}: expected an image folder or a .npz of uint8 images")
