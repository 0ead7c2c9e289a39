"""The run on disk: where each file of a run lives, and how files are written and read safely.

- :mod:`~nlgan.storage.rundir`: the run-directory layout (``config.yaml``, ``checkpoints/``,
  ``samples/``), defined once;
- :mod:`~nlgan.storage.checkpoint`: checkpoint files (atomic save, safe load, the latest good
  one, pruning);
- :mod:`~nlgan.storage.files`: atomic writes, stale temporary files, image extensions;
- :mod:`~nlgan.storage.outputs`: what a command may write and what ``--overwrite`` may replace.

This package's ``__init__`` imports nothing, so the torch-free modules (files, rundir, outputs)
stay torch-free for the config and the CLI.
"""
