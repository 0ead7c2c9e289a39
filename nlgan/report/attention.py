"""The attention explorer's data: for a few EMA G samples, every attention layer's weights (G's
while generating them, D's while judging them) for every query position at the layer's
resolution, quantised to uint8 so a page can hold them.

Each query's row of weights is divided by its maximum and rounded to 0..255 (the overlay shows
where a query looks relative to its strongest key; 1/255 is finer than any colour step). The
rows are stored as base64 of ``uint8 [samples, queries, keys]``, queries and keys row-major.
"""

from __future__ import annotations

import base64
from typing import Any

import torch
from torch import nn

from nlgan.models.networks import Discriminator, Generator
from nlgan.report.samples import array_png, png_uri
from nlgan.sampling import to_uint8, to_unit_range
from nlgan.sampling.attention_maps import LayerAttention, capture_attention
from nlgan.sampling.latents import latents_for

EXPLORER_SAMPLES = 4  # samples whose maps are stored (each adds queries x keys bytes per layer)


def quantise(weights: torch.Tensor) -> torch.Tensor:
    """``[..., keys]`` attention weights -> uint8, each row divided by its maximum."""
    peak = weights.float().amax(dim=-1, keepdim=True).clamp_min(1e-12)
    return (weights.float() / peak * 255.0).round().clamp(0, 255).to(torch.uint8)


def _layer(net: str, layer: LayerAttention) -> dict[str, Any]:
    data = quantise(layer.weights).cpu().contiguous().numpy().tobytes()
    return {
        "net": net,
        "index": layer.index,
        "query": list(layer.query_shape),
        "key": list(layer.key_shape),
        "data": base64.b64encode(data).decode("ascii"),
    }


def explorer_inputs(G: Generator, n: int = EXPLORER_SAMPLES, seed: int = 0):
    """The explorer's latents and labels: sample i = G(latent i, class i mod K)."""
    m = G.cfg
    return latents_for(0, n, m.z_dim, m.num_classes, seed, None, None)


def _has_attention(model: nn.Module | None) -> bool:
    return model is not None and bool(model.attention_layers())


def explorer_data(
    G: Generator, D: Discriminator | None, n: int = EXPLORER_SAMPLES, seed: int = 0
) -> dict[str, Any]:
    """Samples (PNG URIs), their labels and every G and D attention layer's quantised maps."""
    if not _has_attention(G) and not _has_attention(D):
        return {"samples": [], "labels": [], "layers": []}
    device = next(G.parameters()).device
    z, y = explorer_inputs(G, n, seed)
    z, y = z.to(device), None if y is None else y.to(device)
    layers = []
    with torch.no_grad():
        if _has_attention(G):
            images, maps = capture_attention(G, z, y)
            layers += [_layer("G", layer) for layer in maps]
        else:
            images = G(z, y)
        if _has_attention(D):
            _, maps = capture_attention(D, images, y)  # D(x, y): the same hooks serve D
            layers += [_layer("D", layer) for layer in maps]
    pixels = to_uint8(to_unit_range(images).cpu())  # the canvas enlarges them, pixelated
    return {
        "samples": [png_uri(array_png(a)) for a in pixels],
        "labels": [] if y is None else [int(c) for c in y.tolist()],
        "layers": layers,
    }
