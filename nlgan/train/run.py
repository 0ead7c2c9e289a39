"""Run directories: the config of a new run, and the config + checkpoint of a resumed one.

Nothing here writes files or imports models; the trainer writes ``config.yaml`` once, on the
main process. A resumed run takes the run's own ``config.yaml``; ``--set`` may then change
only keys that cannot change what the run computes (how long, how often it logs, where the
data lives), because the checkpoint's weights and optimiser states belong to that config.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nlgan.config import (
    Config,
    ConfigError,
    apply_overrides,
    config_from_dict,
    config_to_dict,
    load_config,
    load_preset,
)
from nlgan.config.presets import DEFAULT_PRESET, is_preset, preset_names
from nlgan.storage.checkpoint import CheckpointError, list_checkpoints, load_latest
from nlgan.storage.files import atomic_write, remove_stale_temps
from nlgan.storage.rundir import RunDir

# Keys a resume may change. Everything else (model, losses, lrs, batch size, seed) is fixed
# by the checkpoint; a whole section is allowed with "section.*".
RESUMABLE_KEYS = (
    "train.steps",
    "train.ckpt_every",
    "train.keep_ckpts",
    "train.sample_every",
    "train.log_every",
    "train.report",
    "train.cpu_threads",
    "data.root",
    "data.download",
    "data.num_workers",
    "eval.*",
    "log.*",
)


def load_run_config(
    config: str | None, overrides: tuple[str, ...] | list[str] = ()
) -> tuple[Config, str]:
    """The config of a new run and its name: a YAML file, a preset name, or the default preset."""
    if config is None:
        return load_preset(DEFAULT_PRESET, overrides), DEFAULT_PRESET
    path = Path(config)
    if path.is_file():
        return load_config(path, overrides), path.stem
    if is_preset(config):
        return load_preset(config, overrides), config
    presets = ", ".join(preset_names())
    hint = (
        f"; the built-in preset of that name runs with: nlgan train {path.stem}"
        if is_preset(path.stem)
        else f"; built-in presets: {presets}"
    )
    raise ConfigError(f"config {config!r}: no such file and not a preset name{hint}")


def new_run(
    config: str | None, overrides: tuple[str, ...] | list[str], out: str | None
) -> tuple[Config, Path]:
    """Config and run directory of a fresh run; refuses a directory that already has checkpoints."""
    cfg, name = load_run_config(config, overrides)
    run_dir = Path(out) if out else Path("runs") / name
    if list_checkpoints(run_dir):
        raise ConfigError(
            f"{run_dir} already holds checkpoints of a run: continue it with "
            f"--resume {run_dir}, or pick another --out"
        )
    if run_dir.is_file():
        raise ConfigError(f"--out {run_dir} is a file: give a directory for the run")
    others = [p for p in run_dir.iterdir() if p != RunDir(run_dir).lock] if run_dir.is_dir() else []
    if others and not _is_run(run_dir):  # (a lock file alone: a run that failed to start)
        raise ConfigError(
            f"--out {run_dir} is a folder that holds other files, not an nlgan run: choose a new "
            "or empty folder (nothing in it was changed)"
        )
    return cfg, run_dir


def _is_run(folder: Path) -> bool:
    """A run directory of nlgan's: one with checkpoints, or whose config.yaml is a config."""
    layout = RunDir(folder)
    if layout.checkpoints.is_dir():
        return True
    try:
        load_config(layout.config)
    except ConfigError:
        return False
    return True


def _flatten(values: dict[str, Any]) -> dict[str, Any]:
    return {f"{s}.{k}": v for s, section in values.items() for k, v in section.items()}


def _resumable(key: str, trained: Any) -> bool:
    # A run that named no data (data.name=none: imported weights) may name its data now.
    if key == "data.name" and trained == "none":
        return True
    return key in RESUMABLE_KEYS or f"{key.split('.')[0]}.*" in RESUMABLE_KEYS


def resume_run(
    run_dir: str | Path, overrides: tuple[str, ...] | list[str]
) -> tuple[Config, Path, Path, dict[str, Any]]:
    """Config, run dir, checkpoint path and state to continue from (latest good checkpoint).

    The config is the run's ``config.yaml`` (the checkpoint's own when that file is gone) plus
    ``--set``; every key outside :data:`RESUMABLE_KEYS` must equal what the checkpoint was
    trained with, whether it changed through ``--set`` or through an edit of the file.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise CheckpointError(f"--resume {run_dir}: no such run directory")
    ckpt_path, state = load_latest(run_dir)
    missing = [k for k in ("G", "D", "G_ema", "opt_G", "opt_D", "data") if k not in state]
    if missing:
        raise CheckpointError(
            f"{ckpt_path}: cannot be resumed, it has no {', '.join(missing)} (an import without "
            f"D, or an older nlgan); start a new run from it: --set train.init_from={run_dir}"
        )
    try:  # through the dataclasses, so keys added since the checkpoint take their defaults
        trained = _flatten(config_to_dict(config_from_dict(state["config"])))
    except ConfigError as err:
        raise CheckpointError(
            f"{ckpt_path}: its config is not valid for this nlgan ({err})"
        ) from None
    config_file = RunDir(run_dir).config
    if config_file.is_file():
        base = config_to_dict(load_config(config_file))
    else:
        base = config_to_dict(config_from_dict(state["config"]))
    cfg = config_from_dict(apply_overrides(base, overrides))
    after = _flatten(config_to_dict(cfg))
    refused = [k for k, v in trained.items() if after[k] != v and not _resumable(k, v)]
    if refused:
        set_keys = {item.split("=", 1)[0].strip() for item in overrides}
        where = "--set" if refused[0] in set_keys else f"{config_file} (edited since the run)"
        shown = ", ".join(f"{k}={after[k]!r} (trained with {trained[k]!r})" for k in refused)
        raise ConfigError(
            f"{where} changes {shown}, which cannot change when resuming from "
            f"{ckpt_path.name}; undo the change, or start a new run with --out"
        )
    return cfg, run_dir, ckpt_path, state


def prepare_run_dir(run_dir: str | Path) -> None:
    """Create the run directory, check that it is writable, and remove stale temporary files
    left by a killed save (called by the main process before anything is written)."""
    layout = RunDir(run_dir)
    try:
        layout.checkpoints.mkdir(parents=True, exist_ok=True)
        with atomic_write(layout.root / "write-probe", "w") as f:
            f.write("nlgan")
        (layout.root / "write-probe").unlink()
    except OSError as err:
        raise ConfigError(
            f"run directory {layout.root}: cannot write there ({err.strerror or err}); choose a "
            "writable --out (or make it writable)"
        ) from None
    for folder in (layout.root, layout.checkpoints, layout.samples):
        remove_stale_temps(folder)
