"""The FID Inception network with TensorFlow-equivalent input handling.

The blocks are torch-fidelity's port of the TF ``inception-2015-12-05`` graph (FIDInceptionA/C/E:
average pools that ignore padding, a max pool in the last block, a 1008-class fc). The input
path depends on the resize mode (``nlgan.metrics.resize``); the default is TF's: uint8 images,
TF1 bilinear resize to 299 without the half-pixel offset, then ``(x - 128) / 128``.
One forward returns both the 2048-d pool3 features (FID, KID) and the bias-free logits (IS).

For speed, each eval-mode BatchNorm is folded into its convolution and the network runs
channels-last; features agree with torch-fidelity's extractor to ~1e-6 relative (tested).
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import nn
from torch_fidelity.feature_extractor_inceptionv3 import (
    BasicConv2d,
    InceptionA,
    InceptionB,
    InceptionC,
    InceptionD,
    InceptionE_1,
    InceptionE_2,
)

from nlgan.metrics.protocol import DEFAULT_RESIZE
from nlgan.metrics.resize import resize_mode, to_rgb_float
from nlgan.metrics.weights import (
    InceptionWeightsError,
    file_sha256,
    load_state_dict,
    resolve_inception_weights,
)

INPUT_SIZE = 299
FEATURE_DIM = 2048
NUM_LOGITS = 1008


class FeatureExtractor(Protocol):
    """What the metrics need: uint8 images in, (pool features, logits) out, and an identity."""

    identity: str  # names the network, its weights and resize; part of statistics cache keys
    info: dict  # name, identity, hash and resize, for the protocol record
    device: torch.device
    feature_dim: int  # width of the pool features (FID, KID)
    num_logits: int  # width of the logits (IS)

    def __call__(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]: ...


class _ConvReLU(nn.Module):
    """A convolution with its BatchNorm folded in, then ReLU (an inference-only BasicConv2d)."""

    def __init__(self, conv: nn.Conv2d):
        super().__init__()
        self.conv = conv

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.conv(x), inplace=True)


def _trunk() -> nn.Sequential:
    """The convolutional part; child names match the weights file's keys."""
    return nn.Sequential(
        OrderedDict(
            [
                ("Conv2d_1a_3x3", BasicConv2d(3, 32, kernel_size=3, stride=2)),
                ("Conv2d_2a_3x3", BasicConv2d(32, 32, kernel_size=3)),
                ("Conv2d_2b_3x3", BasicConv2d(32, 64, kernel_size=3, padding=1)),
                ("MaxPool_1", nn.MaxPool2d(kernel_size=3, stride=2)),
                ("Conv2d_3b_1x1", BasicConv2d(64, 80, kernel_size=1)),
                ("Conv2d_4a_3x3", BasicConv2d(80, 192, kernel_size=3)),
                ("MaxPool_2", nn.MaxPool2d(kernel_size=3, stride=2)),
                ("Mixed_5b", InceptionA(192, pool_features=32)),
                ("Mixed_5c", InceptionA(256, pool_features=64)),
                ("Mixed_5d", InceptionA(288, pool_features=64)),
                ("Mixed_6a", InceptionB(288)),
                ("Mixed_6b", InceptionC(768, channels_7x7=128)),
                ("Mixed_6c", InceptionC(768, channels_7x7=160)),
                ("Mixed_6d", InceptionC(768, channels_7x7=160)),
                ("Mixed_6e", InceptionC(768, channels_7x7=192)),
                ("Mixed_7a", InceptionD(768)),
                ("Mixed_7b", InceptionE_1(1280)),
                ("Mixed_7c", InceptionE_2(2048)),
                ("AvgPool", nn.AdaptiveAvgPool2d(output_size=(1, 1))),
            ]
        )
    )


@torch.no_grad()
def _fuse_batchnorm(module: nn.Module) -> None:
    """Fold each BasicConv2d's eval-mode BN into its conv (in float64), leaving conv + ReLU."""
    for name, child in module.named_children():
        if isinstance(child, BasicConv2d):
            conv, bn = child.conv, child.bn
            scale = bn.weight.double() / (bn.running_var.double() + bn.eps).sqrt()  # [out]
            weight = conv.weight.double() * scale[:, None, None, None]
            bias = bn.bias.double() - bn.running_mean.double() * scale
            conv.weight = nn.Parameter(weight.float(), requires_grad=False)
            conv.bias = nn.Parameter(bias.float(), requires_grad=False)
            setattr(module, name, _ConvReLU(conv))
        else:
            _fuse_batchnorm(child)


