"""Image files as users have them: high bit depths scaled (not saturated), damaged JPEGs and
decompression bombs refused with one line, in training folders and in metric folders."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from nlgan.config import DataConfig
from nlgan.data import build_dataset
from nlgan.data.image_io import ImageReadError, open_image
from nlgan.metrics.sources import FolderSource, SourceError

from tiny import tiny_model

RAMP = np.linspace(0.0, 1.0, 16 * 16).reshape(16, 16)  # dark to bright


def garbled_jpeg(path):
    """A JPEG whose header is valid (PIL's verify() passes) and whose body is not."""
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(buf, "JPEG")
    data = buf.getvalue()
    scan = data.find(b"\xff\xda") + 100
    path.write_bytes(data[:scan] + b"\xff\xc0\x00\x11" + data[scan:])  # a marker mid-scan
    with Image.open(path) as img:
        img.verify()
    return path


def high_bit_depth(folder):
    """The same ramp as a 16-bit PNG, a 32-bit signed int TIFF and a float TIFF."""
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray((RAMP * 65535).round().astype(np.uint16)).save(folder / "a16.png")
    Image.fromarray((RAMP * (2**31 - 1)).round().astype(np.int32)).save(folder / "b32.tif")
    Image.fromarray(RAMP.astype(np.float32)).save(folder / "cf.tif")
    Image.fromarray((RAMP * 255).round().astype(np.uint8)).save(folder / "d8.png")
    return folder


def test_high_bit_depth_images_are_scaled_not_saturated(tmp_path):
    folder = high_bit_depth(tmp_path / "hb")
    with Image.open(folder / "a16.png") as img:
        assert img.mode == "I;16"  # a real 16-bit PNG
        assert (np.asarray(img.convert("L"))[1:] == 255).all()  # what plain convert() makes
    expected = np.asarray(open_image(folder / "d8.png", "L"), dtype=int)
    for name in ("a16.png", "b32.tif", "cf.tif"):
        grey = np.asarray(open_image(folder / name, "L"), dtype=int)
        assert np.abs(grey - expected).max() <= 1, name
        rgb = np.asarray(open_image(folder / name, "RGB"))
        assert rgb.shape == (16, 16, 3) and (rgb[..., 0] == rgb[..., 2]).all()


def test_training_and_metric_folders_see_the_same_scaled_images(tmp_path):
    folder = high_bit_depth(tmp_path / "hb")
    ds = build_dataset(DataConfig(name="folder", root=str(folder)),
                       tiny_model(num_classes=0, img_channels=1))  # fmt: skip
    images = [ds[i][0] for i in range(len(ds))]  # [-1, 1]
    for x in images:
        assert -1.0 <= float(x.min()) < -0.9 and 0.9 < float(x.max()) <= 1.0  # full range
    batch = next(FolderSource(folder).batches(0, 4, 4))  # uint8 [4, 3, 16, 16]
    assert int(batch.min()) == 0 and int(batch.max()) == 255
    assert (batch.float().std(dim=(1, 2, 3)) > 50).all()  # ramps, not flat white or black


def test_a_garbled_jpeg_is_skipped_at_start_and_never_stops_training(tmp_path):
    for k in range(2):
        (tmp_path / f"c{k}").mkdir()
        for i in range(3):
            Image.fromarray(np.full((16, 16, 3), 40 * i, np.uint8)).save(tmp_path / f"c{k}/{i}.png")
    garbled_jpeg(tmp_path / "c1" / "bad.jpg")
    with pytest.warns(UserWarning, match=r"skipped 1 unusable image file\(s\) of 7 .*bad.jpg"):
        ds = build_dataset(DataConfig(name="folder", root=str(tmp_path)),
                           tiny_model(num_classes=2))  # fmt: skip
    assert len(ds) == 6
    # A file damaged after the check is replaced by the next image, counted, never raised.
    garbled_jpeg(ds.files[1])
    with pytest.warns(UserWarning, match="using the next image"):
        x, y = ds[1]
    assert x.shape == (3, 16, 16) and ds.skipped == 1
    ds[1]
    assert ds.skipped == 2  # counted every time, warned once


def test_image_checks_are_cached_by_size_and_mtime(tmp_path, monkeypatch):
    from nlgan.data import image_checks

    for i in range(3):
        Image.fromarray(np.full((8, 8, 3), i, np.uint8)).save(tmp_path / f"{i}.png")
    calls = []
    real = image_checks.open_image
    monkeypatch.setattr(image_checks, "open_image", lambda p, m: calls.append(p) or real(p, m))
    model = tiny_model(num_classes=0)
    build_dataset(DataConfig(name="folder", root=str(tmp_path)), model)
    assert len(calls) == 3
    build_dataset(DataConfig(name="folder", root=str(tmp_path)), model)
    assert len(calls) == 3  # nothing decoded again
    garbled_jpeg(tmp_path / "3.jpg")
    with pytest.warns(UserWarning, match="skipped 1"):
        build_dataset(DataConfig(name="folder", root=str(tmp_path)), model)
    assert [p.name for p in calls[3:]] == ["3.jpg"]  # only the new file


def test_decompression_bombs_are_skipped_in_training_and_refused_by_metrics(tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # a 40x40 image is a "bomb" now
    (tmp_path / "ok").mkdir()
    for i in range(2):
        Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(tmp_path / "ok" / f"{i}.png")
    Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(tmp_path / "ok" / "bomb.png")
    with pytest.raises(ImageReadError, match="possible decompression bomb"):
        open_image(tmp_path / "ok" / "bomb.png")
    with pytest.warns(UserWarning, match="skipped 1 .*decompression bomb"):
        ds = build_dataset(DataConfig(name="folder", root=str(tmp_path / "ok")),
                           tiny_model(num_classes=0))  # fmt: skip
    assert len(ds) == 2
    with pytest.raises(SourceError, match="bomb.png: skipped as a possible decompression bomb"):
        list(FolderSource(tmp_path / "ok").batches(0, 3, 3))
