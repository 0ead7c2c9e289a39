"""Rebuild a generator from a run directory, a checkpoint file, a ``.safetensors`` export, a
Hub repository (``hf://user/name``) or a local folder laid out like one."""

from __future__ import annotations

from pathlib import Path

import torch

from nlgan.config import Config, ConfigError, config_from_dict
from nlgan.models.networks import Generator
from nlgan.storage.checkpoint import CheckpointError, load_any, load_weights
from nlgan.storage.rundir import RunDir


def load_generator(
    source: str | Path, ema: bool = True, device: str | torch.device = "cpu"
) -> tuple[Generator, Config]:
    """Rebuild G (eval mode) from a run directory, a checkpoint, a ``.safetensors`` export,
    ``hf://user/name[@revision]`` or a folder with a Hub repository's files."""
    from nlgan.hub.layout import G_FILE, GENERATOR_FILE, is_hub_folder
    from nlgan.hub.remote import download, is_hub_source

    if is_hub_source(source):
        path = download(str(source), ema)
    else:
        path = Path(source)
        if path.is_dir() and is_hub_folder(path) and not RunDir(path).checkpoints.is_dir():
            path = path / (GENERATOR_FILE if ema else G_FILE)
    key = "G_ema" if ema else "G"
    if path.suffix == ".safetensors":
        from nlgan.sampling.export import load_export

        weights, config, metadata = load_export(path)
        stored = metadata.get("weights")
        if stored not in (None, key):
            flag = "without --no-ema" if ema else "--no-ema"
            raise CheckpointError(
                f"{path}: holds the {stored} weights, not {key} (run it {flag}, or export "
                f"the {key} weights)"
            )
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
