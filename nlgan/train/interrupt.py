"""Ctrl-C during training: finish the current step, save a checkpoint, then stop.

A KeyboardInterrupt raised in the middle of a step would leave D updated and G not, so the
first SIGINT only sets a flag that the loop checks between steps; a second one interrupts
immediately (the previous handler is back by then).
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

import click


class StopRequest:
    """Context manager: ``requested`` turns True on the first Ctrl-C inside the block."""

    def __init__(self, announce: bool = True):
        self.requested = False
        self.announce = announce
        self._previous: object = None
        self._installed = False

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True
        if self.announce:
            click.echo(
                "\nCtrl-C: stopping after this step and saving a checkpoint "
                "(press Ctrl-C again to abort at once)",
                err=True,
            )
        signal.signal(signal.SIGINT, self._previous)  # a second Ctrl-C interrupts for real

    def __enter__(self) -> StopRequest:
        # Signal handlers can only be installed from the main thread; elsewhere a Ctrl-C
        # arrives as a plain KeyboardInterrupt, which the loop also turns into a checkpoint.
        if threading.current_thread() is threading.main_thread():
            # None means a handler set outside Python: fall back to raising KeyboardInterrupt.
            self._previous = signal.getsignal(signal.SIGINT) or signal.default_int_handler
            signal.signal(signal.SIGINT, self._handler)
            self._installed = True
        return self

    def __exit__(self, *exc: object) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)
            self._installed = False
