"""Export a trained generator alone: a ``safetensors`` file whose metadata carries its config.

The file holds only tensors (safetensors cannot carry code) and is a few times smaller than a
training checkpoint, which also stores D, the raw G and both optimisers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from nlgan.errors import NlganError
from nlgan.storage.checkpoint import CheckpointError, load_any
from nlgan.storage.files import atomic_path

EXPORT_FORMAT = "nlgan-generator/1"
D_FORMAT = "nlgan-discriminator/1"  # D alone (e.g. on the Hub); load_generator refuses it


class ExportError(NlganError, ValueError):
    """The export cannot be written as asked (e.g. a file name without .safetensors)."""


def export_generator(source: str | Path, out: str | Path, ema: bool = True) -> Path:
    """Write G's weights (EMA by default) from a run dir or checkpoint to a safetensors file."""
    path, state = load_any(source)
    return write_weights(state, "G_ema" if ema else "G", out, str(path))


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
    return out


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
