"""A prepared data set: an image folder decoded, resized and cropped once into a uint8 ``.npy``.

``nlgan prepare FOLDER --out data.npy --resolution R`` writes three files: ``data.npy`` (uint8
``[N, R, R, C]``), ``data.labels.npy`` (int64 ``[N]``) and ``data.json`` (classes, size, source),
the JSON last, so a half-written cache is never taken for a finished one. Training reads it with
``data.name=npy``, ``data.root=data.npy``, memory-mapped: the operating system keeps it in its
page cache, nothing is decoded per step, and the images are exactly those the ``folder`` data
set gives (the same decode, resize and crop; a test checks it).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from nlgan.config import ModelConfig
from nlgan.data.folders import build_image_folder
from nlgan.data.tensors import DataError, to_model_range
from nlgan.errors import NlganError
from nlgan.storage.files import atomic_path, atomic_write

FORMAT = "nlgan-npy-images/1"


class CacheError(NlganError, ValueError):
    """A prepared data set is missing, incomplete or does not fit the model."""


def _paths(out: str | Path) -> tuple[Path, Path, Path]:
    out = Path(out)
    if out.suffix != ".npy":
        raise CacheError(f"{out}: a prepared data set is a .npy file name, e.g. data.npy")
    stem = out.with_suffix("")
    return out, stem.with_name(stem.name + ".labels.npy"), stem.with_suffix(".json")


def prepare_folder(root: str | Path, out: str | Path, resolution: int, channels: int) -> Path:
    """Decode, resize and crop every usable image of a folder once; returns the .npy path."""
    images_path, labels_path, meta_path = _paths(out)
    model = ModelConfig(resolution=resolution, num_classes=0, img_channels=channels,
                        g_attn_resolutions=(), d_attn_resolutions=())  # fmt: skip
    folder = build_image_folder(root, model)
    n, r = len(folder), resolution
    with atomic_path(images_path) as tmp:
        images = np.lib.format.open_memmap(
            tmp, mode="w+", dtype=np.uint8, shape=(n, r, r, channels)
        )
        for i in range(n):
            images[i], _ = folder.uint8_image(i)
        images.flush()
        del images
    with atomic_path(labels_path) as tmp:
        np.save(tmp, folder.labels.numpy().astype(np.int64))
    meta = {
        "format": FORMAT, "count": n, "resolution": r, "channels": channels,
        "num_classes": folder.num_classes, "source": str(Path(root).resolve()),
    }  # fmt: skip
    with atomic_write(meta_path, "w") as f:
        json.dump(meta, f)
    return images_path


class NpyImages(Dataset):
    """A prepared data set, memory-mapped; items as every nlgan data set gives them."""

    def __init__(self, path: str | Path, model: ModelConfig, hflip: bool = False):
        images_path, labels_path, meta_path = _paths(path)
        try:
            meta = json.loads(meta_path.read_text())
            self.images = np.load(images_path, mmap_mode="r")  # [N, R, R, C] uint8
            self.labels = torch.from_numpy(np.load(labels_path))
        except (OSError, ValueError) as err:
            raise DataError(
                f"data.root={str(path)!r}: not a complete prepared data set ({err}); make one "
                "with `nlgan prepare FOLDER --out data.npy --resolution R`"
            ) from None
        if meta.get("format") != FORMAT or len(self.images) != meta["count"]:
            raise DataError(f"data.root={str(path)!r}: damaged prepared data set; prepare it again")
        if meta["channels"] != model.img_channels or meta["resolution"] != model.resolution:
            raise DataError(
                f"data.root={str(path)!r} holds {meta['resolution']} px images with "
                f"{meta['channels']} channel(s); the model wants {model.resolution} px and "
                f"{model.img_channels}: prepare it with --resolution {model.resolution} "
                f"--channels {model.img_channels}"
            )
        self.num_classes = int(meta["num_classes"])
        self.channels, self.hflip = model.img_channels, hflip

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        x = torch.from_numpy(np.array(self.images[index])).permute(2, 0, 1)  # [C, R, R] uint8
        return to_model_range(x, self.channels, self.hflip), self.labels[index]
