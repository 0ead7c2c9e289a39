"""``evaluate`` end to end with a small stand-in extractor, in one process and sharded over two."""

from __future__ import annotations

import json
import os
import warnings

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F
from PIL import Image

from nlgan.metrics import (
    TensorSource,
    evaluate,
    fid_from_stats,
    format_table,
    inception_score,
    kernel_inception_distance,
)
from nlgan.metrics.distributed import shard
from nlgan.metrics.stats import stats_from_features

from gloo import join_gloo_group

SCORE_ARGS = dict(metrics="fid,is,kid", batch_size=5, is_splits=3, kid_subsets=5, kid_subset_size=8)


class SmallExtractor:
    """Pooled pixels through a fixed random projection: cheap, deterministic, same API."""

    identity = "small-extractor-v1"
    device = torch.device("cpu")
    feature_dim = 16
    num_logits = 10

    def __init__(self):
        gen = torch.Generator().manual_seed(0)
        self.proj = torch.randn(48, 16, generator=gen) / 4
        self.head = torch.randn(16, 10, generator=gen)

    def __call__(self, images):
        x = F.adaptive_avg_pool2d(images.float().expand(-1, 3, -1, -1) / 255, 4)  # [B, 3, 4, 4]
        pool = torch.tanh(x.flatten(1) @ self.proj)  # [B, 16]
        return pool, pool @ self.head  # [B, 10]


def _images(n: int, seed: int, shift: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return (torch.randint(0, 200, (n, 3, 8, 8), generator=gen) + shift).to(torch.uint8)


def _score(**kwargs) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # tiny n: the small-sample warnings
        return evaluate(extractor=SmallExtractor(), **kwargs)


def test_scores_equal_the_metric_functions_on_all_features():
    fake, real = _images(37, 1, shift=40), _images(29, 2)
    scores = _score(source=TensorSource(fake), reference=TensorSource(real), **SCORE_ARGS)
    ext = SmallExtractor()
    (f_fake, l_fake), (f_real, _) = ext(fake), ext(real)
    expected_fid = fid_from_stats(stats_from_features(f_fake), stats_from_features(f_real))
    # features come in batches of 5 here: float32 rounding differs from one big batch
    assert scores["fid"] == pytest.approx(expected_fid, rel=1e-6)
    assert (scores["is_mean"], scores["is_std"]) == pytest.approx(inception_score(l_fake, 3))
    kid = kernel_inception_distance(f_fake, f_real, subsets=5, subset_size=8)
    assert (scores["kid_mean"], scores["kid_std"], scores["kid_subset_size"]) == pytest.approx(kid)
    assert scores["n"] == 37 and scores["fid"] > 0.01
    table = format_table(scores)
    assert "FID" in table and "IS" in table and "KID" in table and "37" in table


def test_a_set_against_itself_scores_zero():
    images = TensorSource(_images(40, 3))
    scores = _score(source=images, reference=images, metrics="fid")
    assert abs(scores["fid"]) < 1e-9


def test_n_takes_the_first_samples_and_checks_length():
    images = _images(20, 4)
    first = _score(source=TensorSource(images), reference=TensorSource(images), n=12)
    direct = _score(source=TensorSource(images[:12]), reference=TensorSource(images))
    assert first["fid"] == pytest.approx(direct["fid"], rel=1e-12)
    with pytest.raises(ValueError, match="30 samples requested but only 20"):
        _score(source=TensorSource(images), reference=TensorSource(images), n=30)


def test_bad_metric_names_and_missing_reference():
    images = TensorSource(_images(12, 5))
    with pytest.raises(ValueError, match="metrics=fdi: choose any of fid, is, kid"):
        _score(source=images, reference=images, metrics="fdi")
    with pytest.raises(ValueError, match="need a reference"):
        _score(source=images, metrics="fid")
    assert set(_score(source=images, metrics="is", is_splits=2)) == {"n", "is_mean", "is_std"}


def test_shards_cover_every_index_once():
    for n, world in [(10, 3), (7, 2), (1, 2), (100, 8)]:
        ranges = [shard(n, r, world) for r in range(world)]
        assert [i for lo, hi in ranges for i in range(lo, hi)] == list(range(n))


# --------------------------------------------------------------------------- two processes


def _write_pngs(folder, images):
    folder.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(images):
        Image.fromarray(image.permute(1, 2, 0).numpy()).save(folder / f"{i:03d}.png")


def _worker(rank: int, world: int, tmp: str) -> None:
    join_gloo_group(rank, world, tmp)
    try:
        kwargs = dict(reference=f"{tmp}/real", cache_dir=f"{tmp}/cache", **SCORE_ARGS)
        first = _score(source=TensorSource(_images(37, 1, shift=40)), **kwargs)
        cached = _score(source=TensorSource(_images(37, 1, shift=40)), **kwargs)
        with open(f"{tmp}/scores-{rank}.json", "w") as f:
            json.dump({"first": first, "cached": cached}, f)
    finally:
        dist.destroy_process_group()


@pytest.mark.multiprocess
def test_two_processes_score_like_one(tmp_path):
    _write_pngs(tmp_path / "real", _images(29, 2))
    mp.spawn(_worker, args=(2, str(tmp_path)), nprocs=2, join=True)
    single = _score(
        source=TensorSource(_images(37, 1, shift=40)),
        reference=str(tmp_path / "real"),
        use_cache=False,
        **SCORE_ARGS,
    )
    for rank in range(2):
        with open(tmp_path / f"scores-{rank}.json") as f:
            runs = json.load(f)
        for scores in runs.values():
            assert scores.keys() == single.keys()
            for key, value in single.items():
                assert scores[key] == pytest.approx(value, rel=1e-6, abs=1e-12), key
    assert len(os.listdir(tmp_path / "cache")) == 1  # rank 0 wrote the one entry
