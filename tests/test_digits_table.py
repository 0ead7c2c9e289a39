"""bench/digits_table.py: the README's small-data table from scored run directories."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

_BENCH = Path(__file__).resolve().parents[1] / "bench" / "digits_table.py"
_spec = importlib.util.spec_from_file_location("digits_table", _BENCH)
table = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(table)


def _scored(run: Path, frechet_ratio: float, memorised: float) -> None:
    run.mkdir(parents=True)
    scores = {"accuracy": 1.0, "diversity_ratio": 0.8}
    scores |= {"frechet_ratio": frechet_ratio, "memorised": memorised}
    (run / "quality.json").write_text(json.dumps(scores))


def test_rows_average_the_seeds_of_every_glob_and_show_their_range(tmp_path, capsys):
    _scored(tmp_path / "base", 6.0, 0.4)
    _scored(tmp_path / "base_s1", 8.0, 0.2)
    _scored(tmp_path / "other", 1.0, 0.0)
    (tmp_path / "unscored").mkdir()  # still training: no quality.json, left out
    table.main([f"p = 0.25 (a=b)={tmp_path}/base,{tmp_path}/base_s?,{tmp_path}/unscored"])
    header, rule, row = capsys.readouterr().out.splitlines()
    assert header.startswith("| run | seeds |") and rule.count("|---") == 6
    cells = "1.000 (1.000-1.000) | 0.80 (0.80-0.80) | 7.00 (6.00-8.00) | 0.300 (0.200-0.400)"
    assert row == f"| p = 0.25 (a=b) | 2 | {cells} |"


def test_a_single_run_has_no_range_and_a_row_with_no_runs_is_an_error(tmp_path, capsys):
    _scored(tmp_path / "one", 5.0, 0.25)
    table.main([f"one={tmp_path}/one"])
    assert capsys.readouterr().out.splitlines()[-1] == "| one | 1 | 1.000 | 0.80 | 5.00 | 0.250 |"
    with pytest.raises(SystemExit, match="no scored run matches"):
        table.main([f"none={tmp_path}/missing*"])
