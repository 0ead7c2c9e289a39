"""What the commands may write and replace: --overwrite only replaces nlgan's own outputs, after
the new one is complete; single files need --overwrite; grids are written in their suffix's
format."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from clitools import cli


def _tree(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_overwrite_never_deletes_a_parent_or_an_unrelated_folder(tiny_run_dir, tmp_path):
    project = tmp_path / "p"
    (project / "work").mkdir(parents=True)
    (project / "notes.txt").write_text("mine")
    before = _tree(project)
    cwd = os.getcwd()
    os.chdir(project / "work")
    try:
        result = cli("sample", tiny_run_dir, "--per-class", 1, "--out", "..", "--overwrite",
                     ok=False)  # fmt: skip
        assert result.exit_code == 1
        assert "current directory or holds it: refusing to replace it" in result.output
        result = cli("sample", tiny_run_dir, "--per-class", 1, "--out", ".", "--overwrite",
                     ok=False)  # fmt: skip
        assert "current directory or holds it" in result.output
    finally:
        os.chdir(cwd)
    assert _tree(project) == before and (project / "notes.txt").read_text() == "mine"
    other = tmp_path / "photos"
    other.mkdir()
    (other / "a.jpg").write_bytes(b"x")
    result = cli("sample", tiny_run_dir, "--out", other, "--overwrite", ok=False)
    assert result.exit_code == 1 and "was not written by nlgan sample" in result.output
    assert (other / "a.jpg").read_bytes() == b"x"
    assert not list(tmp_path.glob(".*tmp*"))  # refused before any work


def test_overwrite_replaces_its_own_folder_only_once_the_new_one_is_complete(
    tiny_run_dir, tmp_path, monkeypatch
):
    out = tmp_path / "s"
    cli("sample", tiny_run_dir, "--per-class", 2, "--out", out)
    assert (out / ".nlgan-output.json").is_file() and len(list(out.rglob("*.png"))) == 6
    from nlgan.sampling import writers

    def fail(self, images, labels):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(writers.FolderWriter, "write", fail)
    result = cli("sample", tiny_run_dir, "--per-class", 1, "--out", out, "--overwrite", ok=False)
    assert result.exit_code == 1 and "No space left on device" in result.output
    assert len(list(out.rglob("*.png"))) == 6  # the old output survived the failed new one
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    monkeypatch.undo()
    cli("sample", tiny_run_dir, "--per-class", 1, "--out", out, "--overwrite")
    assert len(list(out.rglob("*.png"))) == 3


def test_a_symlinked_out_is_refused_up_front(tiny_run_dir, tmp_path):
    real = tmp_path / "real"
    cli("sample", tiny_run_dir, "--per-class", 1, "--out", real)
    (tmp_path / "link").symlink_to(real)
    result = cli("sample", tiny_run_dir, "--per-class", 1, "--out", tmp_path / "link",
                 "--overwrite", ok=False)  # fmt: skip
    assert result.exit_code == 1 and "is a symbolic link: give the real path" in result.output
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize(
    ("command", "target", "extra"),
    [
        ("sample", "g.png", ["--grid"]),
        ("attention", "a.png", ["--grid"]),
        ("export", "g.safetensors", []),
    ],
)
def test_single_files_are_replaced_only_with_overwrite(tiny_run_dir, tmp_path, command, target,
                                                       extra):  # fmt: skip
    path = tmp_path / target
    path.write_bytes(b"keep")
    args = [command, tiny_run_dir, *extra, path]
    result = cli(*args, ok=False)
    assert result.exit_code == 1 and "already exists" in result.output
    assert path.read_bytes() == b"keep"
    cli(*args, "--overwrite")
    assert path.read_bytes() != b"keep"


def test_grids_are_written_in_the_format_their_suffix_names(tiny_run_dir, tmp_path):
    cli("sample", tiny_run_dir, "--grid", tmp_path / "g.jpg")
    cli("attention", tiny_run_dir, "--grid", tmp_path / "a.webp", "--n", 1, "--panel", 16)
    with Image.open(tmp_path / "g.jpg") as img:
        assert img.format == "JPEG"
    with Image.open(tmp_path / "a.webp") as img:
        assert img.format == "WEBP"
    result = cli("sample", tiny_run_dir, "--grid", tmp_path / "g.gif", ok=False)
    assert result.exit_code == 1 and ".png, .jpg, .jpeg, .webp" in result.output


def test_npz_outputs_are_marked_and_read_as_usual(tiny_run_dir, tmp_path):
    cli("sample", tiny_run_dir, "--n", 2, "--out", tmp_path / "s.npz")
    with np.load(tmp_path / "s.npz") as data:
        assert sorted(data.files) == ["images", "labels"]  # the mark is not an array
    cli("sample", tiny_run_dir, "--n", 4, "--out", tmp_path / "s.npz", "--overwrite")
    with np.load(tmp_path / "s.npz") as data:
        assert data["images"].shape[0] == 4


def test_attention_refuses_figures_too_large_to_draw(tiny_run_dir, tmp_path):
    result = cli("attention", tiny_run_dir, "--grid", tmp_path / "a.png", "--n", 100000, ok=False)
    assert result.exit_code == 2 and "a figure holds 1 to 64 samples" in result.output
