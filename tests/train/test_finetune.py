"""Fine-tuning: train.init_from (weights in, fresh optimisers, step 0, a record), class tables of
another size (train.init_classes=reinit) and FreezeD (train.freeze_d_blocks)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from nlgan.config import load_config
from nlgan.models import Discriminator
from nlgan.storage.checkpoint import load_latest
from nlgan.train.finetune import freeze_d_blocks

from clitools import cli
from tiny import tiny_model


@pytest.fixture(scope="module")
def ten_images(tmp_path_factory):
    """A 10-image folder of two classes at 16 px."""
    root = tmp_path_factory.mktemp("ten")
    rng = np.random.default_rng(1)
    for k in range(2):
        (root / f"k{k}").mkdir()
        for i in range(5):
            pixels = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / f"k{k}" / f"{i}.png")
    return root


def _tune(source, data, out, *extra: str, ok: bool = True):
    sets = [f"train.init_from={source}", f"data.root={data}", "train.steps=2",
            "train.batch_size=4", "train.sample_every=0", "train.ckpt_every=0"]  # fmt: skip
    args = [a for item in sets for a in ("--set", item)]
    return cli("train", source / "config.yaml", "--out", out, *args, *extra, ok=ok)


def test_init_from_loads_g_d_and_ema_with_fresh_optimisers(tiny_run_dir, ten_images, tmp_path):
    out = tmp_path / "tuned"
    result = _tune(tiny_run_dir, ten_images, out, "--set", "train.steps=1",
                   "--set", "model.num_classes=2", "--set", "train.init_classes=reinit",
                   "--set", "train.lr_g=1e-12", "--set", "train.lr_d=1e-12")  # fmt: skip
    assert "with fresh optimisers at step 0" in result.output
    _, source = load_latest(tiny_run_dir)
    _, state = load_latest(out)
    assert state["step"] == 1 and source["step"] == 2
    # Adam moves every weight by ~lr in its first step, so with lr 1e-12 the weights are the
    # source's up to ~1e-12: loaded, not re-drawn
    for net in ("G", "D"):
        for key, value in state[net].items():
            if key in state["init_from"]["fresh"].get(net, []) or not value.is_floating_point():
                continue
            if "._u" in key or "._v" in key or "sigma" in key or "running" in key:
                continue  # buffers move in the training forward
            assert (value - source[net][key]).abs().max() < 1e-6, (net, key)
    opt_steps = {int(s["step"]) for s in state["opt_G"]["state"].values()}
    assert opt_steps == {1}  # one step of a fresh Adam, not the source's 2 + 1
    record = state["init_from"]
    assert record["source"].endswith("ckpt-000000002.pt") and record["step"] == 2
    assert record["num_classes"] == 3 and record["D"] == "loaded"
    # the class tables of 3 classes could not be used for 2: left fresh, as a whole
    tables = {
        f"blocks.{i}.{bn}.{p}" for i in (0, 1) for bn in ("bn1", "bn2") for p in ("gain", "bias")
    }
    assert set(record["fresh"]["G"]) == tables
    assert all(k.startswith("class_embed.") for k in record["fresh"]["D"])
    assert len(record["fresh"]["D"]) == 4  # weight, u, v and sigma together
    assert load_config(out / "config.yaml").train.init_from == str(tiny_run_dir)


def test_freeze_d_keeps_the_first_blocks_and_trains_the_rest(tiny_run_dir, ten_images, tmp_path):
    out = tmp_path / "frozen"
    _tune(tiny_run_dir, ten_images, out, "--set", "model.num_classes=2",
          "--set", "train.init_classes=reinit", "--set", "train.freeze_d_blocks=2")  # fmt: skip
    _, source = load_latest(tiny_run_dir)
    _, state = load_latest(out)
    frozen = ("blocks.0.", "blocks.1.", "attention.0.", "attention.1.")
    params = {n for n, _ in Discriminator(tiny_model(num_classes=2)).named_parameters()}
    moved = {k for k in params if not torch.equal(state["D"][k], source["D"].get(k, state["D"][k]))}
    assert moved and not any(k.startswith(frozen) for k in moved)
    assert any(k.startswith("blocks.2.") for k in moved)  # the third block trained


def test_keep_refuses_another_class_count_and_other_models(tiny_run_dir, ten_images, tmp_path):
    result = _tune(tiny_run_dir, ten_images, tmp_path / "a", "--set", "model.num_classes=2",
                   ok=False)  # fmt: skip
    assert "its model has model.num_classes=3 but this run's config says 2" in result.output
    assert "train.init_classes=reinit" in result.output
    result = _tune(tiny_run_dir, ten_images, tmp_path / "b", "--set", "model.g_ch=8", ok=False)
    assert "model.g_ch=4 but this run's config says 8" in result.output
    assert f"nlgan train {tiny_run_dir}/config.yaml" in result.output


def test_freeze_d_blocks_is_checked_against_d():
    D = Discriminator(tiny_model())
    frozen = freeze_d_blocks(D, 1)
    assert frozen and all(not p.requires_grad for p in D.blocks[0].parameters())
    assert all(p.requires_grad for p in D.blocks[1].parameters())
    with pytest.raises(Exception, match="train.freeze_d_blocks=4: D has only 3 blocks"):
        freeze_d_blocks(D, 4)
