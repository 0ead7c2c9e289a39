"""``mkdocs build --strict`` builds the site with no warning (broken links, anchors, missing API
names), and the generated references hold every command and the documented API."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys

import pytest

from nlgan.cli import COMMANDS

from docblocks import ROOT, doc_files

NEEDED = ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python", "mkdocs_click")
MISSING = [m for m in NEEDED if importlib.util.find_spec(m.split(".")[0]) is None]


@pytest.mark.slow
@pytest.mark.skipif(bool(MISSING), reason=f'needs pip install -e ".[docs]" (missing {MISSING})')
def test_site_builds_strict(tmp_path):
    """The strict build passes, the CLI page lists every command, the API pages are not empty."""
    site = tmp_path / "site"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    env["NO_MKDOCS_2_WARNING"] = "1"  # material's notice about its successor, not a build problem
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert "WARNING" not in result.stderr, result.stderr[-3000:]

    cli = (site / "reference" / "cli" / "index.html").read_text()
    for name in COMMANDS:
        assert f'id="nlgan-{name}"' in cli, f"nlgan {name} missing from the CLI reference"
    for name in ("nlgan-import-biggan-pytorch", "nlgan-import-studiogan"):
        assert f'id="{name}"' in cli
    api = {
        "config": ("nlgan.config.TrainConfig", "lr_d", "nlgan.config.load_config"),
        "nn": ("nlgan.nn.NonLocalBlock", "nlgan.nn.SelfAttention", "nlgan.nn.spectral_norm"),
        "models": ("nlgan.models.networks.Generator", "nlgan.models.networks.Discriminator"),
        "metrics": ("nlgan.metrics.scoring.evaluate", "nlgan.metrics.frechet.frechet_distance"),
        "sampling": ("nlgan.sampling.load_generator", "nlgan.sampling.generate"),
    }
    for page, names in api.items():
        html = (site / "reference" / page / "index.html").read_text()
        for name in names:
            assert name in html, f"{name} missing from reference/{page}"


def _slug(heading: str) -> str:
    """The anchor mkdocs' toc extension gives a heading (for the headings used here)."""
    text = re.sub(r"[^\w\s-]", "", heading.strip().lower())
    return re.sub(r"[\s]+", "-", text)


def test_readme_links_resolve():
    """README.md's relative links (which mkdocs does not build) name files and headings that
    exist, so the front page works on GitHub."""
    readme = (ROOT / "README.md").read_text()
    links = re.findall(r"\]\(([^)\s]+)\)", readme)
    local = [link for link in links if not link.startswith(("http://", "https://"))]
    assert len(local) >= 10
    for link in local:
        path, _, anchor = link.partition("#")
        target = ROOT / (path or "README.md")  # "#heading": a place in the README itself
        assert target.exists(), f"README.md links to {link}, which does not exist"
        if anchor:
            headings = re.findall(r"^#+ (.+)$", target.read_text(), re.M)
            assert anchor in {_slug(h) for h in headings}, f"README.md: no #{anchor} in {path}"


def test_named_repository_files_exist():
    """Every ``nlgan/...``, ``tests/...``, ``bench/...`` and ``tools/...`` path the docs name
    exists (commands that reproduce a result must run as written; a moved module is named
    where it now lives)."""
    pattern = re.compile(r"(?<![\w/.])((?:nlgan|tests|bench|tools)/[\w./-]*\w)")
    missing = set()
    for path in doc_files():
        for name in pattern.findall(path.read_text()):
            if not (ROOT / name).exists():
                missing.add(f"{path.relative_to(ROOT)}: {name}")
    assert not missing, sorted(missing)
