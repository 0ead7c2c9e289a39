"""Load mmcv's ``NonLocal1d/2d/3d`` weights (mmaction2's NL-I3D, mmseg's NLNet) into nlgan.

mmcv builds theta, phi, g and ``conv_out`` from ``ConvModule`` (``<name>.conv.weight`` and
``.bias``). With ``sub_sample`` phi and g become ``Sequential(ConvModule, MaxPool)``
(``<name>.0.conv.*``; in ``gaussian`` mode phi is the pool alone), pooling ``(1, 2, 2)`` for
videos — nlgan's ``subsample=2`` without ``subsample_time``. With a ``norm_cfg`` conv_out loses
its bias and gains a norm (``conv_out.bn.*``), nlgan's ``w_z_norm``; without one mmcv returns
``x + conv_out(y)``, which is nlgan's ``gamma`` form with gamma fixed at 1. ``concatenation``
adds ``concat_project.conv.weight``, nlgan's ``w_f``.

phi's bias only adds a per-query constant to the logits of the softmax kinds, which the softmax
removes, so nlgan has none there and the loader drops mmcv's (exact in exact arithmetic; the
tests measure the float difference). The mode and ``use_scale`` are not in a state dict: pass
them as the mmcv config had them. Both functions default to mmcv's defaults (embedded_gaussian,
``use_scale=True``), not to :class:`NonLocalBlock`'s ``use_scale=False``: forgetting the scale
changes outputs by up to 3.8 on mmseg's blocks. mmcv scales only embedded-Gaussian logits (it
ignores ``use_scale`` in the other modes), so a block that scales Gaussian logits
(``affinity="gaussian", use_scale=True``) matches no mmcv block and is refused.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn
from torch.nn.utils import parametrize

from nlgan.errors import NlganError
from nlgan.nn.nonlocal_block import _SOFTMAX, NonLocalBlock


class MmcvWeightsError(NlganError, ValueError):
    """An mmcv non-local state dict does not fit the block it is loaded into."""


def _strip(state_dict: Mapping[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The entries under ``prefix`` (e.g. ``backbone.layer3.1.non_local_block.``), renamed."""
    found = {k[len(prefix) :]: v for k, v in state_dict.items() if k.startswith(prefix)}
    if not found:
        raise MmcvWeightsError(f"no mmcv non-local weights under the prefix {prefix!r}")
    return found


def _conv_key(sd: Mapping[str, torch.Tensor], name: str) -> str | None:
    """``g.conv`` or ``g.0.conv`` (sub-sampled), whichever the state dict has."""
    for key in (f"{name}.conv", f"{name}.0.conv"):
        if f"{key}.weight" in sd:
            return key
    return None


def mmcv_nonlocal(
    state_dict: Mapping[str, torch.Tensor],
    mode: str = "embedded_gaussian",
    use_scale: bool = True,
    prefix: str = "",
) -> NonLocalBlock:
    """The :class:`NonLocalBlock` an mmcv ``NonLocalNd`` state dict describes, loaded, in eval
    mode. ``mode`` and ``use_scale`` are the mmcv config's (they are not in the weights)."""
    sd = _strip(state_dict, prefix)
    if "g.conv.weight" not in sd and "g.0.conv.weight" not in sd:
        raise MmcvWeightsError(
            "not an mmcv NonLocal state dict (no g.conv.weight / g.0.conv.weight); "
            "pass prefix= to pick the block out of a whole model's state dict"
        )
    g = sd[f"{_conv_key(sd, 'g')}.weight"]  # [inter, C, 1, ...]
    block = NonLocalBlock(
        g.shape[1],
        dims=g.dim() - 2,
        affinity=mode,
        inter_channels=g.shape[0],
        subsample=2 if "g.0.conv.weight" in sd else 1,
        use_scale=use_scale and mode == "embedded_gaussian",
        w_z_norm=any(k.startswith("conv_out.bn.") for k in sd),
    )
    load_mmcv_nonlocal(block, sd, use_scale=use_scale)
    return block.eval()


