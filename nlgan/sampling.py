"""Sampling from a trained generator: loading, deterministic batched generation, grids.

Every function here returns float images in [0, 1] (``to_uint8`` turns them into uint8 arrays).
Generation runs under ``no_grad`` with G in eval mode, so batch norm uses its running statistics
(BigGAN's "standing statistics" would be an alternative); G's previous mode is restored after
each batch, so the trainer can sample from a model it is training.

Latents are drawn on the CPU in fixed chunks of ``LATENT_CHUNK`` samples, each from its own
``torch.Generator`` seeded from ``(seed, chunk index)``. The images for a seed therefore do not
depend on ``batch_size`` or the device, and 50,000 samples never sit in memory at once.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from nlgan.checkpoint import CheckpointError, load_any
from nlgan.config import Config, ConfigError, config_from_dict
from nlgan.models import Generator

LATENT_CHUNK = 1024  # samples per latent chunk; part of what a seed means, so keep it fixed


def load_generator(
    source: str | Path, ema: bool = True, device: str | torch.device = "cpu"
) -> tuple[Generator, Config]:
    """Rebuild G from a run directory, a checkpoint or a ``.safetensors`` export (eval mode)."""
    path = Path(source)
    key = "G_ema" if ema else "G"
    if path.suffix == ".safetensors":
        from nlgan.export import load_export

        weights, config, metadata = load_export(path)
        if ema and metadata.get("weights") not in (None, "G_ema"):
            raise CheckpointError(f"{path}: holds the raw G weights, not G_ema (use ema=False)")
    else:
        path, state = load_any(path)
        if "config" not in state:
            raise CheckpointError(f"{path}: has no config, so the generator cannot be rebuilt")
        if key not in state:
            hint = " (try ema=False / --no-ema)" if ema and "G" in state else ""
            raise CheckpointError(f"{path}: has no {key} weights{hint}")
        weights, config = state[key], state["config"]
    try:
        cfg = config_from_dict(config)
    except ConfigError as err:
        raise CheckpointError(f"{path}: its config is not valid for this nlgan ({err})") from None
    G = Generator(cfg.model)
    missing, unexpected, reshaped = _mismatch(G, weights)
    if missing or unexpected or reshaped:
        example = (missing or unexpected or reshaped)[0]
        raise CheckpointError(
            f"{path}: the {key} weights do not fit the generator its config describes "
            f"({len(missing)} missing, {len(unexpected)} unexpected, {len(reshaped)} wrongly "
            f"shaped tensors, e.g. {example!r})"
        )
    G.load_state_dict(weights)
    return G.to(device).eval(), cfg


def _mismatch(G: Generator, weights: dict[str, Tensor]) -> tuple[list[str], ...]:
    """Missing, unexpected and wrongly shaped keys of ``weights`` for G."""
    expected = G.state_dict()
    missing = sorted(set(expected) - set(weights))
    unexpected = sorted(set(weights) - set(expected))
    reshaped = sorted(
        k for k in set(expected) & set(weights) if tuple(weights[k].shape) != expected[k].shape
    )
    return missing, unexpected, reshaped


def truncated_normal(
    shape: tuple[int, ...], truncation: float | None, generator: torch.Generator
) -> Tensor:
    """Standard normal samples; with ``truncation``, entries beyond it are redrawn (BigGAN)."""
    z = torch.randn(shape, generator=generator)
    if truncation is None:
        return z
    if not truncation > 0:
        raise ValueError(f"truncation={truncation}: must be > 0 (or None for no truncation)")
    outside = z.abs() > truncation
    while outside.any():
        z[outside] = torch.randn(int(outside.sum()), generator=generator)
        outside = z.abs() > truncation
    return z


def latents(
    start: int, count: int, z_dim: int, seed: int = 0, truncation: float | None = None
) -> Tensor:
    """Latents ``[count, z_dim]`` of samples ``start .. start+count-1`` of the stream for seed."""
    parts, index, end = [], start, start + count
    while index < end:
        chunk = index // LATENT_CHUNK
        rng = torch.Generator().manual_seed(_chunk_seed(seed, chunk))
        z = truncated_normal((LATENT_CHUNK, z_dim), truncation, rng)  # [CHUNK, z_dim]
        lo = index - chunk * LATENT_CHUNK
        hi = min(LATENT_CHUNK, end - chunk * LATENT_CHUNK)
        parts.append(z[lo:hi])
        index += hi - lo
    return torch.cat(parts) if parts else torch.empty(0, z_dim)


def _chunk_seed(seed: int, chunk: int) -> int:
    # SeedSequence mixes (seed, chunk) so that neighbouring seeds give unrelated streams.
    return int(np.random.SeedSequence([seed, chunk]).generate_state(1, np.uint64)[0] >> 1)


def _check_classes(G: Generator, classes: Sequence[int] | None) -> list[int] | None:
    """The label cycle to use: None for an unconditional G, else the (checked) class list."""
    num_classes = G.cfg.num_classes
    if num_classes == 0:
        if classes:
            raise ValueError("classes: the generator is unconditional (model.num_classes=0)")
        return None
    if classes is None:
        return list(range(num_classes))
    classes = [int(c) for c in classes]
    if not classes:
        raise ValueError("classes is empty: give at least one class id, or None for all")
    bad = [c for c in classes if not 0 <= c < num_classes]
    if bad:
        raise ValueError(f"classes {bad}: class ids must be in [0, {num_classes - 1}]")
    return classes


def to_unit_range(images: Tensor) -> Tensor:
    """G's output in [-1, 1] -> [0, 1] (clamped)."""
    return ((images.float() + 1.0) / 2.0).clamp(0.0, 1.0)


