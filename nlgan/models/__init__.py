"""The networks: SAGAN / BigGAN-style Generator and Discriminator, and their resolution tables.

- :mod:`~nlgan.models.arch`: channel tables keyed by resolution (pure Python; the config
  validates against them without importing torch);
- :mod:`~nlgan.models.networks`: :class:`Generator` and :class:`Discriminator` built from a
  :class:`~nlgan.config.ModelConfig`, label checks, attention gammas.

The network names load lazily, so ``nlgan.models.arch`` (needed by the config) never pulls in
torch.
"""

from __future__ import annotations

from nlgan.lazy import lazy_attributes

_LAZY = {
    "Generator": "nlgan.models.networks",
    "Discriminator": "nlgan.models.networks",
    "attention_gammas": "nlgan.models.networks",
    "check_labels": "nlgan.models.networks",
    "check_label_values": "nlgan.models.networks",
}

__all__ = list(_LAZY)

__getattr__ = lazy_attributes(__name__, _LAZY)
