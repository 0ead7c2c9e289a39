"""`nlgan prepare FOLDER --out data.npy --resolution R`: decode and resize an image folder once."""

from __future__ import annotations

from pathlib import Path

import click

from nlgan.commands.common import one_line_errors


@click.command(name="prepare")
@click.argument("folder", type=click.Path(file_okay=False))
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="The .npy to write.")
@click.option("--resolution", type=int, required=True, help="Image size the model trains at.")
@click.option("--channels", type=click.Choice(["1", "3"]), default="3", show_default=True)
@click.option("--overwrite", is_flag=True, help="Replace an existing prepared data set.")
def command(folder: str, out: str, resolution: int, channels: str, overwrite: bool) -> None:
    """Decode, resize and crop FOLDER's images once into OUT (uint8, memory-mapped in training).

    Train on it with --set data.name=npy --set data.root=OUT. Class sub-folders become labels,
    as with data.name=folder. Besides OUT it writes OUT's .labels.npy and .json.
    """
    from nlgan.data.prepared import prepare_folder
    from nlgan.storage.files import remove_stale_temps

    with one_line_errors():
        paths = check_outputs(out, overwrite)
        # Temporaries of these three names left by a killed prepare (kill -9, power cut).
        for stale in remove_stale_temps(paths[0].parent, names={p.name for p in paths}):
            click.echo(f"removed {stale.name}, left by an earlier prepare that was killed")
        path = prepare_folder(folder, out, resolution, int(channels))
    click.echo(f"wrote {path}")


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
