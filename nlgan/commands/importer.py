"""`nlgan import biggan-pytorch DIR --out RUN` and `nlgan import studiogan CKPT --out RUN`:
another project's GAN weights as an nlgan run directory (sample, score, fine-tune it)."""

from __future__ import annotations

from typing import Any

import click

from nlgan.commands.common import one_line_errors

_SET = click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="SECTION.KEY=VALUE",
    help="Set a data / train / eval / log value of the run, e.g. --set data.root=/data/in.",
)
_OUT = click.option(
    "--out", required=True, type=click.Path(file_okay=False), help="The new run directory."
)


@click.group(name="import", context_settings={"help_option_names": ["-h", "--help"]})
def command() -> None:
    """Import another project's GAN weights as an nlgan run directory.

    The run's checkpoint reproduces the source's G and D outputs (eval mode, same z and y);
    `nlgan sample / attention / fid / export RUN` use it, and
    `nlgan train RUN/config.yaml --set train.init_from=RUN ...` fine-tunes it.
    """


def _parse_source_values(items: tuple[str, ...]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs typed as an argument parser would: int, float, true/false, text."""
    values: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise click.BadParameter(f"{item!r}: expected KEY=VALUE", param_hint="--source-set")
        key, raw = (part.strip() for part in item.split("=", 1))
        values[key] = _typed(raw)
    return values


def _typed(raw: str) -> Any:
    for cast in (int, float):
        try:
            return cast(raw)
        except ValueError:
            pass
    return raw.lower() == "true" if raw.lower() in ("true", "false") else raw


def _report(imported: Any, checkpoint: Any, run: str) -> None:
    m = imported.config.model
    nets = ", ".join(sorted(imported.weights))
    click.echo(
        f"imported {nets} from {imported.record['source']} ({imported.record['format']}, step "
        f"{imported.step}): {m.resolution}px, {m.num_classes} classes, z_dim {m.z_dim}, "
        f"g_ch {m.g_ch}, d_ch {m.d_ch}, G attention at {list(m.g_attn_resolutions)}"
    )
    for note in imported.record.get("notes", []):
        click.echo(f"note: {note}")
    click.echo(f"wrote {checkpoint}")
    click.echo(f"try: nlgan sample {run} --grid grid.png")


@command.command(name="biggan-pytorch")
@click.argument("folder", type=click.Path(file_okay=False))
@_OUT
@click.option("--suffix", default="", help="Weights saved with a suffix: G_<suffix>.pth, ...")
@click.option(
    "--source-set",
    multiple=True,
    metavar="KEY=VALUE",
    help="A BigGAN-PyTorch option (its own name, e.g. BN_eps=1e-5) for a missing or wrong "
    "state_dict.pth config.",
)
@_SET
def biggan_pytorch(
    folder: str, out: str, suffix: str, source_set: tuple[str, ...], overrides: tuple[str, ...]
) -> None:
    """FOLDER with BigGAN-PyTorch's G.pth, D.pth, G_ema.pth (any present) and state_dict.pth."""
    from nlgan.interop.biggan_pytorch import import_biggan_pytorch
    from nlgan.interop.imported import write_run

    source = _parse_source_values(source_set)
    with one_line_errors():
        imported = import_biggan_pytorch(folder, source, suffix)
        checkpoint = write_run(imported, out, overrides)
    _report(imported, checkpoint, out)


@command.command(name="studiogan")
@click.argument("checkpoint", type=click.Path())
@_OUT
@click.option(
    "--config",
    "config",
    type=click.Path(dir_okay=False),
    help="The StudioGAN YAML the run used (e.g. src/configs/CIFAR10/SAGAN.yaml); checked "
    "against the weights; without it the weights alone describe the model.",
)
@click.option(
    "--which",
    type=click.Choice(["best", "current"]),
    default="best",
    show_default=True,
    help="Which of a folder's checkpoints: model=G-best-... or model=G-current-...",
)
@click.option(
    "--freeze-d",
    type=int,
    default=None,
    help="StudioGAN's freezeD (D's first N blocks-list entries, attention counted) for "
    "fine-tuning; becomes train.freeze_d_blocks (default: the YAML's RUN.freezeD).",
)
@_SET
def studiogan(
    checkpoint: str,
    out: str,
    config: str | None,
    which: str,
    freeze_d: int | None,
    overrides: tuple[str, ...],
) -> None:
    """CHECKPOINT: StudioGAN's checkpoint folder, or one of its model=G-...pth files."""
    from nlgan.interop.imported import write_run
    from nlgan.interop.studiogan import import_studiogan

    with one_line_errors():
        imported = import_studiogan(checkpoint, config, which, freeze_d)
        written = write_run(imported, out, overrides)
    _report(imported, written, out)
