"""Differentiable augmentation of D's inputs: DiffAugment's policies and ADA's pipeline.

D sees every image (real and fake, in the D step and in the G step) through the same random
transforms, so D cannot memorise the few real images, while G, judged only through augmented
images, is never asked to produce augmented ones: nothing leaks into G's outputs as long as the
transforms are invertible in distribution (ADA: p well below ~0.8 for the geometric ones).

Ops (``train.augment``, comma-separated, any combination, applied in this order):

- ADA geometric (Karras et al. 2020), composed into one affine map and resampled once,
  bilinearly: ``xflip``, ``rotate90``, ``xint`` (integer translation up to 1/8 of the size),
  ``scale`` (isotropic, log2 std 0.2), ``rotate`` (any angle; drawn before and after ``aniso``
  with probability 1 - sqrt(1 - p) each, as ADA does), ``aniso`` (log2 std 0.2), ``xfrac``
  (fractional translation, std 1/8). Outside the image, pixels come from ADA's padding: a
  reflection that does not repeat the edge pixel (``d c b | a b c d | c b a``, ``F.pad``'s
  "reflect"), up to one image size on each side, zeros beyond, not ``grid_sample``'s own
  reflection, which repeats it (``b a | a b c d | d c``). ADA's 2x supersampling with a wavelet
  filter is left out, so rotations, scalings and fractional shifts alias a little more than
  ADA's; flips, quarter turns and integer shifts land on pixel centres and are exact.
  (DiffAugment has no resampling at all: its ops move whole pixels.)
- ADA colour, composed into one affine colour map: ``brightness`` (std 0.2), ``contrast`` (log2
  std 0.5), ``lumaflip``, ``hue`` (any angle), ``saturation`` (log2 std 1). On 1-channel images
  hue and saturation are the identity and are dropped; lumaflip negates.
- DiffAugment (Zhao et al. 2020): ``color`` (brightness +-0.5, saturation x[0, 2], contrast
  x[0.5, 1.5]), ``translation`` (integer shift up to 1/8 of the size, zero fill), ``cutout``
  (a zeroed square of half the size).
- ``ada`` is shorthand for all ADA ops (the paper's "bgc").

Each op is applied to each image independently with probability ``p`` (DiffAugment's policies
always apply: p = 1); an image an op skips is passed through bitwise unchanged, so p = 0 is the
exact identity. Parameters are drawn on the CPU from a ``torch.Generator`` the caller seeds by
counters (seed, rank, step, phase, micro-batch), so a resumed run draws the same ones; the
draws do not depend on p, the device or the data. kornia's augmentations were not used: they
draw from the global RNG, resample once per transform rather than once per pipeline, and would
add a compiled dependency for what ``affine_grid`` / ``grid_sample`` do here.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from nlgan.config.augment_names import COLOUR, DIFFAUGMENT, GEOMETRIC

# ------------------------------------------------------------------ matrices (CPU, float64)

_LUMA = torch.tensor([1.0, 1.0, 1.0, 0.0], dtype=torch.float64) / math.sqrt(3)  # grey axis


def _eye(n: int, batch: int) -> Tensor:
    return torch.eye(n, dtype=torch.float64).repeat(batch, 1, 1)


def _translate(tx: Tensor, ty: Tensor) -> Tensor:
    m = _eye(3, len(tx))
    m[:, 0, 2], m[:, 1, 2] = tx, ty
    return m


def _scale(sx: Tensor, sy: Tensor) -> Tensor:
    m = _eye(3, len(sx))
    m[:, 0, 0], m[:, 1, 1] = sx, sy
    return m


def _rotate(theta: Tensor) -> Tensor:
    m = _eye(3, len(theta))
    c, s = theta.cos(), theta.sin()
    m[:, 0, 0], m[:, 0, 1], m[:, 1, 0], m[:, 1, 1] = c, -s, s, c
    return m


def _uniform(gen: torch.Generator, n: int, lo: float, hi: float) -> Tensor:
    return torch.rand(n, generator=gen, dtype=torch.float64) * (hi - lo) + lo


def _normal(gen: torch.Generator, n: int, std: float) -> Tensor:
    return torch.randn(n, generator=gen, dtype=torch.float64) * std


def _chosen(gen: torch.Generator, n: int, p: float) -> Tensor:
    """Which of ``n`` images an op applies to ([n] bool); always draws n numbers."""
    return torch.rand(n, generator=gen, dtype=torch.float64) < p


Draw = Callable[[torch.Generator, int, float, int], tuple[Tensor, Tensor]]


def _xflip(gen: torch.Generator, n: int, p: float, size: int) -> tuple[Tensor, Tensor]:
    flip = torch.randint(2, (n,), generator=gen) > 0
    on = _chosen(gen, n, p) & flip
    return _scale(torch.where(on, -1.0, 1.0).double(), torch.ones(n, dtype=torch.float64)), on


def _rotate90(gen: torch.Generator, n: int, p: float, size: int) -> tuple[Tensor, Tensor]:
    quarter = torch.randint(4, (n,), generator=gen).double()
    on = _chosen(gen, n, p) & (quarter > 0)
    return _rotate(torch.where(on, quarter, 0.0) * (math.pi / 2)), on


def _xint(gen: torch.Generator, n: int, p: float, size: int) -> tuple[Tensor, Tensor]:
    t = torch.round(_uniform(gen, 2 * n, -0.125, 0.125) * size).view(n, 2)
    on = _chosen(gen, n, p)
    t = torch.where(on[:, None], t, 0.0)
    return _translate(-t[:, 0], -t[:, 1]), on


def _iso_scale(gen: torch.Generator, n: int, p: float, size: int) -> tuple[Tensor, Tensor]:
    s = torch.exp2(_normal(gen, n, 0.2))
    on = _chosen(gen, n, p)
    s = torch.where(on, s, 1.0)
    return _scale(1 / s, 1 / s), on


def _rotation_half(gen: torch.Generator, n: int, p: float, size: int) -> tuple[Tensor, Tensor]:
    """One of ADA's two rotations (before and after aniso): P(either) = p."""
    theta = _uniform(gen, n, -math.pi, math.pi)
    on = _chosen(gen, n, 1 - math.sqrt(max(0.0, 1 - p)))
    return _rotate(-torch.where(on, theta, 0.0)), on


