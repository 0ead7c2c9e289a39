"""Typing config values: YAML and ``--set`` text to each field's annotated type.

PyYAML reads ``1e-4`` as a string and ``--set`` values arrive as text, so every value is
converted by the type annotation of its dataclass field, failing with a one-line
:class:`ConfigError` that names the key. Pure Python (no torch), like the rest of the config.
"""

from __future__ import annotations

import difflib
import math
import types
import typing
from typing import Any

import yaml

from nlgan.errors import NlganError


class ConfigError(NlganError, ValueError):
    """A configuration value is missing, unknown, of the wrong type or out of range."""


AUTO_WORDS = ("", "none", "null", "auto")  # what sets an optional value to None (auto)


def convert(key: str, value: Any, hint: Any) -> Any:
    """Convert a YAML / command-line value to the field's annotated type, or fail naming key."""
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union) and type(None) in typing.get_args(hint):
        # an optional value: None (YAML null, or "none" / "auto" on the command line) = auto
        if value is None or (isinstance(value, str) and value.strip().lower() in AUTO_WORDS):
            return None
        (inner,) = [a for a in typing.get_args(hint) if a is not type(None)]
        return convert(key, value, inner)
    if origin is tuple:
        (item_hint, _) = typing.get_args(hint)
        if isinstance(value, str):
            if value.strip().startswith("["):
                try:
                    value = yaml.safe_load(value)
                except yaml.YAMLError:
                    msg = f"{key}={value!r}: not a list (write [16, 32] or 16,32)"
                    raise ConfigError(msg) from None
            else:
                value = value.split(",")
            value = [v.strip() if isinstance(v, str) else v for v in value if v != ""]
        if value is None:
            value = []
        if not isinstance(value, (list, tuple)):
            value = [value]
        return tuple(convert(key, v, item_hint) for v in value)
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in (
            "true",
            "yes",
            "on",
            "1",
            "false",
            "no",
            "off",
            "0",
        ):
            return value.lower() in ("true", "yes", "on", "1")
        raise ConfigError(f"{key}={value!r}: expected true or false")
    if hint is int:
        return _integer(key, value)
    if hint is float:
        if isinstance(value, bool):
            raise ConfigError(f"{key}={value!r}: expected a number")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{key}={value!r}: expected a number") from None
        if not math.isfinite(number):
            raise ConfigError(f"{key}={value!r}: must be a finite number")
        return number
    if hint is str:
        if isinstance(value, (dict, list)):
            raise ConfigError(f"{key}={value!r}: expected a string")
        return "" if value is None else str(value)
    raise TypeError(f"unsupported config type {hint!r} for {key}")


def _integer(key: str, value: Any) -> int:
    """An int from an int, a whole float or text such as ``64``, ``1e3``; never a bool."""
    if isinstance(value, bool):
        raise ConfigError(f"{key}={value!r}: expected an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())  # exact, however many digits (float would round)
        except ValueError:
            pass
    try:
        as_float = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{key}={value!r}: expected an integer") from None
    # nan, inf and text beyond float's range (1e400 reads as inf) have no integer value.
    if not math.isfinite(as_float) or as_float != int(as_float):
        raise ConfigError(f"{key}={value!r}: expected an integer (a finite whole number)")
    return int(as_float)


def unknown_key(key: str, valid: list[str]) -> ConfigError:
    close = difflib.get_close_matches(key.rsplit(".", 1)[-1], valid, n=1)
    prefix = key.rsplit(".", 1)[0] + "." if "." in key else ""
    hint = f" (did you mean {prefix}{close[0]}?)" if close else f" (valid: {', '.join(valid)})"
    return ConfigError(f"unknown config key {key!r}{hint}")


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a key given twice in one mapping is an error."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                line = key_node.start_mark.line + 1
                raise ConfigError(f"key {key!r} appears twice (line {line}); keep one of them")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def parse_yaml(text: str, origin: str) -> object:
    """YAML text -> Python values; syntax errors and repeated keys are one-line errors."""
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader: no arbitrary objects
    except ConfigError as err:
        raise ConfigError(f"{origin}: {err}") from None
    except yaml.YAMLError as err:
        first = str(err).splitlines()[0]
        raise ConfigError(f"{origin}: not valid YAML ({first})") from None
