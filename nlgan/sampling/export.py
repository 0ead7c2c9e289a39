"""Export a trained generator alone: a ``safetensors`` file whose metadata carries its config.

The file holds only tensors (safetensors cannot carry code) and is a few times smaller than a
training checkpoint, which also stores D, the raw G and both optimisers.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from nlgan.errors import NlganError
from nlgan.storage.checkpoint import CheckpointError, load_any
from nlgan.storage.files import atomic_path, default_file_mode
from nlgan.storage.rundir import RunDir

EXPORT_FORMAT = "nlgan-generator/1"
D_FORMAT = "nlgan-discriminator/1"  # D alone (e.g. on the Hub); load_generator refuses it


class ExportError(NlganError, ValueError):
    """The export cannot be written as asked (e.g. a file name without .safetensors)."""


def export_generator(source: str | Path, out: str | Path, ema: bool = True) -> Path:
    """Write G's weights (EMA by default) to a safetensors file, from any RUN argument: a run
    dir, a checkpoint, an export, ``hf://user/name[@rev]`` or a folder with a Hub repo's files."""
    key = "G_ema" if ema else "G"
    path = resolve_source(source, ema)
    if path.suffix == ".safetensors":  # already an export (a Hub file is one): re-written as is
        weights, config, metadata = read_export(path, ema)
        state = {"config": config, key: weights, "step": int(metadata.get("step") or 0)}
        return write_weights(state, key, out, str(source))
    path, state = load_any(path)
    return write_weights(state, key, out, str(path))


def write_weights(state: dict[str, Any], key: str, out: str | Path, source: str) -> Path:
    """Write the ``key`` network (G_ema, G or D) of a loaded checkpoint to a safetensors file."""
    from safetensors.torch import save_file

    if key not in state or "config" not in state:
        raise CheckpointError(f"{source}: has no {key} weights or config to export")
    out = Path(out)
    if out.suffix != ".safetensors":
        raise ExportError(f"{out}: the export file name must end in .safetensors")
    weights = {k: v.detach().contiguous().clone() for k, v in state[key].items()}
    metadata = {
        "format": D_FORMAT if key == "D" else EXPORT_FORMAT,
        "config": json.dumps(state["config"]),
        "step": str(int(state.get("step", 0))),
        "weights": key,
        "source": source,
    }
    with atomic_path(out) as tmp:  # never a half-written file under the final name
        save_file(weights, str(tmp), metadata=metadata)
        os.chmod(tmp, default_file_mode())  # safetensors creates files 0o600; exports are shared
    return out


def resolve_source(source: str | Path, ema: bool = True) -> Path:
    """The local path a RUN argument names: ``hf://user/name`` downloaded (cached), a folder
    with a Hub repository's files -> its generator file, anything else as given."""
    from nlgan.hub.layout import G_FILE, GENERATOR_FILE, is_hub_folder
    from nlgan.hub.remote import download, is_hub_source

    if is_hub_source(source):
        return download(str(source), ema)
    path = Path(source)
    if path.is_dir() and is_hub_folder(path) and not RunDir(path).checkpoints.is_dir():
        return path / (GENERATOR_FILE if ema else G_FILE)
    return path


def read_export(
    path: Path, ema: bool = True
) -> tuple[dict[str, torch.Tensor], dict[str, Any], dict[str, str]]:
    """An exported generator's (weights, config, metadata), refusing the other generator."""
    key = "G_ema" if ema else "G"
    weights, config, metadata = load_export(path)
    stored = metadata.get("weights")
    if stored not in (None, key):
        flag = "without --no-ema" if ema else "--no-ema"
        raise CheckpointError(
            f"{path}: holds the {stored} weights, not {key} (run it {flag}, or export "
            f"the {key} weights)"
        )
    return weights, config, metadata


def load_export(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any], dict[str, str]]:
    """Read an exported generator: (state dict, config dict, metadata)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file, safe_open

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such exported generator file")
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = dict(f.metadata() or {})
        weights = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(f"{path}: not a readable safetensors file ({err})") from None
    if metadata.get("format") != EXPORT_FORMAT or "config" not in metadata:
        raise CheckpointError(
            f"{path}: not an nlgan generator export (make one with `nlgan export RUN OUT`)"
        )
    return weights, json.loads(metadata["config"]), metadata
