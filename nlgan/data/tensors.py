"""In-memory images and the one conversion every data set shares: to the model's range.

:class:`TensorImages` holds ``[N, c, H, W]`` images (uint8, or float in [0, 1]) with labels;
:func:`to_model_range` turns one image into the float32 ``[C, R, R]`` in [-1, 1] that G and D
see, converting RGB and grayscale as the model needs. :class:`DataError` is the one-line error
of every data set.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import Dataset

from nlgan.errors import NlganError


class DataError(NlganError, ValueError):
    """The training data cannot be used as configured (missing, empty or inconsistent)."""


def to_model_range(x: Tensor, channels: int, hflip: bool) -> Tensor:
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
            x = resize_tensor(x, self.resolution)
        return to_model_range(x, self.channels, self.hflip), self.labels[index]


def resize_tensor(x: Tensor, resolution: int) -> Tensor:
    """Square ``[c, H, W]`` image -> ``[c, R, R]`` float in [0, 1] (antialiased bicubic)."""
    x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
    x = F.interpolate(x[None], size=(resolution, resolution), mode="bicubic", antialias=True)[0]
    return x.clamp(0.0, 1.0)  # bicubic overshoots at edges
