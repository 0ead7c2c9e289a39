"""`nlgan sample / attention / export` end to end, interpolation and attention maps."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from nlgan.attention_maps import capture_attention, parse_queries, render_attention
from nlgan.cli import main
from nlgan.export import export_generator
from nlgan.interpolation import interpolation_grid
from nlgan.sampling import class_grid, generate, latents, load_generator

R, K = 16, 3  # the tiny run's resolution and classes


def _cli(*args: str, ok: bool = True):
    result = CliRunner().invoke(main, [str(a) for a in args])
    if ok:
        assert result.exit_code == 0, result.output
    return result


def _png(path) -> np.ndarray:
    return np.asarray(Image.open(path))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A real run directory: two training steps of a tiny conditional model."""
    out = tmp_path_factory.mktemp("run") / "tiny"
    _cli(
        "train", "configs/digits.yaml", "--out", out,
        "--set", "model.resolution=16", "--set", "model.num_classes=3",
        "--set", "model.g_ch=4", "--set", "model.d_ch=4", "--set", "model.z_dim=8",
        "--set", "model.img_channels=3",
        "--set", "model.g_attn_resolutions=8,16", "--set", "model.d_attn_resolutions=8",
        "--set", "data.name=folder", "--set", f"data.root={_image_folder(out.parent)}",
        "--set", "train.steps=2", "--set", "train.batch_size=4", "--set", "train.ckpt_every=1",
        "--set", "train.sample_every=0", "--set", "train.log_every=1",
    )  # fmt: skip
    return out


def _image_folder(root):
    rng = np.random.default_rng(0)
    for k in range(K):
        (root / "imgs" / f"c{k}").mkdir(parents=True)
        for i in range(4):
            img = rng.integers(0, 255, (R, R, 3), dtype=np.uint8)
            Image.fromarray(img).save(root / "imgs" / f"c{k}" / f"{i}.png")
    return root / "imgs"


def test_grid_one_row_per_class_is_repeatable(run, tmp_path):
    _cli("sample", run, "--grid", tmp_path / "a.png", "--per-class", 5, "--seed", 3)
    _cli("sample", run, "--grid", tmp_path / "b.png", "--per-class", 5, "--seed", 3)
    a, b = _png(tmp_path / "a.png"), _png(tmp_path / "b.png")
    assert a.shape[:2] == (K * (R + 2) + 2, 5 * (R + 2) + 2)
    assert np.array_equal(a, b)
    _cli("sample", run, "--grid", tmp_path / "c.png", "--per-class", 5, "--seed", 4)
    assert not np.array_equal(a, _png(tmp_path / "c.png"))


def test_grid_with_classes_and_truncation(run, tmp_path):
    _cli("sample", run, "--grid", tmp_path / "t.png", "--truncation", 0.5, "--classes", "0,2",
         "--per-class", 4)  # fmt: skip
    assert _png(tmp_path / "t.png").shape[:2] == (2 * (R + 2) + 2, 4 * (R + 2) + 2)


def test_folder_export_per_class(run, tmp_path):
    _cli("sample", run, "--per-class", 3, "--out", tmp_path / "s", "--batch-size", 2)
    for k in range(K):
        files = sorted((tmp_path / "s" / str(k)).glob("*.png"))
        assert len(files) == 3
        assert _png(files[0]).shape == (R, R, 3)
    assert not list(tmp_path.glob(".s.tmp*"))


def test_npz_export_matches_generate(run, tmp_path):
    _cli("sample", run, "--n", 7, "--out", tmp_path / "x.npz", "--seed", 1, "--batch-size", 3)
    data = np.load(tmp_path / "x.npz")
    assert data["images"].shape == (7, R, R, 3) and data["images"].dtype == np.uint8
    assert data["labels"].tolist() == [0, 1, 2, 0, 1, 2, 0]
    G, _ = load_generator(run)
    expected = (generate(G, 7, seed=1) * 255).round().byte().permute(0, 2, 3, 1).numpy()
    assert np.array_equal(data["images"], expected)