@contextlib.contextmanager
def exact_float32(device: torch.device) -> Iterator[None]:
    """No autocast and no TF32 while extracting: scores must not depend on the caller's settings."""
    if device.type != "cuda":
        with torch.autocast(device.type, enabled=False):
            yield
        return
    saved = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        with torch.autocast("cuda", enabled=False):
            yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


class InceptionExtractor(nn.Module):
    """FID Inception: uint8 [B, 3|1, H, W] -> (pool3 [B, 2048], bias-free logits [B, 1008])."""

    feature_dim = FEATURE_DIM
    num_logits = NUM_LOGITS

    def __init__(
        self,
        state_dict: dict[str, torch.Tensor],
        identity: str,
        fuse: bool = True,
        resize: str = DEFAULT_RESIZE,
        weights_sha256: str = "",
    ):
        super().__init__()
        self.mode = resize_mode(resize)
        # the default mode keeps the identity it always had, so existing caches stay valid
        self.identity = identity if resize == DEFAULT_RESIZE else f"{identity}:resize={resize}"
        self.info = {
            "name": "inception",
            "identity": self.identity,
            "hash": weights_sha256,
            "resize": resize,
        }
        with torch.device("meta"):  # no random init of 24M weights that are replaced anyway
            self.trunk = _trunk()
            self.fc = nn.Linear(FEATURE_DIM, NUM_LOGITS)
        trunk_state = {k: v for k, v in state_dict.items() if not k.startswith("fc.")}
        fc_state = {k[3:]: v for k, v in state_dict.items() if k.startswith("fc.")}
        try:
            self.trunk.load_state_dict(trunk_state, assign=True)
            self.fc.load_state_dict(fc_state, assign=True)
        except RuntimeError as err:
            first = str(err).splitlines()[0]
            raise InceptionWeightsError(
                f"{identity}: not the FID Inception (inception-2015-12-05) state dict ({first}); "
                "use pytorch-fid's pt_inception-2015-12-05-6726825d.pth or torch-fidelity's "
                "weights-inception-2015-12-05-6726825d.pth"
            ) from None
        self.eval().requires_grad_(False)
        if fuse:
            _fuse_batchnorm(self.trunk)
        self.to(memory_format=torch.channels_last)

    @property
    def device(self) -> torch.device:
        """The device the network lives on (images are moved there)."""
        return self.fc.weight.device

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Pool3 features and bias-free logits (torch-fidelity's ``2048`` / ``logits_unbiased``)."""
        device = self.device
        with torch.no_grad(), exact_float32(device):
            x = to_rgb_float(images.to(device))  # [B, 3, H, W] in [0, 255]
            x = self.mode.resize(x, INPUT_SIZE)  # [B, 3, 299, 299]
            x = self.mode.inception_input(x)
            x = x.contiguous(memory_format=torch.channels_last)
            pool = self.trunk(x).flatten(1)  # [B, 2048]
            logits = pool @ self.fc.weight.T  # [B, 1008]; IS uses logits without the bias
        return pool.float(), logits.float()


def load_inception(
    weights: str | Path | None = None,
    device: str | torch.device = "cpu",
    download: bool = True,
    fuse: bool = True,
    resize: str = DEFAULT_RESIZE,
) -> InceptionExtractor:
    """Build the FID Inception from a weights file (see ``resolve_inception_weights``)."""
    path = resolve_inception_weights(weights, download=download)
    digest = file_sha256(path)
    identity = f"inception-2015-12-05:sha256={digest[:16]}"
    extractor = InceptionExtractor(
        load_state_dict(path), identity, fuse=fuse, resize=resize, weights_sha256=digest
    )
    return extractor.to(device)


def random_state_dict(seed: int = 0) -> dict[str, torch.Tensor]:
    """He-scaled random weights in the weights file's layout, for offline tests and benchmarks."""
    gen = torch.Generator().manual_seed(seed)
    trunk, fc = _trunk(), nn.Linear(FEATURE_DIM, NUM_LOGITS)
    for module in [*trunk.modules(), fc]:
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            fan_in = module.weight[0].numel()
            with torch.no_grad():  # He: keeps ReLU activations O(1) through ~100 layers
                module.weight.normal_(0.0, (2.0 / fan_in) ** 0.5, generator=gen)
    state = dict(trunk.state_dict())
    state.update({f"fc.{k}": v for k, v in fc.state_dict().items()})
    return state
