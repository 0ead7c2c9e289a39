"""PyTorch-StudioGAN (github.com/POSTECH-CVLab/PyTorch-StudioGAN) weights as nlgan models.

StudioGAN saves ``model=G-<best|current>-weights-step=N.pth`` (and ``model=D-...``,
``model=G_ema-...``), each ``{"state_dict": ..., "optimizer": ...}``; D's file also has the
step. Its checkpoints do not store the config: pass the run's YAML (``--config``, e.g.
``src/configs/CIFAR10/SAGAN.yaml``) so that unsupported options are refused and the training
hyperparameters carried over; the structure itself (backbone, widths, classes, z, attention
places, spectral norm) is read from the tensors and must agree with the YAML.

The mapping (nlgan <- StudioGAN): ``stem`` <- ``linear0``; ``shared`` <- ``shared`` (plain);
the k-th residual entry of ``blocks`` is nlgan's block k (``conv1/conv2/shortcut`` <-
``conv2d1/conv2d2/conv2d0``), an attention entry after it is ``attention.k``
(``theta/phi/g/w_z`` <- ``conv1x1_theta/phi/g/attn``, ``gamma`` <- ``sigma``); ``out_bn`` <-
``bn4``; ``out_conv`` <- ``conv2d5``; D ``linear`` / ``class_embed`` <- ``linear1`` /
``embedding``. Conditional BN: ``big_resnet`` projects [shared embedding, z chunk] as nlgan's
BigGAN form; ``resnet`` projects the one-hot label through a (spectral-normed) linear layer,
which nlgan holds as per-class tables ``1 + W/sigma`` and ``W'/sigma'`` (the same numbers).
StudioGAN's D blocks run an in-place ReLU on their input, which their shortcut then reads, so
they add ReLU(x), not x: ``model.d_relu_shortcut=true``.
PyTorch's ``spectral_norm`` state (``weight_orig``, ``weight_u``, ``weight_v``) maps one to one.

Supported: backbones ``resnet`` (SAGAN, SNGAN) and ``big_resnet`` (BigGAN) at 32-256 px;
``g_cond_mtd`` cBN or W/O; ``d_cond_mtd`` PD or W/O with a spectral-normed D; ReLU; attention
at any ``attn_g_loc`` / ``attn_d_loc``. Refused: other backbones and conditioning (AC, 2C,
D2DCE, MH, MD), auxiliary classifiers, InfoGAN heads, other activations, D without SN. The
YAML's ``RUN`` section (sampling statistics, truncation, ``freezeD``) and the training settings:
:mod:`nlgan.interop.studiogan_settings`; the files, the YAML and the structure read from the
tensors: :mod:`nlgan.interop.studiogan_structure`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch

from nlgan.config import Config, DataConfig, ModelConfig
from nlgan.interop.foreign import (
    InteropError,
    Transfer,
    convert_networks,
    read_torch_file,
    what_failed,
)
from nlgan.interop.imported import Imported, plain_values, step_number
from nlgan.interop.studiogan_settings import freeze_d_from_studiogan, sampling_notes, train_config
from nlgan.interop.studiogan_structure import (
    FILE_NAME,
    block_entries,
    check_options,
    find_files,
    infer_structure,
    layout,
    model_config,
    read_config,
)
from nlgan.models.networks import Discriminator, Generator
from nlgan.nn.nonlocal_block import SelfAttention

_DATA = {"CIFAR10": "cifar10", "CIFAR100": "cifar100"}


def _bn_stats(t: Transfer, bn: torch.nn.BatchNorm2d, prefix: str) -> None:
    t.copy(bn.running_mean, f"{prefix}.running_mean")
    t.copy(bn.running_var, f"{prefix}.running_var")
    t.copy(bn.num_batches_tracked, f"{prefix}.num_batches_tracked")


def _effective(t: Transfer, prefix: str) -> torch.Tensor:
    """The weight a (spectral-normed) linear layer applies in eval mode: W / (u . W v)."""
    if not t.has(f"{prefix}.weight_orig"):
        return t.take(f"{prefix}.weight")
    w, u, v = (t.take(f"{prefix}.weight_{k}") for k in ("orig", "u", "v"))
    return w / torch.dot(u, w.flatten(1) @ v)


def convert_generator(state: dict, cfg: ModelConfig, what: str) -> dict[str, torch.Tensor]:
    """nlgan G weights from a StudioGAN G state dict."""
    G = Generator(cfg)
    t = Transfer(state, what)
    style = "torch" if cfg.g_sn else "plain"
    t.layer(G.stem, "linear0", style)
    if G.shared is not None:
        t.layer(G.shared, "shared", "plain")
    blocks, attns = layout(block_entries(state))
    for i, (block, j) in enumerate(zip(G.blocks, blocks, strict=True)):
        p = f"blocks.{j}.0"
        for mine, theirs in (("conv1", "conv2d1"), ("conv2", "conv2d2"), ("shortcut", "conv2d0")):
            t.layer(getattr(block, mine), f"{p}.{theirs}", style)
        for name in ("bn1", "bn2"):
            bn, q = getattr(block, name), f"{p}.{name}"
            if bn.projected:  # big_resnet: 1 + W [e, z_chunk]
                t.layer(bn.gain, f"{q}.gain", style)
                t.layer(bn.bias, f"{q}.bias", style)
                _bn_stats(t, bn.bn, f"{q}.bn")
            elif bn.cond_dim:  # resnet cBN: 1 + W onehot, held as per-class tables
                t.copy(bn.gain, 1.0 + _effective(t, f"{q}.gain").t(), f"{q}.gain")
                t.copy(bn.bias, _effective(t, f"{q}.bias").t(), f"{q}.bias")
                _bn_stats(t, bn.bn, f"{q}.bn")
            else:  # unconditional resnet: an affine BatchNorm2d
                t.copy(bn.gain, f"{q}.weight")
                t.copy(bn.bias, f"{q}.bias")
                _bn_stats(t, bn.bn, q)
        if isinstance(G.attention[i], SelfAttention):
            _attention(t, G.attention[i], f"blocks.{attns[i + 1]}.0", style)
    t.copy(G.out_bn.gain, "bn4.weight")
    t.copy(G.out_bn.bias, "bn4.bias")
    _bn_stats(t, G.out_bn.bn, "bn4")
    t.layer(G.out_conv, "conv2d5", style)
    t.finish()
    return G.state_dict()


def convert_discriminator(state: dict, cfg: ModelConfig) -> dict[str, torch.Tensor]:
    """nlgan D weights from a StudioGAN D state dict."""
    D = Discriminator(cfg)
    t = Transfer(state, "the D checkpoint")
    blocks, attns = layout(block_entries(state))
    for i, (block, j) in enumerate(zip(D.blocks, blocks, strict=True)):
        t.layer(block.conv1, f"blocks.{j}.0.conv2d1", "torch")
        t.layer(block.conv2, f"blocks.{j}.0.conv2d2", "torch")
        if block.shortcut is not None:
            t.layer(block.shortcut, f"blocks.{j}.0.conv2d0", "torch")
        if isinstance(D.attention[i], SelfAttention):
            _attention(t, D.attention[i], f"blocks.{attns[i + 1]}.0", "torch")
    t.layer(D.linear, "linear1", "torch")
    if D.class_embed is not None:
        t.layer(D.class_embed, "embedding", "torch")
    t.finish()
    return D.state_dict()


def _attention(t: Transfer, layer: SelfAttention, prefix: str, style: str) -> None:
    for mine, theirs in (("theta", "theta"), ("phi", "phi"), ("g", "g"), ("w_z", "attn")):
        t.layer(getattr(layer, mine), f"{prefix}.conv1x1_{theirs}", style)
    t.copy(layer.gamma, f"{prefix}.sigma")


def import_studiogan(
    path: str | Path, config: str | Path | None = None, when: str = "best",
    freeze_d: int | None = None,
) -> Imported:  # fmt: skip
    """Read a StudioGAN checkpoint (folder or file) and convert every network in it.
    ``freeze_d``: StudioGAN's ``freezeD`` numbering (default: the YAML's ``RUN.freezeD``)."""
    files = find_files(path, when)
    payloads = {net: read_torch_file(file) for net, file in files.items()}
    states = {}
    for net, payload in payloads.items():
        if not isinstance(payload, dict) or not isinstance(payload.get("state_dict"), dict):
            raise InteropError(f"{files[net]}: not a StudioGAN checkpoint (no state_dict)")
        states[net] = payload["state_dict"]
    cfg_values = read_config(config)
    backbone = cfg_values.get("MODEL", {}).get("backbone", "resnet") if cfg_values else None
    try:
        found = infer_structure(states.get("G_ema", states.get("G")), states.get("D"), backbone)
    except InteropError:
        raise  # already one line; the generic wrapping below is for missing tensors
    except (KeyError, AttributeError, IndexError, ValueError, RuntimeError) as err:
        raise InteropError(
            f"{path}: not StudioGAN resnet / big_resnet state dicts ({what_failed(err)})"
        ) from None
    check_options(cfg_values, found)
    model = model_config(cfg_values, found)
    data = DataConfig(name=_DATA.get(cfg_values.get("DATA", {}).get("name", ""), "none"))
    train, known, unmapped = train_config(cfg_values)
    run = cfg_values.get("RUN", {})
    freeze = run.get("freezeD", -1) if freeze_d is None else freeze_d
    if freeze not in (-1, 0, None):
        if "D" not in states:
            raise InteropError(f"freezeD={freeze}: the import has no D to freeze")
        blocks = freeze_d_from_studiogan(block_entries(states["D"]), freeze)
        train = dataclasses.replace(train, freeze_d_blocks=blocks)
        if freeze_d is None:  # the source's own RUN.freezeD, not the user's --freeze-d
            known = {**known, "freeze_d_blocks": blocks}
    run_cfg = Config(model=model, data=data, train=train)
    weights = convert_networks(
        states,
        {net: files[net].name for net in states},
        lambda net, state, name: (
            convert_discriminator(state, model)
            if net == "D"
            else convert_generator(state, model, name)
        ),
    )
    step, notes = _step(payloads, files)
    record = {
        "format": "studiogan",
        "source": str(Path(path).resolve()),
        "files": sorted(f.name for f in files.values()),
        "config": str(config) if config else None,
        "step": step,
        "source_config": {s: plain_values(v) for s, v in cfg_values.items()},
        "train_from_source": known,
        "train_unmapped": unmapped,
        "notes": notes + sampling_notes(run),
    }
    return Imported(run_cfg, weights, step, record)


def _step(payloads: dict[str, Any], files: dict[str, Path]) -> tuple[int, list[str]]:
    """The source's step: D's file records it; else the file name's ``step=N``."""
    if payloads.get("D", {}).get("step"):
        return step_number(payloads["D"]["step"], "the D checkpoint's step")
    match = FILE_NAME.match(next(iter(files.values())).name)
    return (int(match.group(3)) if match else 0), []
