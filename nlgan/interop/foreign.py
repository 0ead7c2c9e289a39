"""Reading other projects' checkpoint files safely, and copying their tensors into nlgan layers.

Safe reading: ``torch.load(weights_only=True)`` first. Two kinds of real files need a little
more: BigGAN-PyTorch's ``state_dict.pth`` stores its config with ``nn.ReLU`` module objects
in torch's legacy format (which pickles the module's class by reference), and StudioGAN's
discriminator files hold a numpy float (the best FID). Those are read with an unpickler whose
``find_class`` returns only the objects in ``_ALLOWED`` (tensor rebuilding, containers, numpy
scalars) and a harmless stand-in for foreign classes such as ``ReLU``; any other global in the
file is refused, so opening one can never run code.

Copying: :class:`Transfer` moves tensors from a foreign state dict into an nlgan model by
name, checks every shape, converts spectral-norm state, and at the end insists that every
source tensor was used, so nothing is dropped silently.
"""

from __future__ import annotations

import codecs
import collections
import copyreg
import pickle
import types
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize

from nlgan.errors import NlganError, first_line


class InteropError(NlganError, ValueError):
    """A foreign checkpoint cannot be read or imported as asked."""


class ForeignObject:
    """Stands in for an object of another project's class (e.g. BigGAN-PyTorch's ``ReLU``)."""

    def __setstate__(self, state: Any) -> None:
        self.state = state


def _stand_in(name: str) -> type:
    return type(name, (ForeignObject,), {})


_ALLOWED: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "object"): object,
    ("copyreg", "_reconstructor"): copyreg._reconstructor,
    ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): torch._utils._rebuild_parameter,
    ("torch", "Size"): torch.Size,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): codecs.encode,  # how protocol-2 pickles spell bytes (numpy scalars)
}
_STAND_INS = {("torch.nn.modules.activation", "ReLU"), ("torch.nn.modules.activation", "LeakyReLU")}


def _numpy_scalar() -> Any:
    """numpy's scalar-rebuilding function (what a pickled numpy float names)."""
    return np.float64(0.5).__reduce__()[0]


class _Unpickler(pickle.Unpickler):
    """``find_class`` limited to :data:`_ALLOWED`, stand-ins for foreign modules, numpy scalars."""

    def find_class(self, module: str, name: str) -> Any:
        module = "builtins" if module == "__builtin__" else module  # Python 2 era pickles
        if (module, name) in _STAND_INS:
            return _stand_in(name)
        if name == "scalar" and module in ("numpy.core.multiarray", "numpy._core.multiarray"):
            return _numpy_scalar()
        found = _ALLOWED.get((module, name))
        if found is None:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        return found


_RESTRICTED = types.SimpleNamespace(
    __name__="nlgan.interop.restricted_pickle",
    Unpickler=_Unpickler,
    load=lambda f, **kwargs: _Unpickler(f, **kwargs).load(),
)


def read_torch_file(path: str | Path) -> Any:
    """Load another project's ``torch.save`` file without running code from it."""
    path = Path(path)
    if not path.is_file():
        raise InteropError(f"{path}: no such file")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        pass  # a ReLU in a config or a numpy float: the restricted reader below
    except Exception as err:  # noqa: BLE001 - torch raises many types for damaged files
        raise InteropError(f"{path}: not a readable torch file ({_first_line(err)})") from None
    try:
        with warnings.catch_warnings():  # torch warns that a stand-in class has no source
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=False,
                              pickle_module=_RESTRICTED)  # fmt: skip
    except pickle.UnpicklingError as err:
        raise InteropError(
            f"{path}: holds objects nlgan will not unpickle ({_first_line(err)}); only weights, "
            "plain values and known config objects are read"
        ) from None
    except Exception as err:  # noqa: BLE001
        raise InteropError(f"{path}: not a readable torch file ({_first_line(err)})") from None


def what_failed(err: BaseException) -> str:
    """A structure check's failure in words: ``no 'key'`` for a missing tensor, else the error's
    first line (a tensor of a shape or type the reader could not use)."""
    return f"no {err}" if isinstance(err, KeyError) else _first_line(err)


def _first_line(err: BaseException) -> str:
    return first_line(err)[:200]


# --------------------------------------------------------------------------- tensor transfer


