"""The FID Inception: parity with torch-fidelity's extractor, input handling, weights lookup."""

from __future__ import annotations

import urllib.error

import pytest
import torch
from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

from nlgan.metrics import weights as weights_mod
from nlgan.metrics.inception import InceptionExtractor, load_inception, random_state_dict
from nlgan.metrics.weights import (
    ENV_VAR,
    FILENAMES,
    InceptionWeightsError,
    file_sha256,
    resolve_inception_weights,
)


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("inception") / "random-inception.pth"
    torch.save(random_state_dict(seed=0), path)
    return path


@pytest.fixture(scope="module")
def ours(weights_file):
    return load_inception(weights_file)


@pytest.fixture(scope="module")
def theirs(weights_file):
    return FeatureExtractorInceptionV3(
        "inception-v3-compat",
        ["2048", "logits_unbiased"],
        feature_extractor_weights_path=str(weights_file),
    )


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


@pytest.mark.slow
@pytest.mark.parametrize("size", [32, 64])
def test_features_match_torch_fidelity(ours, theirs, size):
    images = torch.randint(
        0, 256, (2, 3, size, size), dtype=torch.uint8, generator=torch.Generator().manual_seed(size)
    )
    pool, logits = ours(images)
    ref_pool, ref_logits = theirs(images)
    assert pool.shape == (2, 2048) and logits.shape == (2, 1008)
    assert 0.01 < float(ref_pool.abs().mean()) < 10  # He-scaled weights: features are O(0.1)
    assert _rel(pool, ref_pool) <= 1e-5
    assert _rel(logits, ref_logits) <= 1e-5


def test_grayscale_is_replicated_to_rgb(ours):
    gray = torch.randint(0, 256, (1, 1, 16, 16), dtype=torch.uint8)
    a, _ = ours(gray)
    b, _ = ours(gray.expand(-1, 3, -1, -1))
    torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_rejects_float_images(ours):
    with pytest.raises(ValueError, match="uint8"):
        ours(torch.rand(1, 3, 16, 16))


def test_identity_names_the_weights(weights_file, ours):
    assert ours.identity == f"inception-2015-12-05:sha256={file_sha256(weights_file)[:16]}"


def test_wrong_state_dict_is_one_clear_error(tmp_path):
    path = tmp_path / "resnet.pth"
    torch.save({"conv1.weight": torch.zeros(1)}, path)
    with pytest.raises(InceptionWeightsError, match="not the FID Inception") as err:
        load_inception(path)
    assert "\n" not in str(err.value)


def test_corrupt_weights_file(tmp_path):
    path = tmp_path / "broken.pth"
    path.write_bytes(b"not a zip file at all")
    with pytest.raises(InceptionWeightsError, match="not a readable PyTorch weights file"):
        load_inception(path)


# --------------------------------------------------------------------------- weights lookup


@pytest.fixture
def empty_hub(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    return tmp_path / "hub" / "checkpoints"


def test_explicit_path_wins(weights_file, empty_hub, monkeypatch):
    monkeypatch.setenv(ENV_VAR, "/nonexistent/file.pth")
    assert resolve_inception_weights(weights_file) == weights_file


def test_missing_explicit_path(empty_hub):
    with pytest.raises(InceptionWeightsError, match="--inception-weights=.*no such file"):
        resolve_inception_weights("/nonexistent/pt_inception.pth")


def test_environment_variable(weights_file, empty_hub, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(weights_file))
    assert resolve_inception_weights() == weights_file


@pytest.mark.parametrize("name", FILENAMES)
def test_hub_cache_under_either_tools_name(weights_file, empty_hub, name):
    empty_hub.mkdir(parents=True)
    target = empty_hub / name
    target.write_bytes(weights_file.read_bytes())
    assert resolve_inception_weights() == target


def test_offline_without_weights_is_one_clear_error(empty_hub, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(InceptionWeightsError) as err:
        resolve_inception_weights()
    message = str(err.value)
    assert "\n" not in message
    assert str(empty_hub) in message  # where to put it
    assert weights_mod.URL in message  # where to get it
    assert "--inception-weights" in message and ENV_VAR in message


def test_no_download_when_disabled(empty_hub, monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("must not download")

    monkeypatch.setattr(torch.hub, "download_url_to_file", fail)
    with pytest.raises(InceptionWeightsError, match="not found"):
        resolve_inception_weights(download=False)


def test_extractor_attributes(ours):
    assert isinstance(ours, InceptionExtractor)
    assert ours.device == torch.device("cpu") and ours.feature_dim == 2048
    assert ours.num_logits == 1008 and not ours.training
