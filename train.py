"""Same as ``nlgan train ...``: a thin shim over the CLI."""

from nlgan.cli import main

if __name__ == "__main__":
    main(["train", *__import__("sys").argv[1:]], prog_name="train.py")
