"""bench/pairs_study.py: the order of the runs, the best placement and the table of results."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

_BENCH = Path(__file__).resolve().parents[1] / "bench" / "pairs_study.py"
_spec = importlib.util.spec_from_file_location("pairs_study", _BENCH)
study = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(study)


def _result(folder: Path, row: str, seed: int, twin: float, ms: float = 900.0) -> None:
    scores = {"pairs_twin": twin, "pairs_valid": 0.5, "pairs_class": 0.25,
              "pairs_asymmetry": 0.4, "pairs_fd_ratio": 30.0, "pairs_memorised": 0.0}  # fmt: skip
    record = {"row": row, "seed": seed, "ms_per_step": ms, "scores": scores}
    (folder / f"{row}-s{seed}.json").write_text(json.dumps(record))


def test_placement_rows_come_first_seed_by_seed(tmp_path, monkeypatch):
    monkeypatch.setattr(study, "RESULTS", tmp_path)
    todo = study.pending(study.load_results())
    assert [(name, seed) for name, _, seed in todo[:6]] == [
        ("none", 0),
        ("8", 0),
        ("16", 0),
        ("32", 0),
        ("16+32", 0),
        ("none", 1),
    ]
    assert len(todo) == 15  # nothing else before the placement table has a best row
    _result(tmp_path, "none", 0, 0.9)  # no attention never counts as the best placement
    _result(tmp_path, "8", 0, 0.1)
    _result(tmp_path, "32", 0, 0.3)
    results = study.load_results()
    assert study.best_placement(results) == "32"
    names = [name for name, _, _ in study.rows(results)]
    assert names[5:] == ["G-only@32", "D-only@32", "gaussian@32", "embedded_gaussian@32",
                         "dot_product@32", "concatenation@32"]  # fmt: skip
    g_only = dict((n, o) for n, o, _ in study.rows(results))["G-only@32"]
    assert g_only == ["model.g_attn_resolutions=[32]", "model.d_attn_resolutions=[]"]
    assert ("16", 0) in [(n, s) for n, _, s in study.pending(results)]
    assert ("8", 0) not in [(n, s) for n, _, s in study.pending(results)]


def test_the_table_shows_mean_and_range_over_seeds(tmp_path, monkeypatch):
    monkeypatch.setattr(study, "RESULTS", tmp_path)
    _result(tmp_path, "16", 0, 0.2, ms=800)
    _result(tmp_path, "16", 1, 0.4, ms=1000)
    lines = study.table(study.load_results()).splitlines()
    assert lines[0].startswith("| row | seeds | twin | valid |")
    assert lines[2].startswith("| 16 | 0,1 | 0.300 [0.200, 0.400] | 0.500 [0.500, 0.500] |")
    assert lines[2].endswith("| 900 [800, 1000] |")


def test_workers_share_the_chosen_rows_without_taking_one_run_twice(tmp_path, monkeypatch):
    monkeypatch.setattr(study, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(study, "RUNS", tmp_path / "runs")
    only = {"16", "none"}
    first, second, third = (study.next_run(only) for _ in range(3))
    assert [(r[0], r[2]) for r in (first, second, third)] == [("none", 0), ("16", 0), ("none", 1)]
    assert first[1] == ["model.g_attn_resolutions=[]", "model.d_attn_resolutions=[]"]
    (tmp_path / "results").mkdir()
    _result(tmp_path / "results", "16", 1, 0.3)  # finished elsewhere: not offered again
    assert [study.next_run(only)[::2] for _ in range(2)] == [("none", 2), ("16", 2)]
    assert study.next_run(only) is None
    assert study.next_run()[::2] == ("8", 0)  # no filter: every pending row


def test_an_unknown_row_is_refused_in_one_line(tmp_path, monkeypatch, capsys):
    import pytest

    monkeypatch.setattr(study, "RESULTS", tmp_path)
    with pytest.raises(SystemExit):
        study.main(["--rows", "16,sixteen"])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.endswith("--rows sixteen: no such row now (choose from none, 8, 16, 32, 16+32)")


def test_a_run_folder_of_another_budget_is_neither_resumed_nor_rescored(tmp_path, monkeypatch):
    import pytest

    from nlgan.config.loading import load_preset, save_config

    monkeypatch.setattr(study, "RUNS", tmp_path / "runs")
    monkeypatch.setattr(study, "RESULTS", tmp_path / "results")
    overrides = ["model.g_attn_resolutions=[16]", "model.d_attn_resolutions=[16]"]
    sets = [*study.STUDY, *overrides, "train.seed=0"]
    folder = tmp_path / "runs" / "16-s0"
    folder.mkdir(parents=True)
    save_config(load_preset("pairs32", sets), folder / "config.yaml")
    assert study.config_mismatch(folder, sets) == []  # the study's own run: resumed
    old = [s for s in sets if not s.startswith("train.steps=")] + ["train.steps=5000"]
    save_config(load_preset("pairs32", old), folder / "config.yaml")
    assert study.config_mismatch(folder, sets) == ["train.steps"]
    with pytest.raises(SystemExit, match=r"16-s0: trained with another config \(train.steps"):
        study.run_one("16", overrides, 0)
    (tmp_path / "results").mkdir()
    _result(tmp_path / "results", "16", 0, 0.4)
    record = json.loads((tmp_path / "results" / "16-s0.json").read_text())
    record["overrides"] = sets
    (tmp_path / "results" / "16-s0.json").write_text(json.dumps(record))
    with pytest.raises(SystemExit, match="move the folder aside"):
        study.main(["--rescore"])
