"""The YAML presets load, build, and carry the published settings they claim to."""

from __future__ import annotations

from pathlib import Path

import pytest

from nlgan.config import load_config
from nlgan.train.run import default_config_path, resolve_config_path

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def test_imagenet128_matches_the_sagan_paper():
    cfg = load_config(CONFIGS / "imagenet128_sagan.yaml", ["data.root=/data/in"])
    t, m = cfg.train, cfg.model
    assert (t.loss, t.lr_g, t.lr_d, t.beta1, t.beta2) == ("hinge", 1e-4, 4e-4, 0.0, 0.9)
    assert t.batch_size == 256 and t.d_steps_per_g_step == 1
    assert (m.resolution, m.num_classes, m.g_sn, m.d_sn) == (128, 1000, True, True)
    assert m.g_attn_resolutions == (64,) and m.d_attn_resolutions == (64,)
    text = (CONFIGS / "imagenet128_sagan.yaml").read_text()
    assert "52.52" in text and "18.65" in text


def test_cifar10_attention_at_16_in_g_and_d():
    cfg = load_config(CONFIGS / "cifar10_sagan.yaml")
    assert cfg.model.resolution == 32 and cfg.data.name == "cifar10"
    assert cfg.model.g_attn_resolutions == (16,) and cfg.model.d_attn_resolutions == (16,)
    assert cfg.train.loss == "hinge"


def test_digits_is_the_default_and_builds_small_models():
    assert resolve_config_path(None) == default_config_path()
    assert default_config_path().name == "digits.yaml"
    assert resolve_config_path("digits").resolve() == (CONFIGS / "digits.yaml").resolve()
    cfg = load_config(CONFIGS / "digits.yaml")
    assert cfg.data.name == "digits" and cfg.model.num_classes == 10
    assert cfg.model.g_attn_resolutions and cfg.model.d_attn_resolutions  # attention stays in
    from nlgan.models import Discriminator, Generator

    n = sum(p.numel() for net in (Generator, Discriminator) for p in net(cfg.model).parameters())
    assert n < 2_000_000  # small enough for a few minutes on two CPU cores


@pytest.mark.parametrize("name", ["digits", "cifar10_sagan", "imagenet128_sagan"])
def test_every_preset_has_a_header_comment_with_a_target(name):
    text = (CONFIGS / f"{name}.yaml").read_text()
    assert text.startswith("#") and "Target" in text and "Budget" in text
