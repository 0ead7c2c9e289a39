"""The metric table is the one place metrics are defined: config, evaluate and the CLI read it."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from nlgan.config import ConfigError, EvalConfig
from nlgan.metrics import TensorSource, evaluate, open_images
from nlgan.metrics.sources import SourceError
from nlgan.metrics.table import METRICS, Metric, best_key, check_metrics, format_table

from standin import SmallExtractor


def _mean_norm(gen, ref, opts, group):
    return {"mean_norm": float(gen.features.norm(dim=1).mean())}


NEW = Metric(
    "mean_norm", "mean |f|", frozenset({"features"}), "", {"mean_norm": "higher"}, _mean_norm,
    lambda s: [("mean |f|", f"{s['mean_norm']:.3f}")],
)  # fmt: skip


def test_a_new_metric_is_one_table_entry(monkeypatch):
    monkeypatch.setitem(METRICS, "mean_norm", NEW)
    cfg = EvalConfig(every=1, metrics=("mean_norm",), best="mean_norm")  # needs no reference
    assert best_key(cfg.metrics, cfg.best) == ("mean_norm", "higher")
    images = torch.randint(0, 256, (9, 3, 8, 8), dtype=torch.uint8)
    scores = evaluate(TensorSource(images), metrics="mean_norm", extractor=SmallExtractor())
    expected = SmallExtractor()(images)[0].norm(dim=1).mean()
    assert scores == {"n": 9, "mean_norm": pytest.approx(float(expected))}
    assert format_table(scores).splitlines()[0].split()[-1] == f"{float(expected):.3f}"


def test_every_metric_has_a_table_row_and_a_best_direction():
    scores = {
        "n": 10, "fid": 1.0, "is_mean": 2.0, "is_std": 0.1, "kid_mean": 0.01, "kid_std": 0.001,
        "kid_subset_size": 10, "precision": 0.5, "recall": 0.4, "density": 0.9, "coverage": 0.3,
        "prdc_k": 5, "ifid": 3.0, "ifid_per_class": [2.0, 4.0], "fid_inf": 0.9, "is_inf": 2.1,
        "pairs_twin": 0.9, "pairs_valid": 0.95, "pairs_class": 0.93, "pairs_asymmetry": 0.1,
        "pairs_fd": 0.2, "pairs_fd_floor": 0.1, "pairs_fd_ratio": 2.0, "pairs_memorised": 0.05,
    }  # fmt: skip
    lines = format_table(scores).splitlines()
    labels = [line.split("  ")[0].strip() for line in lines]
    assert labels == ["FID", "IS", "KID", "precision (k=5)", "recall (k=5)", "density (k=5)",
                      "coverage (k=5)", "iFID", "FID∞", "IS∞", "twin", "valid", "class accuracy",
                      "asymmetry", "factor FD", "memorised", "samples"]  # fmt: skip
    assert "mean of 2 classes: 2.00 4.00" in lines[7]
    assert lines[14].split("  ", 1)[1].strip() == "0.2000  (floor 0.1000, 2.00x)"
    for name, metric in METRICS.items():
        for key, better in metric.better.items():
            assert better in ("lower", "higher") and key in scores, (name, key)
    assert check_metrics("FID, prdc,fid") == ("fid", "prdc")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(metrics=("fid", "lpips")), "eval.metrics='lpips': choose one of fid, is, kid, prdc"),
        (dict(resize="bicubic"), "eval.resize='bicubic': choose one of legacy_tensorflow"),
        (dict(metrics=("fid",), best="recall"), "eval.best='recall' is not a score of"),
        (dict(metrics=("is",), backbone="enc:dino"), "eval.metrics=is need the Inception's"),
        (dict(prdc_k=0), "eval.prdc_k must be >= 1"),
        (dict(every=5, metrics=("prdc",)), "eval.every > 0 needs eval.reference"),
    ],
)
def test_eval_config_is_checked_against_the_table(kwargs, message):
    with pytest.raises(ConfigError) as err:
        EvalConfig(**kwargs)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_eval_config_accepts_metrics_that_need_no_reference():
    assert EvalConfig(every=5, metrics=("is", "is_inf"), best="is_inf").best == "is_inf"


# --------------------------------------------------------------------------- CIFAR reference


def _fake_cifar10_test(root, monkeypatch, n: int = 20) -> np.ndarray:
    """A CIFAR-10 test batch in torchvision's format (its md5 check switched off)."""
    from torchvision.datasets import CIFAR10

    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    data = rng.integers(0, 256, (n, 3 * 32 * 32), dtype=np.uint8)
    labels = [i % 10 for i in range(n)]
    with open(folder / "test_batch", "wb") as f:
        pickle.dump({"data": data, "labels": labels}, f)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": [f"class{i}" for i in range(10)]}, f)
    import torchvision.datasets.cifar as tv_cifar

    monkeypatch.setattr(CIFAR10, "_check_integrity", lambda self: True)
    monkeypatch.setattr(tv_cifar, "check_integrity", lambda *args, **kwargs: True)
    return data.reshape(n, 3, 32, 32)


def test_cifar_reference_is_labelled_and_recorded(tmp_path, monkeypatch):
    images = _fake_cifar10_test(tmp_path, monkeypatch)
    source = open_images(f"cifar10-test:{tmp_path}")
    assert len(source) == 20 and source.num_classes == 10
    np.testing.assert_array_equal(source.images.numpy(), images)
    np.testing.assert_array_equal(source.labels(), np.arange(20) % 10)
    info = source.info()
    assert (info["kind"], info["split"], info["count"]) == ("cifar10", "test", 20)
    fake = TensorSource(torch.from_numpy(images), labels=np.arange(20) % 10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        scores = evaluate(fake, f"cifar10-test:{tmp_path}", "ifid", extractor=SmallExtractor(),
                          use_cache=False)  # fmt: skip
    assert scores["ifid"] == pytest.approx(0.0, abs=1e-9) and len(scores["ifid_per_class"]) == 10


def test_missing_cifar_is_one_line_error(tmp_path):
    with pytest.raises(SourceError, match="cifar10 not found or damaged there") as err:
        open_images(f"cifar10-train:{tmp_path}")
    assert "\n" not in str(err.value)


def test_cli_lists_the_table_metrics():
    from nlgan.cli import main

    result = CliRunner().invoke(main, ["fid", "--help"])
    assert result.exit_code == 0 and ", ".join(METRICS) in " ".join(result.output.split())
    bad = CliRunner().invoke(main, ["fid", "a", "b", "--metrics", "fid,lpips"])
    assert bad.exit_code == 2 and f"choose any of {', '.join(METRICS)}" in bad.output
