"""``nlgan report RUN``: one self-contained HTML page about a run.

- :mod:`~nlgan.report.gather`: config vs its closest preset, the metrics log as series, wall
  time, machines, the score table, the saved grids (reads files only);
- :mod:`~nlgan.report.networks`: the EMA G and D of the newest good checkpoint;
- :mod:`~nlgan.report.plots`: curves as inline SVG (matplotlib);
- :mod:`~nlgan.report.samples`: fresh grids and the truncation sweep as inline PNGs;
- :mod:`~nlgan.report.attention`: the attention explorer's quantised maps;
- :mod:`~nlgan.report.page`: the HTML (with ``report.css`` and ``explorer.js``);
- :mod:`~nlgan.report.build`: all of it, written atomically.
"""

from nlgan.report.build import ReportError, build_page, build_report

__all__ = ["ReportError", "build_page", "build_report"]