def _aniso(gen: torch.Generator, n: int, p: float, size: int) -> tuple[Tensor, Tensor]:
    s = torch.exp2(_normal(gen, n, 0.2))
    on = _chosen(gen, n, p)
    s = torch.where(on, s, 1.0)
    return _scale(1 / s, s), on


def _xfrac(gen: torch.Generator, n: int, p: float, size: int) -> tuple[Tensor, Tensor]:
    t = _normal(gen, 2 * n, 0.125).view(n, 2) * size
    on = _chosen(gen, n, p)
    t = torch.where(on[:, None], t, 0.0)
    return _translate(-t[:, 0], -t[:, 1]), on


# Inverse maps (output pixel -> input pixel, centred pixel units) [n, 3, 3] per op, in ADA's
# order; "rotate" is two draws around "aniso".
_GEOMETRIC: dict[str, tuple[Draw, ...]] = {
    "xflip": (_xflip,),
    "rotate90": (_rotate90,),
    "xint": (_xint,),
    "scale": (_iso_scale,),
    "rotate": (_rotation_half,),
    "aniso": (_aniso,),
    "xfrac": (_xfrac,),
}


def _geometric_draws(ops: tuple[str, ...]) -> tuple[Draw, ...]:
    """The draws of ``ops`` in ADA's order: rotation, aniso, rotation again."""
    draws: list[Draw] = []
    for op in ops:
        draws += _GEOMETRIC[op]
        if (op == "aniso" and "rotate" in ops) or (op == "rotate" and "aniso" not in ops):
            draws.append(_rotation_half)
    return tuple(draws)


def _compose(draws, gen: torch.Generator, n: int, p: float, size: int) -> tuple[Tensor, Tensor]:
    """Product of the drawn maps [n, k, k] and which images any of them changed [n]."""
    total, changed = None, torch.zeros(n, dtype=torch.bool)
    for draw in draws:
        m, on = draw(gen, n, p, size)
        total, changed = m if total is None else total @ m, changed | on
    return total, changed


