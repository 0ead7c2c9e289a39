"""How a number was measured: the protocol record that travels with every score.

``nlgan fid --json``, the trainer's tracker config and a checkpoint's best-score record all carry
the same :func:`record`: the scores, and under ``protocol`` the metric options, n, the seed and
truncation of the latents, the resize mode, the backbone and its hash, the reference's identity
(kind, path, image count, hash, split when known), and the nlgan and torch versions. The layout
is versioned by ``schema``; a change that renames or removes a key bumps it.

This module imports no torch (the config validates resize names against it).
"""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path
from typing import Any

SCHEMA = "nlgan.eval/1"
RESIZE_MODES = ("legacy_tensorflow", "clean", "legacy_pytorch")
DEFAULT_RESIZE = "legacy_tensorflow"
DEFAULT_BACKBONE = "inception"
UNKNOWN = "unknown"  # a protocol field that a statistics file does not record

# clean-fid names its published statistics "{dataset}_{mode}[_{model}]_{split}_{res}.npz"
_CLEANFID_NAME = re.compile(
    r"^(?P<dataset>.+?)_(?P<mode>legacy_tensorflow|legacy_pytorch|clean)"
    r"(?:_(?P<model>[a-z0-9_]+?))?_(?P<split>train|test|val|trainval70k|trainval|trainfull|custom)_"
    r"(?P<res>\d+|na)(?:_kid)?\.npz$"
)


def versions() -> dict[str, str]:
    """The nlgan and torch versions (read from package metadata, so torch is not imported)."""
    from nlgan import __version__

    try:
        torch_version = importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - torch is required
        torch_version = "unknown"
    return {"nlgan": __version__, "torch": torch_version}


def cleanfid_name(path: str | Path) -> dict[str, str] | None:
    """Dataset, resize mode, split and resolution from a clean-fid statistics file name."""
    match = _CLEANFID_NAME.match(Path(path).name.lower())
    if match is None:
        return None
    return {k: v for k, v in match.groupdict().items() if v is not None}


def check_reference_mode(
    path: str | Path, resize: str, made_with: dict[str, str], backbone_hash: str = ""
) -> None:
    """Refuse statistics made with another resize or network than this evaluation's.

    ``made_with`` is what the file records (:func:`nlgan.metrics.stats.stats_made_with`; ours
    record both, clean-fid's name says the resize); unknown fields are not checked.
    """
    parsed = cleanfid_name(path)
    if parsed is not None and parsed["mode"] != resize:
        raise ValueError(
            f"{path}: clean-fid made these statistics with resize {parsed['mode']}, but this "
            f"evaluation uses {resize}; pass --resize {parsed['mode']} (eval.resize) to match"
        )
    recorded = made_with.get("resize", UNKNOWN)
    if recorded != UNKNOWN and recorded != resize:
        raise ValueError(
            f"{path}: these statistics were made with resize {recorded}, but this evaluation "
            f"uses {resize}; pass --resize {recorded} (eval.resize) to match"
        )
    recorded = made_with.get("backbone_hash", UNKNOWN)
    if recorded != UNKNOWN and backbone_hash and recorded != backbone_hash:
        raise ValueError(
            f"{path}: these statistics were made by a network with weights {recorded[:16]}, not "
            f"this evaluation's {backbone_hash[:16]}; use the same weights (--inception-weights, "
            "eval.inception_weights) or recompute them"
        )


def protocol(
    metrics: tuple[str, ...],
    n: int,
    resize: str,
    backbone: dict[str, Any],
    reference: dict[str, Any] | None,
    source: dict[str, Any] | None = None,
    seed: int | None = None,
    truncation: float | None = None,
    options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``protocol`` part of a record: everything a reader needs to reproduce the numbers."""
    return {
        "metrics": list(metrics),
        "n": n,
        "seed": seed,
        "truncation": truncation,
        "resize": resize,
        "backbone": dict(backbone),
        "reference": dict(reference) if reference is not None else None,
        "source": dict(source) if source is not None else None,
        "options": dict(options or {}),
    }


def record(scores: dict[str, Any], protocol_part: dict[str, Any]) -> dict[str, Any]:
    """Scores (flat, as :func:`nlgan.metrics.evaluate` returns them) plus the protocol."""
    return {
        "schema": SCHEMA,
        **scores,
        "protocol": protocol_part,
        "versions": versions(),
    }
