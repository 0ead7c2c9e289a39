"""Interpolation grids: walk G's latent z, its class embedding, or both, in ``steps`` stops.

Row r of a grid is one walk, and its endpoints are samples that ``nlgan sample`` draws with the
same seed (up to float rounding, ~1e-7, since the batches differ):

- ``z``: latent 2r to latent 2r+1 at a fixed class. With ``classes=[A]`` the endpoints are
  samples 2r and 2r+1 of ``nlgan sample --classes A``; without classes row r uses class r mod K.
- ``class``: latent r fixed, the class embedding walks from A to B: sample r of
  ``nlgan sample --classes A`` to sample r of ``--classes B``.
- ``both``: sample 2r of ``--classes A`` to sample 2r+1 of ``--classes B``.

``torch.lerp`` returns ``start`` at 0 and ``end`` at 1 exactly, and ``G(z, emb=G.embed(y))``
equals ``G(z, y)``, which is why the endpoints are those samples.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from nlgan.errors import SamplingError
from nlgan.models.networks import Generator
from nlgan.sampling.generate import eval_mode
from nlgan.sampling.images import to_unit_range
from nlgan.sampling.latents import latents

MODES = ("auto", "z", "class", "both")


def resolve_mode(G: Generator, mode: str, classes: Sequence[int] | None) -> tuple[str, list[int]]:
    """The concrete mode (``auto`` resolved) and checked class ids, or a one-line error."""
    if mode not in MODES:
        raise SamplingError(f"interpolation mode {mode!r}: choose one of {', '.join(MODES)}")
    k = G.cfg.num_classes
    classes = [int(c) for c in classes] if classes else []
    if k == 0:
        if classes:
            raise SamplingError("--classes: the generator is unconditional (model.num_classes=0)")
        if mode in ("class", "both"):
            raise SamplingError(f"mode {mode!r} needs a class-conditional generator; use mode z")
        return "z", []
    bad = [c for c in classes if not 0 <= c < k]
    if bad:
        raise SamplingError(f"--classes {bad}: class ids must be in [0, {k - 1}]")
    if mode == "auto":
        mode = "class" if len(classes) == 2 else "z"
    if mode in ("class", "both") and len(classes) != 2:
        raise SamplingError(f"mode {mode!r} walks from one class to another: give --classes A,B")
    if mode == "z" and len(classes) > 1:
        raise SamplingError(
            "mode 'z' keeps one class per grid: give at most one class (--classes A)"
        )
    return mode, classes


@torch.no_grad()
def interpolation_grid(
    G: Generator,
    rows: int = 4,
    steps: int = 8,
    classes: Sequence[int] | None = None,
    mode: str = "auto",
    seed: int = 0,
    truncation: float | None = None,
) -> Tensor:
    """Images ``[rows * steps, C, R, R]`` in [0, 1]; row r walks from its start to its end."""
    if rows < 1 or steps < 2:
        raise SamplingError(f"rows={rows}, steps={steps}: need rows >= 1 and steps >= 2")
    mode, classes = resolve_mode(G, mode, classes)
    z_dim = G.cfg.z_dim
    z_all = latents(0, 2 * rows, z_dim, seed, truncation)  # [2 * rows, z_dim]
    t = torch.linspace(0.0, 1.0, steps)  # [steps]
    if mode == "class":
        z_start = z_end = z_all[:rows]
    else:
        z_start, z_end = z_all[0::2], z_all[1::2]
    z = torch.lerp(z_start[:, None], z_end[:, None], t[None, :, None]).reshape(-1, z_dim)
    param = next(G.parameters())
    emb = None
    if G.cfg.num_classes:
        if mode == "z":
            labels = torch.tensor(classes or [r % G.cfg.num_classes for r in range(rows)])
            start = end = G.embed(labels.expand(rows).to(param.device))  # [rows, E]
        else:
            a, b = (G.embed(torch.tensor([c], device=param.device)) for c in classes)
            start, end = a.expand(rows, -1), b.expand(rows, -1)
        w = t.to(param.device, start.dtype)[None, :, None]
        emb = torch.lerp(start[:, None], end[:, None], w).reshape(rows * steps, -1)
    with eval_mode(G):
        images = G(z.to(param.device, param.dtype), emb=emb)  # [rows * steps, C, R, R]
    return to_unit_range(images).cpu()
