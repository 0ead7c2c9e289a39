"""`nlgan report RUN` and train.report: one self-contained page whose sections, curves, score
table and attention data are the run's; imported runs; failures that only warn."""

from __future__ import annotations

import base64
import json
import re
import shutil

import numpy as np
import pytest

from nlgan.config import LogConfig, config_from_dict
from nlgan.models import Discriminator, Generator
from nlgan.report.attention import explorer_inputs, quantise
from nlgan.sampling.attention_maps import capture_attention
from nlgan.storage.checkpoint import load_latest
from nlgan.storage.rundir import RunDir
from nlgan.storage.runlog import MetricsLog, read_records
from nlgan.tracking import Tracker

from clitools import cli, train
from interop_data import INTEROP

TINY_DIGITS = ("--set", "model.g_ch=4", "--set", "model.d_ch=4", "--set", "model.z_dim=8",
               "--set", "train.batch_size=4", "--set", "train.log_every=1",
               "--set", "train.sample_every=2", "--set", "train.ckpt_every=2")  # fmt: skip
SECTIONS = ("header", "curves", "samples", "scores", "attention")


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """A 4-step digits run (tiny model, attention at 8x8 in G and D) that wrote its report."""
    out = tmp_path_factory.mktemp("report") / "digits"
    train("--out", out, *TINY_DIGITS, "--set", "train.steps=4", "--set", "train.report=true")
    return out


def page_data(html: str) -> dict:
    """The JSON the page's script reads."""
    match = re.search(r"<script type='application/json' id='report-data'>(.*?)</script>", html)
    return json.loads(match.group(1))


def layer_maps(layer: dict, samples: int) -> np.ndarray:
    """A layer's stored maps as uint8 ``[samples, queries, keys]``."""
    raw = np.frombuffer(base64.b64decode(layer["data"]), dtype=np.uint8)
    (qh, qw), (kh, kw) = layer["query"], layer["key"]
    return raw.reshape(samples, qh * qw, kh * kw)


def networks(run):
    """The EMA G and D of a run's newest checkpoint, as the report loads them."""
    _, state = load_latest(run)
    cfg = config_from_dict(state["config"])
    G, D = Generator(cfg.model), Discriminator(cfg.model)
    G.load_state_dict(state["G_ema"])
    D.load_state_dict(state["D"])
    return G.eval(), D.eval()


def test_a_digits_run_leaves_a_self_contained_report_with_every_section(digits_run):
    html = RunDir(digits_run).report.read_text()
    for key in SECTIONS:
        assert f"<section id='{key}'>" in html
    # Loads nothing: no external scripts, styles, images or fetches (SVG namespaces aside).
    assert not re.search(r"<(link|iframe)\b|<script src|url\((?!#)|fetch\(|XMLHttpRequest", html)
    sources = re.findall(r"\bsrc='([^']*)'", html)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)
    assert "No curves" not in html and "<svg" in html
    # Header: the closest preset and what differs from it.
    assert "differences from the closest preset, <code>digits</code>" in html
    assert "<code>model.g_ch</code></td><td>16</td><td>4</td>" in html
    assert "<code>train.steps</code></td><td>2500</td><td>4</td>" in html
    assert "train, from step 0" in html and "device cpu" in html


def test_the_curves_are_the_metrics_log(digits_run):
    html = RunDir(digits_run).report.read_text()
    data = page_data(html)
    records = read_records(RunDir(digits_run).metrics_log)
    logged = [r for r in records if r["kind"] == "train"]
    assert data["series"]["loss/d"] == [[r["step"], r["values"]["loss/d"]] for r in logged]
    titles = re.findall(r"<figure data-plot='([^']*)'>", html)
    assert titles[:4] == [
        "Losses", "Attention gamma (0 = the layer is still the identity)", "Learning rates",
        "Images per second",
    ]  # fmt: skip
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids))  # the inlined SVGs never share an element id


def test_the_explorer_holds_the_models_attention_for_every_query(digits_run):
    data = page_data(RunDir(digits_run).report.read_text())["explorer"]
    G, D = networks(digits_run)
    z, y = explorer_inputs(G, len(data["samples"]))
    images, g_maps = capture_attention(G, z, y)
    _, d_maps = capture_attention(D, images, y)
    assert [(layer["net"], layer["query"]) for layer in data["layers"]] == [
        ("G", [8, 8]),
        ("D", [8, 8]),
    ]
    for stored, computed in zip(data["layers"], g_maps + d_maps, strict=True):
        want = quantise(computed.weights).numpy().astype(int)
        got = layer_maps(stored, len(data["samples"])).astype(int)
        assert np.abs(got - want).max() <= 1  # float noise may move a rounding by one
        assert (got.max(axis=-1) == 255).all()  # every query's row scaled to its strongest key
    assert data["labels"] == y.tolist()


