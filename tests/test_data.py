"""Data sets: digits, image folders (labels, resizing, bad files, errors) and CIFAR errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from nlgan.config import DataConfig, ModelConfig
from nlgan.data import DataError, build_dataset, digits_images
from nlgan.data.classes import class_order

from tiny import tiny_model


def model_cfg(resolution: int = 16, channels: int = 3, num_classes: int = 10) -> ModelConfig:
    """The shared tiny model at the size, channels and classes a data test needs."""
    return tiny_model(resolution=resolution, img_channels=channels, num_classes=num_classes)


def save(path, size=(20, 12), color=(255, 0, 0), mode="RGB"):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, color).save(path)
    return path


# --------------------------------------------------------------------------- digits


def test_digits_shapes_range_labels_and_polarity():
    ds = build_dataset(DataConfig(name="digits"), model_cfg(16, 1))
    assert len(ds) == 1797 and ds.num_classes == 10
    x, y = ds[0]
    assert x.shape == (1, 16, 16) and x.dtype == torch.float32
    assert y.dtype == torch.int64 and y.ndim == 0 and int(y) == 0
    assert x.min() >= -1.0 and x.max() <= 1.0
    # Ink white on black: the border is background (-1), the zero's ring is bright.
    assert x[0, 0, 0] == -1.0 and x.max() > 0.5
    labels = torch.stack([ds[i][1] for i in range(len(ds))])
    assert torch.bincount(labels).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]


def test_digits_upsampling_preserves_the_8x8_picture():
    from sklearn.datasets import load_digits

    small = torch.from_numpy(load_digits().images[:50]).float()[:, None] / 16.0
    big, _ = digits_images(32)
    assert big.shape == (1797, 1, 32, 32)
    down = torch.nn.functional.avg_pool2d(big[:50], 4)  # back to 8x8
    assert (down - small).abs().mean() < 0.06
    assert big.min() >= 0.0 and big.max() <= 1.0


def test_digits_rgb_repeats_the_gray_channel_and_collates():
    ds = build_dataset(DataConfig(name="digits"), model_cfg(32, 3))
    x, _ = ds[5]
    assert x.shape == (3, 32, 32)
    assert torch.equal(x[0], x[1]) and torch.equal(x[1], x[2])
    batch_x, batch_y = next(iter(torch.utils.data.DataLoader(ds, batch_size=4)))
    assert batch_x.shape == (4, 3, 32, 32) and batch_y.tolist() == [0, 1, 2, 3]


def test_digits_wrong_class_count_is_an_error():
    with pytest.raises(DataError, match="digits has 10 classes"):
        build_dataset(DataConfig(name="digits"), model_cfg(num_classes=7))
    assert build_dataset(DataConfig(name="digits"), model_cfg(num_classes=0)).num_classes == 10


def test_hflip_flips_about_half_of_the_items():
    ds = build_dataset(DataConfig(name="digits", hflip=True), model_cfg(16, 1))
    plain = build_dataset(DataConfig(name="digits"), model_cfg(16, 1))
    torch.manual_seed(0)
    flipped = 0
    for i in range(200):
        x, plain_x = ds[i][0], plain[i][0]
        if torch.equal(x, plain_x.flip(-1)) and not torch.equal(x, plain_x):
            flipped += 1
        else:
            assert torch.equal(x, plain_x)
    assert 70 < flipped < 130


# --------------------------------------------------------------------------- folders


def test_class_folders_sorted_labels_recursive(tmp_path):
    save(tmp_path / "zebra" / "a.png")
    save(tmp_path / "ant" / "sub" / "deep.JPG", color=(0, 255, 0))
    save(tmp_path / "ant" / "b.png", color=(0, 0, 255))
    (tmp_path / "ant" / "notes.txt").write_text("not an image")
    ds = build_dataset(DataConfig(name="folder", root=str(tmp_path)), model_cfg(num_classes=2))
    assert ds.num_classes == 2 and len(ds) == 3
    assert [int(ds[i][1]) for i in range(3)] == [0, 0, 1]  # ant/b, ant/sub/deep, zebra/a
    x, _ = ds[2]  # pure red -> (1, -1, -1)
    assert x.shape == (3, 16, 16)
    assert torch.allclose(x[:, 8, 8], torch.tensor([1.0, -1.0, -1.0]))


def test_numeric_class_folders_are_labelled_by_number(tmp_path):
    # `nlgan sample --per-class` writes 0..K-1: as text, '10' would take label 2
    for c in range(12):
        save(tmp_path / str(c) / "a.png", color=(20 * c, 0, 0))
    ds = build_dataset(DataConfig(name="folder", root=str(tmp_path)), model_cfg(num_classes=12))
    for i in range(12):
        x, label = ds[i]
        red = round((float(x[0, 8, 8]) + 1) / 2 * 255)
        assert red == 20 * int(label)  # folder c holds red 20 c


def test_class_order_numeric_text_and_mixed():
    assert class_order(["10", "9", "2", "0", "11", "1"]) == ["0", "1", "2", "9", "10", "11"]
    assert class_order(["1", "01", "10", "010"]) == ["01", "1", "010", "10"]
    assert class_order(["dog", "cat", "ant"]) == ["ant", "cat", "dog"]
    # any non-numeric name: all as text (class10 before class2, as torchvision sorts)
    assert class_order(["class2", "class10"]) == ["class10", "class2"]
    assert class_order(["10", "9", "seven"]) == ["10", "9", "seven"]


def test_flat_folder_is_unconditional(tmp_path):
    for i in range(3):
        save(tmp_path / f"{i}.png")
    ds = build_dataset(DataConfig(name="folder", root=str(tmp_path)), model_cfg(num_classes=0))
    assert ds.num_classes == 0 and len(ds) == 3
    assert all(int(ds[i][1]) == 0 for i in range(3))


def test_resize_shorter_side_then_centre_crop(tmp_path):
    # 40x20: left quarter black, middle half white, right quarter black. After the shorter
    # side goes to 16 (32x16) and the centre 16 columns are kept, everything is white.
    array = np.zeros((20, 40, 3), dtype=np.uint8)
    array[:, 10:30] = 255
    Image.fromarray(array).save(tmp_path / "wide.png")
    ds = build_dataset(DataConfig(name="folder", root=str(tmp_path)), model_cfg(num_classes=0))
    x, _ = ds[0]
    assert x.shape == (3, 16, 16)
    assert x[:, :, 1:-1].min() > 0.99  # only the outer columns blend with the black bars
    assert x.mean() > 0.98


def test_grayscale_and_rgb_conversions(tmp_path):
    save(tmp_path / "rgb.png", color=(255, 0, 0))
    save(tmp_path / "gray.png", color=128, mode="L")
    gray_model = build_dataset(
        DataConfig(name="folder", root=str(tmp_path)), model_cfg(channels=1, num_classes=0)
    )
    x_gray, _ = gray_model[0]  # gray.png sorts first
    x_red, _ = gray_model[1]
    assert x_gray.shape == (1, 16, 16)
    assert x_gray.mean().item() == pytest.approx(128 / 255 * 2 - 1, abs=1e-5)
    assert x_red.mean().item() == pytest.approx(76 / 255 * 2 - 1, abs=1e-2)  # luma of red
    rgb_model = build_dataset(
        DataConfig(name="folder", root=str(tmp_path)), model_cfg(channels=3, num_classes=0)
    )
    assert rgb_model[0][0].shape == (3, 16, 16)


def test_corrupt_files_are_skipped_with_one_counting_warning(tmp_path):
    for i in range(3):
        save(tmp_path / f"good{i}.png")
    (tmp_path / "garbage.jpg").write_bytes(b"this is not a jpeg at all")
    good = (tmp_path / "good0.png").read_bytes()
    (tmp_path / "truncated.png").write_bytes(good[: len(good) // 2])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = build_dataset(DataConfig(name="folder", root=str(tmp_path)), model_cfg(num_classes=0))
    messages = [str(w.message) for w in caught]
    assert len(messages) == 1 and "skipped 2 unusable image file(s) of 5" in messages[0]
    assert len(ds) == 3


def test_only_corrupt_files_is_an_error(tmp_path):
    (tmp_path / "bad.png").write_bytes(b"nope")
    with pytest.raises(DataError, match="none of its 1 image files is readable"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            build_dataset(DataConfig(name="folder", root=str(tmp_path)), model_cfg(num_classes=0))


@pytest.mark.parametrize(
    ("setup", "match"),
    [
        ("missing", "does not exist"),
        ("file", "is a file, not a folder"),
        ("empty", "has no images"),
        ("empty_class", "class folder .* has no images"),
        ("mixed", "holds both images and sub-folders"),
    ],
)
def test_folder_errors(tmp_path, setup, match):
    root = tmp_path / "data"
    if setup == "file":
        root.write_text("x")
    elif setup == "empty":
        root.mkdir()
    elif setup == "empty_class":
        save(root / "cat" / "a.png")
        (root / "dog").mkdir()
    elif setup == "mixed":
        save(root / "cat" / "a.png")
        save(root / "loose.png")
    with pytest.raises(DataError, match=match) as info:
        build_dataset(DataConfig(name="folder", root=str(root)), model_cfg(num_classes=0))
    assert "\n" not in str(info.value)


def test_folder_class_count_must_match_the_model(tmp_path):
    for name in ("a", "b", "c"):
        save(tmp_path / name / "x.png")
    with pytest.raises(DataError, match=r"has 3 class folders .*set model.num_classes=3"):
        build_dataset(DataConfig(name="folder", root=str(tmp_path)), model_cfg(num_classes=10))
    flat = tmp_path / "flat"
    save(flat / "x.png")
    with pytest.raises(DataError, match="a flat folder"):
        build_dataset(DataConfig(name="folder", root=str(flat)), model_cfg(num_classes=10))


# --------------------------------------------------------------------------- CIFAR


@pytest.mark.parametrize(
    ("name", "folder"), [("cifar10", "cifar-10-batches-py"), ("cifar100", "cifar-100-python")]
)
def test_cifar_missing_files_say_where_to_put_them(tmp_path, name, folder):
    with pytest.raises(DataError, match=f"{folder}.*download https://www.cs.toronto.edu") as info:
        build_dataset(DataConfig(name=name, root=str(tmp_path)), model_cfg(num_classes=0))
    assert "\n" not in str(info.value)


def test_cifar_empty_root_is_an_error():
    with pytest.raises(DataError, match="data.root is empty"):
        build_dataset(DataConfig(name="cifar10"), model_cfg())
