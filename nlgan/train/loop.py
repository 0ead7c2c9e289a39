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

import math
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from accelerate.utils import gather_object
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from nlgan.checkpoint import (
    checkpoint_path,
    list_checkpoints,
    prune_checkpoints,
    save_checkpoint,
)
from nlgan.config import Config, config_to_dict, save_config
from nlgan.data import DataError, build_dataset
from nlgan.errors import NlganError
from nlgan.losses import losses_for
from nlgan.models import Discriminator, Generator
from nlgan.rundir import RunDir
from nlgan.sampling import class_grid, save_grid
from nlgan.subset import check_subset
from nlgan.tracking import Tracker
from nlgan.train.distributed import (
    broadcast_buffers,
    check_launch,
    describe_batch,
    sync_batchnorm,
    total_batch_size,
    unchanged_buffers,
)
from nlgan.train.ema import EMA
from nlgan.train.interrupt import StopRequest
from nlgan.train.objective import build_objective
from nlgan.train.report import bar_summary, log_scalars
from nlgan.train.state import (
    ResumableBatchSampler,
    capture_rng,
    derive_seed,
    position,
    restore_rng,
    seed_everything,
    seeded_generator,
)
from nlgan.train.step import GANStep, Latents

GRID_CLASSES = 10  # sample grids show at most this many classes, one row each
LOADER_STREAM = 1  # stream ids for derive_seed, so per-purpose seeds never coincide
PROCESS_STREAM = 2


class TrainingDiverged(NlganError, RuntimeError):
    """A loss became NaN or infinite; the run stopped without writing a checkpoint."""


@dataclass
class FitResult:
    """What a finished (or interrupted) run left behind."""

    step: int
    checkpoint: Path | None
    interrupted: bool
    seconds: float


