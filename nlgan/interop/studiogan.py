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
:mod:`nlgan.interop.studiogan_settings`.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import torch
import yaml

from nlgan.config import Config, ConfigError, DataConfig, ModelConfig
from nlgan.interop.foreign import (
    InteropError,
    Transfer,
    convert_networks,
    read_torch_file,
    what_failed,
)
from nlgan.interop.imported import Imported, attention_places, plain_values, step_number
from nlgan.interop.studiogan_settings import freeze_d_from_studiogan, sampling_notes, train_config
from nlgan.models.arch import arch_for
from nlgan.models.networks import Discriminator, Generator
from nlgan.nn.nonlocal_block import SelfAttention

_FILE = re.compile(r"^model=(G|D|G_ema)-(best|current)-weights-step=(\d+)\.pth$")
_DATA = {"CIFAR10": "cifar10", "CIFAR100": "cifar100"}
_INIT = {"ortho": "ortho", "N02": "N02", "glorot": "xavier", "xavier": "xavier"}
BN_EPS, SN_EPS = 1e-4, 1e-6  # utils/ops.py: every BN and spectral norm of these backbones
# StudioGAN's config.py defaults of the keys compared with the tensors (a YAML lists changes).
_DEFAULTS = {"backbone": "resnet", "g_cond_mtd": "W/O", "d_cond_mtd": "W/O", "apply_g_sn": False,
             "apply_d_sn": False, "apply_attn": False, "z_dim": 128, "g_conv_dim": 64,
             "d_conv_dim": 64, "img_size": 32, "num_classes": 10}  # fmt: skip


def find_files(path: str | Path, when: str = "best") -> dict[str, Path]:
    """``{"G": ..., "D": ..., "G_ema": ...}`` (those present) for a checkpoint folder, or for
    one of its files (its siblings of the same kind: best or current)."""
    path = Path(path)
    if path.is_file():
        match = _FILE.match(path.name)
        if not match:
            return {"G": path}  # a lone generator file under another name
        when, folder = match.group(2), path.parent
    elif path.is_dir():
        folder = path
    else:
        raise InteropError(f"{path}: no such StudioGAN checkpoint file or folder")
    found: dict[str, Path] = {}
    for file in sorted(folder.iterdir()):
        match = _FILE.match(file.name)
        if match and match.group(2) == when:
            found[match.group(1)] = file
    if "G" not in found and "G_ema" not in found:
        raise InteropError(f"{folder}: no model=G-{when}-weights-step=N.pth or G_ema file")
    return found


def read_config(path: str | Path | None) -> dict[str, dict[str, Any]]:
    """StudioGAN's YAML (sections DATA, MODEL, LOSS, OPTIMIZATION, ...), or {} without one."""
    if path is None:
        return {}
    try:
        values = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except UnicodeDecodeError as err:
        raise InteropError(
            f"--config {path}: not a UTF-8 text file (byte {err.start}); give StudioGAN's YAML"
        ) from None
    except (OSError, yaml.YAMLError) as err:
        reason = " ".join(str(err).split())[:200]
        raise InteropError(f"--config {path}: not a readable YAML file ({reason})") from None
    if not isinstance(values, dict) or not all(isinstance(v, dict) for v in values.values()):
        raise InteropError(f"--config {path}: not a StudioGAN config (sections of key: value)")
    return values


def _entries(state: dict) -> list[tuple[str, int]]:
    """The ``blocks`` list in order: ("block", j) for residual blocks, ("attn", j) after."""
    out, j = [], 0
    while any(k.startswith(f"blocks.{j}.0.") for k in state):
        is_attn = any(k.startswith(f"blocks.{j}.0.conv1x1_theta.") for k in state)
        out.append(("attn" if is_attn else "block", j))
        j += 1
    return out


def _places(entries: list[tuple[str, int]]) -> list[int]:
    """1-based residual blocks followed by attention (StudioGAN's attn_*_loc)."""
    return list(_layout(entries)[1])


