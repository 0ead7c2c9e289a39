"""`nlgan attention RUN --grid attn.png`: where each self-attention layer of G looks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from nlgan.commands.common import (
    generator_options,
    load_for_sampling,
    one_line_errors,
    parse_classes,
)

MAX_ROWS = 64  # rows of one figure; a larger --n would only exhaust memory


@click.command(name="attention")
@generator_options
@click.option("--grid", required=True, type=click.Path(dir_okay=False), help="PNG to write.")
@click.option("--n", "n", type=int, default=4, show_default=True, help="Samples (rows).")
@click.option(
    "--queries",
    default="auto",
    show_default=True,
    help="Query points: auto, auto:N (N <= 5) or x,y;x,y as fractions of the image.",
)
@click.option("--panel", type=int, default=128, show_default=True, help="Panel size in pixels.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --grid file.")
def command(**opts: Any) -> None:
    """Draw, for query points on generated images, the attention map of every G attention layer.

    Each row is one sample (sample i: latent i of --seed's stream, class i of the --classes
    cycle): the image with numbered query points, then one panel per (layer, query) with the
    layer's attention weights for that point overlaid (bright = more).
    """
    if not 1 <= opts["n"] <= MAX_ROWS:
        raise click.BadParameter(
            f"{opts['n']}: a figure holds 1 to {MAX_ROWS} samples (rows)", param_hint="--n"
        )
    if not 16 <= opts["panel"] <= 1024:
        raise click.BadParameter(f"{opts['panel']}: use 16 to 1024 pixels", param_hint="--panel")
    from nlgan.sampling.attention_maps import capture_attention, parse_queries, render_attention
    from nlgan.sampling.images import GRID_FORMATS, check_grid_output
    from nlgan.sampling.latents import latents_for
    from nlgan.storage.files import atomic_path

    classes = parse_classes(opts["classes"])
    with one_line_errors():
        check_grid_output(opts["grid"], opts["overwrite"])
        points = parse_queries(opts["queries"])
        G, cfg = load_for_sampling(opts)
        m = cfg.model
        z, y = latents_for(0, opts["n"], m.z_dim, m.num_classes, opts["seed"], opts["truncation"],
                           classes)  # fmt: skip
        device = next(G.parameters()).device
        images, maps = capture_attention(G, z.to(device), None if y is None else y.to(device))
        figure = render_attention(images.cpu(), maps, points, panel=opts["panel"])
        path = Path(opts["grid"])
        with atomic_path(path) as tmp:
            figure.save(tmp, format=GRID_FORMATS[path.suffix.lower()])
    click.echo(f"wrote {path} ({len(maps)} attention layer(s), {len(points)} query point(s))")
