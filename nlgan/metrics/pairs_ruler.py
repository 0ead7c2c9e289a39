"""The exact ruler of the ``pairs`` data set: what an image shows, measured from its pixels alone.

Each half (columns 0-15, and 16-31 mirrored into left-hand coordinates) is read the same way:

- coverage α of a pixel = ``max_c |v_c - 128| / 127.5`` (clipped to 1): an HSV(h, 1, 1) colour has
  one channel at 255 and one at 0, so full coverage is 1 whatever the hue;
- the objects are the 8-connected components of ``α >= 0.5`` with at least ``MIN_AREA`` pixels;
  a half is valid when it holds exactly one, centred at most :data:`MAX_X` (left-hand
  coordinates; the spec puts centres at 6-11) and of a size in :data:`SIZES` (the spec's 3-5),
  so one blob across the middle, cut in two by the split, is not read as two objects;
- that object (its component grown by one pixel) gives area ``A = Σα``, the α-weighted centroid,
  and the colour by least squares (``v - 128 = α (c - 128)``), hence the hue;
- the shape is the class whose exact rendering (the data set's own renderer, with the size
  ``sqrt(A / area of the shape)`` and the centre the centroid implies) is nearest the observed
  α in squared error; the size and centre are then that class's.

An image is *valid* when both halves are; *class-correct* when both shapes equal its label;
a *twin* when both halves agree within :data:`TOLERANCES` and in shape. See docs/pairs.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nlgan.data.pairs import GREY, NUM_CLASSES, SIZE, coverage

MIN_AREA = 3  # pixels of α >= 0.5 below which a component is a speck, not an object
HALF = SIZE // 2
# A valid object's centre column (left-hand) and size: the spec's x <= 11 and s in [3, 5], with
# room for the ruler's error on real images (under 0.2 px) and for a generator's slop.
MAX_X = 11.5
SIZES = (2.0, 6.0)
# Area of each shape over s² (disk, square 1.7s side, triangle 2s base x 1.8s height, plus).
AREAS = np.array([np.pi, 1.7**2, 1.8, 20.0 / 9.0])
CENTROID_DY = np.array([0.0, 0.0, 0.2, 0.0])  # centroid minus centre, over s (the triangle's)
# How far the halves of a twin may disagree: hue (share of the circle), size, x and y (pixels).
TOLERANCES = {"hue": 0.05, "size": 0.5, "x": 1.0, "y": 1.0}


@dataclass(frozen=True)
class Measured:
    """The ruler's reading of N images: per image and half (0 left, 1 right, mirrored)."""

    valid: np.ndarray  # bool [N, 2]: one object in the half, x <= MAX_X, size within SIZES
    shape: np.ndarray  # int64 [N, 2]: class of the object (-1 where not valid)
    hue: np.ndarray  # float [N, 2] in [0, 1)
    size: np.ndarray  # float [N, 2] half-extent s
    x: np.ndarray  # float [N, 2] centre column, left-hand coordinates
    y: np.ndarray  # float [N, 2] centre row
    fit: np.ndarray  # float [N, 2] squared error of the best shape over A (0 = exact)


def as_nhwc(images: np.ndarray) -> np.ndarray:
    """uint8 images ``[N, 32, 32, 3]`` from NHWC or NCHW arrays / tensors."""
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[1] == 3 and images.shape[-1] != 3:
        images = images.transpose(0, 2, 3, 1)
    if images.shape[1:] != (SIZE, SIZE, 3):
        raise ValueError(
            f"the pairs ruler reads 32x32 RGB images; got shape {tuple(images.shape)} "
            "(train at model.resolution=32 with model.img_channels=3)"
        )
    return images


def halves(images: np.ndarray) -> np.ndarray:
    """``[N, 2, 32, 16, 3]``: the left half, and the right half mirrored onto it."""
    images = as_nhwc(images)
    return np.stack([images[:, :, :HALF], images[:, :, ::-1][:, :, :HALF]], axis=1)


def _hue(rgb: np.ndarray) -> np.ndarray:
    """Hue in [0, 1) of float RGB rows ``[M, 3]`` (colorsys' formula, vectorised)."""
    r, g, b = rgb[:, 0], rgb[:, 1], rgb[:, 2]
    top, low = rgb.max(1), rgb.min(1)
    span = np.where(top - low > 1e-9, top - low, 1.0)
    h = np.where(
        top == r, (g - b) / span, np.where(top == g, 2.0 + (b - r) / span, 4.0 + (r - g) / span)
    )
    return (h / 6.0) % 1.0


