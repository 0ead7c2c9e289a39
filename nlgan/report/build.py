"""Build ``RUN/report.html`` (or ``--out``): gather the run's data, draw, render, write."""

from __future__ import annotations

from pathlib import Path

import torch

from nlgan.errors import NlganError
from nlgan.report.attention import EXPLORER_SAMPLES, explorer_data
from nlgan.report.gather import (
    RunHistory,
    closest_preset,
    format_seconds,
    machines,
    read_history,
    run_config,
    saved_grids,
    score_rows,
    wall_seconds,
)
from nlgan.report.networks import Networks, load_networks
from nlgan.report.page import Page, render
from nlgan.report.plots import curves
from nlgan.report.samples import file_uri, fresh_class_grid, png_uri, truncation_sweep
from nlgan.storage.checkpoint import CheckpointError
from nlgan.storage.rundir import RunDir, looks_like_run, run_root
from nlgan.storage.runlog import nlgan_version


class ReportError(NlganError, ValueError):
    """The path given to ``nlgan report`` is not a run directory with a checkpoint."""


def _header(run: Path, nets: Networks, history: RunHistory) -> list[tuple[str, str]]:
    """The header's (label, text) rows: what, where, how long, on which machines."""
    cfg = nets.config
    data = cfg.data
    starts = machines(history.records)
    rows = [
        ("run", str(run)),
        ("checkpoint", f"{nets.checkpoint} (step {nets.step}, generator {nets.generator_key})"),
        ("steps", f"{nets.step} of train.steps={cfg.train.steps}"),
        (
            "data",
            f"{data.name}" + (f", root {data.root}" if data.root else "")
            + (f", subset {data.subset} per class" if data.subset else ""),
        ),
        (
            "model",
            f"{cfg.model.resolution} px, {cfg.model.num_classes} classes, G attention at "
            f"{list(cfg.model.g_attn_resolutions)}, D attention at "
            f"{list(cfg.model.d_attn_resolutions) or list(cfg.model.d_attn_blocks)}",
        ),
        ("wall time", format_seconds(wall_seconds(history.records)) if starts else "unknown"),
    ]  # fmt: skip
    for start in starts:
        m = start.get("machine") or {}
        what = ", ".join(f"{k} {v}" for k, v in m.items())
        rows.append(
            (
                f"{start.get('source', '?')}, from step {start['step']}",
                f"nlgan {start.get('nlgan', '?')}; {what}",
            )  # fmt: skip
        )
    if nets.imported:
        source = nets.imported
        rows.append(("imported", f"{source.get('format', '?')} from {source.get('source', '?')}"))
    rows.append(("report by", f"nlgan {nlgan_version()}"))
    return rows


def build_page(run: str | Path, device: str | torch.device = "cpu") -> Page:
    """Everything the report shows about ``run``."""
    run = run_root(run)
    if not looks_like_run(run):
        raise ReportError(f"{run}: not an nlgan run directory (no config.yaml or checkpoints/)")
    try:
        nets = load_networks(run, device)
    except CheckpointError as err:
        raise ReportError(f"{err}; a report needs a checkpoint of the run") from None
    history = read_history(run)
    config = run_config(run)
    preset, differences = closest_preset(config) if config else (None, [])
    if history.has_curves:
        curves_note = ""
    elif nets.imported:
        curves_note = (
            f"No curves: this run was imported ({nets.imported.get('format', '?')}), so its "
            "metrics.jsonl holds no training history yet; fine-tuning it adds some."
        )
    else:
        curves_note = "No curves: RUN/metrics.jsonl holds no logged values (train.log_every=0?)."
    explorer = explorer_data(nets.G, nets.D, EXPLORER_SAMPLES)
    nets_with = list(dict.fromkeys(layer["net"] for layer in explorer["layers"]))  # G, D
    note = (
        f"{len(explorer['samples'])} samples of the EMA G (latent i, class i mod K, seed 0); "
        f"layers of {' and '.join(nets_with)}. Click any position on the image: the overlay "
        "shows that query's attention weights over the keys (brightest = strongest)."
        if explorer["layers"]
        else "No self-attention layer in this G or D: nothing to explore."
    )
    sweep_png, sweep_labels = truncation_sweep(nets.G)
    if nets.D is None and explorer["layers"]:
        note += " The checkpoint has no D, so only G's layers are shown."
    return Page(
        title=f"nlgan report: {run.name}",
        header=_header(run, nets, history),
        preset=preset,
        differences=differences,
        curves=curves(history.series),
        curves_note=curves_note,
        saved_grids=[(step, file_uri(path)) for step, path in saved_grids(run)],
        class_grid=png_uri(fresh_class_grid(nets.G)),
        sweep=(png_uri(sweep_png), sweep_labels),
        scores=score_rows(history),
        explorer=explorer,
        explorer_note=note,
        series=history.series,
    )


def build_report(
    run: str | Path, out: str | Path | None = None, device: str | torch.device = "cpu"
) -> Path:
    """Write ``run``'s report (default ``RUN/report.html``) atomically; returns its path."""
    from nlgan.storage.files import atomic_write

    path = Path(out) if out else RunDir(run_root(run)).report
    html = render(build_page(run, device))
    with atomic_write(path, "w") as f:
        f.write(html)
    return path
