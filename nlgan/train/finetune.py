"""Starting a run from existing weights (``train.init_from``) and FreezeD (``freeze_d_blocks``).

``train.init_from`` names a run directory or checkpoint — nlgan's own, or one written by
``nlgan import`` — whose G, D and EMA G weights start the new run, with fresh optimisers at step
0 and the new run's config. The source's model must be this run's: every ``model`` key but
``init`` must match (start from its config: ``nlgan train RUN/config.yaml --set
train.init_from=RUN ...``). ``num_classes`` may differ with ``train.init_classes=reinit``: the
tensors whose shape depends on it — G's shared embedding or per-class BN tables, D's projection
embedding — keep the new run's initialisation, and everything else is copied. A source without D
(an import of G files only) starts D afresh. Where the run started is recorded in every
checkpoint (``init_from``) and in the tracker's config.

FreezeD (Mo et al. 2020, "Freeze the Discriminator"): ``train.freeze_d_blocks=K`` keeps D's
first K blocks, and any attention right after them, at their initial (loaded) weights; they get
no gradients and the optimiser never moves them. Spectral norm's power iteration still refines
their ``u``/``v`` estimates, which is not an update of the weights.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from nlgan.config import Config, ConfigError, config_from_dict, config_to_dict
from nlgan.models.networks import Discriminator, Generator
from nlgan.storage.checkpoint import CheckpointError, load_any
from nlgan.train.ema import EMA

# Modules whose tensors' shapes follow model.num_classes, by what their state-dict keys hold.
_CLASS_TABLES = {
    "G": ("shared", ".bn1.gain", ".bn1.bias", ".bn2.gain", ".bn2.bias"),  # embedding, CBN
    "D": ("class_embed",),  # the projection embedding
}


def _class_table(key: str, net: str) -> str | None:
    """The class-dependent module (or parameter) ``key`` belongs to, e.g. ``blocks.0.bn1.gain``
    for ``blocks.0.bn1.gain.parametrizations.weight.original``; None for other keys."""
    for token in _CLASS_TABLES[net]:
        at = key.find(token)
        if at == 0 or (at > 0 and token.startswith(".")):
            end = at + len(token)
            if end == len(key) or key[end] == ".":
                return key[:end]
    return None


def _check_model(source: Config, cfg: Config, where: str) -> None:
    """The source's model must be this run's, except ``init`` (and ``num_classes`` with
    ``train.init_classes=reinit``)."""
    mine, theirs = config_to_dict(cfg.model), config_to_dict(source.model)
    skip = {"init"} | ({"num_classes"} if cfg.train.init_classes == "reinit" else set())
    for key, value in mine.items():
        if key in skip or theirs[key] == value:
            continue
        fix = (
            "or set train.init_classes=reinit to start the class tables afresh"
            if key == "num_classes"
            else f"start from its config: nlgan train {where}/config.yaml --set "
            f"train.init_from={where} ..."
        )
        raise ConfigError(
            f"train.init_from={where}: its model has model.{key}={theirs[key]!r} but this run's "
            f"config says {value!r}; {fix}"
        )


@torch.no_grad()
def _load(model: nn.Module, weights: dict[str, torch.Tensor], net: str, reinit: bool) -> list:
    """Copy ``weights`` into ``model``. With ``reinit`` a class table any of whose tensors has
    another shape stays fresh as a whole (its spectral-norm vectors and sigma included).
    Returns the keys left at the new initialisation."""
    own = model.state_dict()

    def fits(key: str) -> bool:
        return key in weights and weights[key].shape == own[key].shape

    stale = {_class_table(k, net) for k in own if not fits(k)} - {None} if reinit else set()
    fresh = []
    for key, target in own.items():
        if _class_table(key, net) in stale:
            fresh.append(key)
        elif fits(key):
            target.copy_(weights[key])
        else:
            got = tuple(weights[key].shape) if key in weights else "missing"
            raise CheckpointError(
                f"train.init_from: {net}'s {key!r} does not fit this run's model ({got} vs "
                f"{tuple(target.shape)})"
            )
    return fresh


def init_from_weights(cfg: Config, G: Generator, D: Discriminator, ema: EMA) -> dict[str, Any]:
    """Load ``cfg.train.init_from``'s G, D and EMA G into the new run's models; returns the
    record of where the run started (plain data, for checkpoints and the tracker)."""
    where = cfg.train.init_from
    path, state = load_any(Path(where).expanduser())
    try:
        source = config_from_dict(state["config"])
    except (KeyError, ConfigError) as err:
        raise CheckpointError(f"train.init_from={where}: no usable config ({err})") from None
    if "G" not in state and "G_ema" not in state:
        raise CheckpointError(f"train.init_from={where}: {path} holds no generator weights")
    _check_model(source, cfg, where)
    reinit = cfg.train.init_classes == "reinit"
    g_weights = state.get("G", state.get("G_ema"))
    # The EMA copy was made from G before any loading, so tables left fresh are equal in both.
    fresh = {"G": _load(G, g_weights, "G", reinit)}
    fresh["G_ema"] = _load(ema.ema, state.get("G_ema", g_weights), "G", reinit)
    if "D" in state:
        fresh["D"] = _load(D, state["D"], "D", reinit)
        d_status = "loaded"
    else:
        warnings.warn(f"train.init_from={where}: no D weights; D starts afresh", stacklevel=2)
        d_status = "fresh (the source has no D)"
    return {
        "source": str(path.resolve()),
        "step": int(state.get("step", 0)),
        "num_classes": source.model.num_classes,
        "init_classes": cfg.train.init_classes,
        "fresh": {net: keys for net, keys in fresh.items() if keys},
        "D": d_status,
        "imported_from": (state.get("imported") or {}).get("format"),
    }


def freeze_d_blocks(D: Discriminator, k: int) -> list[str]:
    """FreezeD: no gradients for D's first ``k`` blocks and the attention after them."""
    if k > len(D.blocks):
        raise ConfigError(f"train.freeze_d_blocks={k}: D has only {len(D.blocks)} blocks")
    frozen = []
    for i in range(k):
        for module in (D.blocks[i], D.attention[i]):
            for name, param in module.named_parameters():
                param.requires_grad_(False)
                frozen.append(f"{i}.{name}")
    return frozen