class Trainer:
    """Owns the accelerator, models, optimisers, EMA, data stream and tracker of one run."""

    def __init__(self, cfg: Config, run_dir: str | Path, state: dict[str, Any] | None = None):
        self.cfg, self.run_dir = cfg, Path(run_dir)
        tc = cfg.train
        self.acc = acc = Accelerator(
            mixed_precision=tc.mixed_precision, gradient_accumulation_steps=tc.grad_accum
        )
        check_launch(acc.num_processes)  # N processes that never joined one group: refuse
        self.step = int(state["step"]) if state else 0
        if acc.device.type == "cpu" and tc.cpu_threads > 0:
            torch.set_num_threads(tc.cpu_threads)  # per process; see TrainConfig.cpu_threads
        # Real images per G step over all processes (images/s; how fast adaptive p moves).
        world = acc.num_processes
        self.images_per_step = (
            total_batch_size(tc.batch_size, world, tc.grad_accum) * tc.d_steps_per_g_step
        )
        self._build_models(state)
        self._build_data(state)
        acc.print(describe_batch(tc.batch_size, world, tc.grad_accum))

        self.evaluator = None
        if cfg.eval.every:
            from nlgan.train.evaluation import PeriodicEval  # Inception only when asked for

            self.evaluator = PeriodicEval(cfg.eval, acc.device)
        self._build_tracking(state)
        existing = list_checkpoints(self.run_dir)
        self.last_checkpoint: Path | None = existing[-1] if existing else None

    def _build_models(self, state: dict[str, Any] | None) -> None:
        """G, D, EMA G and optimisers, restored from ``state`` and prepared by accelerate."""
        acc, tc, cfg = self.acc, self.cfg.train, self.cfg
        seed_everything(tc.seed)  # common seed: identical initial weights on every process
        G, D = Generator(cfg.model), Discriminator(cfg.model)
        self.ema = EMA(G, tc.ema_decay, tc.ema_start, average_bn=tc.ema_bn == "average")
        if state:
            G.load_state_dict(state["G"])
            D.load_state_dict(state["D"])
            self.ema.load_state_dict(state["G_ema"])
        # Cross-replica BN on several processes (names unchanged; EMA keeps plain BN).
        G = sync_batchnorm(G, acc.num_processes, tc.sync_bn, acc.device)
        D = sync_batchnorm(D, acc.num_processes, tc.sync_bn, acc.device)
        self.ema.ema.to(acc.device)
        betas = (tc.beta1, tc.beta2)
        opt_G = torch.optim.Adam(G.parameters(), lr=tc.lr_g, betas=betas)
        opt_D = torch.optim.Adam(D.parameters(), lr=tc.lr_d, betas=betas)
        self.G, self.D, self.opt_G, self.opt_D = acc.prepare(G, D, opt_G, opt_D)
        if state:
            self.opt_G.load_state_dict(state["opt_G"])
            self.opt_D.load_state_dict(state["opt_D"])
            if acc.scaler is not None and state.get("scaler"):
                acc.scaler.load_state_dict(state["scaler"])

    def _build_data(self, state: dict[str, Any] | None) -> None:
        """Per-process RNGs, the resumable sampler and loader, and the GAN step."""
        acc, tc, cfg = self.acc, self.cfg.train, self.cfg
        rank, world = acc.process_index, acc.num_processes
        seed_everything(derive_seed(tc.seed, PROCESS_STREAM, rank))
        if state and len(state.get("rng", [])) == world:
            restore_rng(state["rng"][rank])
        elif state:
            warnings.warn(
                f"resuming on {world} process(es) from a checkpoint written by "
                f"{len(state.get('rng', []))}: RNG streams restart, so the resume is not exact",
                stacklevel=2,
            )

        dataset = build_dataset(cfg.data, cfg.model)  # data.subset: the same on every process
        self.subset = check_subset(dataset, state.get("subset") if state else None)
        self.batches = int(state["data"]["batches"]) if state else 0
        try:
            self.sampler = ResumableBatchSampler(
                len(dataset), tc.batch_size, tc.seed, rank, world, start_batch=self.batches
            )
        except ValueError as err:
            raise DataError(str(err)) from None
        self.loader = DataLoader(
            dataset,
            batch_sampler=self.sampler,
            num_workers=cfg.data.num_workers,
            pin_memory=acc.device.type == "cuda",
            # Its own generator: creating the iterator must not consume the global RNG.
            generator=seeded_generator(tc.seed, LOADER_STREAM, rank, self.batches),
        )
        self.objective = build_objective(
            tc, cfg.model.img_channels, losses_for(tc.loss), self.images_per_step, rank
        )
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
        )

    def _build_tracking(self, state: dict[str, Any] | None) -> None:
        """Write config.yaml (main process) and start the tracker (resuming its run id)."""
        acc, tc, cfg = self.acc, self.cfg.train, self.cfg
        world = acc.num_processes
        config_dict = config_to_dict(cfg)
        if acc.is_main_process:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            save_config(cfg, RunDir(self.run_dir).config)
        acc.wait_for_everyone()
        self.tracker = Tracker(
            cfg.log,
            self.run_dir,
            {
                **config_dict,
                "distributed": {
                    "num_processes": world,
                    "total_batch_size": total_batch_size(tc.batch_size, world, tc.grad_accum),
                },
            },
            resume_id=state.get("tracker_run_id") if state else None,
            enabled=acc.is_main_process,
        )
        self.config_dict = config_dict

    # ------------------------------------------------------------------ data

    def _real_batches(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Endless (x, y) batches; counts what was consumed (workers may prefetch further)."""
        for x, y in self.loader:
            self.batches += 1
            yield x, y

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
            "data": position(self.batches, self.sampler.batches_per_epoch),
            "subset": self.subset,
            "objective": self.objective.state_dict(),
            "world_size": acc.num_processes,
            "tracker_run_id": self.tracker.run_id,
        }

    def save(self) -> Path:
        """Write the checkpoint of the current step (main process) and prune old ones."""
        state = self.state_dict()  # every process takes part (RNG states are gathered)
        path = checkpoint_path(self.run_dir, self.step)
        if self.acc.is_main_process:
            save_checkpoint(state, path)
            prune_checkpoints(self.run_dir, self.cfg.train.keep_ckpts)
        self.acc.wait_for_everyone()
        return path

    # ------------------------------------------------------------------ sampling and logging

    def sample(self) -> Path | None:
        """Save and log the EMA generator's grid: fixed z, one row per class."""
        if not self.acc.is_main_process:
            return None
        per_class = GRID_CLASSES
        K = self.cfg.model.num_classes
        classes = list(range(min(K, GRID_CLASSES))) if K else None
        with unchanged_buffers(self.ema.ema):  # rank 0 only: the ranks' EMA G must not drift
            images = class_grid(self.ema.ema, per_class, self.cfg.train.seed, classes=classes)
        path = RunDir(self.run_dir).sample_grid(self.step)
        save_grid(images, path, nrow=per_class)
        self.tracker.log_image("samples", path, self.step, caption=f"EMA G, step {self.step}")
        return path

    def score(self, bar: tqdm) -> dict[str, float]:
        """FID / IS / KID of the EMA generator (every process takes part), logged and shown."""
        scores = self.evaluator(self.ema.ema)
        self.tracker.log(scores, self.step)
        shown = ", ".join(f"{k.removeprefix('eval/')} {v:.4g}" for k, v in scores.items())
        if self.acc.is_main_process:
            bar.write(f"step {self.step}: {shown}")
        return scores

    def _scalars(self, sums: dict[str, float], n: int, seconds: float) -> dict[str, float]:
        G, D = self.acc.unwrap_model(self.G), self.acc.unwrap_model(self.D)
        optimisers = (self.opt_G, self.opt_D)
        rate = n * self.images_per_step / max(seconds, 1e-9)
        return log_scalars(sums, n, rate, (G, D), optimisers, self.objective.scalars())

    # ------------------------------------------------------------------ the loop

    def _check(self, losses: dict[str, torch.Tensor], stop: StopRequest) -> tuple[dict, bool]:
        """Average losses over processes; fail on a non-finite one; agree on stopping."""
        keys = list(losses)
        flags = torch.stack([*(losses[k].float() for k in keys)])
        flags = torch.cat([flags, torch.tensor([float(stop.requested)], device=flags.device)])
        flags = self.acc.reduce(flags, reduction="mean").tolist()  # one sync per step
        values = dict(zip(keys, flags[:-1], strict=True))
        if not all(math.isfinite(v) for v in values.values()):
            shown = ", ".join(f"{k}={v:.4g}" for k, v in values.items())
            last = self.last_checkpoint.name if self.last_checkpoint else "none yet"
            raise TrainingDiverged(
                f"step {self.step + 1}: loss is not finite ({shown}); training stopped without "
                f"saving, the last good checkpoint is {last} (try lower train.lr_d / train.lr_g "
                "or train.mixed_precision=no)"
            )
        return values, flags[-1] > 0

    def fit(self) -> FitResult:
        """Train until ``train.steps`` G steps; checkpoint, sample and log on the way."""
        tc = self.cfg.train
        real = self._real_batches()
        bar = tqdm(
            total=tc.steps,
            initial=self.step,
            disable=not self.acc.is_main_process,
            desc="train",
            unit="step",
            dynamic_ncols=True,
        )
        sums: dict[str, float] = {}
        n_logged, t_log, t0 = 0, time.perf_counter(), time.perf_counter()
        interrupted, saved_at = False, -1
        self.G.train()
        self.D.train()
        try:
            with StopRequest(announce=self.acc.is_main_process) as stop:
                while self.step < tc.steps:
                    losses = self.gan_step(self.step + 1, real)
                    # What DDP would do at the next forward, done now so that EMA G, sampling,
                    # evaluation and checkpoints see rank 0's buffers on every rank.
                    broadcast_buffers(self.acc.unwrap_model(self.G), self.acc.unwrap_model(self.D))
                    self.ema.update(self.acc.unwrap_model(self.G), self.step + 1)
                    values, stop_now = self._check(losses, stop)
                    self.step += 1
                    self.objective.observe(values, self.step)  # adaptive p, LeCam anchors
                    for k, v in values.items():
                        sums[k] = sums.get(k, 0.0) + v
                    n_logged += 1
                    bar.update(1)
                    if tc.log_every and self.step % tc.log_every == 0:
                        now = time.perf_counter()
                        scalars = self._scalars(sums, n_logged, now - t_log)
                        self.tracker.log(scalars, self.step)
                        bar.set_postfix(bar_summary(scalars), refresh=False)
                        sums, n_logged, t_log = {}, 0, now
                    if tc.sample_every and self.step % tc.sample_every == 0:
                        self.sample()
                    if self.evaluator and self.step % self.cfg.eval.every == 0:
                        self.score(bar)
                    if tc.ckpt_every and self.step % tc.ckpt_every == 0:
                        self.last_checkpoint, saved_at = self.save(), self.step
                    if stop_now:
                        interrupted = True
                        break
        except TrainingDiverged:
            self.tracker.finish()
            raise
        except KeyboardInterrupt:
            # A Ctrl-C that bypassed the handler (not the main thread, or a second press):
            # the weights may hold part of the next step, but losing the run is worse.
            interrupted = True
        finally:
            bar.close()
        if saved_at != self.step:
            self.last_checkpoint = self.save()
        if not interrupted and not (tc.sample_every and self.step % tc.sample_every == 0):
            self.sample()  # the final grid
        self.tracker.finish()
        return FitResult(self.step, self.last_checkpoint, interrupted, time.perf_counter() - t0)