def _components(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """8-connected components of every map of ``mask`` [M, H, W]: labels, and areas by label."""
    from scipy import ndimage

    structure = np.zeros((3, 3, 3), dtype=bool)
    structure[1] = True  # connect within a map, never across maps
    labels, count = ndimage.label(mask, structure=structure)
    return labels, np.bincount(labels.ravel(), minlength=count + 1)


def measure(images: np.ndarray) -> Measured:
    """Read every image: objects per half, their shape, hue, size and centre."""
    from scipy import ndimage

    h = halves(images).astype(np.float64)  # [N, 2, 32, 16, 3]
    n = len(h)
    maps = h.reshape(2 * n, SIZE, HALF, 3)
    alpha = np.clip(np.abs(maps - GREY).max(-1) / 127.5, 0.0, 1.0)  # [M, 32, 16]
    labels, areas = _components(alpha >= 0.5)
    big = areas >= MIN_AREA
    big[0] = False  # label 0 is the background
    objects = np.zeros(2 * n, dtype=np.int64)
    np.add.at(objects, _owner(labels, areas), big[1:].astype(np.int64))
    valid = objects == 1
    # each valid map's object: its big component, grown by a pixel to take in the soft edge
    keep = big[labels] & valid[:, None, None]
    grow = np.zeros((3, 3, 3), dtype=bool)
    grow[1] = True
    region = ndimage.binary_dilation(keep, structure=grow)
    a = alpha * region  # [M, 32, 16]
    area = a.sum((1, 2))
    safe = np.where(area > 0, area, 1.0)
    rows, cols = np.arange(SIZE, dtype=np.float64), np.arange(HALF, dtype=np.float64)
    cy = (a.sum(2) * rows).sum(1) / safe
    cx = (a.sum(1) * cols).sum(1) / safe
    colour = (
        GREY
        + np.einsum("mhw,mhwc->mc", a, maps - GREY) / np.maximum((a * a).sum((1, 2)), 1e-9)[:, None]
    )
    shape, size, x, y, fit = _fit_shapes(a, area, cx, cy, valid)
    valid = valid & (x <= MAX_X) & (size >= SIZES[0]) & (size <= SIZES[1])
    out = {
        "valid": valid, "shape": np.where(valid, shape, -1), "hue": _hue(colour),
        "size": size, "x": x, "y": y, "fit": fit,
    }  # fmt: skip
    return Measured(**{k: v.reshape(n, 2) for k, v in out.items()})


def _owner(labels: np.ndarray, areas: np.ndarray) -> np.ndarray:
    """The map each component label (1..count) lies in."""
    owner = np.zeros(len(areas), dtype=np.int64)
    where = labels.ravel()
    m = np.repeat(np.arange(labels.shape[0]), labels.shape[1] * labels.shape[2])
    owner[where] = m
    return owner[1:]


def _fit_shapes(a, area, cx, cy, valid):
    """For each map: the shape whose exact rendering is nearest ``a``, with its size and centre."""
    m = len(a)
    errors = np.full((NUM_CLASSES, m), np.inf)
    sizes, ys = np.zeros((NUM_CLASSES, m)), np.zeros((NUM_CLASSES, m))
    idx = np.flatnonzero(valid)
    for k in range(NUM_CLASSES):
        s = np.sqrt(area / AREAS[k])
        sizes[k], ys[k] = s, cy - CENTROID_DY[k] * s
        if not len(idx):
            continue
        label = np.full(len(idx), k)
        # the renderer draws the twin too, so shapes that touch the middle compare exactly
        template = coverage(label, s[idx], cx[idx], ys[k, idx])[:, :, :HALF]
        errors[k, idx] = ((a[idx] - template) ** 2).sum((1, 2)) / area[idx]
    best = errors.argmin(0)
    pick = np.arange(m)
    fit = np.where(valid, errors[best, pick], np.inf)
    return best, sizes[best, pick], cx, ys[best, pick], fit


def twins(m: Measured) -> np.ndarray:
    """bool [N]: both halves valid, of one shape, and agreeing within :data:`TOLERANCES`."""
    dh = np.abs(m.hue[:, 0] - m.hue[:, 1])
    dh = np.minimum(dh, 1.0 - dh)  # hue is circular
    return (
        m.valid.all(1)
        & (m.shape[:, 0] == m.shape[:, 1])
        & (dh <= TOLERANCES["hue"])
        & (np.abs(m.size[:, 0] - m.size[:, 1]) <= TOLERANCES["size"])
        & (np.abs(m.x[:, 0] - m.x[:, 1]) <= TOLERANCES["x"])
        & (np.abs(m.y[:, 0] - m.y[:, 1]) <= TOLERANCES["y"])
    )


def asymmetry(images: np.ndarray) -> float:
    """``Σ|x - mirror(x)| / Σ(|x-128| + |mirror(x)-128|)`` over all pixels: 0 for real data."""
    x = as_nhwc(images).astype(np.float64)
    mirror = x[:, :, ::-1]
    total = (np.abs(x - GREY) + np.abs(mirror - GREY)).sum()
    return float(np.abs(x - mirror).sum() / max(total, 1e-9))


def factor_rows(m: Measured) -> np.ndarray:
    """``[V, 5]`` (cos 2πh, sin 2πh, s, x, y) of the left object of every valid image."""
    ok = m.valid.all(1)
    angle = 2.0 * np.pi * m.hue[ok, 0]
    return np.stack([np.cos(angle), np.sin(angle), m.size[ok, 0], m.x[ok, 0], m.y[ok, 0]], 1)
