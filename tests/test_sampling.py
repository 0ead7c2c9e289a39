"""Sampling core: loading generators, deterministic generation, truncation, grids, PNGs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from nlgan.checkpoint import CheckpointError, checkpoint_path, save_checkpoint
from nlgan.config import Config, DataConfig, ModelConfig, config_to_dict
from nlgan.models import Generator
from nlgan.sampling import (
    LATENT_CHUNK,
    class_grid,
    generate,
    generate_uint8,
    iter_generate,
    latents,
    load_generator,
    save_grid,
    to_uint8,
    truncated_normal,
)


def tiny_config(num_classes: int = 3) -> Config:
    model = ModelConfig(
        resolution=16,
        num_classes=num_classes,
        img_channels=3,
        z_dim=8,
        g_ch=4,
        d_ch=4,
        g_attn_resolutions=(8,),
        d_attn_resolutions=(8,),
    )
    return Config(model=model, data=DataConfig(name="cifar10"))


def tiny_generator(num_classes: int = 3, seed: int = 0) -> Generator:
    torch.manual_seed(seed)
    return Generator(tiny_config(num_classes).model).eval()


@pytest.fixture
def run_dir(tmp_path):
    cfg = tiny_config()
    state = {
        "config": config_to_dict(cfg),
        "step": 7,
        "G": tiny_generator(seed=1).state_dict(),
        "G_ema": tiny_generator(seed=2).state_dict(),
    }
    save_checkpoint(state, checkpoint_path(tmp_path, 7))
    return tmp_path


# --------------------------------------------------------------------------- pure helpers


def test_to_uint8_scales_rounds_clamps_and_moves_channels_last():
    images = torch.tensor([0.0, 0.5, 1.0, 1.7, -0.2, 0.002]).view(1, 1, 2, 3)
    out = to_uint8(images)
    assert out.dtype == np.uint8 and out.shape == (1, 2, 3, 1)
    assert out.ravel().tolist() == [0, 128, 255, 255, 0, 1]
    assert to_uint8(torch.zeros(3, 4, 5)).shape == (4, 5, 3)
    with pytest.raises(ValueError, match=r"expected \[B, C, H, W\]"):
        to_uint8(torch.zeros(4, 5))


def test_save_grid_size_content_and_no_temp_files(tmp_path):
    images = torch.zeros(5, 3, 6, 4)
    images[1, 0] = 1.0  # second image pure red
    path = save_grid(images, tmp_path / "sub" / "grid.png", nrow=3, padding=2)
    assert path == tmp_path / "sub" / "grid.png"
    assert [p.name for p in path.parent.iterdir()] == ["grid.png"]
    with Image.open(path) as png:
        assert png.format == "PNG" and png.mode == "RGB"
        assert png.size == (3 * (4 + 2) + 2, 2 * (6 + 2) + 2)  # 3 columns, 2 rows
        array = np.asarray(png)
    assert tuple(array[2 + 3, 2 + 6 + 2]) == (255, 0, 0)  # inside the second cell
    assert tuple(array[2 + 3, 2 + 2]) == (0, 0, 0)  # inside the first cell


def test_save_grid_keeps_gray_images_gray(tmp_path):
    path = save_grid(torch.full((4, 1, 8, 8), 0.5), tmp_path / "g.png", nrow=2)
    with Image.open(path) as png:
        assert png.mode == "L" and png.size == (2 * 10 + 2, 2 * 10 + 2)
        assert np.asarray(png)[5, 5] == 128


def test_truncation_bounds_every_entry_and_keeps_the_shape():
    rng = torch.Generator().manual_seed(0)
    z = truncated_normal((1024, 8), 0.5, rng)
    assert z.shape == (1024, 8) and z.abs().max() <= 0.5
    # A truncated normal at 0.5 has std ~0.28 (a clamp would pile mass at +-0.5 instead).
    assert 0.26 < z.std().item() < 0.30
    assert (z.abs() > 0.49).float().mean() < 0.05
    with pytest.raises(ValueError, match="truncation=0: must be > 0"):
        truncated_normal((2, 2), 0, rng)


def test_latents_do_not_depend_on_how_they_are_split():
    whole = latents(0, LATENT_CHUNK + 100, 4, seed=3)
    assert torch.equal(latents(LATENT_CHUNK - 10, 60, 4, seed=3), whole[LATENT_CHUNK - 10 :][:60])
    assert latents(0, 2000, 4, seed=3, truncation=1.0).abs().max() <= 1.0
    assert not torch.equal(latents(0, 5, 4, seed=4), whole[:5])
    assert latents(3, 0, 4).shape == (0, 4)


# --------------------------------------------------------------------------- with a generator


def test_generate_is_deterministic_and_batch_size_independent():
    G = tiny_generator()
    a = generate(G, 11, seed=5, batch_size=4)
    b = generate(G, 11, seed=5, batch_size=11)
    c = generate(G, 11, seed=6, batch_size=4)
    assert a.shape == (11, 3, 16, 16) and a.dtype == torch.float32
    assert a.min() >= 0.0 and a.max() <= 1.0
    assert torch.allclose(a, b, atol=1e-5)
    assert not torch.allclose(a, c, atol=1e-3)
    assert torch.allclose(generate(G, 11, seed=5, batch_size=4), a, atol=0)
    u8 = generate_uint8(G, 3, seed=5)
    assert u8.dtype == np.uint8 and u8.shape == (3, 16, 16, 3)


def test_generate_matches_the_generator_on_the_documented_latents():
    G = tiny_generator()
    z = latents(0, 6, 8, seed=2, truncation=0.7)
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    with torch.no_grad():
        expected = (G(z, y) + 1) / 2
    assert torch.allclose(generate(G, 6, seed=2, truncation=0.7, batch_size=4), expected, atol=1e-6)


def test_labels_are_class_balanced_and_restrictable():
    G = tiny_generator(num_classes=3)
    labels = torch.cat([y for _, y in iter_generate(G, 30, batch_size=7)])
    assert torch.bincount(labels).tolist() == [10, 10, 10]
    labels = torch.cat([y for _, y in iter_generate(G, 8, classes=[2, 0], batch_size=3)])
    assert labels.tolist() == [2, 0, 2, 0, 2, 0, 2, 0]
    with pytest.raises(ValueError, match=r"classes \[3\]: class ids must be in \[0, 2\]"):
        next(iter_generate(G, 4, classes=[3]))
    with pytest.raises(ValueError, match="classes is empty"):
        next(iter_generate(G, 4, classes=[]))


def test_unconditional_generator_yields_no_labels():
    G = tiny_generator(num_classes=0)
    batches = list(iter_generate(G, 5, batch_size=2))
    assert [len(images) for images, _ in batches] == [2, 2, 1]
    assert all(y is None for _, y in batches)
    with pytest.raises(ValueError, match="unconditional"):
        next(iter_generate(G, 2, classes=[0]))
    assert class_grid(G, per_class=3).shape == (9, 3, 16, 16)


def test_generation_restores_training_mode_and_needs_no_grad():
    G = tiny_generator().train()
    before = {k: v.clone() for k, v in G.state_dict().items()}
    images = generate(G, 4)
    assert G.training and not images.requires_grad
    after = G.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # BN stats untouched


def test_class_grid_rows_are_classes_columns_share_z():
    G = tiny_generator(num_classes=3)
    grid = class_grid(G, per_class=4, seed=1, batch_size=5)
    assert grid.shape == (12, 3, 16, 16)
    z = latents(0, 4, 8, seed=1)
    with torch.no_grad():
        row_2 = (G(z, torch.full((4,), 2)) + 1) / 2
    assert torch.allclose(grid[8:12], row_2, atol=1e-6)
    assert class_grid(G, per_class=2, classes=[1]).shape == (2, 3, 16, 16)


# --------------------------------------------------------------------------- loading


def test_load_generator_from_run_dir_or_file_ema_or_raw(run_dir):
    G, cfg = load_generator(run_dir)
    assert not G.training and cfg.model.num_classes == 3 and cfg.model.g_ch == 4
    ema = tiny_generator(seed=2)
    assert all(torch.equal(v, ema.state_dict()[k]) for k, v in G.state_dict().items())
    raw, _ = load_generator(checkpoint_path(run_dir, 7), ema=False)
    expected = tiny_generator(seed=1).state_dict()
    assert all(torch.equal(v, expected[k]) for k, v in raw.state_dict().items())
    assert not torch.allclose(generate(G, 2), generate(raw, 2))


@pytest.mark.parametrize(
    ("drop", "match"),
    [("config", "has no config"), ("G_ema", r"has no G_ema weights \(try ema=False")],
)
def test_load_generator_missing_parts(tmp_path, drop, match):
    state = {
        "config": config_to_dict(tiny_config()),
        "step": 1,
        "G": tiny_generator().state_dict(),
        "G_ema": tiny_generator().state_dict(),
    }
    del state[drop]
    path = save_checkpoint(state, tmp_path / "c.pt")
    with pytest.raises(CheckpointError, match=match):
        load_generator(path)


def test_load_generator_weights_that_do_not_fit(tmp_path):
    cfg = config_to_dict(tiny_config())
    cfg["model"]["g_ch"] = 8  # weights were made for g_ch=4
    weights = tiny_generator().state_dict()
    path = save_checkpoint({"config": cfg, "G_ema": weights}, tmp_path / "c.pt")
    with pytest.raises(CheckpointError, match="do not fit the generator .*wrongly shaped"):
        load_generator(path)
    weights["extra.weight"] = torch.zeros(1)
    cfg["model"]["g_ch"] = 4
    path = save_checkpoint({"config": cfg, "G_ema": weights}, tmp_path / "d.pt")
    with pytest.raises(CheckpointError, match="0 missing, 1 unexpected, 0 wrongly shaped"):
        load_generator(path)


def test_load_generator_nothing_there(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoints"):
        load_generator(tmp_path)
    with pytest.raises(CheckpointError, match="no such run directory or checkpoint file"):
        load_generator(tmp_path / "missing.pt")


def test_load_generator_from_an_export(run_dir, tmp_path):
    from nlgan.export import export_generator

    out = export_generator(run_dir, tmp_path / "g.safetensors")
    G, cfg = load_generator(out)
    reference, _ = load_generator(run_dir)
    assert cfg.model == reference.cfg
    assert torch.allclose(generate(G, 3, seed=9), generate(reference, 3, seed=9))
