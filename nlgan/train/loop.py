"""The training loop on Hugging Face accelerate: build, step, log, sample, checkpoint, resume.

``Trainer(cfg, run_dir, state)`` builds everything once (strategies such as the loss pair are
chosen here, not in the loop); ``fit()`` runs G steps until ``train.steps``. The same code runs
on one CPU, one GPU or many processes under ``accelerate launch`` / ``torchrun``: models are
built right after a common seed (same initial weights everywhere), while data order, latents
and the global RNGs are seeded per process.

Failure behaviour: a non-finite loss stops the run with :class:`TrainingDiverged` naming the
step; no checkpoint is written after it, so the run's newest checkpoint is the last good one.
Ctrl-C finishes the current step, saves a checkpoint and returns with ``interrupted=True``.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from accelerate.utils import gather_object
from tqdm.auto import tqdm

from nlgan.config import Config
from nlgan.errors import NlganError
from nlgan.losses import losses_for
from nlgan.storage.checkpoint import (
    CheckpointError,
    checkpoint_path,
    list_checkpoints,
    save_checkpoint,
)
from nlgan.storage.lock import RunLock
from nlgan.storage.retention import Retention, set_aside_newer
from nlgan.tracking import resolve_mode
from nlgan.train.build import build_networks, memory_format
from nlgan.train.distributed import (
    broadcast_buffers,
    check_launch,
    describe_batch,
    total_batch_size,
)
from nlgan.train.interrupt import Abort, StopRequest
from nlgan.train.objective import build_objective
from nlgan.train.periodic import start_periodic
from nlgan.train.progress import Meter
from nlgan.train.schedule import LrSchedule
from nlgan.train.state import capture_rng
from nlgan.train.step import GANStep, Latents
from nlgan.train.stream import RealStream


class TrainingDiverged(NlganError, RuntimeError):
    """A loss became NaN or infinite; the run stopped without writing a checkpoint."""


@dataclass
class FitResult:
    """What a finished (or interrupted) run left behind."""

    step: int
    checkpoint: Path | None
    signal: int | None  # the stop signal that ended the run early; None when it finished
    seconds: float

    @property
    def interrupted(self) -> bool:
        """True when a stop signal ended the run before train.steps."""
        return self.signal is not None


class Trainer:
    """Owns the accelerator, models, optimisers, EMA, data stream and tracker of one run."""

    def __init__(self, cfg: Config, run_dir: str | Path, state: dict[str, Any] | None = None):
        self.cfg, self.run_dir = cfg, Path(run_dir)
        tc = cfg.train
        self.acc = acc = Accelerator(
            mixed_precision=tc.mixed_precision, gradient_accumulation_steps=tc.grad_accum
        )
        check_launch(acc.num_processes)  # N processes that never joined one group: refuse
        # One writer per run directory, from here to the end of fit(): a second `nlgan train
        # --resume R` is refused before it builds anything (the main process holds it).
        self.lock = RunLock(self.run_dir).acquire() if acc.is_main_process else None
        try:
            self._start(state)
        except BaseException:
            self.release_lock()
            raise

    def _start(self, state: dict[str, Any] | None) -> None:
        """Everything but the accelerator and the lock: evaluator, networks, data, tracker."""
        cfg, tc, acc = self.cfg, self.cfg.train, self.acc
        resolve_mode(cfg.log)  # a bad WANDB_MODE fails here, before any work
        self.step = int(state["step"]) if state else 0
        if acc.device.type == "cpu" and tc.cpu_threads > 0:
            torch.set_num_threads(tc.cpu_threads)  # per process; see TrainConfig.cpu_threads
        self.evaluator, self.best = None, None
        if cfg.eval.every:  # first: a bad reference or missing weights fail before any work
            from nlgan.train.evaluation import BestScore, PeriodicEval  # Inception when asked

            self.evaluator = PeriodicEval(cfg.eval, acc.device, cfg.data)
            saved = state.get("eval_best") if state else None
            self.best = BestScore(cfg.eval, saved, self.evaluator.protocol)
            if self.best.notice:
                acc.print(self.best.notice)
        # Real images per G step over all processes (images/s; how fast adaptive p moves).
        world = acc.num_processes
        self.images_per_step = (
            total_batch_size(tc.batch_size, world, tc.grad_accum) * tc.d_steps_per_g_step
        )
        self._build_models(state)
        self._build_data(state)
        acc.print(describe_batch(tc.batch_size, world, tc.grad_accum))
        self.periodic, self.config_dict = start_periodic(
            cfg, acc, self.run_dir, state, self.evaluator, self.best, self.init_record
        )
        self.tracker = self.periodic.tracker
        if state and acc.is_main_process:  # damaged ones above the resumed step would outrank
            set_aside_newer(self.run_dir, self.step)  # every checkpoint this run writes
        acc.wait_for_everyone()
        self.retention = Retention(self.run_dir, tc.keep_ckpts)
        existing = list_checkpoints(self.run_dir)
        self.last_checkpoint: Path | None = existing[-1] if existing else None
        self.finished = False  # True once fit() has written its last checkpoint (stop or end)

    def release_lock(self) -> None:
        """Let another process write this run directory (fit() calls it when it ends)."""
        if self.lock is not None:
            self.lock.release()

    def _build_models(self, state: dict[str, Any] | None) -> None:
        """G, D, EMA G and optimisers, restored from ``state`` and prepared by accelerate."""
        (self.G, self.D, self.ema, self.opt_G, self.opt_D,
         self.init_record) = build_networks(self.cfg, self.acc, state)  # fmt: skip
        self.schedule = LrSchedule(self.cfg.train, self.opt_G, self.opt_D)

    def _build_data(self, state: dict[str, Any] | None) -> None:
        """The real-image stream, the objective (augmentation, regularisers) and the GAN step."""
        acc, tc, cfg = self.acc, self.cfg.train, self.cfg
        rank = acc.process_index
        self.stream = RealStream(cfg, acc, state)
        self.sampler, self.subset = self.stream.sampler, self.stream.subset
        self.objective = build_objective(
            tc, cfg.model.img_channels, losses_for(tc.loss), self.images_per_step, rank,
            average=lambda t: acc.reduce(t, reduction="mean"),  # LeCam's anchors, per D update
        )  # fmt: skip
        if state and "objective" in state:  # adaptive p, LeCam anchors (absent before v0.2)
            self.objective.load_state_dict(state["objective"])
        self.gan_step = GANStep(
            acc,
            self.G,
            self.D,
            self.opt_G,
            self.opt_D,
            self.objective,
            Latents(cfg.model.z_dim, cfg.model.num_classes, tc.seed, rank),
            tc.batch_size,
            tc.d_steps_per_g_step,
            conditional=cfg.model.num_classes > 0,
            memory_format=memory_format(tc.channels_last),
        )

    # ------------------------------------------------------------------ data

    def _real_batches(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Endless (x, y) batches of this process (the stream counts what was consumed)."""
        return iter(self.stream)

    # ------------------------------------------------------------------ checkpoints

    def state_dict(self) -> dict[str, Any]:
        """Everything exact resume needs, as weights_only-loadable plain data."""
        acc = self.acc
        rng = gather_object([capture_rng()])  # one entry per process, in rank order
        return {
            "config": self.config_dict,
            "step": self.step,
            "G": acc.unwrap_model(self.G).state_dict(),
            "D": acc.unwrap_model(self.D).state_dict(),
            "G_ema": self.ema.state_dict(),
            "opt_G": self.opt_G.state_dict(),
            "opt_D": self.opt_D.state_dict(),
            "scaler": acc.scaler.state_dict() if acc.scaler is not None else None,
            "rng": rng,
            "data": self.stream.position(),
            "subset": self.subset,
            "objective": self.objective.state_dict(),
            "world_size": acc.num_processes,
            "tracker_run_id": self.tracker.run_id,
            "eval_best": self.best.record if self.best is not None else None,
            "init_from": self.init_record,
        }

    def save(self) -> Path:
        """Write the checkpoint of the current step (main process) and prune old ones."""
        state = self.state_dict()  # every process takes part (RNG states are gathered)
        path = checkpoint_path(self.run_dir, self.step)
        if self.acc.is_main_process:
            try:
                save_checkpoint(state, path)
            except OSError as err:  # disk full, quota, file size limit, gone read-only
                last = self.last_checkpoint.name if self.last_checkpoint else "none yet"
                raise CheckpointError(
                    f"writing checkpoint {path} failed ({err.strerror or err}); nothing was "
                    f"damaged, the last good checkpoint is {last}: free space and resume"
                ) from None
            self.retention.prune(path)  # keeps verified ones; damaged ones are set aside
        self.acc.wait_for_everyone()
        return path

    def checkpoint_now(self) -> Path:
        """This step's checkpoint, written unless it already is; returns the newest one."""
        if self.saved_at != self.step:
            self.last_checkpoint, self.saved_at = self.save(), self.step
        return self.last_checkpoint

    def best_state(self) -> dict[str, Any]:
        """What ``best.pt`` holds of this step: the config and the generators."""
        return {
            "config": self.config_dict,
            "step": self.step,
            "G": self.acc.unwrap_model(self.G).state_dict(),
            "G_ema": self.ema.state_dict(),
        }

    def sample(self) -> Path | None:
        """Save and log the EMA generator's grid of this step (main process)."""
        return self.periodic.sample(self.ema.ema, self.step)

    # ------------------------------------------------------------------ the loop

    def _stop_agreed(self, stop: StopRequest) -> bool:
        """Whether any process was asked to stop (a small collective only with several)."""
        if self.acc.num_processes == 1:
            return stop.requested  # a Python bool: no device sync
        flag = torch.tensor([float(stop.requested)], device=self.acc.device)
        return float(self.acc.reduce(flag, reduction="sum")) > 0

    def _observe(self, losses: dict[str, torch.Tensor]) -> None:
        """Adaptive p learns from every step's statistics, averaged over processes so all hold
        the same state: one host sync per step, only when it is on."""
        if not self.objective.observes:
            return
        keys = list(losses)
        flat = torch.stack([losses[k].detach().float() for k in keys])
        values = self.acc.reduce(flat, reduction="mean").tolist()
        self.objective.observe(dict(zip(keys, values, strict=True)), self.step)

    def _verify(self, meter: Meter) -> None:
        """Before anything is written: stop if a loss was not finite since the last check."""
        bad = meter.first_nonfinite()
        if bad is None:
            return
        step, values = bad
        shown = ", ".join(f"{k}={v:.4g}" for k, v in values.items())
        last = self.last_checkpoint.name if self.last_checkpoint else "none yet"
        raise TrainingDiverged(
            f"step {step}: loss is not finite ({shown}); training stopped without saving, the "
            f"last good checkpoint is {last} (try lower train.lr_d / train.lr_g or "
            "train.mixed_precision=no)"
        )

    def _meter(self) -> Meter:
        """Loss sums on the device; means and maxima over processes when read."""
        acc = self.acc

        def maximum(t: torch.Tensor) -> torch.Tensor:
            if acc.num_processes > 1:
                import torch.distributed as dist

                dist.all_reduce(t, op=dist.ReduceOp.MAX)
            return t

        return Meter(self.images_per_step, lambda t: acc.reduce(t, reduction="mean"), maximum)

    def fit(self) -> FitResult:
        """Train until ``train.steps`` G steps; checkpoint, sample and log on the way.

        A first stop signal ends the run after the current step, with a checkpoint of it; a
        second one raises :class:`Abort` and nothing more is written. A KeyboardInterrupt that
        bypassed the handler (not the main thread) also writes nothing: it may have cut a step.
        """
        tc = self.cfg.train
        real = self._real_batches()
        bar = tqdm(total=tc.steps, initial=self.step, disable=not self.acc.is_main_process,
                   desc="train", unit="step", dynamic_ncols=True)  # fmt: skip
        meter, t0 = self._meter(), time.perf_counter()
        self.saved_at, stop_now = -1, False
        self.finished = False
        self.G.train()
        self.D.train()
        try:
            with StopRequest(announce=self.acc.is_main_process) as stop:
                while self.step < tc.steps and not stop_now:
                    self.schedule(self.step + 1)  # the learning rates of this step
                    losses = self.gan_step(self.step + 1, real)
                    # What DDP would do at the next forward, done now so that EMA G, sampling,
                    # evaluation and checkpoints see rank 0's buffers on every rank.
                    broadcast_buffers(self.acc.unwrap_model(self.G), self.acc.unwrap_model(self.D))
                    self.ema.update(self.acc.unwrap_model(self.G), self.step + 1)
                    meter.add(losses, self.step + 1)  # on the device: no sync per step
                    self.step += 1
                    self._observe(losses)  # adaptive p
                    bar.update(1)
                    self._periodic(meter, bar)  # a second signal in here aborts it
                    # After the step's grid, scores and checkpoint: a first signal that came
                    # during them stops the run here, not one more step later.
                    stop_now = self._stop_agreed(stop)
                self._verify(meter)
                self.checkpoint_now()  # a second signal here aborts cleanly
                if not stop_now and not (tc.sample_every and self.step % tc.sample_every == 0):
                    self.sample()  # the final grid
                if tc.report:  # after the checkpoint: a failing report only warns
                    self.periodic.write_report(self.step)
                self.tracker.finish()
                self.finished = True
        except (TrainingDiverged, Abort, KeyboardInterrupt):
            self.tracker.finish()
            raise
        finally:
            bar.close()
            self.release_lock()
        signum = self._agreed_signal(stop.signum) if stop_now else None
        return FitResult(self.step, self.last_checkpoint, signum, time.perf_counter() - t0)

    def _periodic(self, meter: Meter, bar: tqdm) -> None:
        """Log, sample, evaluate and checkpoint when the step calls for it."""
        tc, step = self.cfg.train, self.step
        every = (tc.log_every, tc.sample_every, tc.ckpt_every, self.cfg.eval.every)
        if any(n and step % n == 0 for n in every):
            self._verify(meter)  # never log, sample, score or save a diverged model
        if tc.log_every and step % tc.log_every == 0:
            G, D = self.acc.unwrap_model(self.G), self.acc.unwrap_model(self.D)
            scalars = meter.scalars(G, D, self.opt_G, self.opt_D)
            scalars.update(self.objective.scalars())  # augment/p, augment/r_t, LeCam anchors
            if self.stream.skipped:
                scalars["data/skipped_images"] = self.stream.skipped
            self.periodic.log(scalars, step, bar)
        if tc.sample_every and step % tc.sample_every == 0:
            self.sample()
        if self.evaluator and step % self.cfg.eval.every == 0:
            self.periodic.score_or_warn(
                self.ema.ema, step, self.best_state, self.checkpoint_now, bar
            )
        if tc.ckpt_every and step % tc.ckpt_every == 0:
            self.checkpoint_now()

    def _agreed_signal(self, signum: int | None) -> int:
        """The stop signal, agreed on by all processes (one may not have received it)."""
        number = torch.tensor([signum or 0], device=self.acc.device)
        if self.acc.num_processes > 1:
            import torch.distributed as dist

            dist.all_reduce(number, op=dist.ReduceOp.MAX)
        return int(number.item()) or int(signal.SIGTERM)
