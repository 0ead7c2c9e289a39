#!/usr/bin/env python
"""Make the interop test fixtures in tests/data/interop/ by running the other projects' own code.

The importers (``nlgan import biggan-pytorch``, ``nlgan import studiogan``) and the mmcv
non-local loader are tested against the real model code of those projects, not a re-typed copy:
this script extracts their model files, byte for byte, from a git snapshot into a temporary
folder, builds small random-weight models with them (tiny widths; BN statistics, spectral-norm
vectors and attention gains moved away from their initial values), saves checkpoints in the
projects' own file formats and records reference outputs (latents, labels, images, D logits,
non-local outputs) computed by their forward passes in eval mode. The tests read only the files
written here; nothing of the other projects is copied into nlgan or the tests.

Sources (the commits the committed fixtures were made from):

- biggan: https://github.com/ajbrock/BigGAN-PyTorch
  at 98459431a5d618d644d54cd1e9fceb1e5045648d (BigGAN.py, layers.py, utils.py, ...)
- studiogan: https://github.com/POSTECH-CVLab/PyTorch-StudioGAN
  at 947b35e9835b67860fdce44d337f6d7fee7c8db3 (src/)
- mmcv: https://github.com/open-mmlab/mmcv
  at a8073c74bf83d62ec36a103f835faa4837fb6585 (mmcv/cnn/bricks/non_local.py and the
  ConvModule / conv / norm / activation / padding bricks it builds on)

Rerun (from the repository root; any clone holding the commits works as GITDIR)::

    git clone https://github.com/ajbrock/BigGAN-PyTorch /tmp/biggan
    git clone https://github.com/POSTECH-CVLab/PyTorch-StudioGAN /tmp/studiogan
    git clone https://github.com/open-mmlab/mmcv /tmp/mmcv
    python -m venv --system-site-packages /tmp/fixenv          # torch from the main environment
    /tmp/fixenv/bin/pip install mmengine seaborn kornia h5py "setuptools<80"  # their imports
    /tmp/fixenv/bin/python tools/make_interop_fixtures.py \\
        --biggan /tmp/biggan/.git --studiogan /tmp/studiogan/.git --mmcv /tmp/mmcv/.git

The extra packages are what the projects' modules import (mmcv's bricks need mmengine;
StudioGAN's model files import its utils, which import seaborn, kornia and pkg_resources;
BigGAN-PyTorch's utils import h5py); nlgan
and its tests need none of them. Each part runs in its own process (BigGAN-PyTorch and StudioGAN
both have a top-level ``sync_batchnorm`` package), seeded, on the CPU, so a rerun with the same
torch writes the same numbers. Committed with torch 2.14.1 (CPU); the file formats are the
projects' (BigGAN-PyTorch's files in torch's legacy pre-1.6 format, as its 2019 release).
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SOURCES = {
    "biggan": (
        "98459431a5d618d644d54cd1e9fceb1e5045648d",
        ["BigGAN.py", "layers.py", "utils.py", "datasets.py", "animal_hash.py", "sync_batchnorm"],
    ),
    "studiogan": ("947b35e9835b67860fdce44d337f6d7fee7c8db3", ["src"]),
    "mmcv": (
        "a8073c74bf83d62ec36a103f835faa4837fb6585",
        [f"mmcv/cnn/bricks/{m}.py" for m in
         ("non_local", "conv_module", "conv", "norm", "activation", "padding")],
    ),
}  # fmt: skip


def extract(git_dir: str, commit: str, paths: list[str], dest: Path) -> None:
    """Write ``paths`` of ``commit`` (files or folders) under ``dest``, unchanged."""
    archive = subprocess.run(
        ["git", f"--git-dir={git_dir}", "archive", "--format=tar", commit, *paths],
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")


def main() -> None:
    """Extract each given project and run its part script on it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for part in SOURCES:
        parser.add_argument(f"--{part}", metavar="GITDIR", help=f"git directory with {part}")
    parser.add_argument("--out", default=str(ROOT / "tests" / "data" / "interop"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    todo = [part for part in SOURCES if getattr(args, part)]
    if not todo:
        parser.error("give at least one of --biggan, --studiogan, --mmcv")
    for part in todo:
        commit, paths = SOURCES[part]
        with tempfile.TemporaryDirectory(prefix=f"nlgan-{part}-") as tmp:
            extract(getattr(args, part), commit, paths, Path(tmp))
            if part == "mmcv":  # empty package markers: mmcv's own __init__s import compiled ops
                for pkg in ("mmcv", "mmcv/cnn", "mmcv/cnn/bricks"):
                    (Path(tmp) / pkg / "__init__.py").write_text("")
            source = Path(tmp) / "src" if part == "studiogan" else Path(tmp)
            script = HERE / "interop_fixtures" / f"part_{part}.py"
            subprocess.run(
                [sys.executable, str(script), str(source), str(out), commit],
                check=True,
                cwd=source,
                env={**os.environ, "OMP_NUM_THREADS": "1",
                     "PYTHONPATH": f"{source}:{ROOT}:{HERE / 'interop_fixtures'}"},
            )  # fmt: skip
            print(f"{part}: written under {out}")


if __name__ == "__main__":
    main()
