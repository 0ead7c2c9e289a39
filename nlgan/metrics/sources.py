"""Sources of uint8 images for the metrics: folders, ``.npz`` arrays, tensors, generators.

Every source has a length and yields uint8 batches [B, C, H, W] (C = 1 or 3) for any index range
[start, stop), which is how processes split the work. ``identity()`` describes a source for the
reference-statistics cache (None: never cached, e.g. a generator); ``info()`` describes it for the
protocol record; ``labels()`` gives class labels where the source has them (intra-class FID).
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

from nlgan.data.classes import class_order
from nlgan.data.image_io import ImageReadError, open_image
from nlgan.errors import NlganError
from nlgan.storage.files import IMAGE_EXTENSIONS

NPZ_IMAGE_KEYS = ("images", "arr_0", "x", "imgs")
CONTENT_HASH_LIMIT = 2 << 30  # folders up to 2 GiB are hashed by content, larger by listing


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

    num_classes: int = 0  # classes behind labels(); 0 = unlabelled
    class_names: tuple[str, ...] = ()  # names of the classes, when known (folders)

    def identity(self) -> dict[str, Any] | None:
        """What identifies these images for the statistics cache; None = do not cache."""
        return None

    def info(self) -> dict[str, Any]:
        """Kind, path, image count, hash and split, for the protocol record."""
        return {
            "kind": "images",
            "path": self.description,
            "count": len(self),
            "hash": None,
            "split": None,
        }

    def labels(self) -> np.ndarray | None:
        """Class label (0..num_classes-1) of every image, int64 [len]; None when unlabelled."""
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
        # The `folder` data set's rule: one sub-folder per class (names in class_order are
        # 0..K-1) when no image lies directly in the root; otherwise the folder is unlabelled.
        tops = [p.relative_to(self.root).parts for p in self.files]
        if all(len(parts) > 1 for parts in tops):
            self.class_names = tuple(class_order(parts[0] for parts in tops))
            self.num_classes = len(self.class_names)
            index = {name: i for i, name in enumerate(self.class_names)}
            self._labels = np.array([index[parts[0]] for parts in tops], dtype=np.int64)
        else:
            self._labels = None

    def labels(self) -> np.ndarray | None:
        return self._labels

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

    def info(self) -> dict[str, Any]:
        # Names and bytes (not mtimes), so a copy elsewhere has the same hash. Reading a huge
        # folder only to hash it would cost as much as scoring it, so past CONTENT_HASH_LIMIT
        # the hash covers names and sizes only, and its prefix says so.
        sizes = [path.stat().st_size for path in self.files]
        by_content = sum(sizes) <= CONTENT_HASH_LIMIT
        digest = hashlib.sha256()
        for path, size in zip(self.files, sizes, strict=True):
            digest.update(f"{path.relative_to(self.root)}\0{size}\n".encode())
            if by_content:
                digest.update(path.read_bytes())
        prefix = "sha256" if by_content else "listing-sha256"
        return {
            "kind": "folder",
            "path": str(self.root.resolve()),
            "count": len(self.files),
            "hash": f"{prefix}:{digest.hexdigest()[:16]}",
            "split": None,
            "resolution": self.resolution,
        }


class TensorSource(ImageSource):
    """Images already in memory: uint8 [N, C, H, W]."""

    def __init__(
        self,
        images: torch.Tensor,
        description: str = "tensor",
        labels: np.ndarray | torch.Tensor | None = None,
        num_classes: int = 0,
    ):
        if images.dtype != torch.uint8 or images.dim() != 4 or images.shape[1] not in (1, 3):
            raise SourceError(
                f"{description}: expected uint8 images [N, 1 or 3, H, W], got {images.dtype} "
                f"{list(images.shape)}"
            )
        self.images = images
        self.description = description
        self._labels = None if labels is None else np.asarray(labels, dtype=np.int64)
        if self._labels is not None and self._labels.shape != (images.shape[0],):
            raise SourceError(f"{description}: {len(self._labels)} labels for {len(images)} images")
        self.num_classes = num_classes or (
            int(self._labels.max()) + 1 if self._labels is not None else 0
        )

    def labels(self) -> np.ndarray | None:
        return self._labels

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
                labels = data["labels"] if "labels" in data.files else None  # `nlgan sample`
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
        super().__init__(torch.from_numpy(array).permute(0, 3, 1, 2), str(self.path), labels)

    def identity(self) -> dict[str, Any]:
        stat = self.path.stat()
        return {
            "kind": "npz",
            "path": str(self.path.resolve()),
            "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
            "count": len(self),
        }

    def info(self) -> dict[str, Any]:
        from nlgan.metrics.weights import file_sha256

        digest = file_sha256(self.path)[:16]
        path = str(self.path.resolve())
        return {"kind": "npz", "path": path, "count": len(self), "hash": digest, "split": None}


class CallableSource(ImageSource):
    """Images made on demand: ``fn(start, stop)`` returns uint8 [stop - start, C, H, W].

    This is how a generator plugs in: sample i must depend only on i (e.g. seeded by index),
    so that any split of [0, n) across processes scores the same images.
    """

    def __init__(
        self,
        fn: Callable[[int, int], torch.Tensor],
        length: int,
        description: str = "generator",
        num_classes: int = 0,
    ):
        self.fn = fn
        self.length = length
        self.description = description
        self.num_classes = num_classes

    def labels(self) -> np.ndarray | None:
        """Sample i has class i mod K (how generator_source and `nlgan sample` balance classes)."""
        return (
            np.arange(self.length, dtype=np.int64) % self.num_classes if self.num_classes else None
        )

    def info(self) -> dict[str, Any]:
        return {
            "kind": "generator",
            "path": self.description,
            "count": self.length,
            "hash": None,
            "split": None,
        }

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

    return CallableSource(images, n, description=description, num_classes=num_classes)


class SubsetSource(ImageSource):
    """The images of ``parent`` at ``indices`` (e.g. one class, for intra-class FID)."""

    def __init__(self, parent: ImageSource, indices: np.ndarray, tag: str):
        self.parent, self.indices, self.tag = parent, np.asarray(indices, dtype=np.int64), tag
        self.description = f"{parent.description} [{tag}]"

    def __len__(self) -> int:
        return len(self.indices)

    def batches(self, start: int, stop: int, batch_size: int) -> Iterator[torch.Tensor]:
        # runs of consecutive indices are read as ranges (a class of a sorted folder is one run)
        wanted = self.indices[start:stop]
        breaks = np.flatnonzero(np.diff(wanted) != 1) + 1
        for run in np.split(wanted, breaks):
            if len(run):
                yield from self.parent.batches(int(run[0]), int(run[-1]) + 1, batch_size)

    def identity(self) -> dict[str, Any] | None:
        parent = self.parent.identity()
        if parent is None:
            return None
        digest = hashlib.sha256(self.indices.tobytes()).hexdigest()[:16]
        return {**parent, "subset": self.tag, "indices": digest}
