"""Where does G's self-attention look? Attention maps for query points, drawn over samples.

For each sample, the figure shows the generated image with numbered query points, then one
panel per (attention layer, query point): the layer's attention weights for the feature-map
position under that point, upsampled to the image and overlaid on it, as in the SAGAN paper.
Every ``model.attn_affinity`` works; each panel is scaled to its own largest weight (after a
shift to 0 where dot_product's weights are negative).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont
from torch import nn

from nlgan.errors import SamplingError

# Query points spread over the image, as (x, y) fractions of its width and height.
AUTO_QUERIES = ((0.5, 0.5), (0.25, 0.25), (0.75, 0.75), (0.75, 0.25), (0.25, 0.75))
_MARKERS = ((255, 64, 64), (64, 255, 64), (64, 160, 255), (255, 220, 0), (255, 0, 255))
# An "inferno"-like colour ramp: dark (little weight) to bright yellow (most weight).
_RAMP = np.array([[0, 0, 4], [87, 16, 110], [188, 55, 84], [249, 142, 9], [252, 255, 164]], float)


@dataclass(frozen=True)
class LayerAttention:
    """One self-attention layer's weights for a batch: ``weights [B, N_query, N_key]``."""

    index: int
    query_shape: tuple[int, int]  # the feature map's (H, W)
    key_shape: tuple[int, int]  # the (pooled) key grid's (H_k, W_k)
    weights: torch.Tensor

    def for_point(self, b: int, x: float, y: float) -> torch.Tensor:
        """Key-grid map ``[H_k, W_k]`` of the query nearest the image point (x, y) in [0, 1]."""
        h, w = self.query_shape
        row, col = min(int(y * h), h - 1), min(int(x * w), w - 1)
        return self.weights[b, row * w + col].reshape(self.key_shape)


def capture_attention(
    G: nn.Module, z: torch.Tensor, y: torch.Tensor | None = None
) -> tuple[torch.Tensor, list[LayerAttention]]:
    """Run G once; return its images and every attention layer's weights ``f / C(x)``: a
    softmax (rows sum to 1) for ``model.attn_affinity`` sagan, gaussian and embedded_gaussian,
    ``f / N_keys`` for dot_product and concatenation (rows need not sum to 1, and dot_product's
    weights can be negative)."""
    layers = G.attention_layers()
    if not layers:
        raise SamplingError(
            "this generator has no self-attention layers (its model.g_attn_resolutions is empty)"
        )
    inputs: dict[int, torch.Tensor] = {}
    hooks = [
        layer.register_forward_pre_hook(lambda _m, args, i=i: inputs.__setitem__(i, args[0]))
        for i, layer in enumerate(layers)
    ]
    try:
        with torch.no_grad():
            images = G(z, y)
            maps = []
            for i, layer in enumerate(layers):
                x = inputs[i]  # [B, C, H, W]
                spatial = tuple(x.shape[2:])
                maps.append(
                    LayerAttention(i, spatial, layer.key_shape(spatial), layer.attention_map(x))
                )
    finally:
        for hook in hooks:
            hook.remove()
    return images, maps


def _colourise(heat: np.ndarray) -> np.ndarray:
    """``[H, W]`` in [0, 1] -> ``[H, W, 3]`` float RGB along the colour ramp."""
    pos = heat * (len(_RAMP) - 1)
    return np.stack([np.interp(pos, np.arange(len(_RAMP)), _RAMP[:, c]) for c in range(3)], -1)


def _to_rgb(image: torch.Tensor) -> np.ndarray:
    """``[C, H, W]`` in [-1, 1] -> ``[H, W, 3]`` uint8."""
    arr = ((image.float().clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()
    return np.repeat(arr, 3, axis=2) if arr.shape[2] == 1 else arr


def _mark(draw: ImageDraw.ImageDraw, x: float, y: float, size: int, colour, label: str) -> None:
    cx, cy, r = x * size, y * size, max(3, size // 32)
    draw.ellipse([cx - r, cy - r, cx + r, cy + r], outline=(0, 0, 0), fill=colour)
    draw.text((cx + r + 1, cy - r - 1), label, fill=colour)


def render_attention(
    images: torch.Tensor,
    maps: list[LayerAttention],
    queries: tuple[tuple[float, float], ...] = AUTO_QUERIES[:3],
    panel: int = 128,
    alpha: float = 0.6,
) -> Image.Image:
    """A figure: per sample a row of [image with query points, then one panel per layer/query]."""
    for x, y in queries:
        if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
            raise SamplingError(
                f"query point ({x}, {y}) is outside the image: use fractions in 0..1"
            )
    n_cols = 1 + len(maps) * len(queries)
    header = 14
    figure = Image.new("RGB", (n_cols * panel, header + len(images) * panel), (255, 255, 255))
    draw = ImageDraw.Draw(figure)
    font = ImageFont.load_default()
    draw.text((4, 1), "sample", fill=(0, 0, 0), font=font)
    for li, layer in enumerate(maps):
        for qi in range(len(queries)):
            h, w = layer.query_shape
            draw.text(
                ((1 + li * len(queries) + qi) * panel + 4, 1),
                f"attn {h}x{w}, q{qi + 1}",
                fill=(0, 0, 0),
                font=font,
            )
    for b, image in enumerate(images):
        top = header + b * panel
        base = Image.fromarray(_to_rgb(image)).resize((panel, panel), Image.NEAREST)
        gray = np.asarray(base.convert("L").convert("RGB"), dtype=float)
        marked = base.copy()
        for qi, (x, y) in enumerate(queries):
            _mark(ImageDraw.Draw(marked), x, y, panel, _MARKERS[qi % len(_MARKERS)], str(qi + 1))
        figure.paste(marked, (0, top))
        for li, layer in enumerate(maps):
            for qi, (x, y) in enumerate(queries):
                heat = layer.for_point(b, x, y).float()
                heat = torch.nn.functional.interpolate(
                    heat[None, None], size=(panel, panel), mode="bilinear", align_corners=False
                )[0, 0].numpy()
                # dot_product's weights f / N can be negative: shift so the least is 0.
                heat = heat - min(float(heat.min()), 0.0)
                heat = heat / max(float(heat.max()), 1e-12)
                blend = (1 - alpha) * gray + alpha * _colourise(heat)
                tile = Image.fromarray(blend.clip(0, 255).astype(np.uint8))
                _mark(ImageDraw.Draw(tile), x, y, panel, _MARKERS[qi % len(_MARKERS)], str(qi + 1))
                figure.paste(tile, ((1 + li * len(queries) + qi) * panel, top))
    return figure


def parse_queries(text: str) -> tuple[tuple[float, float], ...]:
    """``"auto"``, ``"auto:N"`` or ``"x,y;x,y"`` (fractions of width/height) -> query points."""
    text = text.strip()
    if text.startswith("auto"):
        count = int(text.split(":", 1)[1]) if ":" in text else 3
        if not 1 <= count <= len(AUTO_QUERIES):
            raise SamplingError(f"--queries {text}: choose auto:1 .. auto:{len(AUTO_QUERIES)}")
        return AUTO_QUERIES[:count]
    points = []
    for part in text.split(";"):
        try:
            x, y = (float(v) for v in part.split(","))
        except ValueError:
            raise SamplingError(
                f"--queries {text!r}: expected 'auto', 'auto:N' or 'x,y;x,y' with fractions in "
                "[0, 1], e.g. 0.5,0.5;0.2,0.8"
            ) from None
        points.append((x, y))
    return tuple(points)
