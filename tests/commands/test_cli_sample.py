"""`nlgan sample`: grids, upscaling, interpolation grids, folders and .npz, one-line errors."""

from __future__ import annotations

import numpy as np
import pytest

from nlgan.sampling import generate, load_generator

from clitools import cli, png

R, K = 16, 3  # the tiny run's resolution and classes


def test_grid_one_row_per_class_is_repeatable(tiny_run_dir, tmp_path):
    run = tiny_run_dir
    cli("sample", run, "--grid", tmp_path / "a.png", "--per-class", 5, "--seed", 3, "--upscale", 1)
    cli("sample", run, "--grid", tmp_path / "b.png", "--per-class", 5, "--seed", 3, "--upscale", 1)
    a, b = png(tmp_path / "a.png"), png(tmp_path / "b.png")
    assert a.shape[:2] == (K * (R + 2) + 2, 5 * (R + 2) + 2)
    assert np.array_equal(a, b)
    cli("sample", run, "--grid", tmp_path / "c.png", "--per-class", 5, "--seed", 4, "--upscale", 1)
    assert not np.array_equal(a, png(tmp_path / "c.png"))


def test_small_images_are_upscaled_by_default(tiny_run_dir, tmp_path):
    cli("sample", tiny_run_dir, "--grid", tmp_path / "auto.png", "--per-class", 2)
    cli("sample", tiny_run_dir, "--grid", tmp_path / "one.png", "--per-class", 2, "--upscale", 1)
    auto, one = png(tmp_path / "auto.png"), png(tmp_path / "one.png")
    assert auto.shape[:2] == (K * (4 * R + 2) + 2, 2 * (4 * R + 2) + 2)  # 16 px -> 64 px tiles
    assert np.array_equal(auto[2 : 2 + 4 * R : 4, 2 : 2 + 4 * R : 4], one[2 : 2 + R, 2 : 2 + R])
    cli("sample", tiny_run_dir, "--grid", tmp_path / "x2.png", "--per-class", 2, "--upscale", 2)
    assert png(tmp_path / "x2.png").shape[1] == 2 * (2 * R + 2) + 2


def test_grid_with_classes_and_truncation(tiny_run_dir, tmp_path):
    cli("sample", tiny_run_dir, "--grid", tmp_path / "t.png", "--truncation", 0.5,
        "--classes", "0,2", "--per-class", 4, "--upscale", 1)  # fmt: skip
    assert png(tmp_path / "t.png").shape[:2] == (2 * (R + 2) + 2, 4 * (R + 2) + 2)


def test_interpolate_writes_rows_by_steps(tiny_run_dir, tmp_path):
    cli("sample", tiny_run_dir, "--interpolate", "--classes", "1,2", "--steps", 6, "--rows", 3,
        "--grid", tmp_path / "i.png", "--upscale", 1)  # fmt: skip
    assert png(tmp_path / "i.png").shape[:2] == (3 * (R + 2) + 2, 6 * (R + 2) + 2)


def test_folder_export_per_class(tiny_run_dir, tmp_path):
    cli("sample", tiny_run_dir, "--per-class", 3, "--out", tmp_path / "s", "--batch-size", 2)
    for k in range(K):
        files = sorted((tmp_path / "s" / str(k)).glob("*.png"))
        assert len(files) == 3
        assert png(files[0]).shape == (R, R, 3)  # samples are written as generated
    assert not list(tmp_path.glob(".s.tmp*"))


def test_npz_export_matches_generate(tiny_run_dir, tmp_path):
    cli("sample", tiny_run_dir, "--n", 7, "--out", tmp_path / "x.npz", "--seed", 1,
        "--batch-size", 3)  # fmt: skip
    data = np.load(tmp_path / "x.npz")
    assert data["images"].shape == (7, R, R, 3) and data["images"].dtype == np.uint8
    assert data["labels"].tolist() == [0, 1, 2, 0, 1, 2, 0]
    G, _ = load_generator(tiny_run_dir)
    expected = (generate(G, 7, seed=1) * 255).round().byte().permute(0, 2, 3, 1).numpy()
    assert np.array_equal(data["images"], expected)


def test_existing_output_is_not_overwritten(tiny_run_dir, tmp_path):
    (tmp_path / "x.npz").write_bytes(b"keep")
    result = cli("sample", tiny_run_dir, "--n", 2, "--out", tmp_path / "x.npz", ok=False)
    assert result.exit_code != 0 and "already exists" in result.output
    assert (tmp_path / "x.npz").read_bytes() == b"keep"
    cli("sample", tiny_run_dir, "--n", 2, "--out", tmp_path / "y.npz")
    cli("sample", tiny_run_dir, "--n", 3, "--out", tmp_path / "y.npz", "--overwrite")
    assert np.load(tmp_path / "y.npz")["images"].shape[0] == 3  # its own output: replaced


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--grid", "{tmp}/g.png", "--classes", "7"], "class ids must be in [0, 2]"),
        (["--grid", "{tmp}/g.png", "--classes", "a"], "expected class ids"),
        ([], "nothing to write"),
        (["--interpolate"], "--interpolate writes a grid"),
        (["--interpolate", "--grid", "{tmp}/g.png", "--mode", "class"], "give --classes A,B"),
        (["--grid", "{tmp}/nodir/sub/g.png", "--truncation", "-1"], "truncation=-1.0"),
        (["--grid", "{tmp}/g.png", "--upscale", "0"], "--upscale"),
        (["--grid", "{tmp}/g.png", "--device", "tpu:7"], "--device"),
    ],
)
def test_sample_errors_are_one_line(tiny_run_dir, tmp_path, args, message):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    result = cli("sample", tiny_run_dir, *args, ok=False)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_missing_or_broken_run_is_a_clear_error(tmp_path):
    result = cli("sample", tmp_path / "nope", "--grid", tmp_path / "g.png", ok=False)
    assert "no such run directory or checkpoint file" in result.output
    (tmp_path / "broken" / "checkpoints").mkdir(parents=True)
    (tmp_path / "broken" / "checkpoints" / "ckpt-000000001.pt").write_bytes(b"junk")
    with pytest.warns(UserWarning, match="skipping damaged checkpoint"):
        result = cli("sample", tmp_path / "broken", "--grid", tmp_path / "g.png", ok=False)
    assert result.exit_code != 0 and "damaged" in result.output
    assert not (tmp_path / "g.png").exists()


def test_standing_stats_option(tiny_run_dir, tmp_path):
    cli("sample", tiny_run_dir, "--grid", tmp_path / "s.png", "--standing-stats", 2)
    cli("sample", tiny_run_dir, "--grid", tmp_path / "p.png")
    assert not np.array_equal(png(tmp_path / "s.png"), png(tmp_path / "p.png"))


@pytest.mark.parametrize("command", ["sample", "attention", "fid"])
def test_every_command_defaults_to_the_same_device_rule(command):
    result = cli(command, "--help")
    assert "--device" in result.output and "[default: auto]" in result.output
