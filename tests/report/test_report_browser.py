"""The report in a real browser: headless Debian Chromium driven by selenium, fully offline.

Selenium is pointed at /usr/bin/chromium and /usr/bin/chromedriver, so Selenium Manager never
downloads a browser or driver. Where they are missing the test is skipped and says how to get
them (`apt-get install chromium chromium-driver`; `.ci/run` installs them in CI).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nlgan.report.attention import explorer_inputs, quantise
from nlgan.sampling.attention_maps import capture_attention
from nlgan.storage.rundir import RunDir

from clitools import train

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--window-size=1200,1000",
)  # fmt: skip
CANVAS = 384  # the explorer canvas' CSS size (report.css)

pytestmark = pytest.mark.skipif(
    not (CHROMIUM.is_file() and CHROMEDRIVER.is_file()),
    reason="no headless browser: install Debian's chromium and chromium-driver "
    "(apt-get install chromium chromium-driver), as .ci/run does",
)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """A 4-step digits run (tiny model, attention at 8x8 in G and D) and its report."""
    out = tmp_path_factory.mktemp("browser") / "digits"
    train("--out", out, "--set", "model.g_ch=4", "--set", "model.d_ch=4",
          "--set", "model.z_dim=8", "--set", "train.steps=4", "--set", "train.batch_size=4",
          "--set", "train.log_every=1", "--set", "train.sample_every=2",
          "--set", "train.report=true")  # fmt: skip
    return out


@pytest.fixture
def browser(tmp_path, monkeypatch):
    """Headless Chromium with a fresh profile, console logs kept."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="pip install selenium")
    from selenium.webdriver.chrome.service import Service

    monkeypatch.setenv("SE_OFFLINE", "true")  # Selenium Manager: never look anything up
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    yield driver
    driver.quit()


def click_query(driver, canvas, row: int, col: int, size: tuple[int, int]) -> dict:
    """Click the centre of query (row, col) of a ``size`` grid; the explorer's state after."""
    from selenium.webdriver import ActionChains

    x = (col + 0.5) / size[1] * CANVAS - CANVAS / 2  # offsets from the element's centre
    y = (row + 0.5) / size[0] * CANVAS - CANVAS / 2
    ActionChains(driver).move_to_element_with_offset(canvas, round(x), round(y)).click().perform()
    return driver.execute_script(
        "const s = window.nlganExplorer; return {row: s.row, col: s.col, values: s.values, "
        "pixels: document.getElementById('attn-canvas').toDataURL()};"
    )


def expected_maps(run: Path, samples: int) -> list[np.ndarray]:
    """Every attention layer's quantised maps (G's, then D's), computed afresh."""
    from nlgan.report.networks import load_networks

    nets = load_networks(run)
    z, y = explorer_inputs(nets.G, samples)
    images, g_maps = capture_attention(nets.G, z, y)
    _, d_maps = capture_attention(nets.D, images, y)
    return [quantise(m.weights).numpy().astype(int) for m in g_maps + d_maps]


def test_the_report_works_in_headless_chromium(report, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    browser.get(RunDir(report).report.as_uri())
    WebDriverWait(browser, 20).until(
        lambda d: d.execute_script("return window.nlganExplorer.ready")
    )
    for section in ("header", "curves", "samples", "scores", "attention"):
        assert browser.find_element(By.ID, section).is_displayed(), section
    assert len(browser.find_elements(By.CSS_SELECTOR, "#curves svg")) >= 4
    assert len(browser.find_elements(By.CSS_SELECTOR, "#saved-grids img")) == 2  # steps 2, 4

    maps = expected_maps(report, 4)
    canvas = browser.find_element(By.ID, "attn-canvas")
    browser.execute_script("arguments[0].scrollIntoView();", canvas)
    first = click_query(browser, canvas, 1, 2, (8, 8))
    second = click_query(browser, canvas, 6, 5, (8, 8))
    assert (first["row"], first["col"], second["row"], second["col"]) == (1, 2, 6, 5)
    assert first["pixels"] != second["pixels"]  # the overlay changed
    for state, query in ((first, 1 * 8 + 2), (second, 6 * 8 + 5)):
        assert np.abs(np.array(state["values"]) - maps[0][0, query]).max() <= 1  # G, sample 0

    Select(browser.find_element(By.ID, "attn-layer")).select_by_index(1)  # D's layer
    browser.find_elements(By.CSS_SELECTOR, "#attn-samples img")[2].click()  # sample 2
    third = click_query(browser, canvas, 3, 3, (8, 8))
    assert np.abs(np.array(third["values"]) - maps[1][2, 3 * 8 + 3]).max() <= 1

    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []
    shot = browser.get_screenshot_as_png()
    pixels = np.asarray(Image.open(io.BytesIO(shot)).convert("L"), dtype=float)
    assert pixels.std() > 20  # not a blank page
