"""Every Python block of the documentation runs as written, on tiny inputs, in a fresh process
started in an empty directory; blocks of one page run in order in one namespace, so a page may
build on its earlier blocks. A block whose first line is ``# not run: REASON`` is skipped (real
weights, the network); JSON blocks must parse."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from docblocks import ROOT, doc_files, fenced_blocks

PAGES = {p: fenced_blocks(p.read_text(), str(p.relative_to(ROOT))) for p in doc_files()}
RUNNABLE = {p: [b for b in blocks if b.runnable] for p, blocks in PAGES.items()}

# Runs each block under its own file:line name, so a traceback points at the Markdown.
RUNNER = """
import json, sys
namespace = {"__name__": "__main__"}
for block in json.load(open(sys.argv[1])):
    exec(compile(block["code"], f"{block['path']}:{block['line']}", "exec"), namespace)
"""


@pytest.mark.parametrize(
    "page", [p for p in RUNNABLE if RUNNABLE[p]], ids=lambda p: str(p.relative_to(ROOT))
)
def test_python_blocks_run(page, tmp_path):
    """The page's runnable Python blocks, in order, exit cleanly."""
    blocks = [{"code": b.code, "path": b.path, "line": b.line} for b in RUNNABLE[page]]
    (tmp_path / "blocks.json").write_text(json.dumps(blocks))
    work = tmp_path / "work"
    work.mkdir()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "WANDB_MODE": "disabled",
        "HF_HUB_OFFLINE": "1",
        "NLGAN_CACHE_DIR": str(tmp_path / "cache"),
        "OMP_NUM_THREADS": "1",
    }
    result = subprocess.run(
        [sys.executable, "-c", RUNNER, str(tmp_path / "blocks.json")],
        cwd=work, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]


def test_skipped_blocks_are_few_and_say_why():
    """``# not run`` is for what cannot run here; each names its reason, and most blocks run."""
    python = [b for blocks in PAGES.values() for b in blocks if b.lang == "python"]
    skipped = [b for b in python if not b.runnable]
    for block in skipped:
        first = block.code.lstrip().splitlines()[0]
        assert first.startswith("# not run: ") and len(first) > len("# not run: ") + 10, (
            f"{block.path}:{block.line}: say why it cannot run"
        )
    assert len(skipped) <= 3 and len(skipped) < len(python) / 2, [b.path for b in skipped]


def test_json_blocks_parse():
    """Every JSON block is valid JSON (the protocol record's example included)."""
    blocks = [b for blocks in PAGES.values() for b in blocks if b.lang == "json"]
    assert blocks
    for block in blocks:
        json.loads(block.code)
