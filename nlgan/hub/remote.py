"""The network side of the Hub, through ``huggingface_hub`` (caching, auth, offline mode).

``hf://user/name[@revision]`` names a model repository. Downloads go through the library's
cache (``HF_HUB_CACHE``, read when called); with ``HF_HUB_OFFLINE=1`` only what is cached is
found. Uploads create the repository if needed (``--private`` makes a new one private) and
commit a staged folder (:func:`nlgan.hub.layout.stage`) in one go.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from nlgan.hub.layout import G_FILE, GENERATOR_FILE, HubError
from nlgan.storage.checkpoint import CheckpointError

SCHEME = "hf://"


def is_hub_source(source: str | Path) -> bool:
    """Whether ``source`` names a Hub repository (``hf://user/name``)."""
    return str(source).startswith(SCHEME)


def repo_problem(repo: str) -> str | None:
    """Why ``repo`` is not a model repository id USER/NAME (huggingface_hub's own validator,
    plus the namespace the card's ``hf://USER/NAME`` needs), or None when it is one."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(repo)
    except HFValidationError as err:
        return " ".join(str(err).split())
    return None if "/" in repo else "a repository id needs its namespace: USER/NAME"


def check_repo_id(repo: str) -> str:
    """``repo`` when it is a valid USER/NAME repository id, else a one-line HubError."""
    problem = repo_problem(repo)
    if problem:
        raise HubError(f"{repo!r} is not a Hub repository id USER/NAME ({problem})")
    return repo


def parse(source: str) -> tuple[str, str | None]:
    """``hf://user/name@rev`` -> (``user/name``, ``rev``)."""
    repo, _, revision = source[len(SCHEME) :].partition("@")
    if repo_problem(repo):
        raise HubError(f"{source}: expected hf://USER/NAME or hf://USER/NAME@REVISION")
    return repo, revision or None


def download(source: str, ema: bool = True) -> Path:
    """The local path of a Hub repository's generator file (downloaded once, then cached)."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    repo, revision = parse(source)
    filename = GENERATOR_FILE if ema else G_FILE
    try:
        return Path(hf_hub_download(repo, filename, revision=revision,
                                    cache_dir=os.environ.get("HF_HUB_CACHE")))  # fmt: skip
    except LocalEntryNotFoundError:
        offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")
        why = "HF_HUB_OFFLINE is set and it is not" if offline else "the Hub is unreachable and"
        raise CheckpointError(
            f"{source}: cannot get {filename}: {why} in the local cache (download it once "
            "online, or pass a local folder with the same files)"
        ) from None
    except (HfHubHTTPError, OSError, ValueError) as err:
        reason = " ".join(str(err).split())[:200]
        raise CheckpointError(f"{source}: cannot get {filename} ({reason})") from None


def upload(folder: str | Path, repo: str, private: bool, api: Any = None) -> str:
    """Create ``repo`` if needed and commit ``folder`` to it; returns the repository URL."""
    check_repo_id(repo)
    if api is None:
        from huggingface_hub import HfApi

        api = HfApi()
    url = api.create_repo(repo, private=private, exist_ok=True, repo_type="model")
    api.upload_folder(repo_id=repo, folder_path=str(folder), repo_type="model",
                      commit_message="Upload nlgan generator")  # fmt: skip
    return str(url)
