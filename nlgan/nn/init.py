"""Weight initialisation of G and D: orthogonal, N(0, 0.02) or Xavier, as in BigGAN-PyTorch.

Only the weights of convolutions, linear layers and embeddings are re-drawn; their biases are
set to 0 (as in SAGAN). Everything else keeps its construction-time value: conditional-BN gain
tables stay 1 and bias tables 0, an attention block's ``gamma`` stays 0, BN running stats untouched.
For a spectral-normed layer the raw weight, ``parametrizations.weight.original``, is re-drawn
and its power iteration restarted, so that sigma matches the new weight.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn.utils import parametrize

from nlgan.nn.spectral import SpectralNorm

INITS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "ortho": nn.init.orthogonal_,
    "N02": lambda w: nn.init.normal_(w, 0.0, 0.02),
    "xavier": nn.init.xavier_uniform_,
}

_LAYERS = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear, nn.Embedding)


@torch.no_grad()
def init_weights(model: nn.Module, scheme: str) -> nn.Module:
    """Re-draw every conv / linear / embedding weight of ``model`` by ``scheme``; returns it."""
    if scheme not in INITS:
        raise ValueError(f"init={scheme!r}: choose one of {', '.join(INITS)}")
    draw = INITS[scheme]
    for module in model.modules():
        if not isinstance(module, _LAYERS):
            continue
        if parametrize.is_parametrized(module, "weight"):
            weight = module.parametrizations.weight.original
        else:
            weight = module.weight
        draw(weight)
        if getattr(module, "bias", None) is not None:
            module.bias.zero_()
        if parametrize.is_parametrized(module, "weight"):
            for p in module.parametrizations.weight:
                if isinstance(p, SpectralNorm):
                    p.reset_estimate(weight)
    return model
