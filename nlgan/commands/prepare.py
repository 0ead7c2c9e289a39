"""`nlgan prepare`: an image folder decoded once into a ``.npy``, or the training images of any
configured data set written to a ``.npz`` with their labels."""

from __future__ import annotations

from pathlib import Path

import click

from nlgan.commands.common import one_line_errors


@click.command(name="prepare")
@click.argument("folder", required=False, type=click.Path(file_okay=False))
@click.option(
    "--out", required=True, type=click.Path(dir_okay=False),
    help="The .npy to write (FOLDER), or the .npz (--config).",
)  # fmt: skip
@click.option("--resolution", type=int, default=None, help="Image size the model trains at.")
@click.option("--channels", type=click.Choice(["1", "3"]), default="3", show_default=True)
@click.option(
    "--config", "config", default=None,
    help="A YAML config or preset name (pairs32, digits, ...): write its training images.",
)  # fmt: skip
@click.option(
    "--set", "overrides", multiple=True, metavar="KEY=VALUE",
    help="Override a value of --config, e.g. --set data.seed=1 (repeatable).",
)  # fmt: skip
@click.option("--overwrite", is_flag=True, help="Replace an existing output.")
def command(
    folder: str | None,
    out: str,
    resolution: int | None,
    channels: str,
    config: str | None,
    overrides: tuple[str, ...],
    overwrite: bool,
) -> None:
    """Prepare training data: FOLDER's images once into OUT.npy (uint8, memory-mapped in
    training; train on it with --set data.name=npy --set data.root=OUT; class sub-folders become
    labels, and OUT's .labels.npy and .json are written beside it), or with --config the
    training images and labels of that config's data set into OUT.npz (images NHWC uint8,
    labels int64), exactly what a run of it trains on, for scoring elsewhere.
    """
    from nlgan.storage.files import remove_stale_temps
    from nlgan.storage.outputs import check_file_output

    if (folder is None) == (config is None):
        raise click.UsageError("give a FOLDER (with --resolution) or --config, not both")
    if folder is not None and resolution is None:
        raise click.UsageError("FOLDER needs --resolution (the image size the model trains at)")
    if config is None and overrides:
        raise click.UsageError("--set changes a --config; FOLDER takes none")
    with one_line_errors():
        if folder is not None:
            from nlgan.data.prepared import prepare_folder

            paths = check_outputs(out, overwrite)
            # Temporaries of these three names left by a killed prepare (kill -9, power cut).
            for stale in remove_stale_temps(paths[0].parent, names={p.name for p in paths}):
                click.echo(f"removed {stale.name}, left by an earlier prepare that was killed")
            path = prepare_folder(folder, out, resolution, int(channels))
            click.echo(f"wrote {path}")
            return
        check_file_output(out, overwrite, "--out")
        if not out.endswith(".npz"):
            raise click.BadParameter(f"{out}: --config writes a .npz", param_hint="--out")
        from nlgan.data.export_npz import write_training_npz
        from nlgan.train.run import load_run_config

        cfg, _ = load_run_config(config, overrides)
        path, count = write_training_npz(cfg, out)
        click.echo(f"wrote {count} images of data.name={cfg.data.name} to {path}")


def check_outputs(out: str, overwrite: bool) -> tuple[Path, Path, Path]:
    """All three files prepare writes, checked before any is written: none is replaced
    without ``--overwrite`` (the .labels.npy and .json of a user's own data.npy included)."""
    from nlgan.data.prepared import prepared_paths
    from nlgan.storage.outputs import OutputExistsError, check_file_output

    paths = prepared_paths(out)
    taken = [p for p in paths[1:] if p.exists() and not p.is_dir()]
    if taken and not overwrite and not paths[0].exists():
        names = ", ".join(p.name for p in paths)
        raise OutputExistsError(
            f"--out {out}: {taken[0]} already exists and prepare writes {names}: choose "
            "another name or --overwrite"
        )
    for path in paths:  # an existing OUT itself, and any of the three that is a folder
        check_file_output(path, overwrite, "--out")
    return paths
