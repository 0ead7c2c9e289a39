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
)

CONFIG_NAME = "config.yaml"
DEFAULT_CONFIG = "configs/digits.yaml"

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


def default_config_path() -> Path:
    """configs/digits.yaml: from the working directory, else from the source checkout."""
    local = Path(DEFAULT_CONFIG)
    if local.is_file():
        return local
    return Path(__file__).resolve().parents[2] / DEFAULT_CONFIG


def resolve_config_path(config: str | None) -> Path:
    """A config path, or a preset name (``digits`` -> configs/digits.yaml); default digits."""
    if config is None:
        return default_config_path()
    path = Path(config)
    if path.is_file() or path.suffix in (".yaml", ".yml"):
        return path  # load_config reports a missing file
    preset = default_config_path().parent / f"{config}.yaml"
    return preset if preset.is_file() else path


def new_run(
    config: str | None, overrides: tuple[str, ...] | list[str], out: str | None
) -> tuple[Config, Path]:
    """Config and run directory of a fresh run; refuses a directory that already has checkpoints."""
    path = resolve_config_path(config)
    cfg = load_config(path, overrides)
    run_dir = Path(out) if out else Path("runs") / path.stem
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
    config_file = run_dir / CONFIG_NAME
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