def _layout(entries: list[tuple[str, int]]) -> tuple[list[int], dict[int, int]]:
    """The residual entries' indices, and {1-based block: index of the attention after it}."""
    blocks: list[int] = []
    attention: dict[int, int] = {}
    for kind, j in entries:
        if kind == "block":
            blocks.append(j)
        else:
            attention[len(blocks)] = j
    return blocks, attention


def _weight(state: dict, prefix: str, required: bool = True) -> torch.Tensor | None:
    """A layer's raw weight (spectral-normed or not); KeyError names it when required."""
    weight = state.get(f"{prefix}.weight_orig", state.get(f"{prefix}.weight"))
    if weight is None and required:
        raise KeyError(f"{prefix}.weight")
    return weight


def infer_structure(g: dict, d: dict | None, backbone: str | None = None) -> dict[str, Any]:
    """What the tensors say, in StudioGAN's option names (``backbone`` from the YAML, if any)."""
    entries = [j for kind, j in _entries(g) if kind == "block"]
    res = 4 * 2 ** len(entries)
    if res not in (32, 64, 128, 256) or "linear0.bias" not in g:
        raise InteropError(f"G has {len(entries)} residual blocks: not a 32-256 px StudioGAN G")
    out: dict[str, Any] = {"img_size": res, "apply_g_sn": "linear0.weight_orig" in g}
    out["g_conv_dim"] = _width(_weight(g, "blocks.0.0.conv2d1").shape[0], res, "G")
    out["attn_g_loc"] = _places(_entries(g))
    stem_in = _weight(g, "linear0").shape[1]
    gain = _weight(g, "blocks.0.0.bn1.gain", required=False)  # [C, cond]; None: plain BN
    # big_resnet's BNs project [shared embedding, z chunk] (or the chunk alone, unconditional);
    # resnet's project the one-hot label. Only a z chunk as wide as the class count is
    # ambiguous, and then the YAML's backbone decides.
    ambiguous = "shared.weight" not in g and gain is not None and gain.shape[1] == stem_in
    if not (ambiguous and backbone):
        big = "shared.weight" in g or (gain is not None and gain.shape[1] == stem_in)
        backbone = "big_resnet" if big else "resnet"
    out["backbone"] = backbone
    out["g_cond_mtd"] = (
        "cBN" if "shared.weight" in g or (backbone == "resnet" and gain is not None) else "W/O"
    )
    out["z_dim"] = stem_in * (len(entries) + 1) if backbone == "big_resnet" else stem_in
    if "shared.weight" in g:
        out["num_classes"], out["g_shared_dim"] = g["shared.weight"].shape
    elif out["g_cond_mtd"] == "cBN":
        out["num_classes"] = gain.shape[1]
    if d is not None:
        d_entries = _entries(d)
        n_blocks = sum(kind == "block" for kind, _ in d_entries)
        if n_blocks != len(arch_for(res).d_blocks):
            raise InteropError(f"D has {n_blocks} blocks: not the D of a {res} px StudioGAN G")
        if "linear1.weight_orig" not in d:
            raise InteropError("D is not spectral-normed (apply_d_sn=False): not supported")
        out["apply_d_sn"] = True
        out["d_width"] = _weight(d, "blocks.0.0.conv2d1").shape[0]
        out["d_conv_dim"] = out["d_width"] // (2 if res == 32 else 1)  # its 32 px D is 2x wide
        out["attn_d_loc"] = _places(d_entries)
        out["d_cond_mtd"] = "PD" if "embedding.weight_orig" in d else "W/O"
    return out


def _width(channels: int, res: int, net: str) -> int:
    mult = arch_for(res).g_mults[1]
    if channels % mult:
        raise InteropError(f"{net}'s first block has {channels} channels: not a StudioGAN width")
    return channels // mult


