"""The report's curves: matplotlib figures rendered to inline SVG (text kept as text, so a plot
is a few KB), one per group of logged values, with the best step of a score marked."""

from __future__ import annotations

import io
import re

from nlgan.report.gather import Series, best_point

# Groups of the log's keys, in page order: (title, prefix); "" collects the values of no group.
GROUPS = (
    ("Losses", "loss/"),
    ("Attention gamma (0 = the layer is still the identity)", "attn_gamma/"),
    ("Augmentation p and r_t", "augment/"),
    ("Learning rates", "lr/"),
    ("Images per second", "images_per_s"),
    ("Largest spectral-norm sigma", "sigma_max/"),
)


def group_series(series: Series) -> list[tuple[str, Series]]:
    """The plots of a log: the fixed groups, then one plot per other prefix (``d/``,
    ``reg/``, ``pairs/``, ...) and one per evaluation score."""
    left = dict(series)
    plots: list[tuple[str, Series]] = []
    for title, prefix in GROUPS:
        part = {k: v for k, v in left.items() if k.startswith(prefix)}
        if part:
            plots.append((title, part))
            left = {k: v for k, v in left.items() if k not in part}
    for key in [k for k in left if k.startswith("eval/")]:
        plots.append((f"Score: {key.removeprefix('eval/')}", {key: left.pop(key)}))
    prefixes = dict.fromkeys(k.split("/")[0] for k in left)
    for prefix in prefixes:
        part = {k: v for k, v in left.items() if k.split("/")[0] == prefix}
        plots.append((prefix, part))
    return plots


def curve_svg(title: str, series: Series, uid: str) -> str:
    """One plot as an ``<svg>`` element; ``uid`` keeps its element ids unique on the page."""
    import matplotlib
    from matplotlib.figure import Figure  # no pyplot: no global figure state, no GUI backend

    style = {"svg.fonttype": "none", "svg.hashsalt": "nlgan", "font.size": 8}  # reproducible
    with matplotlib.rc_context(style):
        fig = Figure(figsize=(4.6, 2.6))
        ax = fig.subplots()
        for key, points in series.items():
            steps, values = zip(*points, strict=True)
            marker = "o" if len(points) < 30 else None
            ax.plot(steps, values, label=key, marker=marker, markersize=3, linewidth=1.2)
            best = best_point(key, points)
            if best is not None:
                ax.axvline(best[0], color="0.6", linestyle="--", linewidth=0.8)
                ax.plot([best[0]], [best[1]], "*", color="crimson", markersize=9,
                        label=f"best {best[1]:.4g} @ {best[0]}")  # fmt: skip
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("G step")
        ax.grid(alpha=0.3)
        if len(series) > 1 or any(best_point(k, p) for k, p in series.items()):
            ax.legend(fontsize=7, frameon=False)
        fig.tight_layout()
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    text = text[text.index("<svg") :]  # drop the XML prolog and DOCTYPE: inline in HTML
    # matplotlib numbers ids per figure (line2d_1, ...): prefix them, unique on the page.
    text = re.sub(r'\bid="([^"]+)"', rf'id="{uid}-\1"', text)
    text = re.sub(r"url\(#([^)]+)\)", rf"url(#{uid}-\1)", text)
    return re.sub(r'href="#([^"]+)"', rf'href="#{uid}-\1"', text)


def curves(series: Series) -> list[tuple[str, str]]:
    """``(title, svg)`` for every plot of the log."""
    return [
        (title, curve_svg(title, part, f"p{i}"))
        for i, (title, part) in enumerate(group_series(series))
    ]
