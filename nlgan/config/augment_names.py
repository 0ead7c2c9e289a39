"""The names of D's augmentation ops, without torch: the config validates ``train.augment``.

The ops themselves are in :mod:`nlgan.train.augment`; this table fixes their names and the
order a pipeline applies them in (ADA's geometric ops, ADA's colour ops, then DiffAugment's).
"""

from __future__ import annotations

GEOMETRIC = ("xflip", "rotate90", "xint", "scale", "rotate", "aniso", "xfrac")
COLOUR = ("brightness", "contrast", "lumaflip", "hue", "saturation")
DIFFAUGMENT = ("color", "translation", "cutout")
OPS = GEOMETRIC + COLOUR + DIFFAUGMENT
SHORTHANDS = {"ada": GEOMETRIC + COLOUR}  # ADA's "bgc" pipeline


def parse_ops(spec: str) -> tuple[str, ...]:
    """``"translation,cutout"`` or ``"ada"`` -> the op names, in pipeline order ("" -> none)."""
    names = [s.strip() for s in spec.split(",") if s.strip()]
    expanded: list[str] = []
    for name in names:
        if name not in OPS and name not in SHORTHANDS:
            choices = ", ".join((*SHORTHANDS, *OPS))
            raise ValueError(f"augmentation {name!r} is unknown: choose from {choices}")
        expanded += SHORTHANDS.get(name, (name,))
    return tuple(op for op in OPS if op in expanded)
