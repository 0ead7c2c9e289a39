"""The order of class folders, which decides their labels: one rule for training and metrics.

``nlgan sample --per-class`` writes folders ``0`` .. ``K-1``; sorted as text, ``10`` would
come before ``2`` and every class from 2 on would get another class's label (iFID would then
compare the wrong classes). So when every class folder's name is a whole number, the folders
sort by that number (``9`` before ``10``; ``01`` and ``1`` keep text order between them). When
any name is not a number (``cat``, ``class10``, a mix of ``7`` and ``seven``), all names sort
as text, as before and as torchvision's ``ImageFolder`` does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_NUMBER = re.compile(r"[0-9]+")


def class_order(names: Iterable[str]) -> list[str]:
    """Distinct class folder names in label order: by number if all are numbers, else as text."""
    unique = sorted(set(names))
    if unique and all(_NUMBER.fullmatch(name) for name in unique):
        return sorted(unique, key=lambda name: (int(name), name))
    return unique
