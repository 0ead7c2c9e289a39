"""The top-level API: the most used functions, loaded lazily."""

from __future__ import annotations

import subprocess
import sys


def test_top_level_api_is_lazy():
    code = "import sys, nlgan; assert 'torch' not in sys.modules; nlgan.load_generator; print('ok')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"
    import nlgan
    from nlgan.sampling import load_generator

    assert nlgan.load_generator is load_generator


def test_version_is_the_packages_and_the_cli_prints_it():
    import nlgan

    assert nlgan.__version__ == "0.2.0"
    out = subprocess.run(
        [sys.executable, "-m", "nlgan.cli", "--version"], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == f"nlgan, version {nlgan.__version__}"
