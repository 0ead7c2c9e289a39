"""The built-in presets: found through the package, equal to configs/, and carrying the published
settings they claim to."""

from __future__ import annotations

from pathlib import Path

import pytest

from nlgan.config import ConfigError, load_config, load_preset
from nlgan.config.presets import DEFAULT_PRESET, preset_names, preset_text
from nlgan.train.run import load_run_config

REPO_CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def test_presets_are_package_data_and_equal_the_browsable_configs_folder():
    names = preset_names()
    assert {"digits", "cifar10_sagan", "imagenet128_sagan"} <= set(names)
    on_disk = sorted(p.stem for p in REPO_CONFIGS.glob("*.yaml"))
    assert on_disk == names  # no preset only in one place
    for name in names:
        assert preset_text(name) == (REPO_CONFIGS / f"{name}.yaml").read_text(), name


def test_default_and_named_presets_and_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nothing in the working directory helps
    cfg, name = load_run_config(None)
    assert name == DEFAULT_PRESET == "digits" and cfg == load_preset("digits")
    cfg, name = load_run_config("cifar10_sagan", ["data.root=/x"])
    assert name == "cifar10_sagan" and cfg.data.root == "/x"
    (tmp_path / "mine.yaml").write_text("train:\n  steps: 7\n")
    cfg, name = load_run_config("mine.yaml")
    assert name == "mine" and cfg.train.steps == 7
    with pytest.raises(ConfigError, match="preset of that name runs with: nlgan train digits"):
        load_run_config("configs/digits.yaml")
    with pytest.raises(ConfigError, match="not a preset name; built-in presets: cifar10_sagan"):
        load_run_config("cifar11")


def test_imagenet128_matches_the_sagan_paper():
    cfg = load_preset("imagenet128_sagan", ["data.root=/data/in"])
    t, m = cfg.train, cfg.model
    assert (t.loss, t.lr_g, t.lr_d, t.beta1, t.beta2) == ("hinge", 1e-4, 4e-4, 0.0, 0.9)
    assert t.batch_size == 256 and t.d_steps_per_g_step == 1
    assert (m.resolution, m.num_classes, m.g_sn, m.d_sn) == (128, 1000, True, True)
    assert m.g_attn_resolutions == (64,) and m.d_attn_resolutions == (64,)


def test_cifar10_attention_at_16_in_g_and_d():
    cfg = load_preset("cifar10_sagan")
    assert cfg.model.resolution == 32 and cfg.data.name == "cifar10"
    assert cfg.model.g_attn_resolutions == (16,) and cfg.model.d_attn_resolutions == (16,)
    assert cfg.train.loss == "hinge"


@pytest.mark.parametrize(
    ("name", "per_class", "steps"), [("10pct", 500, 125_000), ("20pct", 1000, 250_000)]
)
def test_cifar10_small_data_presets_follow_the_diffaugment_biggan_protocol(name, per_class, steps):
    cfg = load_preset(f"cifar10_sagan_{name}")
    t, m, d = cfg.train, cfg.model, cfg.data
    assert (d.name, d.subset, d.hflip) == ("cifar10", per_class, True)
    assert (t.batch_size, t.d_steps_per_g_step, t.lr_g, t.lr_d, t.beta1) == (50, 4, 2e-4, 2e-4, 0.0)
    assert (t.augment, t.ema_decay, t.ema_start, t.steps) == (
        "translation,cutout",
        0.9999,
        1000,
        steps,
    )
    assert (m.init, m.g_ch, m.shared_dim) == ("N02", 64, 0)
    assert m.g_attn_resolutions == (16,) and m.d_attn_resolutions == (16,)  # attention on


def test_digits_builds_small_models_with_attention():
    cfg = load_config(REPO_CONFIGS / "digits.yaml")
    assert cfg == load_preset("digits")
    assert cfg.data.name == "digits" and cfg.model.num_classes == 10
    assert cfg.model.g_attn_resolutions and cfg.model.d_attn_resolutions  # attention stays in
    from nlgan.models import Discriminator, Generator

    n = sum(p.numel() for net in (Generator, Discriminator) for p in net(cfg.model).parameters())
    assert n < 2_000_000  # small enough for a few minutes on two CPU cores


def test_pairs32_is_the_colour_benchmark_with_attention():
    cfg = load_preset("pairs32")
    assert cfg.data.name == "pairs" and (cfg.data.size, cfg.data.seed) == (10000, 0)
    m = cfg.model
    assert (m.resolution, m.num_classes, m.img_channels) == (32, 4, 3)
    assert m.g_attn_resolutions == (16,) and m.d_attn_resolutions == (16,)
    t = cfg.train
    assert (t.steps, t.lr_decay_start, t.cpu_threads) == (4500, 3000, 1)
    # ops that keep the mirror and the shapes (no rotation, no cutout hiding one twin), adaptive
    # p from 0
    augment = "xint,brightness,contrast,saturation"
    assert (t.augment, t.ada_target, t.augment_start_p) == (augment, 0.6, 0.0)
    import torch

    from nlgan.models import Discriminator, Generator

    G, D = Generator(m).eval(), Discriminator(m)
    x = G(torch.randn(2, m.z_dim), torch.tensor([0, 3]))
    assert x.shape == (2, 3, 32, 32) and D(x, torch.tensor([0, 3])).shape[0] == 2
