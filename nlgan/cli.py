"""The ``nlgan`` command line: a click group whose commands load lazily.

Each command lives in ``nlgan/commands/<name>.py`` and is imported only when it runs, so
``nlgan --help`` never pays for importing torch.
"""

from __future__ import annotations

import importlib.util  # .util explicitly: a bare interpreter has not imported it
import warnings

import click

from nlgan import __version__

_PYTHON_FORMAT = warnings.formatwarning

# command name -> (module, one-line help shown by `nlgan --help`)
COMMANDS: dict[str, tuple[str, str]] = {
    "train": (
        "nlgan.commands.train",
        "Train a GAN from a YAML config or preset (default: the digits preset).",
    ),
    "fid": (
        "nlgan.commands.fid",
        "FID, IS, KID, PRDC, iFID, FID∞ of a run, image folder, .npz images or statistics.",
    ),
    "sample": ("nlgan.commands.sample", "Sample grids, folders or .npz arrays from a trained G."),
    "attention": ("nlgan.commands.attention", "Draw where G's self-attention layers look."),
    "export": ("nlgan.commands.export", "Export the EMA generator to safetensors + config."),
    "prepare": ("nlgan.commands.prepare", "Decode and resize an image folder once into a .npy."),
    "import": (
        "nlgan.commands.importer",
        "Import BigGAN-PyTorch or StudioGAN weights as an nlgan run.",
    ),
    "push": ("nlgan.commands.push", "Share a run's generator on the Hugging Face Hub."),
    "report": (
        "nlgan.commands.report",
        "Write a run's self-contained HTML report (curves, samples, scores, attention).",
    ),
}


class LazyGroup(click.Group):
    """A click group that imports a command's module only when that command is used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name, (module, _) in COMMANDS.items() if _module_exists(module)]

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS or not _module_exists(COMMANDS[name][0]):
            return None
        module = importlib.import_module(COMMANDS[name][0])
        return module.command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _module_exists(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="nlgan")  # the source's version, even editable
def main() -> None:
    """nlgan: non-local (self-attention) GANs — train, sample and evaluate."""


def run(args: list[str] | None = None, prog_name: str | None = None) -> None:
    """The ``nlgan`` program (console script, ``python -m nlgan.cli``, train.py / sample.py):
    ``main`` with the knowledge that this process belongs to nlgan alone, so commands may do what
    only a whole process may (e.g. ignore late signals on the way out)."""
    warnings.formatwarning = _one_line_warning  # this process is nlgan's: warnings read as lines
    main(args=args, prog_name=prog_name, obj={"owns_process": True})


def _one_line_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    line: str | None = None,
) -> str:
    """``warning: <message>`` for warnings raised from nlgan's code (written for users: no file
    name or source line); other libraries' warnings keep Python's format."""
    if "/nlgan/" in filename.replace("\\", "/"):
        return f"warning: {message}\n"
    return _PYTHON_FORMAT(message, category, filename, lineno, line)


if __name__ == "__main__":
    run()
