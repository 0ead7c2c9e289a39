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


def _offline() -> bool:
    """HF_HUB_OFFLINE, as huggingface_hub read it at import or as it is set now."""
    from huggingface_hub import constants

    now = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")
    return bool(constants.HF_HUB_OFFLINE) or now


def unreachable() -> str | None:
    """Why the Hub cannot be reached (one request, no retries), or None when it answers.

    huggingface_hub retries a failed connection five times with back-off (~25 s and a warning
    line each); when the first connection fails, offline is evident and nlgan stops there.
    """
    from huggingface_hub import constants
    from huggingface_hub.utils import get_session

    try:
        get_session().head(constants.ENDPOINT, timeout=constants.HF_HUB_ETAG_TIMEOUT)
    except Exception as err:  # noqa: BLE001 - any transport error means: not reachable now
        return " ".join(str(err).split())[:120] or type(err).__name__
    return None


def download(source: str, ema: bool = True) -> Path:
    """The local path of a Hub repository's generator file (downloaded once, then cached).
    Offline (HF_HUB_OFFLINE, or a first connection that fails) only the cache is read."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    repo, revision = parse(source)
    filename = GENERATOR_FILE if ema else G_FILE
    offline = _offline()
    problem = None if offline else unreachable()
    try:
        return Path(hf_hub_download(repo, filename, revision=revision,
                                    cache_dir=os.environ.get("HF_HUB_CACHE"),
                                    local_files_only=offline or problem is not None))  # fmt: skip
    except LocalEntryNotFoundError:
        why = (
            "HF_HUB_OFFLINE is set and it is not"
            if offline
            else f"the Hub is unreachable ({problem}) and it is not"
            if problem
            else "the Hub could not be reached and it is not"
        )  # fmt: skip
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

        if _offline():
            raise HubError(
                f"cannot upload to {repo}: HF_HUB_OFFLINE is set (unset it, or write the files "
                "with --local-dir)"
            )
        problem = unreachable()
        if problem:
            raise HubError(f"cannot upload to {repo}: the Hub is unreachable ({problem})")

        api = HfApi()
    url = api.create_repo(repo, private=private, exist_ok=True, repo_type="model")
    api.upload_folder(repo_id=repo, folder_path=str(folder), repo_type="model",
                      commit_message="Upload nlgan generator")  # fmt: skip
    return str(url)