def test_existing_output_is_not_overwritten(run, tmp_path):
    (tmp_path / "x.npz").write_bytes(b"keep")
    result = _cli("sample", run, "--n", 2, "--out", tmp_path / "x.npz", ok=False)
    assert result.exit_code != 0 and "already exists" in result.output
    assert (tmp_path / "x.npz").read_bytes() == b"keep"
    _cli("sample", run, "--n", 2, "--out", tmp_path / "x.npz", "--overwrite")
    assert np.load(tmp_path / "x.npz")["images"].shape[0] == 2


def test_interpolation_endpoints_are_the_plain_samples(run):
    G, _ = load_generator(run)
    steps, rows = 5, 2
    walk = interpolation_grid(G, rows=rows, steps=steps, classes=[0, 2], mode="class", seed=9)
    z = latents(0, rows, G.cfg.z_dim, seed=9)
    with torch.no_grad():
        start = ((G(z, torch.tensor([0, 0])) + 1) / 2).clamp(0, 1)
        end = ((G(z, torch.tensor([2, 2])) + 1) / 2).clamp(0, 1)
    walk = walk.view(rows, steps, *walk.shape[1:])
    torch.testing.assert_close(walk[:, 0], start, atol=1e-6, rtol=0)
    torch.testing.assert_close(walk[:, -1], end, atol=1e-6, rtol=0)
    assert not torch.allclose(walk[:, 1], walk[:, 0])

    zwalk = interpolation_grid(G, rows=1, steps=4, classes=[1], mode="z", seed=2)
    z2 = latents(0, 2, G.cfg.z_dim, seed=2)
    with torch.no_grad():
        ends = ((G(z2, torch.tensor([1, 1])) + 1) / 2).clamp(0, 1)
    torch.testing.assert_close(zwalk[[0, -1]], ends, atol=1e-6, rtol=0)


def test_interpolate_cli_writes_rows_by_steps(run, tmp_path):
    _cli("sample", run, "--interpolate", "--classes", "1,2", "--steps", 6, "--rows", 3,
         "--grid", tmp_path / "i.png")  # fmt: skip
    assert _png(tmp_path / "i.png").shape[:2] == (3 * (R + 2) + 2, 6 * (R + 2) + 2)


def test_attention_maps_are_distributions_over_keys(run):
    G, _ = load_generator(run)
    images, maps = capture_attention(G, latents(0, 2, G.cfg.z_dim), torch.tensor([0, 1]))
    assert images.shape == (2, 3, R, R)
    assert [m.query_shape for m in maps] == [(8, 8), (16, 16)]
    assert [m.key_shape for m in maps] == [(4, 4), (8, 8)]  # SAGAN pools keys 2x2
    for m in maps:
        assert m.weights.shape == (2, m.query_shape[0] * m.query_shape[1], m.weights.shape[2])
        torch.testing.assert_close(m.weights.sum(-1), torch.ones(m.weights.shape[:2]))
        assert m.for_point(0, 0.99, 0.0).shape == m.key_shape
    figure = render_attention(images, maps, parse_queries("auto:2"), panel=32)
    assert figure.size == ((1 + 2 * 2) * 32, 14 + 2 * 32)


def test_attention_cli(run, tmp_path):
    result = _cli("attention", run, "--grid", tmp_path / "a.png", "--n", 2, "--panel", 32,
                  "--queries", "0.5,0.5;0.1,0.9")  # fmt: skip
    assert "2 attention layer(s), 2 query point(s)" in result.output
    assert _png(tmp_path / "a.png").shape[:2] == (14 + 2 * 32, (1 + 2 * 2) * 32)


