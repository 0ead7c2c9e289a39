"""Loading G from a run directory, a checkpoint or an export: EMA or raw, and clear errors."""

from __future__ import annotations

import pytest
import torch

from nlgan.config import config_to_dict
from nlgan.errors import NlganError
from nlgan.sampling import generate, load_generator
from nlgan.sampling.export import export_generator
from nlgan.storage.checkpoint import CheckpointError, checkpoint_path, save_checkpoint

from tiny import tiny_config, tiny_generator


@pytest.fixture
def run_dir(tmp_path):
    state = {
        "config": config_to_dict(tiny_config()),
        "step": 7,
        "G": tiny_generator(seed=1).state_dict(),
        "G_ema": tiny_generator(seed=2).state_dict(),
    }
    save_checkpoint(state, checkpoint_path(tmp_path, 7))
    return tmp_path


def test_load_generator_from_run_dir_or_file_ema_or_raw(run_dir):
    G, cfg = load_generator(run_dir)
    assert not G.training and cfg.model.num_classes == 3 and cfg.model.g_ch == 4
    ema = tiny_generator(seed=2)
    assert all(torch.equal(v, ema.state_dict()[k]) for k, v in G.state_dict().items())
    raw, _ = load_generator(checkpoint_path(run_dir, 7), ema=False)
    expected = tiny_generator(seed=1).state_dict()
    assert all(torch.equal(v, expected[k]) for k, v in raw.state_dict().items())
    assert not torch.allclose(generate(G, 2), generate(raw, 2))


@pytest.mark.parametrize(
    ("drop", "match"),
    [("config", "has no config"), ("G_ema", r"has no G_ema weights \(try ema=False")],
)
def test_load_generator_missing_parts(tmp_path, drop, match):
    state = {
        "config": config_to_dict(tiny_config()),
        "step": 1,
        "G": tiny_generator().state_dict(),
        "G_ema": tiny_generator().state_dict(),
    }
    del state[drop]
    path = save_checkpoint(state, tmp_path / "c.pt")
    with pytest.raises(CheckpointError, match=match):
        load_generator(path)


def test_load_generator_weights_that_do_not_fit(tmp_path):
    cfg = config_to_dict(tiny_config())
    cfg["model"]["g_ch"] = 8  # weights were made for g_ch=4
    weights = tiny_generator().state_dict()
    path = save_checkpoint({"config": cfg, "G_ema": weights}, tmp_path / "c.pt")
    with pytest.raises(CheckpointError, match="do not fit the generator .*wrongly shaped"):
        load_generator(path)
    weights["extra.weight"] = torch.zeros(1)
    cfg["model"]["g_ch"] = 4
    path = save_checkpoint({"config": cfg, "G_ema": weights}, tmp_path / "d.pt")
    with pytest.raises(CheckpointError, match="0 missing, 1 unexpected, 0 wrongly shaped"):
        load_generator(path)


def test_load_generator_nothing_there(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoints"):
        load_generator(tmp_path)
    with pytest.raises(CheckpointError, match="no such run directory or checkpoint file"):
        load_generator(tmp_path / "missing.pt")


def test_export_round_trip_and_which_weights_it_holds(run_dir, tmp_path):
    out = export_generator(run_dir, tmp_path / "g.safetensors")
    G, cfg = load_generator(out)
    reference, _ = load_generator(run_dir)
    assert cfg.model == reference.cfg
    torch.testing.assert_close(generate(G, 3, seed=9), generate(reference, 3, seed=9),
                               atol=0, rtol=0)  # fmt: skip
    # The export holds G_ema only: asking for the raw G is refused, not silently answered.
    with pytest.raises(CheckpointError, match="holds the G_ema weights, not G"):
        load_generator(out, ema=False)
    raw = export_generator(run_dir, tmp_path / "raw.safetensors", ema=False)
    with pytest.raises(CheckpointError, match="holds the G weights, not G_ema"):
        load_generator(raw)
    G_raw, _ = load_generator(raw, ema=False)
    expected = tiny_generator(seed=1).state_dict()
    assert all(torch.equal(v, expected[k]) for k, v in G_raw.state_dict().items())
    with pytest.raises(NlganError, match="must end in .safetensors"):
        export_generator(run_dir, tmp_path / "g.bin")
