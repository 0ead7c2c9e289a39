"""The network side of the Hub, through ``huggingface_hub`` (caching, auth, offline mode).

``hf://user/name[@revision]`` names a model repository. Downloads go through the library's
cache (``HF_HUB_CACHE``, read when called); with ``HF_HUB_OFFLINE=1`` only what is cached is
found. Uploads create the repository if needed (``--private`` makes a new one private) and
commit a staged folder (:func:`nlgan.hub.layout.stage`) in one go.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from nlgan.hub.layout import G_FILE, GENERATOR_FILE, HubError
from nlgan.storage.checkpoint import CheckpointError

SCHEME = "hf://"
_REPO = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def is_hub_source(source: str | Path) -> bool:
    """Whether ``source`` names a Hub repository (``hf://user/name``)."""
    return str(source).startswith(SCHEME)


def parse(source: str) -> tuple[str, str | None]:
    """``hf://user/name@rev`` -> (``user/name``, ``rev``)."""
    repo, _, revision = source[len(SCHEME) :].partition("@")
    if not _REPO.match(repo):
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
    if not _REPO.match(repo):
        raise HubError(f"{repo}: expected a repository id USER/NAME")
    if api is None:
        from huggingface_hub import HfApi

        api = HfApi()
    url = api.create_repo(repo, private=private, exist_ok=True, repo_type="model")
    api.upload_folder(repo_id=repo, folder_path=str(folder), repo_type="model",
                      commit_message="Upload nlgan generator")  # fmt: skip
    return str(url)
