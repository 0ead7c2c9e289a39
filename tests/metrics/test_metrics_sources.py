"""Image sources: folders (recursive, grayscale, mixed sizes), .npz arrays, generators, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from nlgan.metrics.opening import open_images
from nlgan.metrics.sources import (
    CallableSource,
    FolderSource,
    NpzImageSource,
    SourceError,
    TensorSource,
    generator_source,
)


def _all(source, batch_size=3):
    return list(source.batches(0, len(source), batch_size))


def test_folder_is_recursive_sorted_and_rgb(tmp_path):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)
    gray = rng.integers(0, 256, (6, 5), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "a.png")
    (tmp_path / "sub").mkdir()
    Image.fromarray(gray, mode="L").save(tmp_path / "sub" / "b.png")
    Image.fromarray(np.dstack([rgb, np.full((6, 5), 255, np.uint8)])).save(tmp_path / "c.PNG")
    (tmp_path / "notes.txt").write_text("not an image")
    source = FolderSource(tmp_path)
    assert len(source) == 3
    (batch,) = _all(source)
    assert batch.dtype == torch.uint8 and batch.shape == (3, 3, 6, 5)
    np.testing.assert_array_equal(batch[0].permute(1, 2, 0).numpy(), rgb)
    for c in range(3):  # grayscale -> three equal channels
        np.testing.assert_array_equal(batch[2][c].numpy(), gray)  # "sub/b.png" sorts last
    np.testing.assert_array_equal(batch[1].permute(1, 2, 0).numpy(), rgb)  # RGBA -> RGB


def test_folder_numeric_classes_are_labelled_by_number(tmp_path):
    image = np.zeros((4, 4, 3), np.uint8)
    for c in range(12):
        (tmp_path / str(c)).mkdir()
        Image.fromarray(image).save(tmp_path / str(c) / "a.png")
    source = FolderSource(tmp_path)
    assert source.class_names == tuple(str(c) for c in range(12))
    by_file = {p.parent.name: int(y) for p, y in zip(source.files, source.labels(), strict=True)}
    assert by_file == {str(c): c for c in range(12)}


def test_folder_splits_batches_at_size_changes_and_by_range(tmp_path):
    for i, size in enumerate([4, 4, 4, 7, 7]):
        Image.fromarray(np.full((size, size, 3), i, np.uint8)).save(tmp_path / f"{i}.png")
    source = FolderSource(tmp_path)
    shapes = [tuple(b.shape) for b in source.batches(0, 5, 2)]
    assert shapes == [(2, 3, 4, 4), (1, 3, 4, 4), (2, 3, 7, 7)]
    middle = torch.cat([b[:, 0, 0, 0] for b in source.batches(1, 3, 8)])
    assert middle.tolist() == [1, 2]


def test_folder_resolution_resizes_and_crops(tmp_path):
    Image.fromarray(np.zeros((10, 20, 3), np.uint8)).save(tmp_path / "wide.png")
    (batch,) = _all(FolderSource(tmp_path, resolution=8))
    assert batch.shape == (1, 3, 8, 8)


def test_empty_folder_and_bad_images(tmp_path):
    with pytest.raises(SourceError, match="no images found in it or its subfolders"):
        FolderSource(tmp_path)
    (tmp_path / "broken.png").write_bytes(b"\x89PNG garbage")
    source = FolderSource(tmp_path)
    with pytest.raises(SourceError, match="broken.png: not a readable image"):
        _all(source)


@pytest.mark.parametrize("key", ["images", "arr_0"])
def test_npz_of_nhwc_images(tmp_path, key):
    array = np.random.default_rng(1).integers(0, 256, (5, 4, 6, 3), dtype=np.uint8)
    np.savez(tmp_path / "x.npz", **{key: array})
    source = open_images(tmp_path / "x.npz")
    assert isinstance(source, NpzImageSource) and len(source) == 5
    out = torch.cat(_all(source, 2))
    np.testing.assert_array_equal(out.permute(0, 2, 3, 1).numpy(), array)
    assert source.identity()["count"] == 5


def test_npz_grayscale_nhw(tmp_path):
    np.savez(tmp_path / "g.npz", images=np.zeros((2, 4, 4), np.uint8))
    assert _all(NpzImageSource(tmp_path / "g.npz"))[0].shape == (2, 1, 4, 4)


def test_npz_errors(tmp_path):
    np.savez(tmp_path / "f.npz", images=np.zeros((2, 4, 4, 3), np.float32))
    with pytest.raises(SourceError, match="expected uint8 images"):
        NpzImageSource(tmp_path / "f.npz")
    np.savez(tmp_path / "s.npz", mu=np.zeros(3), sigma=np.eye(3))
    with pytest.raises(SourceError, match="holds statistics"):
        NpzImageSource(tmp_path / "s.npz")
    (tmp_path / "c.npz").write_bytes(b"PK\x03\x04 cut short")
    with pytest.raises(SourceError, match="not a readable .npz file"):
        NpzImageSource(tmp_path / "c.npz")
    np.savez(tmp_path / "k.npz", a=np.zeros(1), b=np.zeros(1))
    with pytest.raises(SourceError, match="no image array"):
        NpzImageSource(tmp_path / "k.npz")
    with pytest.raises(SourceError, match="no such file or folder"):
        open_images(tmp_path / "missing")


def test_fewer_samples_than_requested():
    source = TensorSource(torch.zeros(3, 3, 4, 4, dtype=torch.uint8), "three images")
    with pytest.raises(SourceError, match="three images: 10 samples requested but only 3"):
        source.check_length(10)


def test_callable_source_calls_by_index_range():
    calls = []

    def fn(start, stop):
        calls.append((start, stop))
        return torch.arange(start, stop).to(torch.uint8).view(-1, 1, 1, 1).expand(-1, 3, 2, 2)

    source = CallableSource(fn, 10)
    out = torch.cat(list(source.batches(3, 10, 4)))
    assert calls == [(3, 7), (7, 10)] and out[:, 0, 0, 0].tolist() == list(range(3, 10))
    assert source.identity() is None
    bad = CallableSource(lambda a, b: torch.zeros(b - a, 3, 2, 2), 4)
    with pytest.raises(SourceError, match="expected uint8"):
        list(bad.batches(0, 4, 4))


def test_generator_source_matches_sampling_and_is_shardable():
    from nlgan.sampling import generate_uint8

    from tiny import tiny_generator

    G = tiny_generator().train()
    source = generator_source(G, 7, seed=3)
    whole = torch.cat(list(source.batches(0, 7, 4)))  # [7, 3, 16, 16]
    assert G.training  # its mode is restored after each batch
    expected = torch.from_numpy(generate_uint8(G, 7, seed=3)).permute(0, 3, 1, 2)
    torch.testing.assert_close(whole, expected, rtol=0, atol=1)  # rounding of equal floats
    part = torch.cat(list(source.batches(2, 5, 2)))
    torch.testing.assert_close(part, whole[2:5], rtol=0, atol=1)
