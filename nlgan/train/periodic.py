"""The trainer's work between steps: logging scalars (to the tracker and RUN/metrics.jsonl),
sample grids and in-run evaluation.

The loop (:mod:`nlgan.train.loop`) decides *when*; this module does the work and owns what it
needs: the tracker, the evaluator and the best score. It knows nothing of the trainer: what it
needs of the run (the EMA generator, the state for ``best.pt``, writing a checkpoint now) is
passed in, so data flows one way, loop -> periodic.

A failing evaluation never costs a checkpoint: the step's checkpoint is written first, then a
one-line warning, and training goes on. A sample grid that cannot be written (a full disk) is a
one-line warning too; if the disk stays full, the next checkpoint stops the run in one line
that names the last good checkpoint. Every process takes part in scoring (each scores its
shard) and in the decision to write ``best.pt``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from accelerate import Accelerator
from torch import nn
from tqdm.auto import tqdm

from nlgan.config import Config, config_to_dict, save_config
from nlgan.errors import NlganError, first_line
from nlgan.sampling import class_grid, save_grid
from nlgan.storage.checkpoint import best_checkpoint_path, save_checkpoint
from nlgan.storage.rundir import RunDir
from nlgan.storage.runlog import MetricsLog
from nlgan.tracking import Tracker
from nlgan.train.distributed import describe_machine, total_batch_size, unchanged_buffers
from nlgan.train.run import prepare_run_dir

GRID_CLASSES = 10  # sample grids show at most this many classes, one row each


@dataclass
class Periodic:
    """Logs, sample grids and in-run scores of one run; ``evaluator``/``best`` are None
    when ``eval.every`` is 0. Scalars and scores go to the tracker and to RUN/metrics.jsonl."""

    cfg: Config
    acc: Accelerator
    run_dir: Path
    tracker: Tracker
    metrics_log: MetricsLog
    evaluator: Any = None  # nlgan.train.evaluation.PeriodicEval (imports metrics when asked)
    best: Any = None  # nlgan.train.evaluation.BestScore

    def log(self, scalars: dict[str, float], step: int, bar: tqdm) -> None:
        """Send the step's scalars to the tracker and the progress bar."""
        from nlgan.train.progress import summary

        self.tracker.log(scalars, step)
        self.metrics_log.train(step, scalars)  # Python floats the loop has read back already
        bar.set_postfix(summary(scalars), refresh=False)

    def sample(self, ema_G: nn.Module, step: int) -> Path | None:
        """Save and log the EMA generator's grid: fixed z, one row per class (rank 0)."""
        if not self.acc.is_main_process:
            return None
        K = self.cfg.model.num_classes
        classes = list(range(min(K, GRID_CLASSES))) if K else None
        with unchanged_buffers(ema_G):  # rank 0 only: the ranks' EMA G must not drift
            images = class_grid(ema_G, GRID_CLASSES, self.cfg.train.seed, classes=classes)
        path = RunDir(self.run_dir).sample_grid(step)
        try:
            save_grid(images, path, nrow=GRID_CLASSES)
        except OSError as err:  # a full disk or quota: the grid is not worth the run
            reason = err.strerror or str(err).strip() or type(err).__name__
            warnings.warn(
                f"step {step}: writing the sample grid {path} failed ({reason}); no partial file "
                "was left and training goes on",
                stacklevel=2,
            )
            return None
        self.tracker.log_image("samples", path, step, caption=f"EMA G, step {step}")
        return path

    def save_best(self, best_state: dict[str, Any]) -> Path:
        """Write ``checkpoints/best.pt`` (atomically, rank 0) with the scoring step's weights."""
        path = best_checkpoint_path(self.run_dir)
        if self.acc.is_main_process:
            save_checkpoint({**best_state, "eval_best": self.best.record}, path)
        self.acc.wait_for_everyone()
        return path

    def score(
        self, ema_G: nn.Module, step: int, best_state: Callable[[], dict[str, Any]], bar: tqdm
    ) -> dict[str, float]:
        """Metrics of the EMA generator (every process takes part), logged, shown, best kept."""
        from nlgan.train.evaluation import scalars

        raw = self.evaluator.score(ema_G)
        scores = scalars(raw)
        self.tracker.log(scores, step)
        self.metrics_log.eval(step, scores, self.evaluator.protocol)
        if self.best.update(raw, step, self.evaluator.protocol):  # the same on every rank
            self.save_best(best_state())
        shown = ", ".join(f"{k.removeprefix('eval/')} {v:.4g}" for k, v in scores.items())
        if self.acc.is_main_process:
            bar.write(f"step {step}: {shown}")
        return scores

    def score_or_warn(
        self,
        ema_G: nn.Module,
        step: int,
        best_state: Callable[[], dict[str, Any]],
        checkpoint_now: Callable[[], Path],
        bar: tqdm,
    ) -> None:
        """Score the EMA G; if that fails, checkpoint this step first, then warn and go on."""
        try:
            self.score(ema_G, step, best_state, bar)
        except (NlganError, RuntimeError, ValueError, OSError) as err:
            saved = checkpoint_now()
            reason = first_line(err)
            message = (
                f"step {step}: evaluation failed ({reason}); checkpoint {saved.name} is saved "
                "and training goes on"
            )
            if self.acc.is_main_process:
                bar.write(f"warning: {message}")
            warnings.warn(message, stacklevel=2)

    def write_report(self, step: int) -> None:
        """Build ``RUN/report.html`` on the main process, after the last checkpoint (the same
        builder as ``nlgan report RUN``; logged to wandb when it is on). A report is a
        convenience: any failure is a one-line warning, never a broken or stopped run."""
        if self.acc.is_main_process:
            try:
                from nlgan.report import build_report

                path = build_report(self.run_dir, device=self.acc.device)
            except Exception as err:  # not BaseException: a second stop signal still aborts
                reason = str(err).strip().splitlines()[0] if str(err).strip() else ""
                warnings.warn(
                    f"step {step}: writing the run's report failed ({type(err).__name__}: "
                    f"{reason}); the checkpoint is saved, try `nlgan report {self.run_dir}`",
                    stacklevel=2,
                )
            else:
                self.tracker.log_html("report", path, step)
        self.acc.wait_for_everyone()  # the other processes leave together with the main one


