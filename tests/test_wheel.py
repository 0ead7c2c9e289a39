"""The package as a user installs it: build the wheel, install it into an empty target folder,
and run the main job from an empty working directory (no source checkout on the path)."""

from __future__ import annotations

import os
import shutil
import site as sitelib
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _pip(*args: str, cwd: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pip", *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _has_build_backend() -> bool:
    try:
        import setuptools
    except ImportError:
        return False
    return int(setuptools.__version__.split(".")[0]) >= 77


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A site folder holding only the installed wheel (dependencies come from this env)."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "src"  # a copy, so the build leaves nothing in the checkout
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "build")
    shutil.copytree(REPO / "nlgan", source / "nlgan", ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    # With the build backend already here, skip pip's isolated build env (no download needed).
    no_isolation = ["--no-build-isolation"] if _has_build_backend() else []
    _pip("wheel", ".", "--no-deps", *no_isolation, "-w", str(root / "dist"), cwd=source)
    (wheel,) = (root / "dist").glob("nlgan-*.whl")
    site = root / "site"
    _pip("install", "--no-deps", "--target", str(site), str(wheel), cwd=root)
    return site


def _run(site: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Python started as in a bare virtual environment: ``-S`` skips this environment's ``.pth``
    start-up hooks (which import modules, e.g. ``importlib.util``, that a user's may not), and
    the dependencies come from its site-packages through PYTHONPATH, after the wheel."""
    path = os.pathsep.join([str(site), *sitelib.getsitepackages()])
    env = {**os.environ, "PYTHONPATH": path, "WANDB_MODE": "disabled", "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-S", *args], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip


@pytest.mark.slow
def test_wheel_trains_the_default_preset_from_an_empty_directory(installed, tmp_path):
    where = _run(installed, "-c", "import nlgan; print(nlgan.__file__)", cwd=tmp_path)
    assert Path(where.stdout.strip()).is_relative_to(installed), where.stdout + where.stderr
    script = installed / "bin" / "nlgan"  # the console script the wheel declares
    done = _run(installed, str(script), "train", "--set", "train.steps=2", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "runs" / "digits" / "checkpoints" / "ckpt-000000002.pt").is_file()
    assert (tmp_path / "runs" / "digits" / "config.yaml").is_file()
    # A named preset is found too: it stops at its data, not at a missing config file.
    other = _run(installed, str(script), "train", "cifar10_sagan", cwd=tmp_path)
    assert other.returncode == 1
    assert "data.root is empty: data.name=cifar10 needs" in other.stderr
    assert "Traceback" not in other.stderr
