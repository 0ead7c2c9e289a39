"""Option parsing shared by the sampling commands."""

from __future__ import annotations

import click


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


def pick_device(name: str) -> str:
    """``auto`` -> cuda when available, else cpu; anything else is passed to torch as is."""
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        torch.empty(0, device=name)
    except (RuntimeError, ValueError) as err:
        raise click.BadParameter(
            f"{name!r}: {str(err).splitlines()[0]}", param_hint="--device"
        ) from None
    return name
