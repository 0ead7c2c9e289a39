"""Where commands may write, and what ``--overwrite`` may replace.

- A new output never replaces an existing path unless ``--overwrite`` is given.
- Sample folders and ``.npz`` files carry a mark (a ``.nlgan-output.json`` file in the folder, the
  zip comment of the ``.npz``); ``--overwrite`` replaces only a path with the mark of the same
  kind, never an unrelated folder, the current directory or a folder that contains it, and never
  a symbolic link.
- The old output is removed only after the new one is complete: the new one is written under a
  temporary name, the old one is renamed aside, the new one renamed in, then the old one deleted.
- Single files (grids, exports, statistics) are replaced with ``--overwrite`` only if they are
  files, not folders.
"""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from pathlib import Path

from nlgan.errors import NlganError

MARKER = ".nlgan-output.json"
_NPZ_MARK = b"nlgan-output:"


class OutputExistsError(NlganError, FileExistsError):
    """The output path is taken, or is not something nlgan may replace."""


def _parent_ready(path: Path, flag: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputExistsError(
            f"{flag} {path}: cannot create {path.parent} ({err.strerror or err})"
        ) from None
    if not os.access(path.parent, os.W_OK):
        raise OutputExistsError(f"{flag} {path}: {path.parent} is not writable; choose another")


def check_file_output(path: str | Path, overwrite: bool, flag: str) -> Path:
    """A single output file: refuse an existing one without ``overwrite``, and any folder."""
    path = Path(path)
    if path.is_dir():
        raise OutputExistsError(f"{flag} {path} is a folder: give a file name")
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{flag} {path} already exists: choose another name or --overwrite")
    _parent_ready(path, flag)
    return path


def is_marked(path: Path, kind: str) -> bool:
    """True when ``path`` is an output nlgan wrote, of this ``kind``."""
    if path.is_dir():
        try:
            return json.loads((path / MARKER).read_text()).get("kind") == kind
        except (OSError, ValueError, AttributeError):
            return False
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.comment == _NPZ_MARK + kind.encode()
    except (OSError, zipfile.BadZipFile):
        return False


def folder_mark(path: Path) -> dict:
    """The mark of an output folder nlgan wrote ({} when it has none or it is unreadable)."""
    try:
        mark = json.loads((path / MARKER).read_text())
    except (OSError, ValueError):
        return {}
    return mark if isinstance(mark, dict) else {}


def check_tree_output(path: str | Path, kind: str, overwrite: bool, flag: str = "--out") -> Path:
    """A folder or ``.npz`` output: what may be written at ``path``, or a one-line refusal."""
    path = Path(path)
    if path.is_symlink():
        raise OutputExistsError(
            f"{flag} {path} is a symbolic link: give the real path ({path.resolve()})"
        )
    if path.exists():
        if not overwrite:
            raise OutputExistsError(
                f"{flag} {path} already exists: choose another {flag} or pass --overwrite"
            )
        here = Path.cwd().resolve()
        if here == path.resolve() or path.resolve() in here.parents:
            raise OutputExistsError(
                f"{flag} {path} is the current directory or holds it: refusing to replace it"
            )
        if not is_marked(path, kind):
            raise OutputExistsError(
                f"{flag} {path} exists and was not written by nlgan sample (no {kind} mark): "
                "refusing to replace it; choose another path or remove it yourself"
            )
    _parent_ready(path, flag)
    return path


def mark_folder(folder: Path, kind: str, **info: object) -> None:
    """Mark a finished output folder as nlgan's, of this ``kind``."""
    (folder / MARKER).write_text(json.dumps({"kind": kind, **info}))


def npz_mark(kind: str) -> bytes:
    """The zip comment that marks an ``.npz`` output of this ``kind``."""
    return _NPZ_MARK + kind.encode()


def move_into_place(new: Path, target: Path) -> Path:
    """Put the finished ``new`` at ``target``; an old ``target`` is deleted only afterwards."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
    os.replace(new, target)
    if old is not None:
        shutil.rmtree(old) if old.is_dir() else old.unlink()
    return target
