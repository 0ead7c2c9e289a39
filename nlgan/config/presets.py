"""Built-in YAML presets, shipped inside the package (``nlgan/configs/*.yaml``).

They are read through ``importlib.resources``, so ``nlgan train`` and ``nlgan train
cifar10_sagan`` work after a plain ``pip install`` from any working directory. In a source
checkout the top-level ``configs/`` is a link to the same folder, the place to browse them.
"""

from __future__ import annotations

from importlib import resources
from importlib.abc import Traversable

DEFAULT_PRESET = "digits"
_SUFFIX = ".yaml"


def _folder() -> Traversable:
    return resources.files("nlgan") / "configs"


def preset_names() -> list[str]:
    """The names of the built-in presets, sorted (``digits``, ``cifar10_sagan``, ...)."""
    return sorted(
        entry.name.removesuffix(_SUFFIX)
        for entry in _folder().iterdir()
        if entry.name.endswith(_SUFFIX) and entry.is_file()
    )


def is_preset(name: str) -> bool:
    """True for the name of a built-in preset (without ``.yaml``)."""
    return name in preset_names()


def preset_text(name: str) -> str:
    """The YAML text of a built-in preset."""
    if not is_preset(name):
        raise KeyError(name)
    return (_folder() / f"{name}{_SUFFIX}").read_text(encoding="utf-8")
