"""Writing an nlgan Hub repository for a run into a folder: weights, grid, scores, card.

The folder's layout is :mod:`nlgan.hub.layout`; uploading it is :mod:`nlgan.hub.remote`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nlgan.config import config_from_dict, save_config
from nlgan.hub.card import model_card
from nlgan.hub.layout import (
    CARD_FILE,
    CONFIG_FILE,
    D_FILE,
    G_FILE,
    GENERATOR_FILE,
    GRID_CLASSES,
    METRICS_FILE,
    SAMPLES_FILE,
    HubError,
)
from nlgan.sampling import class_grid, load_generator, save_grid
from nlgan.sampling.export import write_weights
from nlgan.storage.checkpoint import CheckpointError, load_any, resolve_best
from nlgan.storage.files import atomic_write


@dataclass(frozen=True)
class PushOptions:
    """What to upload besides the EMA generator, the card and the sample grid."""

    with_g: bool = False
    with_d: bool = False
    with_config: bool = False
    metrics: tuple[str, ...] = ()  # JSON records written by `nlgan fid --json`
    best: bool = False  # the run's checkpoints/best.pt instead of its latest checkpoint


def read_metrics(paths: tuple[str, ...], state: dict[str, Any]) -> list[dict[str, Any]]:
    """The score records to publish: the checkpoint's best in-run score, then each file's."""
    records = []
    best = state.get("eval_best")
    if best and best.get("record"):
        records.append({**best["record"], "measured": f"in training, step {best['step']}"})
    for path in paths:
        try:
            record = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise HubError(f"--metrics {path}: not a JSON file ({err})") from None
        if not isinstance(record, dict) or "protocol" not in record:
            raise HubError(f"--metrics {path}: not a score record (write one: nlgan fid --json)")
        records.append({**record, "measured": f"nlgan fid ({Path(path).name})"})
    return records


def stage(run: str | Path, folder: str | Path, repo: str, options: PushOptions) -> list[Path]:
    """Write the files of the repository ``repo`` for ``run`` (run dir or checkpoint) into
    ``folder``; returns them."""
    source = resolve_best(run) if options.best else run
    path, state = load_any(source)
    if "config" not in state or "G_ema" not in state:
        raise CheckpointError(f"{path}: has no EMA generator and config to publish")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = [write_weights(state, "G_ema", folder / GENERATOR_FILE, str(path))]
    for flag, key, name in ((options.with_g, "G", G_FILE), (options.with_d, "D", D_FILE)):
        if flag:
            if key not in state:
                raise HubError(f"{path}: has no {key} weights (drop --with-{key.lower()})")
            written.append(write_weights(state, key, folder / name, str(path)))
    cfg = config_from_dict(state["config"])
    if options.with_config:
        save_config(cfg, folder / CONFIG_FILE)
        written.append(folder / CONFIG_FILE)
    G, _ = load_generator(folder / GENERATOR_FILE)
    classes = list(range(min(cfg.model.num_classes, GRID_CLASSES))) or None
    save_grid(class_grid(G, 8, seed=0, classes=classes), folder / SAMPLES_FILE, nrow=8)
    written.append(folder / SAMPLES_FILE)
    records = read_metrics(options.metrics, state)
    if records:
        with atomic_write(folder / METRICS_FILE, "w") as f:
            json.dump(records, f, indent=2)
        written.append(folder / METRICS_FILE)
    files = [p.name for p in written]
    with atomic_write(folder / CARD_FILE, "w") as f:
        f.write(model_card(cfg, state, records, files, repo))
    return [*written, folder / CARD_FILE]
