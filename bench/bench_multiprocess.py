"""Training throughput on 1 vs N CPU processes (gloo), through the documented torchrun launch.

Usage: python bench/bench_multiprocess.py [--procs 1,2] [--steps 20] [--warmup 3]
                                         [--batch 16] [--config configs/digits.yaml]
                                         [--sync-bn true|false]

Each process count runs in its own ``ACCELERATE_USE_CPU=1 torchrun --standalone`` job that
builds the real :class:`nlgan.train.Trainer` (cross-replica BN unless ``--sync-bn false``,
DDP, buffer broadcast, EMA) and times the loop body of ``Trainer.fit`` — GAN step, buffer
broadcast, EMA update, loss reduction — after ``--warmup`` steps, between barriers. The
per-process batch is fixed (weak scaling, as when adding GPUs), so N processes see N times the
images per step; images/s counts real images over all processes. One torch thread per process.
Ratios are against the first process count in the same run: on a CPU shared with other jobs
they are noisy — repeat before trusting a digit.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def worker(args: argparse.Namespace) -> None:
    """One rank: build the Trainer, time ``--steps`` loop iterations, rank 0 prints JSON."""
    from nlgan.config import load_config
    from nlgan.train.distributed import broadcast_buffers
    from nlgan.train.interrupt import StopRequest
    from nlgan.train.loop import Trainer

    overrides = [
        f"train.batch_size={args.batch}",
        "train.cpu_threads=1",
        f"train.sync_bn={args.sync_bn}",
        "log.wandb=disabled",
    ]
    cfg = load_config(args.config, overrides)
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = Trainer(cfg, run_dir)
        acc, unwrap = trainer.acc, trainer.acc.unwrap_model
        real = trainer._real_batches()
        trainer.G.train()
        trainer.D.train()

        def one_step(step: int, stop: StopRequest) -> None:
            losses = trainer.gan_step(step, real)
            broadcast_buffers(unwrap(trainer.G), unwrap(trainer.D))
            trainer.ema.update(unwrap(trainer.G), step)
            trainer._check(losses, stop)

        with StopRequest(announce=False) as stop:
            for step in range(1, args.warmup + 1):
                one_step(step, stop)
            acc.wait_for_everyone()
            t0 = time.perf_counter()
            for step in range(args.warmup + 1, args.warmup + args.steps + 1):
                one_step(step, stop)
            acc.wait_for_everyone()
            seconds = time.perf_counter() - t0
        if acc.is_main_process:
            images = trainer.images_per_step * args.steps
            result = {"procs": acc.num_processes, "seconds": seconds, "images": images}
            print("RESULT " + json.dumps(result), flush=True)
        acc.end_training()


def run(procs: int, args: argparse.Namespace) -> dict:
    """Launch ``procs`` processes as the README documents; the rank-0 result."""
    env = {**os.environ, "ACCELERATE_USE_CPU": "1", "OMP_NUM_THREADS": "1"}
    env.setdefault("WANDB_MODE", "disabled")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    cmd += [f"--nproc_per_node={procs}", __file__, "--worker"]
    cmd += ["--steps", str(args.steps), "--warmup", str(args.warmup)]
    cmd += ["--batch", str(args.batch), "--config", args.config, "--sync-bn", args.sync_bn]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
    lines = [x for x in out.stdout.splitlines() if x.startswith("RESULT ")]
    if out.returncode != 0 or not lines:
        sys.exit(f"{procs} process(es) failed:\n{out.stderr[-3000:]}")
    return json.loads(lines[-1].removeprefix("RESULT "))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--procs", default="1,2", help="process counts, comma-separated")
    parser.add_argument("--steps", type=int, default=20, help="timed G steps")
    parser.add_argument("--warmup", type=int, default=3, help="untimed G steps first")
    parser.add_argument("--batch", type=int, default=16, help="per-process batch size")
    parser.add_argument("--config", default=str(ROOT / "configs" / "digits.yaml"))
    parser.add_argument(
        "--sync-bn", default="true", choices=["true", "false"], help="train.sync_bn"
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    counts = [int(p) for p in args.procs.split(",")]
    print(
        f"config {args.config}, batch {args.batch} per process, {args.steps} timed steps, "
        f"sync_bn={args.sync_bn}, CPU"
    )
    print(f"{'procs':>5} {'images/s':>10} {'s/step':>8} {'vs first':>10}")
    base = None
    for n in counts:
        r = run(n, args)
        ips = r["images"] / r["seconds"]
        base = ips if base is None else base  # the first count is the baseline
        print(f"{n:>5} {ips:>10.1f} {r['seconds'] / args.steps:>8.3f} {ips / base:>9.2f}x")
    print(f"(cores on this machine: {os.cpu_count()}; shared CPUs make these ratios noisy)")


if __name__ == "__main__":
    main()
