"""Training-step throughput of a preset: one CPU thread vs torch's default, in the same run.

Builds the preset's Trainer once and times GAN steps (D step + G step + EMA update) while
alternating torch's thread count, so both settings see the same machine load. The ratio is
why the digits preset sets ``train.cpu_threads=1``: on a shared CPU, OpenMP threads spin
against other processes.

    python bench/bench_train.py [configs/digits.yaml] [--steps 20] [--rounds 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch


def time_steps(trainer, real, first_step: int, n: int) -> float:
    """Seconds per GAN step over ``n`` steps starting at ``first_step``."""
    G = trainer.acc.unwrap_model(trainer.G)
    start = time.perf_counter()
    for s in range(first_step, first_step + n):
        trainer.gan_step(s, real)
        trainer.ema.update(G, s)
    return (time.perf_counter() - start) / n


def main(argv: list[str] | None = None) -> None:
    """Print ms/step for 1 thread and the default thread count: best, median, worst, ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", nargs="?", default="configs/digits.yaml")
    parser.add_argument("--steps", type=int, default=20, help="steps per timing block")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)

    from nlgan.config import load_config
    from nlgan.train.loop import Trainer

    default_threads = torch.get_num_threads()
    quiet = ["train.sample_every=0", "train.ckpt_every=0", "train.log_every=0"]
    cfg = load_config(args.config, [*quiet, "train.cpu_threads=0"])
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = Trainer(cfg, run_dir)
        real = trainer._real_batches()
        step = 6
        time_steps(trainer, real, 1, 5)  # warm-up: allocator, first-call overheads
        results: dict[int, list[float]] = {1: [], default_threads: []}
        for _ in range(args.rounds):
            for threads in results:
                torch.set_num_threads(threads)
                results[threads].append(time_steps(trainer, real, step, args.steps))
                step += args.steps
        trainer.tracker.finish()
    one, many = sorted(results[1]), sorted(results[default_threads])
    for t, v in results.items():
        print(f"threads={t}: " + ", ".join(f"{1000 * s:.0f}" for s in v) + " ms/step")
    # Best case = a quiet machine; worst case = other jobs competing for the cores.
    for name, pick in (("best", 0), ("median", len(one) // 2), ("worst", -1)):
        print(
            f"{name:6s}: {1000 * one[pick]:.0f} ms/step with 1 thread, "
            f"{1000 * many[pick]:.0f} with {default_threads}; "
            f"ratio ({default_threads} threads / 1 thread) {many[pick] / one[pick]:.2f}"
        )


if __name__ == "__main__":
    main()
