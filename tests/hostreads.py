"""Counting host reads of tensor values (each one waits for the device on a GPU)."""

from __future__ import annotations

import traceback

import torch
from torch.overrides import TorchFunctionMode

# Reading a tensor's value on the host: on a GPU each of these waits for the device.
SYNCING = {
    torch.Tensor.item, torch.Tensor.tolist, torch.Tensor.__bool__, torch.Tensor.__int__,
    torch.Tensor.__float__, torch.Tensor.__index__, torch.Tensor.nonzero, torch.Tensor.cpu,
}  # fmt: skip


class HostReads(TorchFunctionMode):
    """Records host reads of tensor values, except the data loader's own index bookkeeping."""

    def __init__(self):
        super().__init__()
        self.calls: list[str] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func in SYNCING:
            stack = "".join(traceback.format_stack(limit=12))
            if "torch/utils/data/" not in stack:  # CPU-side indices, not a device sync
                self.calls.append(f"{func.__name__}\n{stack}")
        return func(*args, **(kwargs or {}))
