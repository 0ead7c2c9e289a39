"""`nlgan export`: a safetensors file that `nlgan sample` reads back to identical images."""

from __future__ import annotations

import torch

from nlgan.sampling import class_grid, load_generator

from clitools import cli

K = 3


def test_export_round_trip_gives_identical_images(tiny_run_dir, tmp_path):
    cli("export", tiny_run_dir, tmp_path / "g.safetensors")
    G_run, _ = load_generator(tiny_run_dir)
    G_exp, cfg = load_generator(tmp_path / "g.safetensors")
    assert cfg.model.num_classes == K
    torch.testing.assert_close(class_grid(G_exp, 3, seed=5), class_grid(G_run, 3, seed=5),
                               atol=0, rtol=0)  # fmt: skip
    cli("sample", tmp_path / "g.safetensors", "--grid", tmp_path / "e.png")
    result = cli("sample", tmp_path / "g.safetensors", "--grid", tmp_path / "r.png", "--no-ema",
                 ok=False)  # fmt: skip
    assert result.exit_code == 1 and "holds the G_ema weights, not G" in result.output
    result = cli("export", tiny_run_dir, tmp_path / "g.bin", ok=False)
    assert result.exit_code == 1 and "must end in .safetensors" in result.output
