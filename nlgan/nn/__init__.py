"""Building blocks: spectral norm, the non-local block family (and mmcv weights for it),
conditional BN, residual blocks."""

from nlgan.nn.blocks import DBlock, GBlock
from nlgan.nn.init import init_weights
from nlgan.nn.mmcv_nonlocal import MmcvWeightsError, load_mmcv_nonlocal, mmcv_nonlocal
from nlgan.nn.nonlocal_block import AFFINITIES, NonLocalBlock, SelfAttention
from nlgan.nn.norm import ConditionalBatchNorm2d
from nlgan.nn.spectral import (
    SpectralNorm,
    sn_conv,
    sn_embedding,
    sn_linear,
    spectral_norm,
    spectral_sigmas,
)

__all__ = [
    "SpectralNorm",
    "sn_conv",
    "sn_embedding",
    "sn_linear",
    "spectral_norm",
    "spectral_sigmas",
    "AFFINITIES",
    "NonLocalBlock",
    "MmcvWeightsError",
    "load_mmcv_nonlocal",
    "mmcv_nonlocal",
    "SelfAttention",
    "ConditionalBatchNorm2d",
    "GBlock",
    "DBlock",
    "init_weights",
]