@torch.no_grad()
def _forward(G: Generator, z: Tensor, y: Tensor | None) -> Tensor:
    """One eval-mode forward that leaves G's train/eval mode as it found it."""
    was_training = G.training
    G.eval()
    try:
        param = next(G.parameters())
        z = z.to(param.device, param.dtype)
        images = G(z, None if y is None else y.to(param.device))  # [B, C, R, R] in [-1, 1]
    finally:
        G.train(was_training)
    return to_unit_range(images)


def iter_generate(
    G: Generator,
    n: int,
    classes: Sequence[int] | None = None,
    truncation: float | None = None,
    seed: int = 0,
    batch_size: int = 64,
) -> Iterator[tuple[Tensor, Tensor | None]]:
    """Yield ``(images [b, C, R, R] in [0, 1] on G's device, labels [b] or None)`` batches.

    Labels cycle through ``classes`` (all classes when None), so every class gets n / K
    samples; an unconditional G yields None labels.
    """
    if n < 0 or batch_size <= 0:
        raise ValueError(f"n={n}, batch_size={batch_size}: need n >= 0 and batch_size > 0")
    cycle = _check_classes(G, classes)
    for start in range(0, n, batch_size):
        count = min(batch_size, n - start)
        z = latents(start, count, G.cfg.z_dim, seed, truncation)  # [b, z_dim]
        y = None
        if cycle is not None:
            order = torch.tensor(cycle, dtype=torch.long)
            y = order[torch.arange(start, start + count) % len(cycle)]  # [b]
        yield _forward(G, z, y), y


def generate(
    G: Generator,
    n: int,
    classes: Sequence[int] | None = None,
    truncation: float | None = None,
    seed: int = 0,
    batch_size: int = 64,
) -> Tensor:
    """``n`` images ``[n, C, R, R]`` in [0, 1] on the CPU (see :func:`iter_generate`)."""
    batches = [
        images.cpu() for images, _ in iter_generate(G, n, classes, truncation, seed, batch_size)
    ]
    if not batches:
        r = G.cfg.resolution
        return torch.empty(0, G.cfg.img_channels, r, r)
    return torch.cat(batches)


def generate_uint8(
    G: Generator,
    n: int,
    classes: Sequence[int] | None = None,
    truncation: float | None = None,
    seed: int = 0,
    batch_size: int = 64,
) -> np.ndarray:
    """Like :func:`generate`, as a uint8 array ``[n, R, R, C]``."""
    return to_uint8(generate(G, n, classes, truncation, seed, batch_size))


def class_grid(
    G: Generator,
    per_class: int = 8,
    seed: int = 0,
    truncation: float | None = None,
    classes: Sequence[int] | None = None,
    batch_size: int = 64,
) -> Tensor:
    """A grid's images ``[rows * per_class, C, R, R]`` in [0, 1]: one row per class.

    Every row uses the same ``per_class`` latents, so a column shows one z across classes.
    An unconditional G gives ``per_class`` rows of distinct latents instead.
    """
    if per_class <= 0:
        raise ValueError(f"per_class={per_class}: must be > 0")
    cycle = _check_classes(G, classes)
    if cycle is None:
        z = latents(0, per_class * per_class, G.cfg.z_dim, seed, truncation)
        y = None
    else:
        z = latents(0, per_class, G.cfg.z_dim, seed, truncation).repeat(len(cycle), 1)
        y = torch.tensor(cycle, dtype=torch.long).repeat_interleave(per_class)  # [K * per_class]
    parts = []
    for start in range(0, len(z), batch_size):
        stop = start + batch_size
        parts.append(_forward(G, z[start:stop], None if y is None else y[start:stop]).cpu())
    return torch.cat(parts)


def to_uint8(images: Tensor) -> np.ndarray:
    """Float images in [0, 1], ``[B, C, H, W]`` or ``[C, H, W]`` -> uint8 ``[B, H, W, C]``."""
    if images.dim() not in (3, 4):
        raise ValueError(f"images: expected [B, C, H, W] or [C, H, W], got {list(images.shape)}")
    scaled = (images.detach().float().clamp(0.0, 1.0) * 255.0).round().to(torch.uint8)
    return scaled.movedim(-3, -1).cpu().numpy()  # [..., C, H, W] -> [..., H, W, C]


def save_grid(images: Tensor, path: str | Path, nrow: int = 8, padding: int = 2) -> Path:
    """Write images in [0, 1] as one PNG grid, ``nrow`` per row, atomically; returns the path."""
    from PIL import Image
    from torchvision.utils import make_grid

    if images.dim() != 4 or len(images) == 0:
        raise ValueError(f"images: expected a non-empty [N, C, H, W], got {list(images.shape)}")
    channels = images.shape[1]
    grid = make_grid(images.detach().float().cpu(), nrow=nrow, padding=padding)  # [3, H', W']
    array = to_uint8(grid[:channels])  # make_grid repeats 1 channel to 3; keep gray as gray
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}.png")
    try:
        Image.fromarray(array[..., 0] if channels == 1 else array).save(tmp, format="PNG")
        os.replace(tmp, path)  # readers (and wandb) never see a half-written PNG
    finally:
        tmp.unlink(missing_ok=True)
    return path