def start_periodic(
    cfg: Config,
    acc: Accelerator,
    run_dir: Path,
    state: dict[str, Any] | None,
    evaluator: Any,
    best: Any,
    init_record: dict[str, Any] | None,
) -> tuple[Periodic, dict[str, Any]]:
    """Write config.yaml (main process), start the tracker (resuming its run id); returns the
    periodic work and the resolved config as a dict (what checkpoints carry)."""
    tc, world = cfg.train, acc.num_processes
    config_dict = config_to_dict(cfg)
    tracked = {**config_dict}
    if evaluator is not None:  # how every eval/* number is measured, logged once
        tracked["eval_protocol"] = evaluator.protocol
    if init_record:
        tracked["init_from"] = init_record
    if acc.is_main_process:
        prepare_run_dir(run_dir)  # writable? stale temp files of a killed save removed
        save_config(cfg, RunDir(run_dir).config)
    acc.wait_for_everyone()
    tracked["distributed"] = {
        "num_processes": world,
        "total_batch_size": total_batch_size(tc.batch_size, world, tc.grad_accum),
    }
    tracker = Tracker(
        cfg.log,
        run_dir,
        tracked,
        resume_id=state.get("tracker_run_id") if state else None,
        enabled=acc.is_main_process,
    )
    # RUN/metrics.jsonl whatever wandb's mode; a resume first drops the steps it redoes.
    metrics_log = MetricsLog(
        run_dir,
        int(state["step"]) if state else 0,
        enabled=acc.is_main_process,
        machine=describe_machine(acc.device, world),
    )
    return Periodic(cfg, acc, run_dir, tracker, metrics_log, evaluator, best), config_dict
