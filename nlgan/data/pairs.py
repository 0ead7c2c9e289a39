"""The ``pairs`` data set: two mirrored copies of one coloured shape, a long-range constraint.

The spec (docs/pairs.md) is exact, because tools outside nlgan rely on it:

- 32x32 RGB uint8; background (128, 128, 128); pixel centres at integer coordinates 0..31.
- Class = shape, half-extent ``s``: 0 disk ``dx²+dy² <= s²``; 1 square ``|dx|, |dy| <= 0.85s``;
  2 upward triangle, apex ``(0, -s)``, base corners ``(±s, 0.8s)``; 3 plus, ``|dx| <= s,
  |dy| <= s/3`` or ``|dy| <= s, |dx| <= s/3``.
- Image ``i`` of seed ``seed``: ``u = numpy.random.default_rng([seed, i]).random(4)``; hue
  ``h = u[0]``, size ``s = 3 + 2u[1]``, left centre ``x = 6 + 5u[2]``, ``y = 6 + 19u[3]``;
  class ``i mod 4`` (balanced). Colour HSV(h, 1, 1) times 255.
- The same shape, colour and size at ``(x, y)`` and at ``(31 - x, y)``: the image is exactly
  left-right symmetric.
- A pixel's coverage α is the share of its 4x4 sub-samples (offsets ``(i + 0.5)/4 - 0.5``)
  inside either shape; its value ``round(α·colour + (1-α)·128)`` (numpy's rint).

An image depends only on (seed, index), so every process, any index order and a resumed run
see the same images; ``data.size`` images of ``data.seed`` are the training set, and indices
from ``data.size`` on are fresh images of the same distribution (held out, for memorisation).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SIZE = 32  # image width and height
GREY = 128  # background value of every channel
NUM_CLASSES = 4
SHAPES = ("disk", "square", "triangle", "plus")
SUBSAMPLES = 4  # per axis: a 4x4 grid per pixel
_OFFSETS = (np.arange(SUBSAMPLES) + 0.5) / SUBSAMPLES - 0.5  # -0.375 .. 0.375


@dataclass(frozen=True)
class Factors:
    """What each image is made of, one entry per image (left object; the twin is mirrored)."""

    label: np.ndarray  # int64 [N] shape class
    hue: np.ndarray  # float64 [N] in [0, 1)
    size: np.ndarray  # half-extent s in [3, 5]
    x: np.ndarray  # left centre column in [6, 11]
    y: np.ndarray  # centre row in [6, 25]


def pairs_factors(seed: int, indices: np.ndarray) -> Factors:
    """The factors of images ``indices`` of ``seed`` (each a pure function of (seed, index))."""
    indices = np.asarray(indices, dtype=np.int64)
    u = np.array([np.random.default_rng([seed, int(i)]).random(4) for i in indices])
    u = u.reshape(len(indices), 4)
    return Factors(
        label=indices % NUM_CLASSES,
        hue=u[:, 0],
        size=3.0 + 2.0 * u[:, 1],
        x=6.0 + 5.0 * u[:, 2],
        y=6.0 + 19.0 * u[:, 3],
    )


def inside(shape: int, dx: np.ndarray, dy: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Whether points (dx, dy) from the centre of shape ``shape`` (half-extent s) are in it."""
    ax, ay = np.abs(dx), np.abs(dy)
    if shape == 0:
        return dx * dx + dy * dy <= s * s
    if shape == 1:
        return (ax <= 0.85 * s) & (ay <= 0.85 * s)
    if shape == 2:  # apex (0, -s), base corners (±s, 0.8s): the sides are |dx| = (dy + s) / 1.8
        return (dy <= 0.8 * s) & (ax * 1.8 <= dy + s)
    third = s / 3.0
    return ((ax <= s) & (ay <= third)) | ((ay <= s) & (ax <= third))


