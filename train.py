"""Same as ``nlgan train ...``: a thin shim over the CLI."""

from nlgan.cli import run

if __name__ == "__main__":
    run(["train", *__import__("sys").argv[1:]], prog_name="train.py")
