"""Same as ``nlgan sample ...``: a thin shim over the CLI."""

from nlgan.cli import run

if __name__ == "__main__":
    run(["sample", *__import__("sys").argv[1:]], prog_name="sample.py")
