"""SAGAN self-attention: nlgan's fused block against a naive one that materialises the map.

Usage: python bench/bench_nonlocal.py [--device cpu|cuda] [--sizes 32,64,128] [--batch 2]
                                      [--channels 256] [--repeats 3] [--mem-limit-gb 6]

Both sides are the same ``nlgan.nn.SelfAttention`` module (same weights, projections, pooling
and spectral norm); the naive side runs ``forward(x, reference=True)``, i.e.
``softmax(theta^T phi) g`` with the ``[B, N, N_k]`` map built explicitly, as SAGAN / BigGAN code
does. Every measurement (one implementation, size and pooling) runs in its own process, so one
run's allocator caches and peak cannot leak into the next. Time is the median forward+backward
wall time after a warm-up step. Peak memory is the rise above the memory held after the warm-up
step (inputs, weights, allocator state): on CUDA ``max_memory_allocated``; on CPU the peak
resident set (``VmHWM``, reset through ``/proc/self/clear_refs`` where the kernel allows it,
otherwise ``ru_maxrss``) minus the resident set before the timed steps. On CPU an address-space
limit of ``--mem-limit-gb`` above that baseline turns a run that would need more into "OOM"
instead of swapping a shared machine. Ratios are nlgan / naive: below 1 is better.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

GIB = 2**30


def _status_kib(field: str) -> int | None:
    """A ``/proc/self/status`` field in KiB (Linux), or None."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_cpu_peak() -> bool:
    """Reset the kernel's peak-RSS counter to the current RSS; False where not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
        return True
    except OSError:
        return False


def _cpu_peak_bytes(resettable: bool) -> int:
    """Peak resident set in bytes: VmHWM when it was reset, else ru_maxrss (KiB on Linux)."""
    hwm = _status_kib("VmHWM") if resettable else None
    return (hwm if hwm is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def worker(args: argparse.Namespace) -> dict:
    """One measurement in this process; returns seconds per step and the peak memory rise."""
    import torch

    from nlgan.nn import SelfAttention

    device = torch.device(args.device)
    torch.manual_seed(0)
    block = SelfAttention(args.channels, subsample=2 if args.pooled else 1).to(device)
    with torch.no_grad():
        block.gamma.fill_(0.5)  # a live attention term, as after some training
    x = torch.randn(args.batch, args.channels, args.size, args.size, device=device)
    x.requires_grad_()
    reference = args.impl == "naive"

    def step() -> None:
        block(x, reference=reference).square().mean().backward()
        x.grad = None
        block.zero_grad(set_to_none=True)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    cpu = device.type == "cpu"
    if cpu:
        torch.ones(64, 64) @ torch.ones(64, 64)  # start the thread pool before the limit
        size_kib = _status_kib("VmSize")
        if size_kib is not None:
            limit = size_kib * 1024 + int(args.mem_limit_gb * GIB)
            resource.setrlimit(
                resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1])
            )
    try:
        step()  # warm-up: kernels, thread pools, allocator
        sync()
        if cpu:
            resettable = _reset_cpu_peak()
            base = (_status_kib("VmRSS") or 0) * 1024
        else:
            torch.cuda.reset_peak_memory_stats(device)
            base = torch.cuda.memory_allocated(device)
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            step()
            sync()
            times.append(time.perf_counter() - start)
    except (torch.cuda.OutOfMemoryError, MemoryError, RuntimeError) as error:
        if isinstance(error, RuntimeError) and "memory" not in str(error).lower():
            raise
        return {"oom": True}
    peak = _cpu_peak_bytes(resettable) if cpu else torch.cuda.max_memory_allocated(device)
    return {"oom": False, "seconds": statistics.median(times), "peak_rise": max(peak - base, 0)}


def measure(args: argparse.Namespace, impl: str, size: int, pooled: bool) -> dict:
    """Run one measurement in a fresh interpreter and parse its JSON line."""
    command = [
        sys.executable, __file__, "--worker", "--impl", impl, "--size", str(size),
        "--pooled", str(int(pooled)), "--device", args.device, "--batch", str(args.batch),
        "--channels", str(args.channels), "--repeats", str(args.repeats),
        "--mem-limit-gb", str(args.mem_limit_gb),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        # Killed by the kernel for memory (-9) is an OOM too; anything else is a real failure.
        if done.returncode in (-9, 137):
            return {"oom": True}
        raise RuntimeError(f"{impl} {size}px pooled={pooled} failed:\n{done.stderr[-2000:]}")
    return json.loads(lines[-1])


def _fmt_time(result: dict) -> str:
    return "OOM" if result["oom"] else f"{result['seconds'] * 1e3:9.1f}"


def _fmt_mem(result: dict) -> str:
    return "OOM" if result["oom"] else f"{result['peak_rise'] / 2**20:8.0f}"


def _ratio(a: dict, b: dict, key: str) -> str:
    if a["oom"] or b["oom"]:
        return "naive OOM" if b["oom"] and not a["oom"] else "n/a"
    return f"{a[key] / max(b[key], 1e-12):.2f}"


def main() -> None:
    """Parse flags; either run one measurement (``--worker``) or the whole table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--sizes", default=None, help="comma-separated, default 32,64 (cpu)")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--channels", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--mem-limit-gb", type=float, default=6.0, help="CPU only")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--impl", choices=["nlgan", "naive"], help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--pooled", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args)), flush=True)
        return
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            parser.error("--device cuda: no CUDA device is visible (use --device cpu)")
    default = "32,64,128" if args.device == "cuda" else "32,64"
    sizes = [int(s) for s in (args.sizes or default).split(",")]
    print(
        f"SAGAN SelfAttention C={args.channels} B={args.batch} on {args.device}, "
        f"forward+backward, median of {args.repeats}; ratios are nlgan/naive "
        f"(os.cpu_count()={os.cpu_count()})"
    )
    header = "size  keys/values  nlgan ms  naive ms  time ratio  nlgan MiB  naive MiB  mem ratio"
    print(header)
    print("-" * len(header))
    for size in sizes:
        for pooled in (True, False):
            ours = measure(args, "nlgan", size, pooled)
            naive = measure(args, "naive", size, pooled)
            print(
                f"{size:4d}  {'pooled 2x2 ' if pooled else 'unpooled   '}  {_fmt_time(ours):>8}"
                f"  {_fmt_time(naive):>8}  {_ratio(ours, naive, 'seconds'):>10}"
                f"  {_fmt_mem(ours):>9}  {_fmt_mem(naive):>9}"
                f"  {_ratio(ours, naive, 'peak_rise'):>9}",
                flush=True,
            )


if __name__ == "__main__":
    main()
