"""The report a finished (or first-signal stopped) run writes about itself: ``RUN/report.html``.

It is written after the last checkpoint, by the main process, with the same builder as
``nlgan report RUN``; when wandb is on it is logged there too. A report is a convenience: any
failure is a warning, never a broken or stopped run (the checkpoint is already on disk).
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nlgan.train.loop import Trainer


def write_report(trainer: Trainer) -> None:
    """Build ``RUN/report.html`` on the main process; warn (never raise) when that fails."""
    acc = trainer.acc
    if acc.is_main_process:
        try:
            from nlgan.report import build_report

            path = build_report(trainer.run_dir, device=acc.device)
        except Exception as err:  # not BaseException: a second stop signal still aborts
            reason = str(err).strip().splitlines()[0] if str(err).strip() else ""
            warnings.warn(
                f"step {trainer.step}: writing the run's report failed ({type(err).__name__}: "
                f"{reason}); the checkpoint is saved, try `nlgan report {trainer.run_dir}`",
                stacklevel=2,
            )
        else:
            trainer.tracker.log_html("report", path, trainer.step)
    acc.wait_for_everyone()  # the other processes leave together with the main one
