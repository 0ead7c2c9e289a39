"""StudioGAN checkpoints before conversion: their files, their YAML, and the structure the
tensors describe (backbone, widths, classes, z, attention places), checked against the YAML and
turned into the nlgan :class:`~nlgan.config.ModelConfig` that reproduces it.

The weight conversion itself is in :mod:`nlgan.interop.studiogan`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch
import yaml

from nlgan.config import ConfigError, ModelConfig
from nlgan.interop.foreign import InteropError
from nlgan.interop.imported import attention_places
from nlgan.models.arch import arch_for

FILE_NAME = re.compile(r"^model=(G|D|G_ema)-(best|current)-weights-step=(\d+)\.pth$")
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
        match = FILE_NAME.match(path.name)
        if not match:
            return {"G": path}  # a lone generator file under another name
        when, folder = match.group(2), path.parent
    elif path.is_dir():
        folder = path
    else:
        raise InteropError(f"{path}: no such StudioGAN checkpoint file or folder")
    found: dict[str, Path] = {}
    for file in sorted(folder.iterdir()):
        match = FILE_NAME.match(file.name)
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


def block_entries(state: dict) -> list[tuple[str, int]]:
    """The ``blocks`` list in order: ("block", j) for residual blocks, ("attn", j) after."""
    out, j = [], 0
    while any(k.startswith(f"blocks.{j}.0.") for k in state):
        is_attn = any(k.startswith(f"blocks.{j}.0.conv1x1_theta.") for k in state)
        out.append(("attn" if is_attn else "block", j))
        j += 1
    return out


def _places(items: list[tuple[str, int]]) -> list[int]:
    """1-based residual blocks followed by attention (StudioGAN's attn_*_loc)."""
    return list(layout(items)[1])


def layout(items: list[tuple[str, int]]) -> tuple[list[int], dict[int, int]]:
    """The residual entries' indices, and {1-based block: index of the attention after it}."""
    blocks: list[int] = []
    attention: dict[int, int] = {}
    for kind, j in items:
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
    residual = [j for kind, j in block_entries(g) if kind == "block"]
    res = 4 * 2 ** len(residual)
    if res not in (32, 64, 128, 256) or "linear0.bias" not in g:
        raise InteropError(f"G has {len(residual)} residual blocks: not a 32-256 px StudioGAN G")
    out: dict[str, Any] = {"img_size": res, "apply_g_sn": "linear0.weight_orig" in g}
    out["g_conv_dim"] = _width(_weight(g, "blocks.0.0.conv2d1").shape[0], res, "G")
    out["attn_g_loc"] = _places(block_entries(g))
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
    out["z_dim"] = stem_in * (len(residual) + 1) if backbone == "big_resnet" else stem_in
    if "shared.weight" in g:
        out["num_classes"], out["g_shared_dim"] = g["shared.weight"].shape
    elif out["g_cond_mtd"] == "cBN":
        out["num_classes"] = gain.shape[1]
    if d is not None:
        d_entries = block_entries(d)
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
