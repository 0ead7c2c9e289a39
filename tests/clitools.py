"""Running ``nlgan`` commands in-process (click's runner) and reading the PNGs they write."""

from __future__ import annotations

import numpy as np
from click.testing import CliRunner, Result
from PIL import Image

from nlgan.cli import main


def cli(*args: object, ok: bool = True) -> Result:
    """``nlgan ARGS...``; with ``ok`` the command must succeed."""
    result = CliRunner().invoke(main, [str(a) for a in args])
    if ok:
        assert result.exit_code == 0, result.output
    return result


def train(*args: object, code: int = 0) -> Result:
    """``nlgan train ARGS...``, which must exit with ``code`` (the output and any exception are
    shown when it does not). The end-of-run report is off unless ARGS set ``train.report``:
    it costs seconds that only the report's tests need."""
    words = [str(a) for a in args]
    if not any("train.report" in w for w in words):
        words += ["--set", "train.report=false"]
    result = CliRunner().invoke(main, ["train", *words])
    assert result.exit_code == code, result.output + repr(result.exception)
    return result


def png(path) -> np.ndarray:
    """A PNG file's pixels."""
    return np.asarray(Image.open(path))
