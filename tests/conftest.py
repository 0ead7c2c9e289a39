"""Shared test set-up: nothing may touch the network, and accelerate's singletons start clean."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(autouse=True)
def _fresh_accelerate_state():
    """Accelerator state is a process-wide singleton; reset it so tests do not leak into others."""
    yield
    try:
        from accelerate.state import AcceleratorState, PartialState
    except ImportError:  # pragma: no cover - accelerate is a hard dependency
        return
    AcceleratorState._reset_state(reset_partial_state=True)
    PartialState._reset_state()
