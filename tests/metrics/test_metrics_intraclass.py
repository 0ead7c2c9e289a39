"""Intra-class FID, FID∞ / IS∞, and PRDC / iFID on two processes equal to one."""

from __future__ import annotations

import json
import os
import warnings

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from PIL import Image

from nlgan.metrics import TensorSource, evaluate
from nlgan.metrics.frechet import frechet_distance
from nlgan.metrics.infinity import (
    extrapolate,
    fid_infinity,
    fid_infinity_min_n,
    is_infinity,
    subset_sizes,
)
from nlgan.metrics.is_score import inception_score
from nlgan.metrics.stats import Stats, StatsError, stats_from_features

from gloo import join_gloo_group
from standin import SmallExtractor


def _labelled_images(n: int, seed: int, shift: int = 0) -> tuple[torch.Tensor, np.ndarray]:
    """Class c images are brighter by 60 * c, so the classes differ in feature space."""
    gen = torch.Generator().manual_seed(seed)
    labels = np.arange(n) % 2
    images = torch.randint(0, 120, (n, 3, 8, 8), generator=gen) + shift
    images += torch.from_numpy(labels)[:, None, None, None] * 60
    return images.clamp(0, 255).to(torch.uint8), labels


def _class_folder(root, images, labels):
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        folder = root / f"class{label}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image.permute(1, 2, 0).numpy()).save(folder / f"{i:03d}.png")
    return root


def _score(**kwargs) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # tiny n: the small-sample warnings
        return evaluate(extractor=SmallExtractor(), **kwargs)


def test_ifid_is_the_mean_of_the_per_class_fids(tmp_path):
    fake, fake_labels = _labelled_images(40, 1, shift=20)
    real, real_labels = _labelled_images(36, 2)
    scores = _score(
        source=TensorSource(fake, labels=fake_labels),
        reference=_class_folder(tmp_path / "real", real, real_labels),
        metrics="ifid",
        cache_dir=tmp_path / "cache",
    )
    ext = SmallExtractor()
    direct = []
    for c in (0, 1):
        gen = stats_from_features(ext(fake[fake_labels == c])[0])
        ref = stats_from_features(ext(real[real_labels == c])[0])
        direct.append(frechet_distance(gen.mu, gen.sigma, ref.mu, ref.sigma))
    assert scores["ifid_per_class"] == pytest.approx(direct, rel=1e-6)
    assert scores["ifid"] == pytest.approx(np.mean(direct), rel=1e-6)
    assert min(direct) > 0.01 and abs(direct[0] - direct[1]) > 1e-3  # two different classes
    assert len(list((tmp_path / "cache").iterdir())) == 2  # one cached entry per class
    again = _score(
        source=TensorSource(fake, labels=fake_labels),
        reference=str(tmp_path / "real"),
        metrics="ifid",
        cache_dir=tmp_path / "cache",
    )
    assert again["ifid_per_class"] == scores["ifid_per_class"]


def test_ifid_pairs_numeric_class_folders_by_number(tmp_path):
    # `nlgan sample --per-class` names folders 0..11; as text '10' sorted before '2'
    gen = torch.Generator().manual_seed(5)
    labels = np.arange(48) % 12
    brightness = torch.from_numpy(labels)[:, None, None, None] * 18
    fake = (torch.randint(0, 40, (48, 3, 8, 8), generator=gen) + brightness).to(torch.uint8)
    real = (torch.randint(0, 40, (48, 3, 8, 8), generator=gen) + brightness).to(torch.uint8)
    for i, (image, label) in enumerate(zip(real, labels, strict=True)):
        (tmp_path / "real" / str(label)).mkdir(parents=True, exist_ok=True)
        Image.fromarray(image.permute(1, 2, 0).numpy()).save(tmp_path / "real" / f"{label}/{i}.png")
    scores = _score(
        source=TensorSource(fake, labels=labels),
        reference=str(tmp_path / "real"),
        metrics="ifid",
        use_cache=False,
    )
    ext = SmallExtractor()
    for c in (2, 10, 11):
        gen_stats = stats_from_features(ext(fake[labels == c])[0])
        ref_stats = stats_from_features(ext(real[labels == c])[0])
        direct = frechet_distance(gen_stats.mu, gen_stats.sigma, ref_stats.mu, ref_stats.sigma)
        assert scores["ifid_per_class"][c] == pytest.approx(direct, rel=1e-6)


def test_ifid_warns_about_few_samples_per_class_as_fid_does(tmp_path):
    fake, fake_labels = _labelled_images(40, 1, shift=20)  # features are 16-d
    real = _class_folder(tmp_path / "real", *_labelled_images(36, 2))
    messages = {}
    for n in (8, 40):  # 4 and 20 samples per class
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            evaluate(
                source=TensorSource(fake[:n], labels=fake_labels[:n]),
                reference=str(real),
                metrics="ifid",
                extractor=SmallExtractor(),
                use_cache=False,
            )
        messages[n] = [str(w.message) for w in caught if str(w.message).startswith("iFID")]
    assert messages[8] == [
        "iFID from 4 samples per class (< 16 feature dimensions) is strongly biased upwards and "
        "not comparable with papers; score more samples per class"
    ]
    assert messages[40] == []


def test_ifid_needs_labels_on_both_sides(tmp_path):
    fake, labels = _labelled_images(20, 3)
    real = _class_folder(tmp_path / "real", *_labelled_images(20, 4))
    with pytest.raises(ValueError, match="iFID needs the class of every generated image"):
        _score(source=TensorSource(fake), reference=str(real), metrics="ifid")
    flat = TensorSource(fake)
    with pytest.raises(ValueError, match="intra-class FID needs a labelled reference"):
        _score(source=TensorSource(fake, labels=labels), reference=flat, metrics="ifid")
    with pytest.raises(StatsError, match="class 1 has 1 generated samples"):
        _score(
            source=TensorSource(fake[:3], labels=labels[:3]), reference=str(real), metrics="ifid"
        )


