"""The README's small-data table from runs scored by bench/digits_quality.py --json.

    python bench/digits_table.py "100% baseline=runs/base100_s*" "10% + DiffAugment=runs/s_dtc*"

Each argument is ``LABEL=GLOB[,GLOB...]``, split at the last "="; the globs name run directories
that hold ``quality.json``. A row shows the mean over its runs and, with several, the smallest
and largest value.
"""

from __future__ import annotations

import glob
import json
import sys
from pathlib import Path

COLUMNS = (  # (header, quality.json key, format)
    ("acc.", "accuracy", "{:.3f}"),
    ("diversity", "diversity_ratio", "{:.2f}"),
    ("Fréchet (x floor)", "frechet_ratio", "{:.2f}"),
    ("memorised", "memorised", "{:.3f}"),
)


def cell(values: list[float], fmt: str) -> str:
    """``mean`` for one run, ``mean (min-max)`` for several."""
    mean = fmt.format(sum(values) / len(values))
    if len(values) == 1:
        return mean
    return f"{mean} ({fmt.format(min(values))}-{fmt.format(max(values))})"


def row(label: str, pattern: str) -> str:
    """One markdown table row over the runs ``pattern`` matches."""
    found = {p for part in pattern.split(",") for p in glob.glob(part)}
    runs = sorted(Path(p) for p in found if (Path(p) / "quality.json").is_file())
    if not runs:
        raise SystemExit(f"{label}: no scored run matches {pattern!r}")
    scores = [json.loads((run / "quality.json").read_text()) for run in runs]
    cells = [cell([s[key] for s in scores], fmt) for _, key, fmt in COLUMNS]
    return f"| {label} | {len(runs)} | " + " | ".join(cells) + " |"


def main(args: list[str]) -> None:
    print("| run | seeds | " + " | ".join(h for h, _, _ in COLUMNS) + " |")
    print("|---" * (len(COLUMNS) + 2) + "|")
    for arg in args:
        label, _, pattern = arg.rpartition("=")  # labels may hold "=", globs do not
        print(row(label, pattern))


if __name__ == "__main__":
    main(sys.argv[1:])
