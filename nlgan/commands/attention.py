"""`nlgan attention RUN --grid attn.png`: where each self-attention layer of G looks."""

from __future__ import annotations

import os
from pathlib import Path

import click


@click.command(name="attention")
@click.argument("run", type=str)
@click.option("--grid", required=True, type=click.Path(dir_okay=False), help="PNG to write.")
@click.option("--n", "n", type=int, default=4, show_default=True, help="Samples (rows).")
@click.option("--classes", type=str, default=None, help="Class ids to cycle through, e.g. 3,5.")
@click.option(
    "--queries",
    default="auto",
    show_default=True,
    help="Query points: auto, auto:N (N <= 5) or x,y;x,y as fractions of the image.",
)
@click.option("--panel", type=int, default=128, show_default=True, help="Panel size in pixels.")
@click.option("--truncation", type=float, default=None, help="Truncation threshold for |z|.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda, cuda:1 or auto.")
@click.option("--no-ema", is_flag=True, help="Use the raw generator instead of the EMA one.")
@click.option(
    "--standing-stats",
    type=int,
    default=0,
    show_default=True,
    help="Re-estimate G's BN statistics from this many batches of 64 first.",
)
def command(
    run, grid, n, classes, queries, panel, truncation, seed, device, no_ema, standing_stats
) -> None:
    """Draw, for query points on generated images, the attention map of every G attention layer.

    Each row is one sample: the image with numbered query points, then one panel per
    (layer, query) with the layer's attention weights for that point overlaid (bright = more).
    """
    from nlgan.attention_maps import capture_attention, parse_queries, render_attention
    from nlgan.checkpoint import CheckpointError
    from nlgan.commands.common import parse_classes, pick_device
    from nlgan.sampling import latents, load_generator

    if n < 1 or panel < 16:
        raise click.BadParameter("need --n >= 1 and --panel >= 16")
    try:
        points = parse_queries(queries)
        G, cfg = load_generator(run, ema=not no_ema, device=pick_device(device))
        if standing_stats:
            from nlgan.standing_stats import standing_stats as restand

            restand(G, standing_stats, 64, seed, truncation)
        import torch

        z = latents(0, n, cfg.model.z_dim, seed, truncation)
        y = None
        if cfg.model.num_classes:
            cycle = parse_classes(classes) or list(range(cfg.model.num_classes))
            bad = [c for c in cycle if not 0 <= c < cfg.model.num_classes]
            if bad:
                raise ValueError(
                    f"--classes {bad}: ids must be in [0, {cfg.model.num_classes - 1}]"
                )
            y = torch.tensor([cycle[i % len(cycle)] for i in range(n)])
        elif classes:
            raise ValueError("--classes: the generator is unconditional (model.num_classes=0)")
        param = next(G.parameters())
        images, maps = capture_attention(
            G, z.to(param.device), None if y is None else y.to(param.device)
        )
        figure = render_attention(images.cpu(), maps, points, panel=panel)
        path = Path(grid)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}.png")
        figure.save(tmp, format="PNG")
        os.replace(tmp, path)
    except (CheckpointError, ValueError, OSError) as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"wrote {path} ({len(maps)} attention layer(s), {len(points)} query point(s))")
