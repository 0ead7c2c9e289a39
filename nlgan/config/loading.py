"""Reading and writing run configs: YAML text, dotted ``--set`` overrides, presets.

Values are typed by each field's annotation (:mod:`nlgan.config.values`), so ``1e-4`` read by
PyYAML as a string becomes a float, and an unknown key fails in one line naming the choices.
This module imports no torch, so the CLI stays fast.
"""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path
from typing import Any

import yaml

from nlgan.config.presets import preset_text
from nlgan.config.schema import Config
from nlgan.config.values import ConfigError, convert, parse_yaml, unknown_key
from nlgan.storage.files import atomic_write


def _build(cls: type, values: dict[str, Any], prefix: str) -> Any:
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        full = f"{prefix}{key}"
        if key not in names:
            raise unknown_key(full, names)
        hint = hints[key]
        if dataclasses.is_dataclass(hint):
            if not isinstance(value, dict):
                raise ConfigError(f"{full}: expected a section (a mapping of keys to values)")
            kwargs[key] = _build(hint, value, f"{full}.")
        else:
            kwargs[key] = convert(full, value, hint)
    return cls(**kwargs)


def config_from_dict(values: dict[str, Any]) -> Config:
    """Build and validate a :class:`Config` from a nested dict (missing keys take defaults)."""
    if not isinstance(values, dict):
        raise ConfigError("a config must be a mapping with sections model, data, train, eval, log")
    return _build(Config, values, "")


def config_to_dict(cfg: Any) -> dict[str, Any]:
    """Nested plain dict (tuples become lists) for YAML, JSON and checkpoints."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if dataclasses.is_dataclass(value):
            value = config_to_dict(value)
        elif isinstance(value, tuple):
            value = list(value)
        out[f.name] = value
    return out


def apply_overrides(
    values: dict[str, Any], overrides: list[str] | tuple[str, ...]
) -> dict[str, Any]:
    """Apply ``section.key=value`` strings to a nested dict (values stay strings until typed)."""
    values = {k: dict(v) if isinstance(v, dict) else v for k, v in values.items()}
    sections = [f.name for f in dataclasses.fields(Config)]
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected section.key=value, e.g. train.lr_d=4e-4")
        key, raw = item.split("=", 1)
        key = key.strip()
        parts = key.split(".")
        if len(parts) != 2:
            raise ConfigError(f"--set {key!r}: expected section.key, e.g. train.lr_d")
        section, name = parts
        if section not in sections:
            raise unknown_key(section, sections)
        # Kept as text: _convert types it by the field, so log.name=0123 stays "0123" (not 83).
        parsed = raw.strip()
        values.setdefault(section, {})
        if not isinstance(values[section], dict):
            raise ConfigError(f"{section}: expected a section (a mapping of keys to values)")
        values[section][name] = parsed
    return values


def parse_config_text(
    text: str, origin: str, overrides: list[str] | tuple[str, ...] = ()
) -> Config:
    """Parse a YAML config's text (``origin`` names it in errors) and apply dotted overrides."""
    values = parse_yaml(text, origin) or {}
    if not isinstance(values, dict):
        raise ConfigError(
            f"{origin}: a config must be a mapping with sections model, data, train, eval, log"
        )
    return config_from_dict(apply_overrides(values, overrides))


def load_config(
    path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()
) -> Config:
    """Load a YAML config (or the defaults when ``path`` is None) and apply dotted overrides."""
    if path is None:
        return config_from_dict(apply_overrides({}, overrides))
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} not found")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte {err.object[err.start]:#x} at offset {err.start}); "
            "save the config as UTF-8"
        ) from None
    except OSError as err:
        raise ConfigError(f"{path}: cannot be read ({err.strerror or err})") from None
    return parse_config_text(text, str(path), overrides)


def load_preset(name: str, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Load a built-in preset by name (see :mod:`nlgan.config.presets`) and apply overrides."""
    return parse_config_text(preset_text(name), f"preset {name}", overrides)


def save_config(cfg: Config, path: str | Path) -> None:
    """Write the resolved config as YAML (what `load_config` reads back unchanged)."""
    with atomic_write(path, "w") as f:
        f.write(yaml.safe_dump(config_to_dict(cfg), sort_keys=False))
