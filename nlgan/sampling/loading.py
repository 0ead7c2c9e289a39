"""Rebuild a generator from a run directory, a checkpoint file, a ``.safetensors`` export, a
Hub repository (``hf://user/name``) or a local folder laid out like one."""

from __future__ import annotations

from pathlib import Path

import torch

from nlgan.config import Config, ConfigError, config_from_dict
from nlgan.models.networks import Generator
from nlgan.sampling.export import read_export, resolve_source
from nlgan.storage.checkpoint import CheckpointError, load_any, load_weights


def load_generator(
    source: str | Path, ema: bool = True, device: str | torch.device = "cpu"
) -> tuple[Generator, Config]:
    """Rebuild G (eval mode) from a run directory, a checkpoint, a ``.safetensors`` export,
    ``hf://user/name[@revision]`` or a folder with a Hub repository's files."""
    path = resolve_source(source, ema)
    key = "G_ema" if ema else "G"
    if path.suffix == ".safetensors":
        weights, config, _ = read_export(path, ema)
    else:
        path, state = load_any(path)
        if "config" not in state:
            raise CheckpointError(f"{path}: has no config, so the generator cannot be rebuilt")
        if key not in state:
            hint = " (try ema=False / --no-ema)" if ema and "G" in state else ""
            raise CheckpointError(f"{path}: has no {key} weights{hint}")
        weights, config = state[key], state["config"]
    try:
        cfg = config_from_dict(config)
    except ConfigError as err:
        raise CheckpointError(f"{path}: its config is not valid for this nlgan ({err})") from None
    G = Generator(cfg.model)
    load_weights(G, weights, f"{path}: the {key} weights")
    return G.to(device).eval(), cfg