def _warp(x: Tensor, inverse: Tensor) -> Tensor:
    """Resample ``x`` [B, C, H, W] at ``inverse`` @ (output pixel), with ADA's padding."""
    B, _, H, W = x.shape
    # ADA pads with a reflection that skips the edge pixel, by at most size - 1 (zeros beyond).
    padded = F.pad(x, (W - 1, W - 1, H - 1, H - 1), mode="reflect")  # [B, C, 3H - 2, 3W - 2]
    Hp, Wp = padded.shape[-2:]
    # Centred pixel units -> grid_sample's [-1, 1] (align_corners=False): n = 2 c / size; the
    # padding is symmetric, so the padded image has the same centre.
    to_unit = _scale(torch.full((B,), 2.0 / Wp, dtype=torch.float64), torch.full((B,), 2.0 / Hp))
    from_unit = _scale(torch.full((B,), W / 2.0, dtype=torch.float64), torch.full((B,), H / 2.0))
    theta = (to_unit @ inverse @ from_unit)[:, :2, :].to(x.device, x.dtype)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)  # over the H x W output
    return F.grid_sample(padded, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _brightness(gen: torch.Generator, n: int, p: float, size: int) -> tuple[Tensor, Tensor]:
    b = _normal(gen, n, 0.2)
    on = _chosen(gen, n, p)
    m = _eye(4, n)
    m[:, :3, 3] = torch.where(on, b, 0.0)[:, None]
    return m, on


def _contrast(gen: torch.Generator, n: int, p: float, size: int) -> tuple[Tensor, Tensor]:
    c = torch.exp2(_normal(gen, n, 0.5))
    on = _chosen(gen, n, p)
    m = _eye(4, n)
    m[:, :3, :3] *= torch.where(on, c, 1.0)[:, None, None]
    return m, on


def _lumaflip(gen: torch.Generator, n: int, p: float, size: int) -> tuple[Tensor, Tensor]:
    flip = torch.randint(2, (n,), generator=gen) > 0
    on = _chosen(gen, n, p) & flip
    vv = torch.outer(_LUMA, _LUMA)
    return _eye(4, n) - 2 * vv * on.double()[:, None, None], on  # Householder reflection


def _hue(gen: torch.Generator, n: int, p: float, size: int) -> tuple[Tensor, Tensor]:
    theta = _uniform(gen, n, -math.pi, math.pi)
    on = _chosen(gen, n, p)
    return _axis_rotation(_LUMA[:3], torch.where(on, theta, 0.0)), on


def _saturation(gen: torch.Generator, n: int, p: float, size: int) -> tuple[Tensor, Tensor]:
    s = torch.exp2(_normal(gen, n, 1.0))
    on = _chosen(gen, n, p)
    vv = torch.outer(_LUMA, _LUMA)
    m = vv + (torch.eye(4, dtype=torch.float64) - vv) * torch.where(on, s, 1.0)[:, None, None]
    m[:, 3, 3] = 1.0
    return m, on


# Homogeneous RGB maps (colour_in -> colour_out) [n, 4, 4] per op, applied left to right.
_COLOUR: dict[str, Draw] = {
    "brightness": _brightness,
    "contrast": _contrast,
    "lumaflip": _lumaflip,
    "hue": _hue,
    "saturation": _saturation,
}


def _axis_rotation(v: Tensor, theta: Tensor) -> Tensor:
    """Rotations by ``theta`` [n] about the unit axis ``v`` [3] (Rodrigues), homogeneous."""
    K = torch.tensor([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]], dtype=torch.float64)
    s, c = theta.sin()[:, None, None], theta.cos()[:, None, None]
    m = _eye(4, len(theta))
    m[:, :3, :3] = torch.eye(3, dtype=torch.float64) + s * K + (1 - c) * (K @ K)
    return m


def _compose_colour(draws, gen: torch.Generator, n: int, p: float) -> tuple[Tensor, Tensor]:
    """Colour maps applied in draw order (each acts on the left): [n, 4, 4], changed [n]."""
    total, changed = _eye(4, n), torch.zeros(n, dtype=torch.bool)
    for draw in draws:
        m, on = draw(gen, n, p, 0)
        total, changed = m @ total, changed | on
    return total, changed


def _apply_colour(x: Tensor, C: Tensor) -> Tensor:
    """``x`` [B, C, H, W] through per-image colour maps [B, 4, 4] (1 or 3 channels)."""
    C = C.to(x.device, x.dtype)
    if x.shape[1] == 3:
        return torch.einsum("bij,bjhw->bihw", C[:, :3, :3], x) + C[:, :3, 3, None, None]
    rows = C[:, :3, :].mean(1)  # grey: the mean of the RGB rows acts on (g, g, g, 1)
    gain = rows[:, :3].sum(1)[:, None, None, None]
    return x * gain + rows[:, 3, None, None, None]


# ------------------------------------------------------------------ DiffAugment


