"""Every command, option and config key the documentation names exists in the code: ``nlgan``
command lines in bash blocks and inline code are resolved through the click group, and every
``--set section.key=...`` / ``section.key`` names a field of the config dataclasses."""

from __future__ import annotations

import dataclasses
import shlex

import click
import pytest

from nlgan.cli import main
from nlgan.config import Config

from docblocks import (
    ROOT,
    SECTIONS,
    config_keys,
    doc_files,
    fenced_blocks,
    inline_code,
    nlgan_args,
    shell_lines,
)

CONFIG_FIELDS = {
    f"{section}.{f.name}"
    for section in SECTIONS
    for f in dataclasses.fields(getattr(Config(), section))
}


def _commands(group: click.Group, ctx: click.Context) -> list[click.Command]:
    """Every command under ``group``, nested groups' commands included (lazily loaded ones too)."""
    found = []
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        found.append(command)
        if isinstance(command, click.Group):
            found += _commands(command, click.Context(command, info_name=name, parent=ctx))
    return found


def _options(command: click.Command) -> set[str]:
    return {o for p in command.params for o in (*p.opts, *p.secondary_opts) if o.startswith("-")}


ROOT_CTX = click.Context(main, info_name="nlgan")
ALL_OPTIONS = set().union(_options(main), *(_options(c) for c in _commands(main, ROOT_CTX)))


def _placeholder(token: str) -> bool:
    """``COMMAND``, ``RUN``, ``...``: words that stand for something, not names."""
    return token == "..." or token.upper() == token


def _key_problems(keys: list[str], where: str) -> list[str]:
    return [f"{where}: {k} is not a config field" for k in keys if k not in CONFIG_FIELDS]


def _set_problems(value: str, where: str) -> list[str]:
    """A ``--set`` value must be ``section.key=value`` with a real field (placeholders aside)."""
    key = value.split("=", 1)[0]
    if _placeholder(key) or key.startswith("section."):
        return []
    keys = config_keys(value)
    if not keys:
        return [f"{where}: --set {value!r} does not name a config section's key"]
    return _key_problems(keys, where)


def command_problems(args: list[str], where: str) -> list[str]:
    """Problems with one ``nlgan ARGS...`` line: unknown commands, options or config keys."""
    command, ctx, rest = main, ROOT_CTX, list(args)
    while isinstance(command, click.Group) and rest and not rest[0].startswith("-"):
        sub = command.get_command(ctx, rest[0])
        if sub is None:
            if _placeholder(rest[0]):
                return []
            return [f"{where}: {ctx.command_path} has no command {rest[0]!r}"]
        ctx = click.Context(sub, info_name=rest.pop(0), parent=ctx)
        command = sub
    problems, known = [], _options(command)
    for i, token in enumerate(rest):
        if not token.startswith("--"):
            continue
        name = token.split("=", 1)[0]
        if name not in known:
            problems.append(f"{where}: {ctx.command_path} has no option {name}")
        elif name == "--set":
            value = token.split("=", 1)[1] if "=" in token else (rest[i + 1 : i + 2] or [""])[0]
            problems += _set_problems(value, where)
    return problems


def span_problems(span: str, where: str) -> list[str]:
    """Problems with one inline code span: a command line, a bare option or a config key."""
    if span.startswith("nlgan "):
        try:
            tokens = shlex.split(span)
        except ValueError:
            tokens = span.split()
        return command_problems(tokens[1:], where)
    if span.startswith("--"):
        tokens = span.split()
        name = tokens[0].split("=", 1)[0]
        if name not in ALL_OPTIONS:
            return [f"{where}: no nlgan command has the option {name}"]
        if name == "--set" and len(tokens) > 1:
            return _set_problems(tokens[1], where)
        return []
    return _key_problems(config_keys(span), where)


def text_problems(text: str, path: str) -> list[str]:
    """Every problem in one Markdown text: its bash blocks, then its inline code."""
    problems = []
    for block in fenced_blocks(text, path):
        if block.lang not in ("bash", "sh", "console"):
            continue
        for tokens in shell_lines(block.code):
            args = nlgan_args(tokens)
            if args is not None:
                problems += command_problems(args, f"{path}:{block.line} {' '.join(tokens)[:60]}")
    for span in inline_code(text):
        problems += span_problems(span, f"{path} `{span[:60]}`")
    return problems


@pytest.mark.parametrize("path", doc_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_named_commands_options_and_keys_exist(path):
    """Every nlgan command, option and config key a page names exists."""
    assert text_problems(path.read_text(), path.name) == []


def test_the_check_finds_what_does_not_exist():
    """A made-up option, command, --set key or inline key is reported (the check can fail)."""
    text = "\n".join([
        "```bash",
        "nlgan train digits --nonexistent 3",
        "nlgan sample runs/x --grid g.png --set train.steps=2",
        "nlgan train --set train.stpes=2 \\",
        "    --out runs/x",
        "nlgan frobnicate runs/x",
        "nlgan import studiogan ckpt/ --out r --suffix best0",
        "```",
        "Use `nlgan fid a b --jsonn`, `--no-such-flag`, `model.g_chh` and `data.root/nums`.",
    ])  # fmt: skip
    problems = "\n".join(text_problems(text, "t.md"))
    for expected in (
        "nlgan train has no option --nonexistent",
        "nlgan sample has no option --set",
        "train.stpes is not a config field",
        "nlgan has no command 'frobnicate'",
        "nlgan import studiogan has no option --suffix",
        "nlgan fid has no option --jsonn",
        "no nlgan command has the option --no-such-flag",
        "model.g_chh is not a config field",
        "data.nums is not a config field",
    ):
        assert expected in problems
    assert "data.root is" not in problems  # the real half of data.root/nums passes
    assert len(problems.splitlines()) == 9


def test_every_command_is_documented_on_its_own_page():
    """Each command (nested ones too) is named in a bash block of some page, not only in the
    generated reference."""
    named = set()
    for path in doc_files():
        for block in fenced_blocks(path.read_text(), path.name):
            for tokens in shell_lines(block.code):
                args = nlgan_args(tokens)
                if args:
                    named.add(args[0])
                    if args[0] == "import" and len(args) > 1:
                        named.add(f"import {args[1]}")
    expected = set(main.list_commands(ROOT_CTX)) | {"import biggan-pytorch", "import studiogan"}
    assert expected <= named, sorted(expected - named)
