"""`nlgan export RUN OUT.safetensors`: the EMA generator alone, with its config."""

from __future__ import annotations

import click

from nlgan.commands.common import one_line_errors


@click.command(name="export")
@click.argument("run", type=click.Path(path_type=str))
@click.argument("out", type=click.Path(dir_okay=False, path_type=str))
@click.option("--no-ema", is_flag=True, help="Export the raw generator instead of the EMA one.")
@click.option("--overwrite", is_flag=True, help="Replace an existing OUT file.")
def command(run: str, out: str, no_ema: bool, overwrite: bool) -> None:
    """Export RUN's generator (a run dir, checkpoint, export, hf://USER/NAME or a folder
    with a Hub repository's files) to OUT, a .safetensors file.

    `nlgan sample OUT ...` and `nlgan.load_generator(OUT)` read it back.
    """
    from nlgan.sampling.export import export_generator
    from nlgan.storage.outputs import check_file_output

    with one_line_errors():
        check_file_output(out, overwrite, "OUT")
        path = export_generator(run, out, ema=not no_ema)
    click.echo(f"wrote {path}")
