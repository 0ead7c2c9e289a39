"""`nlgan sample RUN`: grids per class, interpolations, image folders and .npz arrays."""

from __future__ import annotations

from dataclasses import dataclass

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
@click.option("--best", is_flag=True, help="Use RUN's best-scoring checkpoint (eval.every > 0).")
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
@click.option(
    "--standing-stats",
    type=int,
    default=0,
    show_default=True,
    help="Re-estimate G's BN statistics from this many batches first (BigGAN); 0 = training's.",
)
def command(**opts) -> None:
    """Sample from RUN: a run directory (latest good checkpoint), a checkpoint or an export.

    \b
    nlgan sample runs/c10 --grid grid.png                  one row per class
    nlgan sample runs/c10 --grid t.png --truncation 0.5 --classes 3,5 --per-class 16
    nlgan sample runs/c10 --per-class 1000 --out samples/  samples/<class>/<i>.png
    nlgan sample runs/c10 --n 50000 --out samples.npz      uint8 NHWC images + labels
    nlgan sample runs/c10 --interpolate --classes 1,7 --steps 8 --grid interp.png
    """
    req = SampleRequest(**opts)
    if req.interpolate and not req.grid:
        raise click.UsageError("--interpolate writes a grid: give --grid PATH")
    if not req.grid and not req.out:
        raise click.UsageError("nothing to write: give --grid PATH and/or --out PATH")
    if req.n is not None and req.per_class is not None and req.out:
        raise click.UsageError("give --n or --per-class for --out, not both")
    for name, value in (("--n", req.n), ("--per-class", req.per_class),
                        ("--batch-size", req.batch_size)):  # fmt: skip
        if value is not None and value < 1:
            raise click.BadParameter(f"{value}: must be >= 1", param_hint=name)

    from nlgan.checkpoint import CheckpointError
    from nlgan.writers import OutputExistsError

    try:
        _sample(req, parse_classes(req.classes), pick_device(req.device))
    except (CheckpointError, ValueError, OutputExistsError, OSError) as err:
        raise click.ClickException(str(err)) from None


@dataclass(frozen=True)
class SampleRequest:
    """The options of one `nlgan sample` call, as click parsed them."""

    run: str
    grid: str | None
    out: str | None
    per_class: int | None
    n: int | None
    classes: str | None
    truncation: float | None
    seed: int
    batch_size: int
    device: str
    no_ema: bool
    best: bool
    interpolate: bool
    mode: str
    steps: int
    rows: int
    overwrite: bool
    standing_stats: int


def _sample(req: SampleRequest, classes: list[int] | None, device: str) -> None:
    from nlgan.checkpoint import resolve_best
    from nlgan.sampling import class_grid, load_generator, save_grid

    run = resolve_best(req.run) if req.best else req.run
    G, cfg = load_generator(run, ema=not req.no_ema, device=device)
    if req.standing_stats:
        from nlgan.standing_stats import standing_stats

        standing_stats(G, req.standing_stats, req.batch_size, req.seed, req.truncation)
    if req.grid:
        if req.interpolate:
            from nlgan.interpolation import interpolation_grid

            images = interpolation_grid(
                G, req.rows, req.steps, classes, req.mode, req.seed, req.truncation
            )
            nrow = req.steps
        else:
            nrow = req.per_class or 8
            images = class_grid(G, nrow, req.seed, req.truncation, classes, req.batch_size)
        click.echo(f"wrote {save_grid(images, req.grid, nrow=nrow)}")
    if req.out:
        n = req.n
        if n is None:
            k = len(classes) if classes else max(cfg.model.num_classes, 1)
            n = (req.per_class or 8) * k
        click.echo(f"wrote {_export(G, req, n, classes)}")


def _export(G, req: SampleRequest, n: int, classes: list[int] | None):
    """Stream n samples to a folder or an .npz (written under a temporary name, then renamed)."""
    from tqdm import tqdm

    from nlgan.sampling import iter_generate, to_uint8
    from nlgan.writers import FolderWriter, NpzWriter

    r, c = G.cfg.resolution, G.cfg.img_channels
    if str(req.out).endswith(".npz"):
        writer = NpzWriter(req.out, n, (r, r, c), overwrite=req.overwrite)
    else:
        writer = FolderWriter(req.out, conditional=G.cfg.num_classes > 0, overwrite=req.overwrite)
    try:
        with tqdm(total=n, unit="img", desc="sampling") as bar:
            batches = iter_generate(G, n, classes, req.truncation, req.seed, req.batch_size)
            for images, labels in batches:
                writer.write(to_uint8(images), None if labels is None else labels.numpy())
                bar.update(len(images))
    except BaseException:
        writer.abort()
        raise
    return writer.close()
