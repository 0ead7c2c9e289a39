"""The base of the errors nlgan reports to a user as one line.

Every error that names a problem with the user's input, files or environment (a config value, a
data folder, a checkpoint, an image source, an output path, ...) derives from
:class:`NlganError`, so the command line catches one type and prints its message without a
traceback. The subclasses also keep their historical builtin bases (``ValueError``,
``RuntimeError``, ...), so code that caught those still does.
"""

from __future__ import annotations


class NlganError(Exception):
    """A problem the user can fix; its message names the problem and the fix, on one line."""


class SamplingError(NlganError, ValueError):
    """A sampling request does not fit the generator (class ids, truncation, counts, ...)."""


def first_line(err: BaseException) -> str:
    """An exception's first line of text, or its type's name when it has none: what a one-line
    message quotes of an error it reports."""
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
