"""What a report shows about a run, read from its directory: config and its closest preset,
the metrics log as series, wall time, machines, the score table and the saved sample grids.

Nothing here runs a network; :mod:`nlgan.report.networks` loads the checkpoint's models.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nlgan.config import ConfigError, config_to_dict, load_config, load_preset
from nlgan.config.presets import preset_names
from nlgan.metrics.table import METRICS
from nlgan.storage.rundir import RunDir
from nlgan.storage.runlog import read_records

Series = dict[str, list[tuple[int, float]]]  # key -> [(step, value)], steps ascending

# Which side of each score is better, from the metric table (eval/fid -> lower, ...).
BETTER = {f"eval/{k}": d for metric in METRICS.values() for k, d in metric.better.items()}


@dataclass(frozen=True)
class RunHistory:
    """A run's metrics log, digested for the report."""

    records: list[dict[str, Any]]
    series: Series
    protocols: dict[str, dict[str, Any]]  # eval/<score> -> the protocol of its last record

    @property
    def has_curves(self) -> bool:
        """True when the log holds any logged value (an imported run's does not, at first)."""
        return bool(self.series)


def read_history(run: Path) -> RunHistory:
    """The series of every value in ``RUN/metrics.jsonl`` (train and eval records)."""
    records = read_records(RunDir(run).metrics_log)
    series: Series = {}
    protocols: dict[str, dict[str, Any]] = {}
    for record in records:
        for key, value in (record.get("values") or {}).items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                if math.isfinite(value):
                    series.setdefault(key, []).append((int(record["step"]), float(value)))
            if record["kind"] == "eval" and record.get("protocol"):
                protocols[key] = record["protocol"]
    return RunHistory(records, series, protocols)


def wall_seconds(records: list[dict[str, Any]]) -> float:
    """Time spent writing the log: per process session, its last record minus its start."""
    total, start, last = 0.0, None, None
    for record in records:
        if record["kind"] == "start":
            if start is not None and last is not None:
                total += last - start
            start = last = record["time"]
        elif start is not None:
            last = record["time"]
    if start is not None and last is not None:
        total += last - start
    return total


def machines(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each session's start record (step, source, version, machine), oldest first."""
    return [r for r in records if r["kind"] == "start"]


def best_point(key: str, points: list[tuple[int, float]]) -> tuple[int, float] | None:
    """The best (step, value) of a score whose better side is known; None otherwise."""
    better = BETTER.get(key)
    if better is None or not points:
        return None
    pick = min if better == "lower" else max
    return pick(points, key=lambda p: p[1])


def score_rows(history: RunHistory) -> list[dict[str, Any]]:
    """One row per evaluation score: last and best value with steps, and its protocol."""
    rows = []
    for key, points in history.series.items():
        if key not in history.protocols:
            continue
        best = best_point(key, points)
        rows.append(
            {
                "score": key.removeprefix("eval/"),
                "last": points[-1],
                "best": best,
                "better": BETTER.get(key, "?"),
                "protocol": history.protocols[key],
            }
        )
    return rows


def describe_protocol(protocol: dict[str, Any]) -> str:
    """A protocol record in one line: n, seed, resize, backbone and reference."""
    reference = protocol.get("reference") or {}
    backbone = protocol.get("backbone") or {}
    parts = [
        f"n={protocol.get('n')}",
        f"seed={protocol.get('seed')}",
        f"resize={protocol.get('resize')}",
        f"backbone={backbone.get('name', backbone.get('kind', '?'))}",
        f"reference={reference.get('path', reference.get('kind', 'none'))}",
    ]
    return ", ".join(parts)


def flatten(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"train": {"lr_g": 1}}`` -> ``{"train.lr_g": 1}``."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def closest_preset(config: dict[str, Any]) -> tuple[str | None, list[tuple[str, Any, Any]]]:
    """The built-in preset with the fewest differing keys, and those (key, preset, run) rows."""
    run = flatten(config)
    best: tuple[str | None, list[tuple[str, Any, Any]]] = (None, [])
    for name in preset_names():
        try:
            preset = flatten(config_to_dict(load_preset(name)))
        except ConfigError:  # a preset that needs options this config does not give
            continue
        diffs = [(k, preset.get(k), run.get(k)) for k in sorted(set(run) | set(preset))
                 if preset.get(k) != run.get(k)]  # fmt: skip
        if best[0] is None or len(diffs) < len(best[1]):
            best = (name, diffs)
    return best


def run_config(run: Path) -> dict[str, Any] | None:
    """The run's ``config.yaml`` as plain data (None when it is missing or unreadable)."""
    path = RunDir(run).config
    if not path.is_file():
        return None
    try:
        return config_to_dict(load_config(path))
    except ConfigError:
        return None


def saved_grids(run: Path, at_most: int = 8) -> list[tuple[int, Path]]:
    """Up to ``at_most`` in-run grids ``(step, path)``, evenly spread, always with the last."""
    folder = RunDir(run).samples
    if not folder.is_dir():
        return []
    found = []
    for path in folder.glob("step-*.png"):
        try:
            found.append((int(path.stem.removeprefix("step-")), path))
        except ValueError:
            continue
    found.sort()
    if len(found) <= at_most:
        return found
    picks = {round(i * (len(found) - 1) / (at_most - 1)) for i in range(at_most)}
    return [found[i] for i in sorted(picks)]


def format_seconds(seconds: float) -> str:
    """``3725`` -> ``1 h 2 min 5 s``."""
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    if h:
        return f"{h} h {m} min {s} s"
    return f"{m} min {s} s" if m else f"{s} s"