def coverage(label: np.ndarray, s: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """α ``[N, 32, 32]`` of the twins (at x and 31 - x): the share of sub-samples in either."""
    n = len(label)
    s, x, y = (np.asarray(a, dtype=np.float64) for a in (s, x, y))
    reach = int(np.ceil(s.max(initial=0.0))) + 2  # rows from the centre a sub-sample can hit
    window = 2 * reach
    r0 = np.floor(y).astype(np.int64) - reach + 1  # first row of each image's window
    rows = r0[:, None] + np.arange(window)[None, :]  # [N, W]
    cols = np.arange(SIZE, dtype=np.float64)
    hits = np.zeros((n, window, SIZE, SUBSAMPLES, SUBSAMPLES), dtype=bool)  # sub-y, sub-x last
    for shape in range(NUM_CLASSES):
        members = np.flatnonzero(np.asarray(label) == shape)
        if not len(members):
            continue
        m = members[:, None, None, None, None]
        py = rows[members][:, :, None, None, None] + _OFFSETS[None, None, None, :, None]
        px = cols[None, None, :, None, None] + _OFFSETS[None, None, None, None, :]
        hits[members] = inside(shape, px - x[m], py - y[m], s[m])  # [M, W, 32, 4, 4]
    # the twin: sub-sample offsets are symmetric, so mirroring the grid mirrors the shape
    hits |= hits[:, :, ::-1, :, ::-1]
    # 16 bytes of 0 / 1 per pixel: the set bits of two uint64 words count the hits
    words = np.ascontiguousarray(hits).reshape(n, window, SIZE, 16).view(np.uint64)
    counts = np.bitwise_count(words).sum(axis=-1)  # [N, W, 32]
    alpha = np.zeros((n, SIZE + 2 * window, SIZE))
    alpha[np.arange(n)[:, None], rows + window] = counts / SUBSAMPLES**2
    return alpha[:, window : window + SIZE]


def hsv_colour(hue: np.ndarray) -> np.ndarray:
    """HSV(h, 1, 1) as float RGB ``[N, 3]`` on the 0..255 scale (colorsys' formula)."""
    h6 = np.asarray(hue, dtype=np.float64) * 6.0
    sector = np.floor(h6).astype(np.int64) % 6
    f = h6 - np.floor(h6)
    one, zero, down, up = np.ones_like(f), np.zeros_like(f), 1.0 - f, f
    table = [  # (r, g, b) of each sixth of the hue circle
        (one, up, zero), (down, one, zero), (zero, one, up),
        (zero, down, one), (up, zero, one), (one, zero, down),
    ]  # fmt: skip
    rgb = np.stack([np.select([sector == j for j in range(6)], [t[c] for t in table]) for c in
                    range(3)], axis=-1)  # fmt: skip
    return rgb * 255.0


def render(factors: Factors) -> np.ndarray:
    """The images of ``factors`` as uint8 ``[N, 32, 32, 3]``."""
    alpha = coverage(factors.label, factors.size, factors.x, factors.y)
    colour = hsv_colour(factors.hue)[:, None, None, :]  # [N, 1, 1, 3]
    value = alpha[..., None] * colour + (1.0 - alpha[..., None]) * GREY  # [N, 32, 32, 3]
    return np.rint(value).astype(np.uint8)


def pairs_images(seed: int, start: int, stop: int, chunk: int = 1000) -> tuple[np.ndarray, ...]:
    """Images ``[start, stop)`` of ``seed``: uint8 ``[N, 32, 32, 3]`` and int64 labels ``[N]``."""
    images, labels = [], []
    for lo in range(start, stop, chunk):
        factors = pairs_factors(seed, np.arange(lo, min(lo + chunk, stop)))
        images.append(render(factors))
        labels.append(factors.label)
    if not images:
        return np.zeros((0, SIZE, SIZE, 3), np.uint8), np.zeros(0, np.int64)
    return np.concatenate(images), np.concatenate(labels)
