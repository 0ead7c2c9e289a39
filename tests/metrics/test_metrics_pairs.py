"""The pairs ruler reads real images right (valid, class, twin, factors), refuses halves of
different images as twins, and scores through the metric table without a feature network."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nlgan.data.pairs import Factors, pairs_factors, pairs_images, render
from nlgan.metrics.pairs_ruler import asymmetry, factor_rows, measure, twins
from nlgan.metrics.pairs_score import factor_fd, score_pairs, shares
from nlgan.metrics.scoring import evaluate
from nlgan.metrics.sources import TensorSource

N = 200


@pytest.fixture(scope="module")
def real():
    images, labels = pairs_images(11, 0, N)
    return images, labels, measure(images)


def test_real_images_are_valid_class_correct_twins(real):
    images, labels, m = real
    got = shares(m, labels)
    assert got["pairs_valid"] >= 0.99 and got["pairs_class"] >= 0.99 and got["pairs_twin"] >= 0.99
    assert asymmetry(images) == 0.0


def test_the_ruler_recovers_the_factors(real):
    _, _, m = real
    f = pairs_factors(11, np.arange(N))
    dh = np.abs(m.hue[:, 0] - f.hue)
    assert np.minimum(dh, 1 - dh).max() < 0.005
    assert np.abs(m.size[:, 0] - f.size).max() < 0.25
    assert np.abs(m.x[:, 0] - f.x).max() < 0.25 and np.abs(m.y[:, 0] - f.y).max() < 0.25
    assert np.array_equal(m.shape[:, 0], f.label)


def test_halves_of_different_images_are_not_twins(real):
    images, labels, _ = real
    mixed = np.concatenate([images[:, :, :16], np.roll(images, 1, axis=0)[:, :, 16:]], axis=2)
    m = measure(mixed)
    assert m.valid.all(1).mean() >= 0.99  # still one object per half ...
    assert twins(m).mean() <= 0.02  # ... but they do not agree
    assert 0.5 < asymmetry(mixed) <= 1.0


def test_invalid_images_are_counted_as_such(real):
    images, labels, _ = real
    blank = np.full_like(images[:4], 128)  # nothing in either half
    two = images[:4].copy()
    two[:, 0:3, 0:3] = [255, 0, 0]  # a second object in the left half
    # one disk across the middle: the split cuts it in two mirrored halves, yet it is one object
    middle = render(Factors(*[np.array(v) for v in ([0, 0], [0.3, 0.6], [5, 9], [15.5, 15.5],
                                                        [15, 15])]))  # fmt: skip
    m = measure(np.concatenate([blank, two, middle]))
    assert not m.valid.all(1).any()
    assert shares(m, np.zeros(10, dtype=np.int64))["pairs_class"] == 0.0


def test_scores_against_the_real_distribution(real):
    images, labels, m = real
    n = 100
    fresh, fresh_labels = pairs_images(11, N, N + n)  # not trained on (size = N)
    s = score_pairs(fresh, fresh_labels, seed=11, size=N)
    assert s["pairs_twin"] == 1.0 and s["pairs_memorised"] < 0.2
    assert s["pairs_fd_ratio"] < 3.0  # real data is within the goal of the preset
    rows = factor_rows(m)
    collapsed = np.repeat(rows[:1], n, axis=0) + np.random.default_rng(0).normal(0, 0.1, (n, 5))
    assert factor_fd(collapsed, rows) > 10 * s["pairs_fd_floor"]  # one blob is far off


def test_the_metric_table_scores_pairs_without_a_feature_network(real):
    images, labels, _ = real
    source = TensorSource(torch.from_numpy(images).permute(0, 3, 1, 2), "real pairs", labels)
    # no extractor, and none is loaded: the ruler reads pixels
    out = evaluate(source, metrics="pairs", n=N, pairs_seed=11, pairs_size=N)
    assert out["n"] == N and out["pairs_valid"] == 1.0 and out["pairs_class"] == 1.0
    assert out["pairs_memorised"] == 1.0  # the training images themselves
    assert np.isfinite(out["pairs_fd_floor"])
    from nlgan.metrics.table import format_table

    table = format_table(out)
    assert "twin" in table and "factor FD" in table


def test_training_logs_the_ruler(tmp_path, monkeypatch):
    import nlgan.train.evaluation as evaluation
    from nlgan.config import config_from_dict
    from nlgan.tracking import Tracker
    from nlgan.train.loop import Trainer

    from tiny import TINY_MODEL

    def no_network(*args, **kwargs):
        raise AssertionError("the pairs ruler must not load a feature network")

    monkeypatch.setattr(evaluation, "load_inception", no_network)
    logged = []
    monkeypatch.setattr(Tracker, "log", lambda self, d, step: logged.append({**d, "step": step}))
    cfg = {
        "model": {**TINY_MODEL, "resolution": 32, "num_classes": 4},
        "data": {"name": "pairs", "size": 16, "seed": 3},
        "train": {"steps": 2, "batch_size": 4, "ckpt_every": 2, "sample_every": 0,
                  "log_every": 0, "cpu_threads": 1},
        "eval": {"every": 2, "n": 8, "batch_size": 8, "metrics": ["pairs"], "best": "pairs_twin"},
    }  # fmt: skip
    Trainer(config_from_dict(cfg), tmp_path / "run").fit()
    scores = next(d for d in logged if "eval/pairs_twin" in d)
    assert scores["step"] == 2 and 0.0 <= scores["eval/pairs_valid"] <= 1.0
    assert {"eval/pairs_fd_ratio", "eval/pairs_memorised", "eval/pairs_asymmetry"} <= set(scores)


def _two_process_worker(rank: int, world: int, tmp: str) -> None:
    import json

    import torch.distributed as dist

    from gloo import join_gloo_group

    join_gloo_group(rank, world, tmp)
    images, labels = pairs_images(11, 40, 71)  # 31: the two shards differ in size
    source = TensorSource(torch.from_numpy(images).permute(0, 3, 1, 2), "real", labels)
    out = evaluate(source, metrics="pairs", batch_size=8, process_group=dist.group.WORLD,
                   pairs_seed=11, pairs_size=40)  # fmt: skip
    with open(f"{tmp}/scores-{rank}.json", "w") as f:
        json.dump(out, f)
    dist.destroy_process_group()


def test_two_processes_score_like_one(tmp_path):
    import json

    import torch.multiprocessing as mp

    mp.spawn(_two_process_worker, args=(2, str(tmp_path)), nprocs=2, join=True)
    images, labels = pairs_images(11, 40, 71)
    source = TensorSource(torch.from_numpy(images).permute(0, 3, 1, 2), "real", labels)
    single = evaluate(source, metrics="pairs", batch_size=8, pairs_seed=11, pairs_size=40)
    for rank in range(2):
        scores = json.loads((tmp_path / f"scores-{rank}.json").read_text())
        assert scores == pytest.approx(single, rel=1e-9), rank


def test_no_valid_pair_gives_an_undefined_fd_not_an_error(tmp_path):
    import json

    from clitools import cli

    blank = np.full((8, 32, 32, 3), 128, dtype=np.uint8)  # no object anywhere: nothing to fit
    np.savez(tmp_path / "blank.npz", images=blank, labels=np.zeros(8, dtype=np.int64))
    out = cli("fid", tmp_path / "blank.npz", "--metrics", "pairs").output
    assert "factor FD       undefined: fewer than 2 valid samples" in out
    assert "valid           0.0000" in out
    printed = cli("fid", tmp_path / "blank.npz", "--metrics", "pairs", "--json").output
    record = json.loads(printed[printed.index("{") :])  # after any warning line
    assert record["pairs_fd"] is None and record["pairs_fd_ratio"] is None
    assert record["pairs_valid"] == 0.0 and record["pairs_fd_floor"] > 0


def test_shape_by_label_reads_each_real_shape_in_its_row(real):
    from nlgan.metrics.pairs_score import shape_by_label

    _, labels, m = real
    counts = shape_by_label(m, labels)
    assert counts.shape == (4, 5) and counts.sum() == len(labels)
    assert np.diag(counts).sum() >= 0.99 * len(labels)
    # A G that ignores its label: the shapes are those of other images, about 1/4 per cell.
    ignored = shape_by_label(m, np.roll(labels, 1))
    assert np.diag(ignored).sum() < 0.4 * len(labels)
    assert ignored.sum(0)[:4].tolist() == np.bincount(labels, minlength=4).tolist()
