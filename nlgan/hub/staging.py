"""Writing an nlgan Hub repository for a run into a folder: weights, grid, scores, card.

The folder's layout is :mod:`nlgan.hub.layout`; uploading it is :mod:`nlgan.hub.remote`.
``nlgan push --local-dir`` (:func:`stage_local`) never writes over anything of the user's: it
writes into a new or empty folder, or into one it wrote before (marked, with its file list),
and refuses any other, a run directory included. A push into its own folder leaves exactly the
new set: files of the earlier push that the new one lacks (``D.safetensors``, ...) are removed.
"""

from __future__ import annotations

import json
import os
import shutil
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
    PUSH_KIND,
    SAMPLES_FILE,
    HubError,
)
from nlgan.sampling import class_grid, load_generator, save_grid
from nlgan.sampling.export import write_weights
from nlgan.storage.checkpoint import CheckpointError, load_any, resolve_best
from nlgan.storage.files import atomic_write, fsync_dir
from nlgan.storage.outputs import MARKER, OutputExistsError, folder_mark, mark_folder


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


def check_local_dir(folder: str | Path) -> list[str]:
    """The files of an earlier push in ``folder`` that a new push may replace ([] for a new or
    empty folder); a one-line refusal for a folder holding anything nlgan push did not write."""
    folder = Path(folder)
    flag = f"--local-dir {folder}"
    if folder.is_symlink():
        raise OutputExistsError(f"{flag} is a symbolic link: give the real path instead")
    if not folder.exists():
        return []
    if not folder.is_dir():
        raise OutputExistsError(f"{flag} is a file: give a new or empty folder")
    names = sorted(p.name for p in folder.iterdir())
    if not names:
        return []
    mark = folder_mark(folder)
    if mark.get("kind") != PUSH_KIND or not isinstance(mark.get("files"), list):
        shown = next((name for name in names if name != MARKER), names[0])
        raise OutputExistsError(
            f"{flag} is not empty and was not written by nlgan push (it holds {shown}): "
            "refusing to write into it; choose a new or empty folder"
        )
    ours = {str(name) for name in mark["files"]}
    foreign = [name for name in names if name not in ours and name != MARKER]
    if foreign:
        raise OutputExistsError(
            f"{flag} holds {foreign[0]}, which nlgan push did not write: refusing to replace "
            "the folder; move that file out or choose a new folder"
        )
    return sorted(ours & set(names))


def stage_local(run: str | Path, folder: str | Path, repo: str, options: PushOptions) -> list[Path]:
    """``nlgan push --local-dir``: stage ``run`` into ``folder`` under the rules of the module
    docstring; returns the files written."""
    folder = Path(folder)
    earlier = check_local_dir(folder)
    work = folder.resolve().parent / f".{folder.resolve().name}.tmp-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    try:
        staged = stage(run, work, repo, options)
        names = [f.name for f in staged]
        folder.mkdir(parents=True, exist_ok=True)
        # Listed first with the earlier files, so an interrupted push still knows them all.
        mark_folder(folder, PUSH_KIND, files=sorted(set(names) | set(earlier)), repo=repo)
        for name in names:
            os.replace(work / name, folder / name)
        for name in set(earlier) - set(names):
            (folder / name).unlink(missing_ok=True)  # stale: nothing of run A stays beside B
        mark_folder(folder, PUSH_KIND, files=names, repo=repo)
        fsync_dir(folder)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return [folder / name for name in names]
