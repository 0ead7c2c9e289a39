"""Run directories: the config of a new run, and the config + checkpoint of a resumed one.

Nothing here writes files or imports models; the trainer writes ``config.yaml`` once, on the
main process. A resumed run takes the run's own ``config.yaml``; ``--set`` may then change
only keys that cannot change what the run computes (how long, how often it logs, where the
data lives), because the checkpoint's weights and optimiser states belong to that config.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nlgan.checkpoint import CheckpointError, list_checkpoints, load_latest
from nlgan.config import (
    Config,
    ConfigError,
    apply_overrides,
    config_from_dict,
    config_to_dict,
    load_config,
    load_preset,
)
from nlgan.presets import DEFAULT_PRESET, is_preset, preset_names
from nlgan.rundir import RunDir

# Keys a resume may change. Everything else (model, losses, lrs, batch size, seed) is fixed
# by the checkpoint; a whole section is allowed with "section.*".
RESUMABLE_KEYS = (
    "train.steps",
    "train.ckpt_every",
    "train.keep_ckpts",
    "train.sample_every",
    "train.log_every",
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
    return cfg, run_dir


def _flatten(values: dict[str, Any]) -> dict[str, Any]:
    return {f"{s}.{k}": v for s, section in values.items() for k, v in section.items()}


def _resumable(key: str) -> bool:
    return key in RESUMABLE_KEYS or f"{key.split('.')[0]}.*" in RESUMABLE_KEYS


def resume_run(
    run_dir: str | Path, overrides: tuple[str, ...] | list[str]
) -> tuple[Config, Path, Path, dict[str, Any]]:
    """Config, run dir, checkpoint path and state to continue from (latest good checkpoint)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise CheckpointError(f"--resume {run_dir}: no such run directory")
    ckpt_path, state = load_latest(run_dir)
    saved = state["config"]
    config_file = RunDir(run_dir).config
    base = load_config(config_file) if config_file.is_file() else config_from_dict(saved)
    if config_to_dict(base)["model"] != saved["model"]:
        raise CheckpointError(
            f"{config_file}: its model section differs from the checkpoint {ckpt_path.name}; "
            "restore the run's config.yaml (or delete it to use the checkpoint's config)"
        )
    before = config_to_dict(base)
    cfg = config_from_dict(apply_overrides(before, overrides))
    after = _flatten(config_to_dict(cfg))
    changed = [k for k, v in _flatten(before).items() if after[k] != v]
    refused = [k for k in changed if not _resumable(k)]
    if refused:
        raise ConfigError(
            f"--set {refused[0]} cannot change when resuming (the checkpoint was trained with "
            f"{refused[0]}={_flatten(before)[refused[0]]!r}); start a new run with --out to "
            "change it"
        )
    return cfg, run_dir, ckpt_path, state
