"""BigGAN-PyTorch (github.com/ajbrock/BigGAN-PyTorch) weights as nlgan models.

A BigGAN-PyTorch weights folder holds ``G.pth``, ``D.pth``, ``G_ema.pth`` (state dicts; any of
them may be missing) and ``state_dict.pth`` (``itr`` and the training ``config``). The model's
structure (resolution, widths, classes, shared embedding, hierarchical z, attention places,
spectral norm in G) is read from the tensors; the config, when present, must agree with them
and supplies what tensors do not show (BN/SN epsilons, activation, norm style, training
hyperparameters). ``overrides`` (``--source-set KEY=VALUE``, BigGAN-PyTorch's own option names)
stand in for a missing ``state_dict.pth`` or correct it.

The mapping (nlgan <- BigGAN-PyTorch): ``stem`` <- ``linear``; ``shared`` <- ``shared`` (plain:
``model.shared_sn=false``); ``blocks.i`` <- ``blocks.i.0`` (``shortcut`` <- ``conv_sc``);
``attention.i`` <- ``blocks.i.1`` (``w_z`` <- ``o``); BN ``gain``/``bias`` projections with
``G_shared`` (both compute ``1 + W e``), or per-class tables ``1 + E`` / ``E'`` without it;
``bn.running_mean/var`` <- ``stored_mean/var``; ``out_bn`` / ``out_conv`` <- ``output_layer.0/2``;
D ``linear`` / ``class_embed`` <- ``linear`` / ``embed``. Spectral norm: BigGAN-PyTorch
re-runs one power-iteration step from ``u0`` even in eval mode; nlgan stores that step's u, v.

Supported: ``model=BigGAN`` at 32-256 px; G with or without SN, D with SN; ``G_shared`` (any
``shared_dim``) or per-class embeddings; ``hier``; attention anywhere; ``norm_style=bn`` with
its stored statistics; ``BN_eps=1e-5``; ReLU activations; wide D. Refused with a one-line
error: BigGANdeep, ``mybn`` / ``cross_replica`` BN, other norm styles, other activations,
``BN_eps`` other than 1e-5 (its output BN always uses 1e-5), a narrow D, ``z_var`` other than 1.
Sampling settings (``G_eval_mode``, ``accumulate_stats``) are recorded and noted: see
:mod:`nlgan.interop.biggan_settings`. A negative ``itr`` starts the run at step 0, with a note.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch

from nlgan.config import (
    Config,
    ConfigError,
    DataConfig,
    ModelConfig,
)
from nlgan.interop.biggan_settings import sampling_notes, source_options, train_config
from nlgan.interop.foreign import (
    InteropError,
    Transfer,
    convert_networks,
    read_torch_file,
    what_failed,
)
from nlgan.interop.imported import Imported, attention_places, plain_values, step_number
from nlgan.models.arch import arch_for, d_feature_sizes, g_feature_sizes
from nlgan.models.networks import Discriminator, Generator
from nlgan.nn.nonlocal_block import SelfAttention

NETS = ("G", "D", "G_ema")
_RELU = ("relu", "inplace_relu", "ir")
_DATA = {"C10": "cifar10", "C100": "cifar100"}
_INIT = {"ortho": "ortho", "N02": "N02", "glorot": "xavier", "xavier": "xavier"}


def read_folder(folder: str | Path, suffix: str = "") -> tuple[dict[str, dict], dict[str, Any]]:
    """The state dicts present (``G``, ``D``, ``G_ema``) and ``state_dict.pth`` (or {})."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InteropError(f"{folder}: not a folder (give BigGAN-PyTorch's weights folder)")
    tail = f"_{suffix}" if suffix else ""
    states = {
        net: read_torch_file(folder / f"{net}{tail}.pth")
        for net in NETS
        if (folder / f"{net}{tail}.pth").is_file()
    }
    if "G" not in states and "G_ema" not in states:
        raise InteropError(f"{folder}: no G{tail}.pth or G_ema{tail}.pth (a generator is needed)")
    meta = folder / f"state_dict{tail}.pth"
    info = read_torch_file(meta) if meta.is_file() else {}
    if not isinstance(info, dict) or not all(isinstance(s, dict) for s in states.values()):
        raise InteropError(f"{folder}: these files are not BigGAN-PyTorch state dicts")
    return states, info


def _count(state: dict, pattern: str) -> int:
    n = 0
    while pattern.format(n) in state:
        n += 1
    return n


def infer_structure(states: dict[str, dict]) -> dict[str, Any]:
    """What the tensors say, in BigGAN-PyTorch's option names."""
    g = states.get("G_ema", states.get("G"))
    n_blocks = _count(g, "blocks.{}.0.conv1.weight")
    resolution = 4 * 2**n_blocks
    if n_blocks == 0 or resolution not in (32, 64, 128, 256):
        raise InteropError(f"G has {n_blocks} blocks: not a BigGAN-PyTorch G at 32-256 px")
    mults = arch_for(resolution, "biggan").g_mults
    out: dict[str, Any] = {"resolution": resolution}
    out["G_ch"] = _width(g["blocks.0.0.conv1.weight"].shape[0], mults[1], "G")
    out["G_attn"] = [4 * 2 ** (i + 1) for i in range(n_blocks) if f"blocks.{i}.1.gamma" in g]
    out["G_param"] = "SN" if "linear.u0" in g else "none"
    out["G_shared"] = "shared.weight" in g
    stem_in = g["linear.weight"].shape[1]
    if out["G_shared"]:
        out["n_classes"], out["shared_dim"] = g["shared.weight"].shape
        cond_in = g["blocks.0.0.bn1.gain.weight"].shape[1]
        out["hier"] = cond_in > out["shared_dim"]
        if out["hier"] and cond_in - out["shared_dim"] != stem_in:
            raise InteropError("G's z chunks do not match between its linear layer and its BNs")
    else:
        out["n_classes"], out["hier"] = g["blocks.0.0.bn1.gain.weight"].shape[0], False
    out["dim_z"] = stem_in * (n_blocks + 1) if out["hier"] else stem_in
    if "D" in states:
        d = states["D"]
        d_blocks = arch_for(resolution, "biggan").d_blocks
        if _count(d, "blocks.{}.0.conv1.weight") != len(d_blocks):
            raise InteropError(f"D.pth does not have the blocks of a {resolution}px D")
        out["D_ch"] = _width(d["blocks.0.0.conv1.weight"].shape[0], d_blocks[0][0], "D")
        out["D_attn_blocks"] = [i + 1 for i in range(len(d_blocks)) if f"blocks.{i}.1.gamma" in d]
        if d["blocks.0.0.conv1.weight"].shape[0] != d["blocks.0.0.conv2.weight"].shape[0]:
            raise InteropError("D.pth is a narrow D (D_wide=False): not supported")
        if d["embed.weight"].shape[0] != out["n_classes"]:
            raise InteropError("G and D have different numbers of classes")
    return out


def _width(channels: int, multiplier: int, net: str) -> int:
    if channels % multiplier:
        raise InteropError(f"{net}'s first block has {channels} channels: not a BigGAN width")
    return channels // multiplier


def check_options(src: dict[str, Any], found: dict[str, Any]) -> None:
    """Refuse options nlgan cannot reproduce, and config values the tensors contradict."""
    refusals = [
        (src.get("model", "BigGAN") == "BigGAN", f"model={src.get('model')}: only BigGAN"),
        (src.get("norm_style", "bn") == "bn", f"norm_style={src.get('norm_style')}: only bn"),
        (not src.get("mybn") and not src.get("cross_replica"), "mybn / cross_replica BN"),
        (src.get("G_nl", "relu") in _RELU and src.get("D_nl", "relu") in _RELU, "non-ReLU nl"),
        (float(src.get("BN_eps", 1e-5)) == 1e-5, f"BN_eps={src.get('BN_eps')} (not 1e-5)"),
        (src.get("D_param", "SN") == "SN", f"D_param={src.get('D_param')}: only SN"),
        (not found["hier"] or found["G_shared"], "hier without G_shared"),
    ]
    for ok, what in refusals:
        if not ok:
            raise InteropError(f"BigGAN-PyTorch option not supported by the importer: {what}")
    res = found["resolution"]
    attn_d = [int(a) for a in str(src["D_attn"]).split("_") if a] if "D_attn" in src else None
    has_d = "D_ch" in found
    claims = [  # (option, what the config says, what the tensors say)
        ("resolution", src.get("resolution"), res),
        ("G_ch", src.get("G_ch"), found["G_ch"]),
        ("D_ch", src.get("D_ch") if has_d else None, found.get("D_ch")),
        ("n_classes", src.get("n_classes"), found["n_classes"]),
        ("G_shared", src.get("G_shared"), found["G_shared"]),
        ("hier", src.get("hier"), found["hier"]),
        ("G_param", _sn(src["G_param"]) if "G_param" in src else None, found["G_param"]),
        ("shared_dim", (src.get("shared_dim") or src.get("dim_z")) if found["G_shared"] else None,
         found.get("shared_dim")),
        ("dim_z", _chunked(src, found) if "dim_z" in src else None, found["dim_z"]),
        ("G_attn", _attn(src["G_attn"], res) if "G_attn" in src else None, found["G_attn"]),
        ("D_attn", _d_attn(attn_d, res) if attn_d is not None and has_d else None,
         found.get("D_attn_blocks")),
    ]  # fmt: skip
    for key, claimed, actual in claims:
        if claimed is not None and claimed != actual:
            raise InteropError(
                f"state_dict.pth's config says {key}={src.get(key)!r}, but the weights have "
                f"{_shown(key, actual)}: fix it with --source-set {key}=..."
            )


def _sn(value: Any) -> str:
    return "SN" if value == "SN" else "none"


def _shown(key: str, actual: Any) -> str:
    """What the tensors say, in the option's terms."""
    if key == "D_attn":
        return f"attention after D blocks {actual}"
    return f"{key}={actual!r}"


def _chunked(src: dict[str, Any], found: dict[str, Any]) -> int:
    """dim_z as BigGAN-PyTorch rounds it down to whole chunks with ``hier``."""
    dim_z = int(src["dim_z"])
    slots = int(math.log2(found["resolution"] // 4)) + 1
    return dim_z // slots * slots if found["hier"] else dim_z


def _attn(text: Any, resolution: int) -> list[int]:
    """G's attention sizes from BigGAN-PyTorch's ``G_attn`` text (``"16_32"``, ``"0"``)."""
    sizes = [int(a) for a in str(text).split("_") if a]
    return [s for s in g_feature_sizes(resolution) if s in sizes]


def _d_attn(sizes: list[int], resolution: int) -> list[int]:
    """D blocks with attention: every block whose *nominal* resolution is listed (its table
    names 16 for all four blocks of the 32 px D)."""
    nominal = {32: [16] * 4}.get(resolution, d_feature_sizes(resolution))
    return [i + 1 for i, s in enumerate(nominal) if s in sizes]


def model_config(src: dict[str, Any], found: dict[str, Any]) -> ModelConfig:
    """The nlgan model that reproduces the BigGAN-PyTorch one."""
    res = found["resolution"]
    g_attn, d_res, d_blocks = tuple(found["G_attn"]), (), ()
    if "D_ch" in found:
        d_res, d_blocks = attention_places(res, found["D_attn_blocks"])
    try:
        return ModelConfig(
            resolution=res, arch="biggan", num_classes=int(found["n_classes"]), img_channels=3,
            z_dim=int(found["dim_z"]), g_ch=int(found["G_ch"]),
            d_ch=int(found.get("D_ch", found["G_ch"])), g_attn_resolutions=g_attn,
            d_attn_resolutions=d_res, d_attn_blocks=d_blocks,
            shared_dim=int(found["shared_dim"]) if found["G_shared"] else 0, shared_sn=False,
            hier=bool(found["hier"]), init=_INIT.get(src.get("G_init", "ortho"), "ortho"),
            g_sn=found["G_param"] == "SN", d_sn=True,
            bn_eps=float(src.get("BN_eps", 1e-5)), sn_eps=float(src.get("SN_eps", 1e-8)),
        )  # fmt: skip
    except ConfigError as err:
        raise InteropError(f"BigGAN-PyTorch model not expressible in nlgan: {err}") from None


def convert_generator(state: dict, cfg: ModelConfig, what: str) -> dict[str, torch.Tensor]:
    """nlgan G weights from a BigGAN-PyTorch G state dict."""
    G = Generator(cfg)
    t = Transfer(state, what)
    style, eps = ("biggan" if cfg.g_sn else "plain"), cfg.sn_eps
    t.layer(G.stem, "linear", style, eps)
    if G.shared is not None:
        t.layer(G.shared, "shared", "plain")
    for i, block in enumerate(G.blocks):
        p = f"blocks.{i}.0"
        t.layer(block.conv1, f"{p}.conv1", style, eps)
        t.layer(block.conv2, f"{p}.conv2", style, eps)
        t.layer(block.shortcut, f"{p}.conv_sc", style, eps)
        for name in ("bn1", "bn2"):
            bn, q = getattr(block, name), f"{p}.{name}"
            if bn.projected:  # gain = 1 + W e in both
                t.layer(bn.gain, f"{q}.gain", style, eps)
                t.layer(bn.bias, f"{q}.bias", style, eps)
            else:  # BigGAN-PyTorch's per-class gains are 1 + E[y]; nlgan's tables hold them
                t.copy(bn.gain, 1.0 + t.take(f"{q}.gain.weight"), f"{q}.gain.weight")
                t.copy(bn.bias, f"{q}.bias.weight")
            t.copy(bn.bn.running_mean, f"{q}.stored_mean")
            t.copy(bn.bn.running_var, f"{q}.stored_var")
        if isinstance(G.attention[i], SelfAttention):
            _attention(t, G.attention[i], f"blocks.{i}.1", style, eps)
    t.copy(G.out_bn.gain, "output_layer.0.gain")
    t.copy(G.out_bn.bias, "output_layer.0.bias")
    t.copy(G.out_bn.bn.running_mean, "output_layer.0.stored_mean")
    t.copy(G.out_bn.bn.running_var, "output_layer.0.stored_var")
    t.layer(G.out_conv, "output_layer.2", style, eps)
    t.finish()
    return G.state_dict()


def convert_discriminator(state: dict, cfg: ModelConfig) -> dict[str, torch.Tensor]:
    """nlgan D weights from a BigGAN-PyTorch D state dict."""
    D = Discriminator(cfg)
    t = Transfer(state, "D.pth")
    for i, block in enumerate(D.blocks):
        p = f"blocks.{i}.0"
        t.layer(block.conv1, f"{p}.conv1", "biggan", cfg.sn_eps)
        t.layer(block.conv2, f"{p}.conv2", "biggan", cfg.sn_eps)
        if block.shortcut is not None:
            t.layer(block.shortcut, f"{p}.conv_sc", "biggan", cfg.sn_eps)
        if isinstance(D.attention[i], SelfAttention):
            _attention(t, D.attention[i], f"blocks.{i}.1", "biggan", cfg.sn_eps)
    t.layer(D.linear, "linear", "biggan", cfg.sn_eps)
    t.layer(D.class_embed, "embed", "biggan", cfg.sn_eps)
    t.finish()
    return D.state_dict()


def _attention(t: Transfer, layer: SelfAttention, prefix: str, style: str, eps: float) -> None:
    for mine, theirs in (("theta", "theta"), ("phi", "phi"), ("g", "g"), ("w_z", "o")):
        t.layer(getattr(layer, mine), f"{prefix}.{theirs}", style, eps)
    t.copy(layer.gamma, f"{prefix}.gamma")


def import_biggan_pytorch(
    folder: str | Path, overrides: dict[str, Any] | None = None, suffix: str = ""
) -> Imported:
    """Read a BigGAN-PyTorch weights folder and convert every network in it."""
    states, info = read_folder(folder, suffix)
    tail = f"_{suffix}" if suffix else ""
    src = source_options(info, overrides, f"{folder}/state_dict{tail}.pth")
    step, notes = step_number(info.get("itr", 0), f"state_dict{tail}.pth's itr")
    try:
        found = infer_structure(states)
    except InteropError:
        raise  # already one line; the generic wrapping below is for missing tensors
    except (KeyError, AttributeError, IndexError, ValueError, RuntimeError) as err:
        raise InteropError(
            f"{folder}: the .pth files are not BigGAN-PyTorch G / D state dicts "
            f"({what_failed(err)})"
        ) from None
    check_options(src, found)
    sampling, more = sampling_notes(src)
    model = model_config(src, found)
    data = DataConfig(name=_DATA.get(src.get("dataset", ""), "none"))
    train, known = train_config(src)
    cfg = Config(model=model, data=data, train=train)
    weights = convert_networks(
        states,
        {net: f"{net}{tail}.pth" for net in states},
        lambda net, state, name: (
            convert_discriminator(state, model)
            if net == "D"
            else convert_generator(state, model, name)
        ),
    )
    record = {
        "format": "biggan-pytorch",
        "source": str(Path(folder).resolve()),
        "files": sorted(f"{net}{tail}.pth" for net in states),
        "itr": step,
        "source_config": plain_values(src),
        "train_from_source": known,
        "sampling": sampling,
        "notes": notes + more,
    }
    return Imported(cfg, weights, step, record)
