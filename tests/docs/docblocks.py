"""Reading the documentation for its tests: the Markdown files, their fenced code blocks, their
inline code, and the ``nlgan`` command lines and config keys they name."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SECTIONS = ("model", "data", "train", "eval", "log")
# `train.py`, `data.json`: file names, not config keys.
_FILE_SUFFIXES = {"py", "yaml", "yml", "json", "npz", "npy", "pt", "png", "md", "txt"}
_FENCE = re.compile(r"^(\s*)```(\w*)")
_KEY = re.compile(rf"^({'|'.join(SECTIONS)})\.([a-z_][a-z0-9_]*(?:/[a-z_][a-z0-9_]*)*)(=.*)?$")
_NOT_RUN = "# not run"


@dataclass(frozen=True)
class Block:
    """One fenced code block: its language, the file and the line of its opening fence."""

    lang: str
    code: str
    path: str
    line: int

    @property
    def runnable(self) -> bool:
        """Python blocks run unless their first line says ``# not run``."""
        return self.lang == "python" and not self.code.lstrip().startswith(_NOT_RUN)


def doc_files() -> list[Path]:
    """README.md and every page under docs/."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def fenced_blocks(text: str, path: str = "<text>") -> list[Block]:
    """The fenced code blocks of a Markdown text, in order."""
    blocks, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        indent, start, body = len(match.group(1)), i, []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith("```"):
            body.append(lines[i][indent:])
            i += 1
        blocks.append(Block(match.group(2), "\n".join(body) + "\n", path, start + 1))
        i += 1  # past the closing fence
    return blocks


def prose(text: str) -> str:
    """The text without its fenced blocks (where inline code lives)."""
    out, inside = [], False
    for line in text.splitlines():
        if line.strip().startswith("```"):
            inside = not inside
        elif not inside:
            out.append(line)
    return "\n".join(out)


def inline_code(text: str) -> list[str]:
    """Inline code spans outside fenced blocks (a span may wrap onto the next line)."""
    return [" ".join(m.split()) for m in re.findall(r"`([^`]+)`", prose(text))]


def shell_lines(code: str) -> list[list[str]]:
    """The command lines of a bash block as tokens: continuation lines joined, comments dropped."""
    lines = code.replace("\\\n", " ").splitlines()
    out = []
    for line in lines:
        try:
            tokens = shlex.split(line, comments=True)
        except ValueError:  # an unbalanced quote in an illustrative line
            tokens = line.split("#", 1)[0].split()
        if tokens:
            out.append(tokens)
    return out


def nlgan_args(tokens: list[str]) -> list[str] | None:
    """The arguments after ``nlgan`` / ``-m nlgan.cli`` / ``train.py`` / ``sample.py``, or None."""
    for i, token in enumerate(tokens):
        if token == "nlgan" and all("=" in t for t in tokens[:i]):  # env assignments first
            return tokens[i + 1 :]
        if token == "nlgan.cli" and i > 0 and tokens[i - 1] == "-m":
            return tokens[i + 1 :]
        if token in ("train.py", "sample.py") and i > 0 and tokens[i - 1] == "python":
            return [token.removesuffix(".py"), *tokens[i + 1 :]]
    return None


def config_keys(text: str) -> list[str]:
    """``section.key`` names in a span or a ``--set`` value (``data.a/b`` names two keys)."""
    match = _KEY.match(text.strip())
    if not match or match.group(2) in _FILE_SUFFIXES:
        return []
    return [f"{match.group(1)}.{key}" for key in match.group(2).split("/")]
