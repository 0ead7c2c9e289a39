"""`nlgan push --local-dir`: it never writes over anything of the user's, a re-push leaves one
consistent set with nothing stale, files are shared (0644), and repository ids are checked by
huggingface_hub's own validator before anything is written."""

from __future__ import annotations

import json
import os
import stat

import pytest
from safetensors import safe_open

from nlgan.storage.outputs import MARKER

from clitools import cli

SET = ["generator.safetensors", "samples.png", "README.md"]


def _push(run, folder, *flags, ok=True):
    return cli("push", run, "me/tiny", "--local-dir", folder, *flags, ok=ok)


def _step(path) -> str:
    with safe_open(str(path), framework="pt") as f:
        return f.metadata()["step"]


def _one_line_refusal(result, text: str) -> None:
    assert result.exit_code == 1 and text in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output


def test_a_folder_with_the_users_files_is_refused_and_left_alone(tiny_run_dir, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "README.md").write_text("my notes")
    (mine / "samples.png").write_bytes(b"my picture")
    result = _push(tiny_run_dir, mine, ok=False)
    _one_line_refusal(result, "is not empty and was not written by nlgan push (it holds README.md)")
    assert (mine / "README.md").read_text() == "my notes"
    assert (mine / "samples.png").read_bytes() == b"my picture"
    assert sorted(p.name for p in mine.iterdir()) == ["README.md", "samples.png"]


def test_a_run_directory_is_refused(tiny_run_dir):
    before = sorted(p.name for p in tiny_run_dir.iterdir())
    result = _push(tiny_run_dir, tiny_run_dir, ok=False)
    _one_line_refusal(result, "was not written by nlgan push")
    assert sorted(p.name for p in tiny_run_dir.iterdir()) == before


def test_new_and_empty_folders_get_shared_files(tiny_run_dir, tmp_path):
    old = os.umask(0o022)
    try:
        (tmp_path / "empty").mkdir()
        for folder in (tmp_path / "new", tmp_path / "empty"):
            out = _push(tiny_run_dir, folder, "--with-g").output
            assert "wrote 4 files" in out
            names = sorted(p.name for p in folder.iterdir())
            assert names == sorted([*SET, "G.safetensors", MARKER])
            for name in names:  # safetensors alone would leave the weights 0600
                assert stat.S_IMODE((folder / name).stat().st_mode) == 0o644, name
    finally:
        os.umask(old)


def test_pushing_run_b_into_run_as_folder_leaves_nothing_of_a(tiny_run_dir, tmp_path):
    folder = tmp_path / "repo"
    _push(tiny_run_dir, folder, "--with-g", "--with-d", "--with-config")
    assert _step(folder / "generator.safetensors") == "2"
    first = tiny_run_dir / "checkpoints" / sorted(os.listdir(tiny_run_dir / "checkpoints"))[0]
    _push(first, folder)  # run "B": step 1, without G, D and config
    assert sorted(p.name for p in folder.iterdir()) == sorted([*SET, MARKER])
    assert _step(folder / "generator.safetensors") == "1"
    assert json.loads((folder / MARKER).read_text())["files"] == SET
    refused = cli("sample", folder, "--no-ema", "--grid", tmp_path / "g.png", ok=False)
    assert refused.exit_code == 1 and not (tmp_path / "g.png").exists()  # A's G is gone
    _push(tiny_run_dir, folder, "--with-d")  # and back again
    assert sorted(p.name for p in folder.iterdir()) == sorted([*SET, "D.safetensors", MARKER])


def test_a_file_the_user_added_to_a_push_folder_stops_the_next_push(tiny_run_dir, tmp_path):
    folder = tmp_path / "repo"
    _push(tiny_run_dir, folder)
    (folder / "notes.txt").write_text("mine")
    result = _push(tiny_run_dir, folder, ok=False)
    _one_line_refusal(result, "holds notes.txt, which nlgan push did not write")
    assert (folder / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("repo", ["not a repo id!!", "no-namespace", "a/b/c", "me/-bad"])
def test_repo_ids_are_checked_by_huggingface_hub_before_anything_is_written(
    tiny_run_dir, tmp_path, repo
):
    result = cli("push", tiny_run_dir, repo, "--local-dir", tmp_path / "r", ok=False)
    _one_line_refusal(result, f"{repo!r} is not a Hub repository id USER/NAME")
    assert not (tmp_path / "r").exists()
