"""The report's images: saved grids over training, a fresh per-class grid of the EMA G and a
truncation sweep, each as an inlined PNG (``data:`` URI) so the page needs no other file."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torchvision.utils import make_grid

from nlgan.models.networks import Generator
from nlgan.sampling import class_grid, generate, to_uint8

PER_ROW = 8  # images per grid row
GRID_CLASSES = 10  # the fresh grid shows at most this many classes, one row each
TRUNCATIONS = (None, 1.0, 0.7, 0.5, 0.3)  # the sweep's rows (None = no truncation)


def png_uri(data: bytes) -> str:
    """PNG bytes as a ``data:`` URI."""
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def array_png(array: np.ndarray) -> bytes:
    """A uint8 ``[H, W, C]`` array (C = 1 or 3) as PNG bytes."""
    image = Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def grid_png(images: torch.Tensor, nrow: int = PER_ROW) -> bytes:
    """Images ``[N, C, R, R]`` in [0, 1] as one PNG grid at their own size (the page enlarges
    it with pixelated scaling: a 4x larger PNG would only cost bytes)."""
    channels = images.shape[1]
    grid = make_grid(images.float().cpu(), nrow=nrow, padding=1)  # [3, H', W']
    return array_png(to_uint8(grid[:channels]))


def file_uri(path: Path) -> str:
    """A saved PNG grid, inlined as it is."""
    return png_uri(path.read_bytes())


def fresh_class_grid(G: Generator, seed: int = 0) -> bytes:
    """One row per class (at most :data:`GRID_CLASSES`), the same latents in every row."""
    K = G.cfg.num_classes
    classes = list(range(min(K, GRID_CLASSES))) if K else None
    return grid_png(class_grid(G, PER_ROW, seed, classes=classes))


def truncation_sweep(G: Generator, seed: int = 0) -> tuple[bytes, list[str]]:
    """Rows of the same samples (latent i, class i mod K) at each truncation; row labels."""
    rows = [generate(G, PER_ROW, truncation=t, seed=seed) for t in TRUNCATIONS]
    labels = ["none" if t is None else f"{t:g}" for t in TRUNCATIONS]
    return grid_png(torch.cat(rows)), labels
