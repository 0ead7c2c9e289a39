"""What an nlgan model repository on the Hugging Face Hub holds: its file names, defined once.

::

    generator.safetensors   the EMA generator, its config in the metadata (``nlgan export``)
    G.safetensors           the raw generator         (optional, ``--with-g``)
    D.safetensors           the discriminator         (optional, ``--with-d``)
    config.yaml             the run's resolved config (optional, ``--with-config``)
    samples.png             a class grid of the EMA generator (seed 0)
    metrics.json            the measured scores with their protocol records (when there are any)
    README.md               the model card (:mod:`nlgan.hub.card`)

The same layout in a local folder loads without the Hub: ``nlgan.load_generator(FOLDER)``.
A folder written by ``nlgan push --local-dir`` also holds the mark of :mod:`nlgan.storage.outputs`
(kind :data:`PUSH_KIND`, listing the files), so a later push may replace it, and nothing else.
Writing it from a run is :mod:`nlgan.hub.staging` (it needs sampling; loading needs only this).
"""

from __future__ import annotations

from pathlib import Path

from nlgan.errors import NlganError

GENERATOR_FILE = "generator.safetensors"
G_FILE, D_FILE = "G.safetensors", "D.safetensors"
CONFIG_FILE, SAMPLES_FILE = "config.yaml", "samples.png"
METRICS_FILE, CARD_FILE = "metrics.json", "README.md"
PUSH_KIND = "hub-push"  # the output mark of a folder that `nlgan push --local-dir` wrote
GRID_CLASSES = 10  # the card's grid shows at most this many classes, one row each


class HubError(NlganError, ValueError):
    """A Hub upload or download cannot be done as asked."""


def is_hub_folder(path: str | Path) -> bool:
    """A local folder laid out like an nlgan Hub repository (holds generator.safetensors)."""
    return (Path(path) / GENERATOR_FILE).is_file()
