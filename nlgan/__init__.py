"""nlgan: non-local (self-attention) GANs — SAGAN-style models, training and evaluation.

The most used functions are importable from the top level (``nlgan.load_generator``,
``nlgan.generate``, ...); they load lazily, so ``import nlgan`` (and the CLI's ``--help``)
does not pay for importing torch.
"""

from __future__ import annotations

from nlgan.lazy import lazy_attributes

__version__ = "0.2.0"

_LAZY = {
    "load_generator": "nlgan.sampling",
    "generate": "nlgan.sampling",
    "class_grid": "nlgan.sampling",
    "save_grid": "nlgan.sampling",
    "Generator": "nlgan.models",
    "Discriminator": "nlgan.models",
    "ModelConfig": "nlgan.config",
    "Config": "nlgan.config",
    "load_config": "nlgan.config",
    "evaluate": "nlgan.metrics",
}

__all__ = ["__version__", *_LAZY]

__getattr__ = lazy_attributes(__name__, _LAZY)
