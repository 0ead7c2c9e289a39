"""Find (or, when online, download) the FID Inception weights file and load it safely.

The file is the state dict of the TF ``inception-2015-12-05`` graph ported to PyTorch; pytorch-fid
(``pt_inception-2015-12-05-6726825d.pth``) and torch-fidelity
(``weights-inception-2015-12-05-6726825d.pth``) ship the same tensors under the same keys.
Lookup order: an explicit path, ``$NLGAN_INCEPTION_WEIGHTS``, the torch hub cache, a download.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch

from nlgan.errors import NlganError, first_line

ENV_VAR = "NLGAN_INCEPTION_WEIGHTS"
FILENAMES = (
    "weights-inception-2015-12-05-6726825d.pth",  # torch-fidelity
    "pt_inception-2015-12-05-6726825d.pth",  # pytorch-fid
)
URL = (
    "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/"
    "weights-inception-2015-12-05-6726825d.pth"
)


class InceptionWeightsError(NlganError, RuntimeError):
    """The Inception weights file is missing, unreadable or of the wrong architecture."""


def hub_checkpoint_dir() -> Path:
    """Where torch hub (and so torch-fidelity and pytorch-fid) caches downloaded weights."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def _missing_message(tried: list[Path]) -> str:
    looked = ", ".join(str(p) for p in tried)
    return (
        f"FID Inception weights not found (looked in {looked}) and could not be downloaded: "
        f"download {URL} on a machine with internet and put it in {hub_checkpoint_dir()}/, "
        f"or pass --inception-weights PATH (eval.inception_weights) or set {ENV_VAR}=PATH"
    )


def resolve_inception_weights(path: str | Path | None = None, download: bool = True) -> Path:
    """Return the weights file: ``path``, ``$NLGAN_INCEPTION_WEIGHTS``, hub cache, or download."""
    explicit = path or os.environ.get(ENV_VAR, "")
    if explicit:
        explicit = Path(explicit).expanduser()
        if not explicit.is_file():
            source = "--inception-weights" if path else f"${ENV_VAR}"
            raise InceptionWeightsError(
                f"{source}={explicit}: no such file (get it from {URL}, or unset it to use the "
                f"torch hub cache {hub_checkpoint_dir()})"
            )
        return explicit
    tried = [hub_checkpoint_dir() / name for name in FILENAMES]
    for candidate in tried:
        if candidate.is_file():
            return candidate
    if not download:
        raise InceptionWeightsError(_missing_message(tried))
    target = tried[0]
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        torch.hub.download_url_to_file(URL, str(target), progress=True)
    except OSError:  # URLError and socket errors are OSErrors: offline or blocked
        raise InceptionWeightsError(_missing_message(tried)) from None
    return target


def file_sha256(path: str | Path, chunk: int = 1 << 22) -> str:
    """SHA-256 of a file's bytes (identifies the extractor in reference-statistics cache keys)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def load_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Load a weights file with ``weights_only=True`` (no pickled code is ever executed)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for truncated / foreign files
        first = first_line(err)
        raise InceptionWeightsError(
            f"{path}: not a readable PyTorch weights file ({first}); re-download it from {URL}"
        ) from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise InceptionWeightsError(
            f"{path}: expected a state dict of tensors; re-download it from {URL}"
        )
    return state
