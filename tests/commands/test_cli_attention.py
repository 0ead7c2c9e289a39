"""`nlgan attention`: the figure, the shared generator options, one-line errors."""

from __future__ import annotations

import numpy as np

from nlgan.sampling import latents_for, load_generator, to_uint8
from nlgan.sampling.attention_maps import capture_attention

from clitools import cli, png


def test_attention_figure(tiny_run_dir, tmp_path):
    result = cli("attention", tiny_run_dir, "--grid", tmp_path / "a.png", "--n", 2,
                 "--panel", 32, "--queries", "0.5,0.5;0.1,0.9")  # fmt: skip
    assert "2 attention layer(s), 2 query point(s)" in result.output
    assert png(tmp_path / "a.png").shape[:2] == (14 + 2 * 32, (1 + 2 * 2) * 32)
    assert not list(tmp_path.glob(".*tmp*"))


def test_rows_are_the_samples_of_the_latent_class_rule(tiny_run_dir, tmp_path):
    cli("attention", tiny_run_dir, "--grid", tmp_path / "a.png", "--n", 3, "--panel", 16,
        "--classes", "2,0", "--seed", 5, "--queries", "auto:1")  # fmt: skip
    G, cfg = load_generator(tiny_run_dir)
    z, y = latents_for(0, 3, cfg.model.z_dim, 3, seed=5, classes=[2, 0])
    assert y.tolist() == [2, 0, 2]
    images, _ = capture_attention(G, z, y)
    expected = to_uint8((images + 1) / 2)  # [3, 16, 16, 3]
    figure = png(tmp_path / "a.png")
    for row in range(3):  # the first panel of each row is the sample, at 16 px: 1:1
        tile = figure[14 + 16 * row : 14 + 16 * (row + 1), 0:16].astype(int)
        # Compare away from the query marker and its label (centre and right of centre).
        keep = np.ones((16, 16), bool)
        keep[3:, 5:] = False
        diff = np.abs(tile[keep] - expected[row][keep].astype(int))
        assert diff.max() <= 1, row  # two roundings of the same floats


def test_attention_errors_are_one_line(tiny_run_dir, tmp_path):
    for args, message in [
        (["--classes", "9"], "class ids must be in [0, 2]"),
        (["--queries", "auto:9"], "auto:1 .. auto:5"),
        (["--truncation", "0"], "truncation=0.0"),
    ]:
        result = cli("attention", tiny_run_dir, "--grid", tmp_path / "a.png", *args, ok=False)
        assert result.exit_code == 1 and message in result.output, result.output
        assert "Traceback" not in result.output
