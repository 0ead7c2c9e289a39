"""The model card of imported weights says "unknown" where the import record does not know:
no EMA claims for a source without an EMA G, no nlgan defaults for a source without a config,
no hinge for a loss nlgan does not have."""

from __future__ import annotations

import shutil

import yaml

from nlgan.hub.card import model_card
from nlgan.interop.biggan_pytorch import import_biggan_pytorch
from nlgan.interop.imported import checkpoint_state
from nlgan.interop.studiogan import import_studiogan

from interop_data import INTEROP


def _card(imported) -> str:
    state = checkpoint_state(imported, imported.config)
    return model_card(imported.config, state, [], ["generator.safetensors"], "me/x")


def _training_line(card: str) -> str:
    return next(line for line in card.splitlines() if line.startswith("- training"))


def test_a_source_without_ema_g_is_not_called_ema():
    card = _card(import_biggan_pytorch(INTEROP / "biggan128"))  # G.pth and D.pth, no G_ema.pth
    assert "The EMA generator" not in card and "EMA decay" not in card
    assert "no EMA generator (G_ema is a copy of G)" in _training_line(card)
    assert "The generator (the source had no EMA generator; G_ema is a copy of G), seed 0" in card
    with_ema = _card(import_biggan_pytorch(INTEROP / "biggan32"))  # G_ema.pth present
    assert "The EMA generator, seed 0" in with_ema


def test_the_sources_own_settings_are_shown_and_nothing_else(tmp_path):
    line = _training_line(_card(import_biggan_pytorch(INTEROP / "biggan32")))
    assert line.startswith("- training at the source: hinge loss, lr G ")
    shutil.copy(INTEROP / "biggan32" / "G.pth", tmp_path / "G.pth")  # no state_dict.pth
    shutil.copy(INTEROP / "biggan32" / "G_ema.pth", tmp_path / "G_ema.pth")
    line = _training_line(_card(import_biggan_pytorch(tmp_path)))
    assert line == "- training at the source: unknown (no config imported); EMA decay unknown"
    line = _training_line(_card(import_studiogan(INTEROP / "studiogan-sagan32")))  # no --config
    assert line.startswith("- training at the source: unknown (no config imported)")
    assert "2e-4" not in line and "0.0002" not in line and "hinge" not in line


def test_a_loss_nlgan_lacks_is_named_not_shown_as_hinge(tmp_path):
    config = yaml.safe_load((INTEROP / "studiogan-sagan32" / "SAGAN-tiny.yaml").read_text())
    config["LOSS"]["adv_loss"] = "wasserstein"
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    line = _training_line(
        _card(import_studiogan(INTEROP / "studiogan-sagan32", tmp_path / "c.yaml"))
    )
    assert "wasserstein loss (not an nlgan loss)" in line and "hinge" not in line
    assert "lr G 0.0002 / D 0.0002" in line  # StudioGAN's defaults, which its YAML relies on
