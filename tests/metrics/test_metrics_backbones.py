"""Custom feature backbones: a TorchScript file or module:callable, resized by the chosen mode."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

from nlgan.metrics import TensorSource, evaluate
from nlgan.metrics.backbones import BackboneError, CustomBackbone, load_backbone
from nlgan.metrics.reference_cache import cache_key
from nlgan.metrics.resize import resize_images
from nlgan.metrics.table import check_backbone


class PooledColours(nn.Module):
    """A tiny 'encoder': 4x4 average-pooled colours through a fixed projection -> [B, 6]."""

    input_size = 32

    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(48, 6)
        with torch.no_grad():
            self.proj.weight.copy_(torch.linspace(-1, 1, 288).view(6, 48))
            self.proj.bias.copy_(torch.linspace(-0.5, 0.5, 6))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.proj(nn.functional.adaptive_avg_pool2d(x / 255, 4).flatten(1)))


encoder = PooledColours()  # what --backbone test_metrics_backbones:encoder names


def mean_colour(x: torch.Tensor) -> torch.Tensor:
    """A plain function backbone: the mean colour [B, 3] (default input size 224)."""
    return x.mean(dim=(2, 3))


def _images(n: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, 20, 12), generator=gen, dtype=torch.uint8)


@pytest.fixture
def torchscript_file(tmp_path):
    path = tmp_path / "encoder.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch 2.9+: TorchScript is deprecated
        torch.jit.save(torch.jit.script(PooledColours()), str(path))
    return path


def test_torch_export_archive(tmp_path):
    path = tmp_path / "encoder.pt2"
    example = torch.zeros(2, 3, 224, 224)  # an archive keeps no input_size: 224 is assumed
    batch = torch.export.Dim("batch", min=1, max=1024)
    program = torch.export.export(PooledColours(), (example,), dynamic_shapes=({0: batch},))
    torch.export.save(program, str(path))
    backbone = load_backbone(str(path), resize="clean")
    images = _images(3, 4)
    features = backbone(images)[0]
    torch.testing.assert_close(features, PooledColours()(resize_images(images, 224, "clean")))
    assert backbone.info["name"] == "torch.export" and backbone.input_size == 224


@pytest.mark.parametrize("mode", ["clean", "legacy_tensorflow"])
def test_torchscript_file_sees_images_resized_by_the_mode(torchscript_file, mode):
    backbone = load_backbone(str(torchscript_file), resize=mode)
    images = _images(3, 0)
    features, logits = backbone(images)
    expected = PooledColours()(resize_images(images, 32, mode))
    torch.testing.assert_close(features, expected, rtol=1e-4, atol=1e-4)  # TorchScript fuses ops
    assert logits.shape == (3, 0) and backbone.feature_dim == 6 and backbone.num_logits == 0
    assert backbone.info["name"] == "torchscript" and len(backbone.info["hash"]) == 64
    assert backbone.info["hash"][:16] in backbone.identity and f"resize={mode}" in backbone.identity


def test_module_callable_and_its_identity():
    backbone = load_backbone("test_metrics_backbones:encoder", resize="clean")
    images = _images(2, 1)
    torch.testing.assert_close(backbone(images)[0], encoder(resize_images(images, 32, "clean")))
    assert backbone.identity.startswith("callable:test_metrics_backbones:encoder:sha256=")
    plain = load_backbone("test_metrics_backbones:mean_colour", resize="clean")
    assert plain.input_size == 224 and plain.feature_dim == 3
    keys = {cache_key({"kind": "x"}, 5, b.identity) for b in (backbone, plain)}
    assert len(keys) == 2  # the backbone is part of the statistics cache key


def test_fid_with_a_custom_backbone_equals_fid_of_its_features():
    backbone = load_backbone("test_metrics_backbones:encoder", resize="legacy_pytorch")
    fake, real = _images(30, 2), _images(25, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        scores = evaluate(TensorSource(fake), TensorSource(real), "fid,kid", extractor=backbone,
                          kid_subsets=3, kid_subset_size=10)  # fmt: skip
        from nlgan.metrics.frechet import fid_from_stats
        from nlgan.metrics.stats import stats_from_features

        direct = fid_from_stats(
            stats_from_features(backbone(fake)[0]), stats_from_features(backbone(real)[0])
        )
    assert scores["fid"] == pytest.approx(direct, rel=1e-6) and scores["fid"] > 0


def test_bad_backbones_are_one_line_errors(tmp_path):
    with pytest.raises(BackboneError, match="cannot import it"):
        load_backbone("no_such_module_here:encoder")
    with pytest.raises(BackboneError, match="no such file"):
        load_backbone(str(tmp_path / "missing.pt"))
    (tmp_path / "junk.pt").write_bytes(b"not torchscript")
    with pytest.raises(BackboneError, match="not a TorchScript file"):
        load_backbone(str(tmp_path / "junk.pt"))
    with pytest.raises(BackboneError, match=r"must return features \[B, D\]"):
        CustomBackbone(lambda x: x, {"identity": "images"}, torch.device("cpu"), "clean")
    with pytest.raises(ValueError, match="need the Inception's class logits"):
        check_backbone(("fid", "is"), "my_encoders:dinov2")
