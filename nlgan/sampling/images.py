"""Images out of a generator: [0, 1] floats to uint8 arrays, and PNG grids people can read.

Small images are enlarged for grids with nearest-neighbour upscaling by an integer factor (each
pixel becomes a k x k block, nothing is smoothed or invented): by default images under
``READABLE_SIZE`` pixels are enlarged to at least that size, so a 16 px grid is not 150 px wide.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from nlgan.errors import SamplingError
from nlgan.storage.files import atomic_path

READABLE_SIZE = 64  # grids of smaller images are upscaled to at least this many pixels
# The format a grid is written in follows its suffix (never PNG bytes under a .jpg name).
GRID_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}


def to_unit_range(images: Tensor) -> Tensor:
    """G's output in [-1, 1] -> [0, 1] (clamped)."""
    return ((images.float() + 1.0) / 2.0).clamp(0.0, 1.0)


def to_uint8(images: Tensor) -> np.ndarray:
    """Float images in [0, 1], ``[B, C, H, W]`` or ``[C, H, W]`` -> uint8 ``[B, H, W, C]``."""
    if images.dim() not in (3, 4):
        raise SamplingError(f"images: expected [B, C, H, W] or [C, H, W], got {list(images.shape)}")
    scaled = (images.detach().float().clamp(0.0, 1.0) * 255.0).round().to(torch.uint8)
    return scaled.movedim(-3, -1).cpu().numpy()  # [..., C, H, W] -> [..., H, W, C]


def auto_upscale(size: int) -> int:
    """The integer factor that brings ``size`` px images to at least ``READABLE_SIZE`` px."""
    return max(1, -(-READABLE_SIZE // max(size, 1)))


def upscale(images: Tensor, factor: int) -> Tensor:
    """Nearest-neighbour enlargement ``[N, C, H, W] -> [N, C, kH, kW]`` (k = ``factor``)."""
    if factor < 1:
        raise SamplingError(f"upscale={factor}: must be an integer >= 1 (1 = as generated)")
    return images if factor == 1 else F.interpolate(images, scale_factor=factor, mode="nearest")


def check_grid_output(path: str | Path, overwrite: bool, flag: str = "--grid") -> Path:
    """Before any work: a grid path with a known suffix that may be written (see outputs)."""
    from nlgan.storage.outputs import check_file_output

    path = Path(path)
    if path.suffix.lower() not in GRID_FORMATS:
        raise SamplingError(
            f"{flag} {path}: a grid is written as {', '.join(GRID_FORMATS)}; use one of those"
        )
    return check_file_output(path, overwrite, flag)


def save_grid(
    images: Tensor,
    path: str | Path,
    nrow: int = 8,
    padding: int = 2,
    upscale_by: int | None = None,
) -> Path:
    """Write images in [0, 1] as one grid image, ``nrow`` per row, atomically; returns the path.

    The format follows the suffix (:data:`GRID_FORMATS`). ``upscale_by``: integer
    nearest-neighbour factor; None chooses :func:`auto_upscale`.
    """
    from PIL import Image
    from torchvision.utils import make_grid

    if images.dim() != 4 or len(images) == 0:
        raise SamplingError(f"images: expected a non-empty [N, C, H, W], got {list(images.shape)}")
    path = Path(path)
    image_format = GRID_FORMATS.get(path.suffix.lower())
    if image_format is None:
        raise SamplingError(
            f"{path}: a grid is written as {', '.join(GRID_FORMATS)}; use one of those suffixes"
        )
    factor = auto_upscale(images.shape[-1]) if upscale_by is None else upscale_by
    channels = images.shape[1]
    big = upscale(images.detach().float().cpu(), factor)
    grid = make_grid(big, nrow=nrow, padding=padding)  # [3, H', W']
    array = to_uint8(grid[:channels])  # make_grid repeats 1 channel to 3; keep gray as gray
    with atomic_path(path) as tmp:  # readers (and wandb) never see a half-written image
        Image.fromarray(array[..., 0] if channels == 1 else array).save(tmp, format=image_format)
    return path
