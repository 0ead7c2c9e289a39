"""The report's HTML: one self-contained page (styles, script, images and data inline).

The page loads nothing: plots are inline SVG, images ``data:`` URIs, and the explorer's data a
``<script type="application/json" id="report-data">`` that the inline script reads. The style
sheet and the script are package files (``report.css``, ``explorer.js``) copied in.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from html import escape
from importlib import resources
from typing import Any

from nlgan.report.gather import Series, describe_protocol

SECTIONS = (
    ("header", "Run"),
    ("curves", "Curves"),
    ("samples", "Samples"),
    ("scores", "Scores"),
    ("attention", "Attention explorer"),
)


@dataclass(frozen=True)
class Page:
    """Everything the page shows, already rendered to strings and URIs."""

    title: str
    header: list[tuple[str, str]]  # (label, text) rows
    preset: str | None
    differences: list[tuple[str, Any, Any]]  # (key, preset value, run value)
    curves: list[tuple[str, str]]  # (title, svg)
    curves_note: str
    saved_grids: list[tuple[int, str]]  # (step, PNG URI)
    class_grid: str | None
    sweep: tuple[str, list[str]] | None  # (PNG URI, row labels)
    scores: list[dict[str, Any]]
    explorer: dict[str, Any]
    explorer_note: str
    series: Series = field(default_factory=dict)


def _asset(name: str) -> str:
    return (resources.files("nlgan.report") / name).read_text(encoding="utf-8")


def _value(value: Any) -> str:
    return escape(json.dumps(value)) if not isinstance(value, str) else escape(value)


def _header(page: Page) -> str:
    rows = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in page.header)
    if page.preset is None:
        diff = "<p class='note'>No config.yaml to compare with a preset.</p>"
    elif not page.differences:
        diff = f"<p>The config is the <code>{escape(page.preset)}</code> preset, unchanged.</p>"
    else:
        body = "".join(
            f"<tr><td><code>{escape(k)}</code></td><td>{_value(a)}</td><td>{_value(b)}</td></tr>"
            for k, a, b in page.differences
        )
        diff = (
            f"<h3>Config: differences from the closest preset, "
            f"<code>{escape(page.preset)}</code></h3>"
            f"<table><tr><th>key</th><th>preset</th><th>this run</th></tr>{body}</table>"
        )
    return f"<table>{rows}</table>{diff}"


def _curves(page: Page) -> str:
    if not page.curves:
        return f"<p class='note'>{escape(page.curves_note)}</p>"
    figures = "".join(
        f"<figure data-plot='{escape(title)}'>{svg}</figure>" for title, svg in page.curves
    )
    return f"<div class='plots'>{figures}</div>"


def _figure(uri: str, caption: str, kind: str = "") -> str:
    return (
        f"<figure class='{kind}'><img class='pixel' src='{uri}' alt='{escape(caption)}'>"
        f"<figcaption>{escape(caption)}</figcaption></figure>"
    )


def _samples(page: Page) -> str:
    parts = ["<h3>Over training (EMA G, fixed latents, one row per class)</h3>"]
    if page.saved_grids:
        grids = "".join(_figure(uri, f"step {step}") for step, uri in page.saved_grids)
        parts.append(f"<div class='grids' id='saved-grids'>{grids}</div>")
    else:
        parts.append("<p class='note'>No grids in RUN/samples/ (this run saved none).</p>")
    if page.class_grid:
        parts.append("<h3>Now: a fresh per-class grid of the EMA G</h3>")
        caption = "one row per class, the same latents per column"
        parts.append(_figure(page.class_grid, caption, "fresh"))
    if page.sweep:
        uri, labels = page.sweep
        parts.append("<h3>Truncation sweep</h3>")
        parts.append(
            _figure(
                uri, "rows, top to bottom: truncation " + ", ".join(labels) + " (seed 0)", "fresh"
            )
        )
    return "".join(parts)


def _scores(page: Page) -> str:
    if not page.scores:
        return "<p class='note'>No evaluation in the metrics log (eval.every = 0 or none ran).</p>"
    body = ""
    for row in page.scores:
        last_step, last = row["last"]
        best = f"{row['best'][1]:.5g} at step {row['best'][0]}" if row["best"] else "—"
        body += (
            f"<tr><td>{escape(row['score'])}</td><td>{last:.5g} (step {last_step})</td>"
            f"<td>{escape(best)}</td><td>{escape(row['better'])}</td>"
            f"<td>{escape(describe_protocol(row['protocol']))}</td></tr>"
        )
    return (
        "<table><tr><th>score</th><th>last</th><th>best</th><th>better</th>"
        f"<th>protocol</th></tr>{body}</table>"
    )


def _explorer(page: Page) -> str:
    if not page.explorer["layers"]:
        return f"<p class='note'>{escape(page.explorer_note)}</p>"
    return (
        f"<p>{escape(page.explorer_note)}</p><div class='explorer'><div class='controls'>"
        "<label>Sample</label><div class='thumbs' id='attn-samples'></div>"
        "<label for='attn-layer'>Layer</label><select id='attn-layer'></select>"
        "<p id='attn-info'></p></div>"
        "<canvas id='attn-canvas' width='384' height='384'></canvas></div>"
    )


def render(page: Page) -> str:
    """The whole HTML document."""
    bodies = {
        "header": _header(page),
        "curves": _curves(page),
        "samples": _samples(page),
        "scores": _scores(page),
        "attention": _explorer(page),
    }
    nav = "".join(f"<a href='#{key}'>{escape(title)}</a>" for key, title in SECTIONS)
    sections = "".join(
        f"<section id='{key}'><h2>{escape(title)}</h2>{bodies[key]}</section>"
        for key, title in SECTIONS
    )
    data = json.dumps({"explorer": page.explorer, "series": page.series}, allow_nan=False)
    data = data.replace("</", "<\\/")  # never close the script element early
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(page.title)}</title><style>{_asset('report.css')}</style></head>"
        f"<body><h1>{escape(page.title)}</h1><nav>{nav}</nav>{sections}"
        f"<script type='application/json' id='report-data'>{data}</script>"
        f"<script>{_asset('explorer.js')}</script></body></html>"
    )
