"""uint8 conversion and PNG grids, upscaled so that small images stay readable."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from nlgan.errors import NlganError
from nlgan.sampling import auto_upscale, save_grid, to_uint8, upscale


def test_to_uint8_scales_rounds_clamps_and_moves_channels_last():
    images = torch.tensor([0.0, 0.5, 1.0, 1.7, -0.2, 0.002]).view(1, 1, 2, 3)
    out = to_uint8(images)
    assert out.dtype == np.uint8 and out.shape == (1, 2, 3, 1)
    assert out.ravel().tolist() == [0, 128, 255, 255, 0, 1]
    assert to_uint8(torch.zeros(3, 4, 5)).shape == (4, 5, 3)
    with pytest.raises(NlganError, match=r"expected \[B, C, H, W\]"):
        to_uint8(torch.zeros(4, 5))


def test_save_grid_size_content_and_no_temp_files(tmp_path):
    images = torch.zeros(5, 3, 6, 4)
    images[1, 0] = 1.0  # second image pure red
    path = save_grid(images, tmp_path / "sub" / "grid.png", nrow=3, padding=2, upscale_by=1)
    assert path == tmp_path / "sub" / "grid.png"
    assert [p.name for p in path.parent.iterdir()] == ["grid.png"]
    with Image.open(path) as png:
        assert png.format == "PNG" and png.mode == "RGB"
        assert png.size == (3 * (4 + 2) + 2, 2 * (6 + 2) + 2)  # 3 columns, 2 rows
        array = np.asarray(png)
    assert tuple(array[2 + 3, 2 + 6 + 2]) == (255, 0, 0)  # inside the second cell
    assert tuple(array[2 + 3, 2 + 2]) == (0, 0, 0)  # inside the first cell


def test_save_grid_keeps_gray_images_gray(tmp_path):
    path = save_grid(torch.full((4, 1, 8, 8), 0.5), tmp_path / "g.png", nrow=2, upscale_by=1)
    with Image.open(path) as png:
        assert png.mode == "L" and png.size == (2 * 10 + 2, 2 * 10 + 2)
        assert np.asarray(png)[5, 5] == 128


def test_small_images_are_upscaled_by_whole_pixels(tmp_path):
    assert [auto_upscale(s) for s in (8, 16, 20, 32, 64, 128)] == [8, 4, 4, 2, 1, 1]
    images = torch.rand(2, 3, 16, 16)
    big = upscale(images, 3)
    assert big.shape == (2, 3, 48, 48)
    assert torch.equal(big[:, :, ::3, ::3], images) and torch.equal(big[:, :, 2::3, 1::3], images)
    path = save_grid(images, tmp_path / "auto.png", nrow=2)  # 16 px -> 4x by default
    with Image.open(path) as png:
        assert png.size == (2 * (64 + 2) + 2, 64 + 2 + 2)
        array = np.asarray(png)
    cell = array[2 : 2 + 64, 2 : 2 + 64]  # the first image, each pixel a 4x4 block
    assert (cell[::4, ::4] == cell[3::4, 3::4]).all()
    with pytest.raises(NlganError, match="upscale=0: must be an integer >= 1"):
        upscale(images, 0)
