"""What the commands share: the generator options of ``sample`` and ``attention``, the device
rule, class-id parsing, and turning nlgan's errors into one-line messages."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click

DEVICE_HELP = "cpu, cuda, cuda:1, ... or auto (cuda when available, else cpu)."


def parse_classes(text: str | None) -> list[int] | None:
    """``"3,5"`` -> [3, 5]; empty -> None (all classes)."""
    if not text:
        return None
    try:
        return [int(c) for c in text.split(",") if c.strip()]
    except ValueError:
        raise click.BadParameter(
            f"{text!r}: expected class ids like 3,5", param_hint="--classes"
        ) from None


def pick_device(name: str | None) -> str:
    """The one device rule of every command: ``auto`` (or None) -> cuda when available, else
    cpu; anything else is checked by torch and used as is."""
    import torch

    if name in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        torch.empty(0, device=name)
    except (RuntimeError, ValueError) as err:
        raise click.BadParameter(
            f"{name!r}: {str(err).splitlines()[0]}", param_hint="--device"
        ) from None
    return name


def device_option(f: Callable) -> Callable:
    """``--device`` with the common default ``auto``."""
    return click.option("--device", default="auto", show_default=True, help=DEVICE_HELP)(f)


_GENERATOR_OPTIONS = (
    click.argument("run", type=str),
    click.option("--classes", type=str, default=None, help="Class ids, e.g. 3,5 (default: all)."),
    click.option("--truncation", type=float, default=None, help="Truncation threshold for |z|."),
    click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same images."),
    device_option,
    click.option("--no-ema", is_flag=True, help="Use the raw generator instead of the EMA one."),
    click.option("--best", is_flag=True, help="Use RUN's best checkpoint (eval.every > 0)."),
    click.option(
        "--standing-stats",
        type=int,
        default=0,
        show_default=True,
        help="Re-estimate G's BN statistics from this many batches first (BigGAN); 0 = off.",
    ),
)


def generator_options(f: Callable) -> Callable:
    """RUN and the options that say which generator to load and how to draw from it."""
    for option in reversed(_GENERATOR_OPTIONS):
        f = option(f)
    return f


def load_for_sampling(opts: dict[str, Any], batch_size: int = 64):
    """Load the generator that :func:`generator_options` describe (standing stats applied)."""
    from nlgan.sampling import load_generator, standing_stats
    from nlgan.storage.checkpoint import resolve_best

    run = resolve_best(opts["run"]) if opts["best"] else opts["run"]
    G, cfg = load_generator(run, ema=not opts["no_ema"], device=pick_device(opts["device"]))
    if opts["standing_stats"]:
        standing_stats(G, opts["standing_stats"], batch_size, opts["seed"], opts["truncation"])
    return G, cfg


@contextmanager
def one_line_errors() -> Iterator[None]:
    """Report nlgan's errors (and file-system errors) as one line, without a traceback."""
    from nlgan.errors import NlganError

    try:
        yield
    except (NlganError, OSError) as err:
        raise click.ClickException(str(err)) from None
