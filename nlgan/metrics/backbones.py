"""Feature backbones: the FID Inception (the default) or a feature extractor the user supplies.

``--backbone`` (``eval.backbone``) is ``inception``, a ``torch.export`` archive (``encoder.pt2``,
torch's successor to TorchScript), a TorchScript file (``encoder.pt``), or ``module:callable``
naming an importable callable (a function or an ``nn.Module`` instance).
A custom backbone gets float32 images ``[B, 3, S, S]`` with values in [0, 255], already
resized to ``S`` (its ``input_size`` attribute, else 224) by the ``--resize`` mode, on its
device, and returns features ``[B, D]``; any normalisation (ImageNet mean / std, ...) is its
own. It has no class logits, so IS / IS∞ need the Inception.

The backbone's identity goes into every cache key and protocol record: a TorchScript file by its
SHA-256, a callable by its dotted name plus the SHA-256 of its module's source file, plus the
callable's own ``identity`` attribute when it has one (say, the hash of weights it loads).
``module:callable`` imports user code by name: that is the point of the option (a CLI cannot
pass an object), and it runs only code the user named.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from nlgan.errors import first_line
from nlgan.metrics.inception import FeatureExtractor, exact_float32, load_inception
from nlgan.metrics.protocol import DEFAULT_BACKBONE, DEFAULT_RESIZE
from nlgan.metrics.resize import resize_mode, to_rgb_float
from nlgan.metrics.weights import file_sha256

DEFAULT_INPUT_SIZE = 224  # DINOv2 ViT-B/14, CLIP ViT-B/32 and most ImageNet encoders


class BackboneError(ValueError):
    """A custom backbone cannot be loaded or returns something other than [B, D] features."""


class CustomBackbone:
    """A user's feature function behind the :class:`FeatureExtractor` interface (no logits)."""

    num_logits = 0

    def __init__(
        self,
        fn: Callable[[torch.Tensor], torch.Tensor],
        info: dict[str, Any],
        device: torch.device,
        resize: str,
    ):
        self.fn, self.device, self.mode = fn, device, resize_mode(resize)
        self.input_size = int(getattr(fn, "input_size", DEFAULT_INPUT_SIZE))
        own = getattr(fn, "identity", "")
        identity = f"{info['identity']}{':' + own if own else ''}:size={self.input_size}"
        self.identity = f"{identity}:resize={resize}"
        self.info = {**info, "identity": self.identity, "resize": resize}
        probe = self._features(torch.zeros(2, 3, 8, 8, dtype=torch.uint8))
        self.feature_dim = probe.shape[1]

    def _features(self, images: torch.Tensor) -> torch.Tensor:
        with torch.no_grad(), exact_float32(self.device):
            x = self.mode.resize(to_rgb_float(images.to(self.device)), self.input_size)
            out = self.fn(x)
        if not isinstance(out, torch.Tensor) or out.dim() != 2 or out.shape[0] != len(images):
            shape = list(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise BackboneError(
                f"backbone {self.info['identity']} returned {shape} for {len(images)} images; "
                "it must return features [B, D] (flatten or pool its output)"
            )
        return out.float()

    def __call__(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Features [B, D] and empty logits [B, 0] of uint8 images [B, 1|3, H, W]."""
        features = self._features(images)
        return features, features.new_zeros(features.shape[0], 0)


def _archive(path: Path, device: torch.device) -> tuple[Callable, dict[str, Any]]:
    """A torch.export archive (.pt2) or a TorchScript file, with its SHA-256 as identity."""
    exported = path.suffix.lower() == ".pt2"
    try:
        if exported:
            module = torch.export.load(str(path)).module().to(device)
        else:
            with warnings.catch_warnings():
                # torch >= 2.9 deprecates TorchScript; users asked for it by naming the file
                warnings.simplefilter("ignore", FutureWarning)
                module = torch.jit.load(str(path), map_location=device).eval()
    except (RuntimeError, ValueError, KeyError, OSError) as err:
        first = first_line(err)
        raise BackboneError(
            f"--backbone {path}: not a {'torch.export archive' if exported else 'TorchScript file'}"
            f" ({first[:150]}); save one with torch.export.save (.pt2) or torch.jit.save, or use "
            "module:callable"
        ) from None
    digest = file_sha256(path)
    name = "torch.export" if exported else "torchscript"
    info = {"name": name, "path": str(path.resolve()), "hash": digest}
    return module, {**info, "identity": f"{name}:sha256={digest[:16]}"}


def _callable(spec: str, device: torch.device) -> tuple[Callable, dict[str, Any]]:
    module_name, _, attr = spec.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as err:
        raise BackboneError(
            f"--backbone {spec}: cannot import it ({type(err).__name__}: {err}); give an "
            "importable module:callable (its folder on PYTHONPATH), a TorchScript file or inception"
        ) from None
    if not callable(obj):
        raise BackboneError(f"--backbone {spec}: {attr} is a {type(obj).__name__}, not callable")
    if isinstance(obj, torch.nn.Module):
        obj = obj.to(device).eval()
    source = getattr(importlib.import_module(module_name), "__file__", None)
    digest = file_sha256(source) if source else None
    info = {"name": spec, "path": source, "hash": digest}
    suffix = f":sha256={digest[:16]}" if digest else ""
    return obj, {**info, "identity": f"callable:{spec}{suffix}"}


def load_backbone(
    spec: str = DEFAULT_BACKBONE,
    device: str | torch.device = "cpu",
    resize: str = DEFAULT_RESIZE,
    inception_weights: str | Path | None = None,
) -> FeatureExtractor:
    """The feature extractor ``spec`` names (see the module docstring), on ``device``."""
    if spec == DEFAULT_BACKBONE:
        return load_inception(inception_weights, device=device, resize=resize)
    device = torch.device(device)
    path = Path(spec).expanduser()
    if path.is_file():
        fn, info = _archive(path, device)
    elif ":" in spec:
        fn, info = _callable(spec, device)
    else:
        raise BackboneError(
            f"--backbone {spec}: no such file; give inception, a torch.export (.pt2) or "
            "TorchScript (.pt) file, or module:callable (e.g. my_encoders:dinov2)"
        )
    return CustomBackbone(fn, info, device, resize)


def backbone_info(extractor: FeatureExtractor) -> dict[str, Any]:
    """What the protocol record says about an extractor (stand-ins without ``info`` too)."""
    info = getattr(extractor, "info", None)
    return dict(info) if info else {"name": "custom", "identity": extractor.identity, "hash": None}
