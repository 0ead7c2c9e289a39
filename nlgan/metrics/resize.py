"""How images reach the feature network's input size: the three FID resize modes.

A large share of the FID differences between papers comes from the resize alone (Parmar et al.,
"On Aliased Resizing and Surprising Subtleties in GAN Evaluation", 2022 — clean-fid):

- ``legacy_tensorflow`` (the default, for comparison with published numbers): TF1's bilinear
  resize without the half-pixel offset, as the original TF FID code, pytorch-fid's and
  torch-fidelity's Inception port and clean-fid's ``legacy_tensorflow`` mode do.
- ``clean``: PIL bicubic on float data, one channel at a time, clipped to [0, 255] and never
  re-quantised to uint8 (clean-fid's ``build_resizer("clean")``, tested equal to it).
- ``legacy_pytorch``: ``F.interpolate(mode="bilinear", align_corners=False)``, pytorch-fid's own
  resize; the Inception then normalises as pytorch-fid does, ``2 x / 255 - 1``.

clean-fid itself is not a runtime dependency: its PyTorch resizer switches off every warning of
the process (``warnings.filterwarnings("ignore")``) and its high-level functions download
weights. The PIL path below reproduces its ``clean`` resizer bit for bit on batches.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x

from nlgan.metrics.protocol import DEFAULT_RESIZE, RESIZE_MODES


def tensorflow1_bilinear(images: torch.Tensor, size: int) -> torch.Tensor:
    """TF1 ``resize_bilinear`` (align_corners=False, no half-pixel centres) on [B, C, H, W]."""
    return interpolate_bilinear_2d_like_tensorflow1x(images, size=(size, size), align_corners=False)


def pil_bicubic_float(images: torch.Tensor, size: int) -> torch.Tensor:
    """PIL bicubic per channel on float32 ("F" mode) images, clipped to [0, 255] (clean-fid)."""
    array = images.detach().to("cpu", torch.float32).numpy()  # [B, C, H, W]
    out = np.empty((*array.shape[:2], size, size), dtype=np.float32)
    for b in range(array.shape[0]):
        for c in range(array.shape[1]):
            channel = Image.fromarray(np.ascontiguousarray(array[b, c]))  # a float32 "F" image
            out[b, c] = np.asarray(channel.resize((size, size), resample=Image.BICUBIC))
    # bicubic overshoots at edges; clean-fid clips, and so the features see the same values
    return torch.from_numpy(out.clip(0, 255)).to(images.device)


def torch_bilinear(images: torch.Tensor, size: int) -> torch.Tensor:
    """pytorch-fid's ``F.interpolate(bilinear, align_corners=False)``, clipped to [0, 255]."""
    out = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False)
    return out.clamp(0, 255)


def tensorflow_input(x: torch.Tensor) -> torch.Tensor:
    """[0, 255] -> what the TF graph's Sub/Mul pair computes, ``(x - 128) / 128``, bit-exactly."""
    return (x - 128) / 128


def pytorch_fid_input(x: torch.Tensor) -> torch.Tensor:
    """[0, 255] -> pytorch-fid's normalisation: ``x / 255`` to [0, 1], then ``2 x - 1``."""
    return 2 * (x / 255) - 1


@dataclass(frozen=True)
class ResizeMode:
    """One resize mode: the resize, and how the FID Inception port of that mode normalises."""

    name: str
    resize: Callable[[torch.Tensor, int], torch.Tensor]  # float [B, 3, H, W] in [0, 255]
    inception_input: Callable[[torch.Tensor], torch.Tensor]  # [0, 255] -> network input


_MODES = {
    "legacy_tensorflow": ResizeMode("legacy_tensorflow", tensorflow1_bilinear, tensorflow_input),
    "clean": ResizeMode("clean", pil_bicubic_float, tensorflow_input),
    "legacy_pytorch": ResizeMode("legacy_pytorch", torch_bilinear, pytorch_fid_input),
}
assert tuple(_MODES) == RESIZE_MODES  # protocol.py holds the names without importing torch


def resize_mode(name: str = DEFAULT_RESIZE) -> ResizeMode:
    """The :class:`ResizeMode` called ``name``; a one-line error lists the choices."""
    if name not in _MODES:
        raise ValueError(f"resize={name!r}: choose one of {', '.join(RESIZE_MODES)}")
    return _MODES[name]


def to_rgb_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 [B, 1 or 3, H, W] -> float32 [B, 3, H, W] in [0, 255] (grayscale replicated)."""
    if images.dtype != torch.uint8 or images.dim() != 4 or images.shape[1] not in (1, 3):
        raise ValueError(
            f"the feature network expects uint8 images [B, 3 or 1, H, W], got {images.dtype} "
            f"{list(images.shape)} (convert generator output with (x + 1) * 127.5, rounded)"
        )
    x = images.float()
    return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x  # as PIL's convert("RGB")


def resize_images(images: torch.Tensor, size: int, mode: str = DEFAULT_RESIZE) -> torch.Tensor:
    """uint8 images [B, 1|3, H, W] -> float [B, 3, size, size] in [0, 255], resized by ``mode``.

    Custom backbones can call this to get the same resize as the FID Inception.
    """
    return resize_mode(mode).resize(to_rgb_float(images), size)
