"""`nlgan prepare FOLDER --out data.npy --resolution R`: decode and resize an image folder once."""

from __future__ import annotations

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
    as with data.name=folder.
    """
    from nlgan.data.prepared import prepare_folder
    from nlgan.storage.outputs import check_file_output

    with one_line_errors():
        check_file_output(out, overwrite, "--out")
        path = prepare_folder(folder, out, resolution, int(channels))
    click.echo(f"wrote {path}")