def test_extrapolation_recovers_the_intercept():
    sizes = subset_sizes(50_000)
    assert sizes[0] == 5_000 and sizes[-1] == 50_000 and len(sizes) == 15  # the paper's points
    assert extrapolate(sizes, 3.5 + 1234.0 / sizes) == pytest.approx(3.5, rel=1e-9)


def test_fid_infinity_removes_the_small_sample_bias():
    rng = np.random.default_rng(0)
    d, n = 8, 2_000
    truth = Stats(np.zeros(d), np.eye(d))
    features = rng.standard_normal((n, d))
    biased = frechet_distance(
        *(lambda s: (s.mu, s.sigma))(stats_from_features(features)), truth.mu, truth.sigma
    )
    unbiased = fid_infinity(features, truth)
    assert abs(unbiased) < biased / 3  # FID_N ~ bias / N; the intercept is the N -> oo value
    # the same computation by hand: 15 seeded random subsets, a line against 1 / N
    sizes, perm_rng, values = subset_sizes(n), np.random.RandomState(2020), []
    for size in sizes:
        part = stats_from_features(features[perm_rng.permutation(n)[:size]])
        values.append(frechet_distance(part.mu, part.sigma, truth.mu, truth.sigma))
    slope, intercept = np.polyfit(1 / sizes, values, 1)
    assert unbiased == pytest.approx(intercept, rel=1e-9)
    assert sizes[0] == 200  # n / 10 is above 2.4 x d here


def test_fid_infinity_finds_the_true_fid_of_gaussians_at_5_d_samples():
    # N(0.05, 1.5 I) against the exact N(0, I): FID = d 0.05^2 + d (1.5 + 1 - 2 sqrt(1.5))
    d, n = 64, 320
    truth = d * 0.05**2 + d * (2.5 - 2 * np.sqrt(1.5))
    reference = Stats(np.zeros(d), np.eye(d))
    estimates, plain = [], []
    for seed in range(4):
        features = np.random.default_rng(seed).standard_normal((n, d)) * np.sqrt(1.5) + 0.05
        estimates.append(fid_infinity(features, reference))
        part = stats_from_features(features)
        plain.append(frechet_distance(part.mu, part.sigma, reference.mu, reference.sigma))
    assert np.mean(plain) - truth > 4  # FID from 320 samples: more than twice the truth
    # subsets from n / 10 = 32 (< d) bend FID_N and gave 0.86 for a truth of 3.39
    assert abs(np.mean(estimates) - truth) < 0.6  # 2.95 here
    assert subset_sizes(n, dim=d)[0] == 154  # 2.4 x 64, not n / 10


def test_fid_infinity_refuses_too_few_samples_for_the_feature_dimension():
    assert fid_infinity_min_n(2048) == 9832 and fid_infinity_min_n(64) == 308
    assert subset_sizes(50_000, dim=2048)[0] == 5_000  # the paper's grid is kept
    assert subset_sizes(10_000, dim=2048)[0] == 4_916
    features = np.random.default_rng(0).standard_normal((300, 64))
    with pytest.raises(StatsError, match=r"FID∞ from 300 samples of 64-d .* needs n >= 308"):
        fid_infinity(features, Stats(np.zeros(64), np.eye(64)))


def test_is_infinity_equals_the_hand_computation():
    logits = torch.from_numpy(np.random.default_rng(1).standard_normal((400, 10)) * 3)
    sizes, rng, values = subset_sizes(400, 5), np.random.RandomState(7), []
    for size in sizes:
        index = torch.from_numpy(rng.permutation(400)[:size])
        values.append(inception_score(logits[index], splits=1, shuffle=False)[0])
    assert is_infinity(logits, points=5, seed=7) == pytest.approx(extrapolate(sizes, values))


# --------------------------------------------------------------------------- two processes

SUITE = dict(metrics="prdc,ifid,fid_inf,is_inf", batch_size=5, prdc_k=3, infinity_points=4)


def _worker(rank: int, world: int, tmp: str) -> None:
    join_gloo_group(rank, world, tmp)
    try:
        fake, labels = _labelled_images(81, 1, shift=20)
        scores = _score(
            source=TensorSource(fake, labels=labels),
            reference=f"{tmp}/real",
            cache_dir=f"{tmp}/cache",
            **SUITE,
        )
        with open(f"{tmp}/scores-{rank}.json", "w") as f:
            json.dump(scores, f)
    finally:
        dist.destroy_process_group()


@pytest.mark.multiprocess
def test_two_processes_give_the_same_prdc_ifid_and_infinity_scores(tmp_path):
    _class_folder(tmp_path / "real", *_labelled_images(30, 2))
    mp.spawn(_worker, args=(2, str(tmp_path)), nprocs=2, join=True)
    fake, labels = _labelled_images(81, 1, shift=20)
    single = _score(
        source=TensorSource(fake, labels=labels),
        reference=str(tmp_path / "real"),
        use_cache=False,
        **SUITE,
    )
    assert 0 < single["precision"] < 1 and single["ifid"] > 0
    for rank in range(2):
        with open(tmp_path / f"scores-{rank}.json") as f:
            scores = json.load(f)
        assert scores.keys() == single.keys()
        for key, value in single.items():
            assert scores[key] == pytest.approx(value, rel=1e-6, abs=1e-12), key
    assert len(os.listdir(tmp_path / "cache")) == 3  # the whole set, and one entry per class
