"""`nlgan sample RUN`: grids per class, interpolations, image folders and .npz arrays."""

from __future__ import annotations

from typing import Any

import click

from nlgan.commands.common import generator_options, load_for_sampling, one_line_errors


@click.command(name="sample")
@generator_options
@click.option("--grid", type=click.Path(dir_okay=False), help="Write a PNG grid here.")
@click.option("--out", type=click.Path(), help="Write samples: a folder, or a file ending .npz.")
@click.option("--per-class", type=int, default=None, help="Samples per class (grid default 8).")
@click.option("--n", "n", type=int, default=None, help="Total samples for --out (class-balanced).")
@click.option("--batch-size", type=int, default=64, show_default=True)
@click.option(
    "--upscale",
    type=int,
    default=None,
    help="Enlarge grid images by this integer factor (nearest) [auto: to >= 64 px].",
)
@click.option("--interpolate", is_flag=True, help="Write an interpolation grid to --grid.")
@click.option(
    "--mode",
    type=click.Choice(["auto", "z", "class", "both"]),
    default="auto",
    show_default=True,
    help="What --interpolate walks (auto: class if 2 classes).",
)
@click.option("--steps", type=int, default=8, show_default=True, help="Stops per interpolation.")
@click.option("--rows", type=int, default=4, show_default=True, help="Interpolation rows.")
@click.option(
    "--overwrite",
    is_flag=True,
    help="Replace an existing --grid file, or an --out that nlgan sample wrote.",
)
def command(**opts: Any) -> None:
    """Sample from RUN: a run directory (latest good checkpoint), a checkpoint or an export.

    \b
    nlgan sample runs/c10 --grid grid.png                  one row per class
    nlgan sample runs/c10 --grid t.png --truncation 0.5 --classes 3,5 --per-class 16
    nlgan sample runs/c10 --per-class 1000 --out samples/  samples/<class>/<i>.png
    nlgan sample runs/c10 --n 50000 --out samples.npz      uint8 NHWC images + labels
    nlgan sample runs/c10 --interpolate --classes 1,7 --steps 8 --grid interp.png
    """
    if opts["interpolate"] and not opts["grid"]:
        raise click.UsageError("--interpolate writes a grid: give --grid PATH")
    if not opts["grid"] and not opts["out"]:
        raise click.UsageError("nothing to write: give --grid PATH and/or --out PATH")
    if opts["n"] is not None and opts["per_class"] is not None and opts["out"]:
        raise click.UsageError("give --n or --per-class for --out, not both")
    for name in ("n", "per_class", "batch_size", "upscale"):
        value = opts[name]
        if value is not None and value < 1:
            flag = "--" + name.replace("_", "-")
            raise click.BadParameter(f"{value}: must be >= 1", param_hint=flag)

    from nlgan.commands.common import parse_classes
    from nlgan.sampling.images import check_grid_output

    classes = parse_classes(opts["classes"])
    with one_line_errors():
        if opts["grid"]:  # before the (slow) generation, not after it
            check_grid_output(opts["grid"], opts["overwrite"])
        G, cfg = load_for_sampling(opts, opts["batch_size"])
        if opts["grid"]:
            click.echo(f"wrote {_write_grid(G, opts, classes)}")
        if opts["out"]:
            n = opts["n"]
            if n is None:
                k = len(classes) if classes else max(cfg.model.num_classes, 1)
                n = (opts["per_class"] or 8) * k
            click.echo(f"wrote {_write_samples(G, opts, n, classes)}")


def _write_grid(G, opts: dict[str, Any], classes: list[int] | None):
    """A class grid or an interpolation grid, as a PNG."""
    from nlgan.sampling import class_grid, interpolation_grid, save_grid

    seed, truncation = opts["seed"], opts["truncation"]
    if opts["interpolate"]:
        images = interpolation_grid(
            G, opts["rows"], opts["steps"], classes, opts["mode"], seed, truncation
        )
        nrow = opts["steps"]
    else:
        nrow = opts["per_class"] or 8
        images = class_grid(G, nrow, seed, truncation, classes, opts["batch_size"])
    return save_grid(images, opts["grid"], nrow=nrow, upscale_by=opts["upscale"])


def _write_samples(G, opts: dict[str, Any], n: int, classes: list[int] | None):
    """Stream n samples to a folder or an .npz (written under a temporary name, then renamed)."""
    from tqdm import tqdm

    from nlgan.sampling import iter_generate, to_uint8
    from nlgan.sampling.writers import FolderWriter, NpzWriter

    r, c = G.cfg.resolution, G.cfg.img_channels
    out, overwrite = opts["out"], opts["overwrite"]
    if str(out).endswith(".npz"):
        writer = NpzWriter(out, n, (r, r, c), overwrite=overwrite)
    else:
        writer = FolderWriter(out, conditional=G.cfg.num_classes > 0, overwrite=overwrite)
    try:
        with tqdm(total=n, unit="img", desc="sampling") as bar:
            batches = iter_generate(
                G, n, classes, opts["truncation"], opts["seed"], opts["batch_size"]
            )
            for images, labels in batches:
                writer.write(to_uint8(images), None if labels is None else labels.numpy())
                bar.update(len(images))
    except BaseException:
        writer.abort()
        raise
    return writer.close()