class Transfer:
    """Copies tensors of one foreign state dict into nlgan layers, tracking what was used."""

    def __init__(self, source: Mapping[str, Any], what: str):
        self.source = {k: v for k, v in source.items() if isinstance(v, torch.Tensor)}
        self.what = what
        self.used: set[str] = set()

    def has(self, key: str) -> bool:
        """Whether the source holds ``key``."""
        return key in self.source

    def take(self, key: str) -> torch.Tensor:
        """The source tensor ``key`` (marked used), or a one-line error naming it."""
        if key not in self.source:
            raise InteropError(f"{self.what}: has no tensor {key!r}")
        self.used.add(key)
        return self.source[key]

    def skip(self, *keys: str) -> None:
        """Mark tensors that carry nothing nlgan needs (logging buffers, counters) as used."""
        self.used.update(k for k in keys if k in self.source)

    @torch.no_grad()
    def copy(self, target: torch.Tensor, value: torch.Tensor | str, name: str = "") -> None:
        """``target <- value`` (a tensor or a source key), refusing a shape mismatch."""
        if isinstance(value, str):
            name, value = value, self.take(value)
        if value.numel() != target.numel() or (value.dim() > 1 and value.shape != target.shape):
            raise InteropError(
                f"{self.what}: {name or 'a tensor'} has shape {tuple(value.shape)} where nlgan's "
                f"model has {tuple(target.shape)}: the config does not describe these weights"
            )
        target.copy_(value.reshape(target.shape))

    def layer(self, layer: nn.Module, prefix: str, style: str, eps: float = 1e-12) -> None:
        """Copy a conv / linear / embedding ``prefix`` into ``layer``.

        ``style`` names the source's weight form: ``plain`` (``weight``), ``torch`` (PyTorch's
        ``spectral_norm``: ``weight_orig``, ``weight_u``, ``weight_v``) or ``biggan``
        (BigGAN-PyTorch's ``SN``: ``weight``, ``u0``, ``sv0``, one power iteration per forward).
        """
        if style == "plain":
            weight = self.take(f"{prefix}.weight")
            u = v = None
        elif style == "torch":
            weight = self.take(f"{prefix}.weight_orig")
            u, v = self.take(f"{prefix}.weight_u"), self.take(f"{prefix}.weight_v")
        else:
            weight, u0 = self.take(f"{prefix}.weight"), self.take(f"{prefix}.u0")
            if u0.numel() != weight.shape[0]:
                raise InteropError(
                    f"{self.what}: {prefix}.u0 has shape {tuple(u0.shape)} where its weight has "
                    f"{weight.shape[0]} outputs: the file's tensors do not fit together"
                )
            u, v = biggan_singular_vectors(weight, u0, eps)
            # sv0 only logs the last training estimate; u1.., sv1.. track further singular
            # values (num_G_SVs > 1) and never scale the weight.
            self.skip(*(k for k in self.source if k.startswith(f"{prefix}.sv")))
            self.skip(*(k for k in self.source if k.startswith(f"{prefix}.u") and k[-1].isdigit()))
        sn = parametrize.is_parametrized(layer, "weight")
        if sn != (u is not None):
            raise InteropError(
                f"{self.what}: {prefix} is {'' if u is not None else 'not '}spectral-normed but "
                f"nlgan's layer is {'' if sn else 'not '}(the config's SN setting is wrong)"
            )
        if sn:
            self.copy(layer.parametrizations.weight.original, weight, f"{prefix} weight")
            set_spectral_state(layer, u, v)
        else:
            self.copy(layer.weight, weight, f"{prefix}.weight")
        bias = getattr(layer, "bias", None)
        if bias is not None:
            self.copy(bias, f"{prefix}.bias")
        elif self.has(f"{prefix}.bias"):
            raise InteropError(f"{self.what}: {prefix} has a bias that nlgan's layer lacks")

    def finish(self) -> None:
        """Refuse if any source tensor was not used (it would be silently dropped)."""
        left = sorted(set(self.source) - self.used)
        if left:
            raise InteropError(
                f"{self.what}: {len(left)} tensors have no place in nlgan's model (e.g. "
                f"{left[0]!r}): an option of the source that the importer does not support"
            )


@torch.no_grad()
def biggan_singular_vectors(
    weight: torch.Tensor, u0: torch.Tensor, eps: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """The (u, v) whose ``u . W v`` equals BigGAN-PyTorch's eval-mode sigma for ``u0``.

    In eval mode BigGAN-PyTorch still runs one power-iteration step from the stored ``u0`` (it
    just does not store the result): ``v = normalize(u0 W)``, ``u = normalize(v W^T)``, and
    divides by ``v W^T u``. nlgan divides by ``u . W v`` with its stored u and v, so storing
    that step's u and v gives the same sigma. Computed in float64.
    """
    w = weight.detach().double().flatten(1)  # [out, in * k * k]
    v = F.normalize(u0.double().reshape(1, -1) @ w, dim=1, eps=eps)  # [1, in]
    u = F.normalize(v @ w.t(), dim=1, eps=eps)  # [1, out]
    return u[0].float(), v[0].float()


@torch.no_grad()
def set_spectral_state(layer: nn.Module, u: torch.Tensor, v: torch.Tensor) -> None:
    """Store u, v and the sigma they give in an nlgan spectral-normed layer."""
    spectral = layer.parametrizations.weight[0]
    if spectral._u.shape != u.shape or spectral._v.shape != v.shape:
        raise InteropError(
            f"spectral-norm vectors of shapes {tuple(u.shape)}, {tuple(v.shape)} do not fit a "
            f"weight whose vectors are {tuple(spectral._u.shape)}, {tuple(spectral._v.shape)}"
        )
    spectral._u.copy_(u)
    spectral._v.copy_(v)
    w = layer.parametrizations.weight.original.detach().flatten(1).float()
    spectral.sigma.copy_(torch.dot(spectral._u.float(), w @ spectral._v.float()))


def convert_networks(
    states: Mapping[str, Any],
    file_names: Mapping[str, str],
    convert: Callable[[str, Any, str], dict[str, torch.Tensor]],
) -> dict[str, dict[str, torch.Tensor]]:
    """``convert(net, state, file_name)`` for each network ("G", "D", "G_ema"); a tensor torch
    cannot use where it belongs (a wrong shape) is one :class:`InteropError` naming the file."""
    weights = {}
    for net, state in states.items():
        try:
            weights[net] = convert(net, state, file_names[net])
        except (RuntimeError, IndexError) as err:
            reason = " ".join(str(err).split())[:160]
            raise InteropError(
                f"{file_names[net]}: a tensor has the wrong shape for the model the other "
                f"tensors describe ({reason})"
            ) from None
    return weights
