"""Package names that import their module on first use (PEP 562's module ``__getattr__``).

``nlgan``, ``nlgan.models`` and ``nlgan.metrics`` export names this way so that importing the
package (the CLI's ``--help``, the torch-free config) does not import torch.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_attributes(package: str, table: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``table[name]`` (a module path) when ``name`` is
    first asked for."""

    def __getattr__(name: str) -> Any:
        if name in table:
            return getattr(importlib.import_module(table[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