def test_scores_and_any_logged_value_get_curves_with_the_best_step(digits_run, tmp_path):
    run = tmp_path / "copy"
    shutil.copytree(digits_run, run)
    log = MetricsLog(run, 4)
    protocol = {"n": 500, "seed": 0, "resize": "clean", "backbone": {"name": "inception"},
                "reference": {"path": "digits-train.npz"}}  # fmt: skip
    for step, fid in ((2, 9.0), (3, 4.5), (4, 6.0)):
        log.eval(step, {"eval/fid": fid, "eval/is_mean": 1.0 + step}, protocol)
    log.train(4, {"pairs/twin_rate": 0.25})  # a data set's own metric: plotted generically
    cli("report", run, "--out", tmp_path / "r.html", "--device", "cpu")
    html = (tmp_path / "r.html").read_text()
    assert "<td>fid</td><td>6 (step 4)</td><td>4.5 at step 3</td><td>lower</td>" in html
    assert "<td>is_mean</td><td>5 (step 4)</td><td>5 at step 4</td><td>higher</td>" in html
    assert "n=500, seed=0, resize=clean, backbone=inception, reference=digits-train.npz" in html
    assert "best 4.5 @ 3" in html and "best 5 @ 4" in html
    assert "<figure data-plot='pairs'>" in html and "pairs/twin_rate" in html


def test_an_imported_biggan_pytorch_run_has_samples_and_attention_but_no_curves(tmp_path):
    run = tmp_path / "imported"
    cli("import", "biggan-pytorch", INTEROP / "biggan32", "--out", run)
    records = read_records(RunDir(run).metrics_log)
    assert [(r["kind"], r["step"], r["source"]) for r in records] == [("start", 1234, "import")]
    out = cli("report", run, "--device", "cpu").output
    assert f"wrote {RunDir(run).report}" in out
    html = RunDir(run).report.read_text()
    assert "No curves: this run was imported (biggan-pytorch)" in html
    assert "<svg" not in html and "No evaluation in the metrics log" in html
    data = page_data(html)["explorer"]
    assert {layer["net"] for layer in data["layers"]} == {"G", "D"}
    assert len(data["samples"]) == 4 and "Truncation sweep" in html


def test_a_failing_report_warns_and_the_run_still_finishes(tmp_path, monkeypatch):
    import nlgan.report

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(nlgan.report, "build_report", broken)
    with pytest.warns(UserWarning, match="writing the run's report failed .*disk on fire"):
        result = train("--out", tmp_path / "r", *TINY_DIGITS, "--set", "train.steps=2",
                       "--set", "train.report=true")  # fmt: skip
    assert "done: 2 steps" in result.output
    assert RunDir(tmp_path / "r").checkpoint(2).is_file()
    assert not RunDir(tmp_path / "r").report.exists()


def test_the_report_goes_to_wandb_as_html_and_an_artifact(tmp_path):
    import wandb

    class Run:
        id = "abc123"
        logged: list = []
        artifacts: list = []

        def log(self, data, step):
            self.logged.append((data, step))

        def log_artifact(self, artifact):
            self.artifacts.append(artifact)

    tracker = Tracker(LogConfig(), tmp_path, {}, enabled=False)
    tracker._run, tracker._wandb = Run(), wandb
    page = tmp_path / "report.html"
    page.write_text("<!doctype html><p>hello</p>")
    tracker.log_html("report", page, 7)
    ((data, step),) = Run.logged
    assert step == 7 and isinstance(data["report"], wandb.Html)
    assert data["report"].html == "<!doctype html><p>hello</p>"
    (artifact,) = Run.artifacts
    assert artifact.name == "report-abc123" and artifact.type == "report"
    assert list(artifact.manifest.entries) == ["report.html"]


def test_a_folder_that_is_no_run_is_refused_in_one_line(tmp_path):
    result = cli("report", tmp_path, ok=False)
    assert result.exit_code == 1
    assert f"Error: {tmp_path}: not an nlgan run directory" in result.output
    assert "Traceback" not in result.output


def test_train_report_is_a_config_key_a_resume_may_change():
    from nlgan.config import config_from_dict as build
    from nlgan.train.run import RESUMABLE_KEYS

    assert build({}).train.report is True
    assert build({"train": {"report": False}}).train.report is False
    assert "train.report" in RESUMABLE_KEYS


def test_serve_answers_with_the_page_until_ctrl_c(digits_run, tmp_path, monkeypatch):
    import _thread
    import signal
    import threading
    import urllib.request
    import webbrowser

    fetched = {}

    def browse(url):  # what a browser would do, then Ctrl-C
        def visit():
            try:
                fetched["page"] = urllib.request.urlopen(url, timeout=10).read()
            finally:  # stop the server even if the fetch failed: never hang the suite
                _thread.interrupt_main()

        threading.Thread(target=visit, daemon=True).start()
        return True

    monkeypatch.setattr(webbrowser, "open", browse)
    page = tmp_path / "served.html"
    # interrupt_main does nothing while SIGINT is ignored, as it is for a pytest started in the
    # background: give Ctrl-C Python's handler for this test, then put back the one found.
    found = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        out = cli("report", digits_run, "--out", page, "--serve", "--port", 0).output
    finally:
        signal.signal(signal.SIGINT, found)
    assert "serving http://127.0.0.1:" in out and "(Ctrl-C to stop)" in out
    assert fetched["page"] == page.read_bytes()
