"""The networks a report draws from: the EMA generator and the discriminator of the run's
newest good checkpoint (D is absent from some imports), rebuilt from the checkpoint alone."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from nlgan.config import Config, ConfigError, config_from_dict
from nlgan.models.networks import Discriminator, Generator
from nlgan.storage.checkpoint import CheckpointError, load_latest


@dataclass(frozen=True)
class Networks:
    """EMA G (or G), D when the checkpoint has one, and where they came from."""

    G: Generator
    D: Discriminator | None
    config: Config
    checkpoint: Path
    step: int
    generator_key: str  # "G_ema" or "G"
    imported: dict[str, Any] | None  # an import's record of its source


def load_networks(run: Path, device: str | torch.device = "cpu") -> Networks:
    """Rebuild the networks of ``run``'s newest good checkpoint, in eval mode on ``device``."""
    path, state = load_latest(run)
    try:
        cfg = config_from_dict(state["config"])
    except (ConfigError, KeyError) as err:
        raise CheckpointError(f"{path}: its config is not valid for this nlgan ({err})") from None
    key = "G_ema" if "G_ema" in state else "G"
    G = Generator(cfg.model)
    G.load_state_dict(state[key])
    D = None
    if "D" in state:
        D = Discriminator(cfg.model)
        D.load_state_dict(state["D"])
        D = D.to(device).eval()
    return Networks(
        G.to(device).eval(), D, cfg, path, int(state["step"]), key, state.get("imported")
    )