def test_export_round_trip_gives_identical_images(run, tmp_path):
    _cli("export", run, tmp_path / "g.safetensors")
    G_run, _ = load_generator(run)
    G_exp, cfg = load_generator(tmp_path / "g.safetensors")
    assert cfg.model.num_classes == K
    torch.testing.assert_close(class_grid(G_exp, 3, seed=5), class_grid(G_run, 3, seed=5),
                               atol=0, rtol=0)  # fmt: skip
    _cli("sample", tmp_path / "g.safetensors", "--grid", tmp_path / "e.png")
    with pytest.raises(ValueError, match="safetensors"):
        export_generator(run, tmp_path / "g.bin")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--grid", "{tmp}/g.png", "--classes", "7"], "class ids must be in [0, 2]"),
        (["--grid", "{tmp}/g.png", "--classes", "a"], "expected class ids"),
        ([], "nothing to write"),
        (["--interpolate"], "--interpolate writes a grid"),
        (["--interpolate", "--grid", "{tmp}/g.png", "--mode", "class"], "give --classes A,B"),
        (["--grid", "{tmp}/nodir/sub/g.png", "--truncation", "-1"], "truncation=-1.0"),
    ],
)
def test_sample_errors_are_one_line(run, tmp_path, args, message):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    result = _cli("sample", run, *args, ok=False)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_missing_or_broken_run_is_a_clear_error(tmp_path):
    result = _cli("sample", tmp_path / "nope", "--grid", tmp_path / "g.png", ok=False)
    assert "no such run directory or checkpoint file" in result.output
    (tmp_path / "broken" / "checkpoints").mkdir(parents=True)
    (tmp_path / "broken" / "checkpoints" / "ckpt-000000001.pt").write_bytes(b"junk")
    with pytest.warns(UserWarning, match="skipping damaged checkpoint"):
        result = _cli("sample", tmp_path / "broken", "--grid", tmp_path / "g.png", ok=False)
    assert result.exit_code != 0 and "damaged" in result.output
    assert not (tmp_path / "g.png").exists()


def test_unconditional_model_rejects_classes():
    from nlgan.config import ModelConfig
    from nlgan.models import Generator

    G = Generator(ModelConfig(resolution=16, num_classes=0, g_ch=4, z_dim=8,
                              g_attn_resolutions=(8,), d_attn_resolutions=()))  # fmt: skip
    with pytest.raises(ValueError, match="unconditional"):
        interpolation_grid(G, classes=[1])
    grid = interpolation_grid(G, rows=2, steps=3)
    assert grid.shape == (6, 3, R, R)


def test_standing_stats_replace_bn_statistics_only(run, tmp_path):
    from torch.nn.modules.batchnorm import _BatchNorm

    from nlgan.nn.spectral import SpectralNorm
    from nlgan.standing_stats import standing_stats

    G, _ = load_generator(run)
    sn_before = {n: m._u.clone() for n, m in G.named_modules() if isinstance(m, SpectralNorm)}
    bn_before = {
        n: m.running_var.clone() for n, m in G.named_modules() if isinstance(m, _BatchNorm)
    }
    standing_stats(G, batches=3, batch_size=8, seed=0)
    assert not G.training
    for name, m in G.named_modules():
        if isinstance(m, SpectralNorm):
            assert torch.equal(m._u, sn_before[name]), name  # power iteration did not run
        if isinstance(m, _BatchNorm):
            assert int(m.num_batches_tracked) == 3 and m.momentum == 0.1
            assert not torch.allclose(m.running_var, bn_before[name]), name
    again, _ = load_generator(run)
    standing_stats(again, batches=3, batch_size=8, seed=0)
    torch.testing.assert_close(generate(again, 4), generate(G, 4), atol=0, rtol=0)
    _cli("sample", run, "--grid", tmp_path / "s.png", "--standing-stats", 2)
    assert (tmp_path / "s.png").exists()


def test_top_level_api_is_lazy():
    import subprocess
    import sys

    code = "import sys, nlgan; assert 'torch' not in sys.modules; nlgan.load_generator; print('ok')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"
    import nlgan

    assert nlgan.load_generator is load_generator
