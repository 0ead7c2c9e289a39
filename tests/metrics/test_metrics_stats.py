"""Streaming statistics, .npz files in pytorch-fid's format, and the reference-statistics cache."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from nlgan.cli import main
from nlgan.metrics.protocol import check_reference_mode, cleanfid_name
from nlgan.metrics.reference import compute_reference, open_reference
from nlgan.metrics.reference_cache import cache_key
from nlgan.metrics.sources import FolderSource, TensorSource
from nlgan.metrics.stats import (
    FeatureStats,
    Stats,
    StatsError,
    is_stats_file,
    load_stats,
    save_stats,
    stats_from_features,
    stats_made_with,
)


def test_streaming_equals_one_shot():
    rng = np.random.default_rng(0)
    feats = (rng.standard_normal((103, 12)) * 0.3 + 5.0).astype(np.float32)  # large mean
    running = FeatureStats(12)
    for lo in range(0, 103, 10):
        running.update(torch.from_numpy(feats[lo : lo + 10]))
    streamed = running.stats()
    expected = stats_from_features(feats)
    assert streamed.n == 103
    np.testing.assert_allclose(streamed.mu, expected.mu, rtol=1e-12)
    np.testing.assert_allclose(streamed.sigma, expected.sigma, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(expected.sigma, np.cov(feats.astype(np.float64), rowvar=False))
    assert running.total.dtype == running.outer.dtype == torch.float64


def test_merging_sums_is_concatenation():
    rng = np.random.default_rng(1)
    a, b = torch.from_numpy(rng.random((7, 5))), torch.from_numpy(rng.random((9, 5)))
    left, right, both = FeatureStats(5), FeatureStats(5), FeatureStats(5)
    left.update(a), right.update(b), both.update(torch.cat([a, b]))
    for x, y in zip(left.tensors(), right.tensors(), strict=True):
        x += y
    np.testing.assert_allclose(left.stats().sigma, both.stats().sigma, rtol=1e-12)


def test_update_checks_width_and_count():
    running = FeatureStats(4)
    with pytest.raises(StatsError, match=r"expected features \[B, 4\]"):
        running.update(torch.zeros(2, 3))
    running.update(torch.zeros(1, 4))
    with pytest.raises(StatsError, match="at least 2 samples"):
        running.stats()


def test_reads_pytorch_fid_files(tmp_path):
    mu, sigma = np.arange(3.0), np.eye(3) * 2
    path = tmp_path / "pytorch_fid.npz"
    np.savez_compressed(path, mu=mu.astype(np.float32), sigma=sigma)  # what pytorch-fid writes
    stats = load_stats(path)
    np.testing.assert_array_equal(stats.mu, mu)
    np.testing.assert_array_equal(stats.sigma, sigma)
    assert stats.n == 0 and stats.extractor == ""
    assert is_stats_file(path)


def test_written_files_read_like_pytorch_fid_reads_them(tmp_path):
    stats = Stats(np.array([1.0, 2.0]), np.array([[2.0, 0.5], [0.5, 1.0]]), n=50, extractor="x")
    path = tmp_path / "out.npz"
    save_stats(stats, path)
    with np.load(path) as f:  # pytorch-fid: m, s = f["mu"][:], f["sigma"][:]
        np.testing.assert_array_equal(f["mu"][:], stats.mu)
        np.testing.assert_array_equal(f["sigma"][:], stats.sigma)
    back = load_stats(path)
    assert back.n == 50 and back.extractor == "x"


def test_corrupt_and_wrong_files_are_clear_errors(tmp_path):
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(StatsError, match="not a readable .npz file"):
        load_stats(broken)
    images = tmp_path / "images.npz"
    np.savez(images, images=np.zeros((2, 4, 4, 3), np.uint8))
    with pytest.raises(StatsError, match="no 'mu' and 'sigma'"):
        load_stats(images)
    assert not is_stats_file(images) and not is_stats_file(broken)
    bad = tmp_path / "bad.npz"
    np.savez(bad, mu=np.zeros(3), sigma=np.zeros((2, 2)))
    with pytest.raises(StatsError, match="not \\[d\\] and \\[d, d\\]"):
        load_stats(bad)


# --------------------------------------------------------------------------- cache


class CountingExtractor:
    """Mean colour and a few pixels as 'features'; counts the images it sees."""

    identity = "counting-v1"
    device = torch.device("cpu")
    feature_dim = 6
    num_logits = 3

    def __init__(self):
        self.seen = 0

    def __call__(self, images):
        self.seen += images.shape[0]
        x = images.float() / 255
        pool = torch.cat([x.mean((2, 3)), x[:, :, 0, 0]], dim=1)  # [B, 6]
        return pool, pool[:, :3]


def _write_pngs(folder, count, seed=0):
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(folder / f"{i}.png")


def test_cache_hit_skips_extraction_and_changes_invalidate(tmp_path):
    real = tmp_path / "real"
    _write_pngs(real, 6)
    ext, cache = CountingExtractor(), tmp_path / "cache"
    first = compute_reference(FolderSource(real), ext, cache_dir=cache)
    assert ext.seen == 6 and len(list(cache.glob("*.npz"))) == 1
    again = compute_reference(FolderSource(real), ext, cache_dir=cache)
    assert ext.seen == 6  # served from the cache
    np.testing.assert_array_equal(first.stats.sigma, again.stats.sigma)
    compute_reference(FolderSource(real), ext, need_features=True, cache_dir=cache)
    assert ext.seen == 12  # KID needs features; the entry now holds them
    hit = compute_reference(FolderSource(real), ext, need_features=True, cache_dir=cache)
    assert ext.seen == 12 and hit.features.shape == (6, 6)
    _write_pngs(real / "more", 1, seed=1)  # a new file: a new key
    compute_reference(FolderSource(real), ext, cache_dir=cache)
    assert ext.seen == 19
    compute_reference(FolderSource(real), ext, n=4, cache_dir=cache)  # another sample count
    assert ext.seen == 23
    compute_reference(FolderSource(real), ext, n=4, cache_dir=cache, use_cache=False)
    assert ext.seen == 27


def test_cache_key_ingredients(tmp_path):
    base = cache_key({"kind": "folder", "files": "abc"}, 100, "inception:sha256=1")
    assert base != cache_key({"kind": "folder", "files": "abd"}, 100, "inception:sha256=1")
    assert base != cache_key({"kind": "folder", "files": "abc"}, 99, "inception:sha256=1")
    assert base != cache_key({"kind": "folder", "files": "abc"}, 100, "inception:sha256=2")
    _write_pngs(tmp_path, 2)
    native, resized = FolderSource(tmp_path).identity(), FolderSource(tmp_path, 4).identity()
    assert native["count"] == 2 and native["resolution"] is None and resized["resolution"] == 4
    assert cache_key(native, 2, "x") != cache_key(resized, 2, "x")


def test_in_memory_sources_are_not_cached(tmp_path):
    ext = CountingExtractor()
    images = TensorSource(torch.randint(0, 256, (5, 3, 8, 8), dtype=torch.uint8))
    compute_reference(images, ext, cache_dir=tmp_path)
    compute_reference(images, ext, cache_dir=tmp_path)
    assert ext.seen == 10 and not list(tmp_path.glob("*.npz"))


def test_kid_needs_reference_features(tmp_path):
    path = tmp_path / "stats.npz"
    save_stats(Stats(np.zeros(6), np.eye(6), n=10), path)
    with pytest.raises(StatsError, match="KID needs reference images"):
        open_reference(path, CountingExtractor(), need_features=True)
    assert open_reference(path, CountingExtractor()).stats.n == 10


# --------------------------------------------------------------------------- protocol in files

INCEPTION = {"name": "inception", "identity": "pt_inception-2015-12-05", "hash": "a" * 64}


def _stats_file(path, resize=None, hash_=None, mean=0.0):
    stats = Stats(np.full(4, mean), np.eye(4), n=100, extractor="pt_inception-2015-12-05")
    backbone = None if resize is None else {**INCEPTION, "resize": resize, "hash": hash_}
    save_stats(stats, path, backbone)
    return path


def test_statistics_files_carry_their_resize_and_network_hash(tmp_path):
    ours = _stats_file(tmp_path / "ours.npz", "clean", "a" * 64)
    assert stats_made_with(ours) == {"resize": "clean", "backbone_hash": "a" * 64}
    foreign = tmp_path / "pytorch_fid.npz"
    np.savez(foreign, mu=np.zeros(4), sigma=np.eye(4))
    assert stats_made_with(foreign) == {"resize": "unknown", "backbone_hash": "unknown"}
    # clean-fid's FFHQ statistics name their split trainval70k; the name gives the resize
    ffhq = tmp_path / "ffhq_legacy_tensorflow_trainval70k_1024.npz"
    np.savez(ffhq, mu=np.zeros(4), sigma=np.eye(4))
    assert cleanfid_name(ffhq)["split"] == "trainval70k"
    assert stats_made_with(ffhq)["resize"] == "legacy_tensorflow"
    with pytest.raises(ValueError, match="pass --resize legacy_tensorflow"):
        check_reference_mode(ffhq, "clean", stats_made_with(ffhq))
    with pytest.raises(ValueError, match="made with resize clean, .* pass --resize clean"):
        check_reference_mode(ours, "legacy_tensorflow", stats_made_with(ours))
    with pytest.raises(ValueError, match="network with weights aaaaaaaaaaaaaaaa, not"):
        check_reference_mode(ours, "clean", stats_made_with(ours), "b" * 64)
    check_reference_mode(ours, "clean", stats_made_with(ours), "a" * 64)  # the same: accepted
    check_reference_mode(foreign, "clean", stats_made_with(foreign), "b" * 64)  # unknown


def _fid_json(*args) -> tuple[int, str, dict | None]:
    result = CliRunner().invoke(main, ["fid", *map(str, args), "--json"])
    lines = result.stdout.strip().splitlines()
    return result.exit_code, result.output, json.loads(lines[-1]) if result.exit_code == 0 else None


def test_statistics_against_statistics_check_or_say_unknown(tmp_path):
    a = _stats_file(tmp_path / "a.npz", "clean", "a" * 64)
    b = _stats_file(tmp_path / "b.npz", "clean", "a" * 64, mean=1.0)
    code, _, out = _fid_json(a, b)
    assert code == 0 and out["fid"] == pytest.approx(4.0)
    assert out["protocol"]["resize"] == "clean"
    assert out["protocol"]["backbone"]["hash"] == "a" * 64
    other = _stats_file(tmp_path / "other.npz", "legacy_tensorflow", "a" * 64)
    code, output, _ = _fid_json(a, other)
    assert code == 1 and "made with different resize (clean vs legacy_tensorflow)" in output
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, mu=np.zeros(4), sigma=np.eye(4))
    with pytest.warns(UserWarning, match="do not record their resize and network weights"):
        code, _, out = _fid_json(foreign, b)
    assert code == 0 and out["protocol"]["resize"] == "unknown"
    assert out["protocol"]["backbone"]["hash"] == "unknown"
