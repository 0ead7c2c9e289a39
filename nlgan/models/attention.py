"""The attention block G and D put at their attention places, chosen once from a ModelConfig.

``model.attn_affinity`` picks the pairwise function ``f`` of ``y_i = 1/C(x) sum_j f(x_i, x_j)
g(x_j)``; every kind gets the same treatment so that only ``f`` (and, for the paper's kinds, the
1x1 convolutions' biases) differs:

- ``sagan`` (the default): SAGAN / BigGAN's block, :class:`~nlgan.nn.SelfAttention` -- the
  embedded Gaussian with bias-free 1x1 convolutions. Old configs and checkpoints build exactly
  this, with the same state-dict names (``attention.<block index>.theta...``).
- ``gaussian``, ``embedded_gaussian``, ``dot_product``, ``concatenation``: the non-local paper's
  block, :class:`~nlgan.nn.NonLocalBlock`, with its 1x1 convolutions' biases (phi's is dropped
  for the softmax kinds, where it cancels). ``gaussian`` compares the raw features (no theta /
  phi); ``dot_product`` and ``concatenation`` divide by the number of keys instead of a softmax,
  so their attention maps are ``f / N_k`` and rows do not sum to 1.

For all of them: theta / phi have ``C / model.attn_key_div`` channels, g ``C /
model.attn_value_div``, keys and values are max-pooled ``model.attn_pool`` per axis, every
convolution (and concatenation's ``w_f``) is spectral-normed with ``g_sn`` / ``d_sn``, and the
learned ``gamma`` starts at 0, so each block is the identity at initialisation.
"""

from __future__ import annotations

from nlgan.config import ModelConfig
from nlgan.nn.nonlocal_block import NonLocalBlock, SelfAttention


def attention_block(cfg: ModelConfig, channels: int, sn: bool) -> NonLocalBlock:
    """The attention block ``cfg`` asks for, on a ``[B, channels, H, W]`` feature map."""
    if cfg.attn_affinity == "sagan":
        return SelfAttention(
            channels,
            sn=sn,
            eps=cfg.sn_eps,
            subsample=cfg.attn_pool,
            key_div=cfg.attn_key_div,
            value_div=cfg.attn_value_div,
        )
    return NonLocalBlock(
        channels,
        dims=2,
        affinity=cfg.attn_affinity,
        inter_channels=channels // cfg.attn_value_div,
        key_channels=channels // cfg.attn_key_div,
        subsample=cfg.attn_pool,
        sn=sn,
        eps=cfg.sn_eps,
    )