def _color(x: Tensor, gen: torch.Generator, p: float) -> tuple[Tensor, Tensor]:
    n = len(x)
    b, s, c = (torch.rand(n, generator=gen).to(x.device, x.dtype) for _ in range(3))
    out = x + (b - 0.5)[:, None, None, None]
    mean = out.mean(1, keepdim=True)
    out = (out - mean) * (2 * s)[:, None, None, None] + mean
    mean = out.mean((1, 2, 3), keepdim=True)
    out = (out - mean) * (c + 0.5)[:, None, None, None] + mean
    return out, _chosen(gen, n, p)


def _translation(x: Tensor, gen: torch.Generator, p: float) -> tuple[Tensor, Tensor]:
    B, _, H, W = x.shape
    ry, rx = int(H * 0.125 + 0.5), int(W * 0.125 + 0.5)
    ty = torch.randint(-ry, ry + 1, (B,), generator=gen)
    tx = torch.randint(-rx, rx + 1, (B,), generator=gen)
    # out[i, j] = x[i - ty, j - tx], zero outside: gather from a zero-padded copy.
    padded = F.pad(x, (rx, rx, ry, ry))  # [B, C, H + 2ry, W + 2rx]
    rows = (torch.arange(H)[None] - ty[:, None] + ry).to(x.device)  # [B, H]
    cols = (torch.arange(W)[None] - tx[:, None] + rx).to(x.device)  # [B, W]
    batch = torch.arange(B, device=x.device)[:, None, None]
    out = padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]]  # [B, H, W, C]
    return out.permute(0, 3, 1, 2), _chosen(gen, B, p)


def _cutout(x: Tensor, gen: torch.Generator, p: float) -> tuple[Tensor, Tensor]:
    B, _, H, W = x.shape
    sy, sx = int(H * 0.5 + 0.5), int(W * 0.5 + 0.5)
    cy = torch.randint(0, H + (1 - sy % 2), (B,), generator=gen) - sy // 2  # top edge
    cx = torch.randint(0, W + (1 - sx % 2), (B,), generator=gen) - sx // 2
    i, j = torch.arange(H), torch.arange(W)
    inside_y = (i[None] >= cy[:, None]) & (i[None] < cy[:, None] + sy)  # [B, H]
    inside_x = (j[None] >= cx[:, None]) & (j[None] < cx[:, None] + sx)  # [B, W]
    keep = ~(inside_y[:, :, None] & inside_x[:, None, :])  # [B, H, W]
    return x * keep[:, None].to(x.device, x.dtype), _chosen(gen, B, p)


_DIFFAUGMENT: dict[str, Callable[[Tensor, torch.Generator, float], tuple[Tensor, Tensor]]] = {
    "color": _color,
    "translation": _translation,
    "cutout": _cutout,
}


def _select(on: Tensor, augmented: Tensor, x: Tensor) -> Tensor:
    """Per image: the augmented version where ``on`` [B], else ``x`` exactly."""
    return torch.where(on.to(x.device)[:, None, None, None], augmented, x)


class AugmentPipe:
    """Callable ``pipe(x, p, gen)``: the configured ops, each applied per image with prob. p."""

    def __init__(self, ops: tuple[str, ...], channels: int):
        if channels == 1:  # hue and saturation do nothing to grey images
            ops = tuple(op for op in ops if op not in ("hue", "saturation"))
        self.ops = ops
        self.geometric = _geometric_draws(tuple(op for op in ops if op in GEOMETRIC))
        # Colour maps act on the left: C = M_k ... M_1, so draw in order and reverse-compose.
        self.colour = tuple(_COLOUR[op] for op in ops if op in COLOUR)
        self.diffaugment = tuple(_DIFFAUGMENT[op] for op in ops if op in DIFFAUGMENT)

    def __call__(self, x: Tensor, p: float, gen: torch.Generator) -> Tensor:
        """Augment images ``x`` [B, C, H, W] (differentiably); same shape out."""
        n = len(x)
        if self.geometric:
            inverse, moved = _compose(self.geometric, gen, n, p, x.shape[-1])
            if moved.any():  # a CPU mask: no device sync
                x = _select(moved, _warp(x, inverse), x)
        if self.colour:
            C, changed = _compose_colour(self.colour, gen, n, p)
            if changed.any():
                x = _select(changed, _apply_colour(x, C), x)
        for op in self.diffaugment:
            augmented, on = op(x, gen, p)
            x = _select(on, augmented, x)
        return x