def check_options(cfg: dict[str, dict[str, Any]], found: dict[str, Any]) -> None:
    """Refuse what nlgan cannot reproduce, and YAML values the tensors contradict."""
    model, data = cfg.get("MODEL", {}), cfg.get("DATA", {})
    refusals = [
        (model.get("backbone", "resnet") in ("resnet", "big_resnet"), "backbone"),
        (model.get("g_cond_mtd", "W/O") in ("cBN", "W/O"), "g_cond_mtd"),
        (model.get("d_cond_mtd", "W/O") in ("PD", "W/O"), "d_cond_mtd"),
        (model.get("aux_cls_type", "W/O") == "W/O", "aux_cls_type"),
        (model.get("info_type", "N/A") == "N/A", "info_type"),
        (model.get("g_act_fn", "ReLU") == "ReLU", "g_act_fn"),
        (model.get("d_act_fn", "ReLU") == "ReLU", "d_act_fn"),
        (data.get("img_channels", 3) == 3, "img_channels"),
    ]
    for ok, key in refusals:
        if not ok:
            section = "DATA" if key == "img_channels" else "MODEL"
            raise InteropError(
                f"StudioGAN option not supported by the importer: {section}.{key}="
                f"{cfg[section][key]!r}"
            )
    if not cfg:
        return  # no YAML: the tensors alone describe the model
    values = {
        **_DEFAULTS,
        **model,
        **{k: data[k] for k in ("img_size", "num_classes") if k in data},
    }
    if not values["apply_attn"]:
        values.update(attn_g_loc=[], attn_d_loc=[])
    claims = {k: list(v) if isinstance(v, (list, tuple)) else v for k, v in values.items()}
    for key, claimed in claims.items():
        if key in found and claimed != found[key]:
            raise InteropError(
                f"the config says {key}={claimed!r} but the weights have {found[key]!r} "
                "(is it the config these weights were trained with?)"
            )


def model_config(cfg: dict[str, dict[str, Any]], found: dict[str, Any]) -> ModelConfig:
    """The nlgan model that reproduces the StudioGAN one."""
    res, big = found["img_size"], found["backbone"] == "big_resnet"
    d_width = found.get("d_width", found["g_conv_dim"] * arch_for(res).d_blocks[0][0])
    d_mult = arch_for(res).d_blocks[0][0]
    if d_width % d_mult:
        raise InteropError(f"D's first block has {d_width} channels: not expressible in nlgan")
    d_res, d_blocks = attention_places(res, found.get("attn_d_loc", []))
    g_attn = tuple(8 * 2 ** (b - 1) for b in found["attn_g_loc"])  # block b outputs 4 * 2^b
    try:
        return ModelConfig(
            resolution=res, arch="studiogan", num_classes=int(found.get("num_classes", 0)),
            img_channels=3, z_dim=int(found["z_dim"]), g_ch=int(found["g_conv_dim"]),
            d_ch=d_width // d_mult, g_attn_resolutions=g_attn,
            d_attn_resolutions=d_res, d_attn_blocks=d_blocks,
            shared_dim=int(found.get("g_shared_dim", 0)), shared_sn=False, hier=big,
            d_relu_shortcut=True,
            init=_INIT.get(cfg.get("MODEL", {}).get("g_init", "ortho"), "ortho"),
            g_sn=found["apply_g_sn"], d_sn=True, bn_eps=BN_EPS, sn_eps=SN_EPS,
        )  # fmt: skip
    except ConfigError as err:
        raise InteropError(f"StudioGAN model not expressible in nlgan: {err}") from None


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
    blocks, attns = _layout(_entries(state))
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
    blocks, attns = _layout(_entries(state))
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
        blocks = freeze_d_from_studiogan(_entries(states["D"]), freeze)
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
    match = _FILE.match(next(iter(files.values())).name)
    return (int(match.group(3)) if match else 0), []
