"""Building the networks and optimisers of a run, with the speed switches chosen once here.

- Models are built right after a common seed (the same initial weights on every process), then
  restored from a checkpoint, converted to cross-replica BN on several processes, put in
  channels-last memory format (``train.channels_last``) and compiled (``train.compile``).
  ``nn.Module.compile`` compiles in place, so state-dict names (and checkpoints) do not change.
- Adam runs fused where this torch has a fused kernel for the device (one kernel for all
  parameters instead of several per parameter); it is mathematically the same update.
- On CUDA, ``train.tf32`` lets training matmuls and convolutions use TF32 (torch's own switches;
  the metrics turn them off while they extract features).
"""

from __future__ import annotations

from typing import Any

import torch
from accelerate import Accelerator
from torch import nn

from nlgan.config import Config
from nlgan.models.networks import Discriminator, Generator
from nlgan.storage.checkpoint import load_weights
from nlgan.train.distributed import sync_batchnorm
from nlgan.train.ema import EMA
from nlgan.train.finetune import freeze_d_blocks, init_from_weights
from nlgan.train.state import seed_everything


def memory_format(channels_last: bool) -> torch.memory_format:
    """The memory format images and conv weights use in training."""
    return torch.channels_last if channels_last else torch.contiguous_format


def adam(params: Any, lr: float, betas: tuple[float, float], device: torch.device):
    """Adam, fused where this torch build supports it on ``device`` (same update, fewer kernels)."""
    try:
        return torch.optim.Adam(params, lr=lr, betas=betas, fused=True)
    except (RuntimeError, TypeError, ValueError):  # an older torch, or a device without it
        return torch.optim.Adam(params, lr=lr, betas=betas)


def _speed_up(model: nn.Module, cfg: Config) -> nn.Module:
    tc = cfg.train
    model = model.to(memory_format=memory_format(tc.channels_last))
    if tc.compile != "no":
        model.compile(backend=tc.compile)  # in place: names and state dicts stay the same
    return model


def build_networks(
    cfg: Config, acc: Accelerator, state: dict[str, Any] | None
) -> tuple[nn.Module, nn.Module, EMA, torch.optim.Optimizer, torch.optim.Optimizer, Any]:
    """G, D (prepared by accelerate), the EMA of G, both optimisers, restored from ``state`` or
    initialised from ``train.init_from`` (then also the record of where they came from)."""
    tc = cfg.train
    if acc.device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = tc.tf32
        torch.backends.cudnn.allow_tf32 = tc.tf32
    seed_everything(tc.seed)  # common seed: identical initial weights on every process
    G, D = Generator(cfg.model), Discriminator(cfg.model)
    ema = EMA(G, tc.ema_decay, tc.ema_start, average_bn=tc.ema_bn == "average")
    init_record = state.get("init_from") if state else None
    if state:
        # One-line errors, not torch's key lists, for weights another model wrote.
        load_weights(G, state["G"], "the checkpoint's G weights")
        load_weights(D, state["D"], "the checkpoint's D weights")
        load_weights(ema.ema, state["G_ema"], "the checkpoint's G_ema weights")
    elif tc.init_from:  # fine-tuning: weights from elsewhere, fresh optimisers, step 0
        init_record = init_from_weights(cfg, G, D, ema)
        acc.print(f"starting from {init_record['source']} (its step {init_record['step']}) "
                  "with fresh optimisers at step 0")  # fmt: skip
    freeze_d_blocks(D, tc.freeze_d_blocks)  # before DDP wraps D: frozen stays out of it
    # Cross-replica BN on several processes (names unchanged; EMA keeps plain BN).
    G = _speed_up(sync_batchnorm(G, acc.num_processes, tc.sync_bn, acc.device), cfg)
    D = _speed_up(sync_batchnorm(D, acc.num_processes, tc.sync_bn, acc.device), cfg)
    ema.ema.to(acc.device, memory_format=memory_format(tc.channels_last))
    betas = (tc.beta1, tc.beta2)
    opt_G = adam(G.parameters(), tc.lr_g, betas, acc.device)
    opt_D = adam(D.parameters(), tc.lr_d, betas, acc.device)
    G, D, opt_G, opt_D = acc.prepare(G, D, opt_G, opt_D)
    if state:
        opt_G.load_state_dict(state["opt_G"])
        opt_D.load_state_dict(state["opt_D"])
        if acc.scaler is not None and state.get("scaler"):
            acc.scaler.load_state_dict(state["scaler"])
    return G, D, ema, opt_G, opt_D, init_record