@torch.no_grad()
def load_mmcv_nonlocal(
    block: NonLocalBlock,
    state_dict: Mapping[str, torch.Tensor],
    prefix: str = "",
    use_scale: bool = True,
) -> NonLocalBlock:
    """Copy an mmcv ``NonLocalNd`` state dict into ``block``, built with the matching options
    (affinity, dims, widths, ``subsample=2`` iff mmcv's ``sub_sample``, ``w_z_norm`` iff a
    norm_cfg, and ``use_scale`` as the mmcv config's ``use_scale``, mmcv's default True); one-line
    errors name what does not fit. Returns ``block``."""
    sd = _strip(state_dict, prefix)
    name = f"NonLocalBlock(dims={block.dims}, affinity={block.affinity!r})"
    _check_scale(block, use_scale, name)
    _check_structure(block, sd, name)
    layers = {"g": block.g, "conv_out": block.w_z}
    if block.affinity != "gaussian":
        layers.update(theta=block.theta, phi=block.phi)
    # The softmax kinds' phi has no bias in nlgan: it would cancel (see the module docstring).
    used = {f"{_conv_key(sd, 'phi')}.bias"} if block.affinity in _SOFTMAX else set()
    for module, layer in layers.items():
        for field in ("weight", "bias"):
            target = getattr(layer, field)
            if target is None:
                continue
            key = f"{_conv_key(sd, module)}.{field}"
            _copy(target, sd, key, name)
            used.add(key)
    if block.affinity == "concatenation":
        w = sd["concat_project.conv.weight"]  # [1, 2 * inter, 1, ...]
        _copy(block.kernel.w_f.weight, {"w": w.reshape(1, -1)}, "w", name)
        used.add("concat_project.conv.weight")
    if block.w_z_norm:
        for key, value in block.w_z_bn.state_dict().items():
            _copy(value, sd, f"conv_out.bn.{key}", name)
            used.add(f"conv_out.bn.{key}")
    else:
        block.gamma.fill_(1.0)  # mmcv adds conv_out(y) itself
    unused = sorted(set(sd) - used)
    if unused:
        raise MmcvWeightsError(
            f"{name}: the mmcv weights hold {len(unused)} tensors the block has no place for "
            f"(e.g. {unused[0]!r}); build the block with mmcv's options"
        )
    return block


def _check_scale(block: NonLocalBlock, use_scale: bool, name: str) -> None:
    """Refuse a block whose logit scaling differs from the mmcv block's (see the docstring)."""
    if block.affinity == "gaussian" and block.use_scale:
        raise MmcvWeightsError(
            f"{name}: mmcv never scales gaussian logits (it ignores use_scale there); build the "
            "block with use_scale=False"
        )
    if block.affinity == "embedded_gaussian" and block.use_scale != use_scale:
        what = "scales its logits (use_scale=True, mmcv's default)" if use_scale else (
            "does not scale its logits (use_scale=False)")  # fmt: skip
        raise MmcvWeightsError(
            f"{name}: the mmcv block {what}; build the block with use_scale={use_scale}, or "
            "pass use_scale= as the mmcv config had it"
        )


def _check_structure(block: NonLocalBlock, sd: Mapping[str, torch.Tensor], name: str) -> None:
    """Refuse a block whose options differ from those the mmcv weights were trained with."""
    if any(parametrize.is_parametrized(m) for m in block.modules()):
        raise MmcvWeightsError(f"{name}: mmcv's block has no spectral norm; build it with sn=False")
    if block.g.bias is None or (block.affinity != "gaussian" and block.theta.bias is None):
        raise MmcvWeightsError(f"{name}: mmcv's convolutions have biases; build it with bias=True")
    has_theta = _conv_key(sd, "theta") is not None
    if has_theta != (block.affinity != "gaussian"):
        mode = "gaussian" if not has_theta else "embedded_gaussian, dot_product or concatenation"
        raise MmcvWeightsError(f"{name}: the mmcv weights are of mode {mode}; build it so")
    concatenation = "concat_project.conv.weight" in sd
    if concatenation != (block.affinity == "concatenation"):
        mode = "concatenation" if concatenation else "embedded_gaussian or dot_product"
        raise MmcvWeightsError(f"{name}: the mmcv weights are of mode {mode}; build it so")
    sub_sampled = "g.0.conv.weight" in sd
    expected = (1,) * (block.dims == 3) + (2,) * min(block.dims, 2) if sub_sampled else None
    pooled = block.pool_factors if not isinstance(block.pool, nn.Identity) else None
    if pooled != expected:
        fix = "subsample=2 (and subsample_time=False)" if sub_sampled else "subsample=1"
        raise MmcvWeightsError(
            f"{name}: the mmcv block was built with sub_sample={sub_sampled}; build it with {fix}"
        )
    has_norm = any(k.startswith("conv_out.") and not k.startswith("conv_out.conv.") for k in sd)
    if has_norm and not any(k.startswith("conv_out.bn.") for k in sd):
        raise MmcvWeightsError(f"{name}: only a BatchNorm norm_cfg on conv_out is supported")
    if has_norm != block.w_z_norm:
        raise MmcvWeightsError(
            f"{name}: the mmcv conv_out {'has' if has_norm else 'has no'} norm; build the block "
            f"with w_z_norm={has_norm}"
        )


def _copy(target: torch.Tensor, sd: Mapping[str, torch.Tensor], key: str, name: str) -> None:
    """``target <- sd[key]`` with a one-line error for a missing or wrongly shaped tensor."""
    if key not in sd:
        raise MmcvWeightsError(f"{name}: the mmcv weights have no {key!r}")
    source = sd[key]
    if tuple(source.shape) != tuple(target.shape):
        raise MmcvWeightsError(
            f"{name}: mmcv's {key!r} has shape {tuple(source.shape)}, the block's "
            f"{tuple(target.shape)}; build the block with mmcv's widths (channels, reduction)"
        )
    target.copy_(source)
