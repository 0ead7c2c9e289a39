"""Stopping a run on a signal without losing work or writing a half-finished step.

The first SIGINT (Ctrl-C), SIGTERM (what Slurm, Kubernetes and torchrun's agent send before
killing a job) or SIGHUP (a closed terminal) only sets a flag. The loop checks it between steps,
so the current step completes, a checkpoint of that step is written, and the process exits with
``128 + signal number`` (130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP; a further signal after
the checkpoint is written may end the process by that signal, which shells report the same way).
On several processes the flag is reduced with the losses, so every process stops after the same
step even when the signal reached one of them first.

Signals that are ignored when the run starts (``nohup`` ignores SIGHUP; a shell's background
job ignores SIGINT) stay ignored. A second signal means "stop now": it raises :class:`Abort`
wherever the program is, and nothing more is saved. Python runs a handler only between bytecodes,
so two signals that arrive inside one long C call (a convolution of an in-run evaluation, 50 ms
apart) reach it as *one* call; the signals are therefore counted through
:func:`signal.set_wakeup_fd`, to which the interpreter writes one byte per signal delivered, and
a handler call that finds two stop signals behaves as the second one. Checkpoints are written
atomically, so an abort in the middle of a save leaves the previous checkpoint as the newest one
and never a file that mixes two steps.
"""

from __future__ import annotations

import os
import signal
import threading
from types import FrameType

import click

STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)
_NAMES = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM"}


def exit_code(signum: int) -> int:
    """The conventional exit status of a process stopped by signal ``signum``."""
    return 128 + int(signum)


def signal_name(signum: int) -> str:
    """``Ctrl-C``, ``SIGTERM``, ``SIGHUP``, ..."""
    return _NAMES.get(signum) or signal.Signals(signum).name


class Abort(BaseException):
    """A second stop signal: leave at once, writing nothing more (not an ``Exception``, so no
    ``except Exception`` on the way swallows it)."""

    def __init__(self, signum: int):
        super().__init__(f"{signal_name(signum)} again: stopped at once")
        self.signum = signum


class StopRequest:
    """Context manager: ``requested`` turns True on the first stop signal inside the block."""

    def __init__(self, announce: bool = True):
        self.requested = False
        self.signum: int | None = None
        self.announce = announce
        self._previous: dict[int, object] = {}
        self._wakeup: tuple[int, int] | None = None  # (read end, write end) of the signal count
        self._previous_wakeup = -1

    def _delivered(self) -> int:
        """Stop signals delivered since the last call (at least the one being handled)."""
        if self._wakeup is None:
            return 1
        count = 0
        try:
            while chunk := os.read(self._wakeup[0], 512):
                count += sum(byte in STOP_SIGNALS for byte in chunk)
        except BlockingIOError:
            pass
        return max(count, 1)

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        if self.requested or self._delivered() > 1:
            raise Abort(signum)
        self.requested, self.signum = True, signum
        if self.announce:
            click.echo(
                f"\n{signal_name(signum)}: stopping after this step and saving a checkpoint "
                "(send it again to stop at once, without saving)",
                err=True,
            )

    def __enter__(self) -> StopRequest:
        # Handlers can only be installed from the main thread; elsewhere signals keep their
        # handlers, and a KeyboardInterrupt ends the run without a checkpoint.
        if threading.current_thread() is threading.main_thread():
            for signum in STOP_SIGNALS:
                previous = signal.getsignal(signum)
                if previous is signal.SIG_IGN:
                    continue  # e.g. SIGHUP under nohup: the user asked for it to be ignored
                self._previous[signum] = previous
                signal.signal(signum, self._handler)
            self._count_signals()
        return self

    def _count_signals(self) -> None:
        """Have the interpreter write a byte per delivered signal where the handler reads it,
        unless someone else (an asyncio loop) uses the wakeup fd: theirs is left alone."""
        read, write = os.pipe()
        os.set_blocking(read, False)
        os.set_blocking(write, False)
        previous = signal.set_wakeup_fd(write, warn_on_full_buffer=False)
        if previous != -1:
            signal.set_wakeup_fd(previous)
            os.close(read)
            os.close(write)
            return
        self._wakeup = (read, write)

    def __exit__(self, *exc: object) -> None:
        for signum, previous in self._previous.items():
            # None: a handler installed outside Python, which cannot be put back; use the default.
            signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
        self._previous = {}
        if self._wakeup is not None:
            signal.set_wakeup_fd(-1)
            for fd in self._wakeup:
                os.close(fd)
            self._wakeup = None


def ignore_stop_signals() -> None:
    """For a process on its way out after a clean stop: its checkpoint is written, so a late
    second signal must not interrupt the exit with a traceback. Only for the ``nlgan`` process
    itself (never in-process callers, whose handlers must come back)."""
    if threading.current_thread() is threading.main_thread():
        for signum in STOP_SIGNALS:
            signal.signal(signum, signal.SIG_IGN)
