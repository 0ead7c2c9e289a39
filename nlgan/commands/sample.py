"""`nlgan sample RUN`: grids per class, interpolations, image folders and .npz arrays."""

from __future__ import annotations

import click

from nlgan.commands.common import parse_classes, pick_device


@click.command(name="sample")
@click.argument("run", type=str)
@click.option("--grid", type=click.Path(dir_okay=False), help="Write a PNG grid here.")
@click.option("--out", type=click.Path(), help="Write samples: a folder, or a file ending .npz.")
@click.option("--per-class", type=int, default=None, help="Samples per class (grid default 8).")
@click.option("--n", "n", type=int, default=None, help="Total samples for --out (class-balanced).")
@click.option("--classes", type=str, default=None, help="Class ids, e.g. 3,5 (default: all).")
@click.option("--truncation", type=float, default=None, help="Truncation threshold for |z|.")
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same images.")
@click.option("--batch-size", type=int, default=64, show_default=True)
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda, cuda:1 or auto.")
@click.option("--no-ema", is_flag=True, help="Use the raw generator instead of the EMA one.")
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
@click.option("--overwrite", is_flag=True, help="Replace an existing --out.")
def command(
    run,
    grid,
    out,
    per_class,
    n,
    classes,
    truncation,
    seed,
    batch_size,
    device,
    no_ema,
    interpolate,
    mode,
    steps,
    rows,
    overwrite,
) -> None:
    """Sample from RUN: a run directory (latest good checkpoint), a checkpoint or an export.

    \b
    nlgan sample runs/c10 --grid grid.png                  one row per class
    nlgan sample runs/c10 --grid t.png --truncation 0.5 --classes 3,5 --per-class 16
    nlgan sample runs/c10 --per-class 1000 --out samples/  samples/<class>/<i>.png
    nlgan sample runs/c10 --n 50000 --out samples.npz      uint8 NHWC images + labels
    nlgan sample runs/c10 --interpolate --classes 1,7 --steps 8 --grid interp.png
    """
    if interpolate and not grid:
        raise click.UsageError("--interpolate writes a grid: give --grid PATH")
    if not grid and not out:
        raise click.UsageError("nothing to write: give --grid PATH and/or --out PATH")
    if n is not None and per_class is not None and out:
        raise click.UsageError("give --n or --per-class for --out, not both")
    for name, value in (("--n", n), ("--per-class", per_class), ("--batch-size", batch_size)):
        if value is not None and value < 1:
            raise click.BadParameter(f"{value}: must be >= 1", param_hint=name)
    class_list = parse_classes(classes)

    from nlgan.checkpoint import CheckpointError
    from nlgan.writers import OutputExistsError

    try:
        _sample(
            run,
            grid,
            out,
            per_class,
            n,
            class_list,
            truncation,
            seed,
            batch_size,
            pick_device(device),
            not no_ema,
            interpolate,
            mode,
            steps,
            rows,
            overwrite,
        )
    except (CheckpointError, ValueError, OutputExistsError, OSError) as err:
        raise click.ClickException(str(err)) from None


def _sample(
    run,
    grid,
    out,
    per_class,
    n,
    classes,
    truncation,
    seed,
    batch_size,
    device,
    ema,
    interpolate,
    mode,
    steps,
    rows,
    overwrite,
) -> None:
    from nlgan.sampling import class_grid, load_generator, save_grid

    G, cfg = load_generator(run, ema=ema, device=device)
    if grid:
        if interpolate:
            from nlgan.interpolation import interpolation_grid

            images = interpolation_grid(G, rows, steps, classes, mode, seed, truncation)
            nrow = steps
        else:
            nrow = per_class or 8
            images = class_grid(G, nrow, seed, truncation, classes, batch_size)
        click.echo(f"wrote {save_grid(images, grid, nrow=nrow)}")
    if out:
        if n is None:
            k = len(classes) if classes else max(cfg.model.num_classes, 1)
            n = (per_class or 8) * k
        click.echo(f"wrote {_export(G, out, n, classes, truncation, seed, batch_size, overwrite)}")


def _export(G, out, n, classes, truncation, seed, batch_size, overwrite):
    """Stream n samples to a folder or an .npz (written under a temporary name, then renamed)."""
    from tqdm import tqdm

    from nlgan.sampling import iter_generate, to_uint8
    from nlgan.writers import FolderWriter, NpzWriter

    r, c = G.cfg.resolution, G.cfg.img_channels
    if str(out).endswith(".npz"):
        writer = NpzWriter(out, n, (r, r, c), overwrite=overwrite)
    else:
        writer = FolderWriter(out, conditional=G.cfg.num_classes > 0, overwrite=overwrite)
    try:
        with tqdm(total=n, unit="img", desc="sampling") as bar:
            for images, labels in iter_generate(G, n, classes, truncation, seed, batch_size):
                writer.write(to_uint8(images), None if labels is None else labels.numpy())
                bar.update(len(images))
    except BaseException:
        writer.abort()
        raise
    return writer.close()
