"""Train-iteration throughput of nlgan's G and D against BigGAN-PyTorch's, in the same process.

One iteration = ``d_steps`` D updates (one D forward on ``cat([fake, real])``, hinge loss, Adam)
then one G update through the frozen D, the loop of SAGAN / BigGAN. Both sides run the *same*
loop code, so the ratio compares model code: nlgan's ``Generator`` / ``Discriminator`` against
BigGAN-PyTorch's ``BigGAN.Generator`` / ``BigGAN.Discriminator`` built with the same widths,
classes and attention (the parameter counts are printed: they match to the parameter). Rounds
alternate the sides so both see the same machine load; the ratio is of medians.

BigGAN-PyTorch is not a pip package and its code is not part of nlgan: pass a folder holding its
``BigGAN.py``, ``layers.py`` and ``sync_batchnorm/`` (a clone of github.com/ajbrock/BigGAN-PyTorch)
with ``--biggan PATH``; without it only nlgan is measured.

Also printed: FLOPs per iteration (``torch.utils.flop_counter``; the CPU flash-attention op has no
FLOP formula there, so attention matmuls are missing from CPU counts), achieved FLOP/s, on CUDA
the share of the card's peak (``--peak-tflops``, or a table of known cards), peak memory of each
side (CUDA: ``max_memory_allocated``; CPU: peak RSS of a separate process) and, with
``--max-batch``, the largest batch that fits.

    python bench/bench_throughput.py --biggan ~/BigGAN-PyTorch              # CPU, small sizes
    python bench/bench_throughput.py --device cuda --precision bf16 --compile --biggan ...
"""

from __future__ import annotations

import argparse
import importlib
import json
import statistics
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F

# Dense bf16 / fp32 peaks in TFLOP/s (no sparsity), for the "share of the limit" figure.
PEAK_TFLOPS = {
    "H100": {"bf16": 989.0, "fp32": 67.0},  # SXM; the PCIe card is ~75% of this
    "H200": {"bf16": 989.0, "fp32": 67.0},
    "A100": {"bf16": 312.0, "fp32": 19.5},
    "L4": {"bf16": 121.0, "fp32": 30.3},
}
# Widths and batch per preset: the paper-scale ones on CUDA, scaled down on a CPU.
SIZES = {
    "cifar10_sagan": {"cuda": (64, 64), "cpu": (16, 16)},
    "imagenet64_sagan": {"cuda": (64, 128), "cpu": (8, 8)},
    "imagenet128_sagan": {"cuda": (64, 256), "cpu": (8, 4)},
}
# Not a shipped preset: the 128 px one at 64 px (BigGAN-PyTorch's 64 px table, attention at 32).
DERIVED = {"imagenet64_sagan": ("imagenet128_sagan", {"resolution": 64, "arch": "biggan",
                                                       "g_attn_resolutions": (32,),
                                                       "d_attn_resolutions": (32,)})}  # fmt: skip


@dataclass
class Side:
    """One implementation: its networks, how G takes labels, and its optimisers."""

    name: str
    G: torch.nn.Module
    D: torch.nn.Module
    embed: object  # labels -> what G takes as its class input
    opt_G: torch.optim.Optimizer | None = None
    opt_D: torch.optim.Optimizer | None = None
    memory_format: torch.memory_format = torch.contiguous_format


def nlgan_side(model) -> Side:
    """nlgan's networks for a ModelConfig."""
    from nlgan.models import Discriminator, Generator

    return Side("nlgan", Generator(model), Discriminator(model), lambda y: y)


def biggan_side(path: Path, model) -> Side:
    """BigGAN-PyTorch's networks with the same widths, classes, attention and class input."""
    sys.path.insert(0, str(path))
    try:
        biggan = importlib.import_module("BigGAN")
    finally:
        sys.path.remove(str(path))
    attn = lambda sizes: "_".join(str(s) for s in sizes) or "0"  # noqa: E731
    G = biggan.Generator(
        G_ch=model.g_ch, dim_z=model.z_dim, resolution=model.resolution,
        G_attn=attn(model.g_attn_resolutions), n_classes=model.num_classes,
        G_shared=model.shared_dim > 0, shared_dim=model.shared_dim, hier=model.hier,
        BN_eps=model.bn_eps, SN_eps=model.sn_eps, no_optim=True,
    )  # fmt: skip
    D = biggan.Discriminator(
        D_ch=model.d_ch, resolution=model.resolution, D_attn=attn(model.d_attn_resolutions),
        n_classes=model.num_classes, SN_eps=model.sn_eps, no_optim=True,
    )  # fmt: skip
    return Side("BigGAN-PyTorch", G, D, G.shared)


def bench_model(preset: str, device: str, width: int | None):
    """The preset's ModelConfig, at the bench's width. BigGAN-PyTorch's 32 px D labels all its
    blocks 16 px, so it can hold attention after every D block or none: both sides go without
    D attention there, to compare the same network."""
    from nlgan.config import load_preset

    base, changes = DERIVED.get(preset, (preset, {}))
    model = replace(load_preset(base, ["data.root=unused"]).model, **changes)
    ch = width or SIZES[preset]["cuda" if device.startswith("cuda") else "cpu"][0]
    model = replace(model, g_ch=ch, d_ch=ch)
    if model.resolution == 32:
        model = replace(model, d_attn_resolutions=())
    return model


def iteration(side: Side, z, y, real, d_steps: int, autocast) -> None:
    """d_steps D updates and one G update, hinge loss, one D forward on cat([fake, real])."""
    G, D = side.G, side.D
    real = real.contiguous(memory_format=side.memory_format)  # as the loader's batch arrives
    for _ in range(d_steps):
        with autocast():
            with torch.no_grad():
                fake = G(z, side.embed(y))
            logits = D(torch.cat([fake, real]), torch.cat([y, y])).float().view(-1)
            d_fake, d_real = logits.split([len(z), len(real)])
            loss = F.relu(1 - d_real).mean() + F.relu(1 + d_fake).mean()
        side.opt_D.zero_grad(set_to_none=True)
        loss.backward()
        side.opt_D.step()
    D.requires_grad_(False)
    with autocast():
        loss = -D(G(z, side.embed(y)), y).float().mean()
    side.opt_G.zero_grad(set_to_none=True)
    loss.backward()
    side.opt_G.step()
    D.requires_grad_(True)


def prepare(side: Side, device: str, compile_: bool, channels_last: bool = False) -> Side:
    """Move to the device, optionally compile, and give each network its Adam.

    nlgan's side gets what ``nlgan train`` uses (``nlgan.train.build``: channels-last unless
    ``--no-channels-last``, fused Adam where available); BigGAN-PyTorch's side gets its own
    training set-up (contiguous tensors, plain ``torch.optim.Adam``).
    """
    from nlgan.train.build import adam, memory_format

    fmt = memory_format(channels_last)
    side.G.to(device, memory_format=fmt).train()
    side.D.to(device, memory_format=fmt).train()
    make = (lambda p, lr: adam(p, lr, (0.0, 0.999), torch.device(device))) if side.name == \
        "nlgan" else (lambda p, lr: torch.optim.Adam(p, lr=lr, betas=(0.0, 0.999)))  # fmt: skip
    side.opt_G, side.opt_D = make(side.G.parameters(), 1e-4), make(side.D.parameters(), 4e-4)
    if compile_:
        side.G.compile()
        side.D.compile()
    side.memory_format = fmt
    return side


def sync(device: str) -> None:
    """Wait for the device, so wall time covers the work."""
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def flops_per_iteration(side: Side, inputs, d_steps: int, autocast) -> int:
    """FLOPs of one iteration, counted by torch's FLOP counter."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        iteration(side, *inputs, d_steps, autocast)
    return counter.get_total_flops()


def peak_tflops(device: str, precision: str, given: float | None) -> float | None:
    """The card's dense peak for this precision, if known."""
    if given:
        return given
    if not device.startswith("cuda"):
        return None
    name = torch.cuda.get_device_name(device)
    for key, peaks in PEAK_TFLOPS.items():
        if key in name:
            return peaks["bf16" if precision == "bf16" else "fp32"]
    return None


def largest_batch(side: Side, device: str, z_dim: int, model, d_steps: int, autocast) -> int:
    """The largest power-of-two-then-bisected batch whose iteration fits on the CUDA device."""

    def fits(b: int) -> bool:
        try:
            iteration(side, *make_inputs(b, z_dim, model, device), d_steps, autocast)
            sync(device)
            return True
        except torch.cuda.OutOfMemoryError:
            return False
        finally:
            side.opt_G.zero_grad(set_to_none=True)
            side.opt_D.zero_grad(set_to_none=True)
            torch.cuda.empty_cache()

    lo, hi = 0, 8
    while hi <= 8192 and fits(hi):
        lo, hi = hi, hi * 2
    while hi - lo > max(8, lo // 16):
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return lo


def make_inputs(batch: int, z_dim: int, model, device: str):
    """Fixed latents, labels and 'real' images for one iteration."""
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(batch, z_dim, generator=gen).to(device)
    y = torch.randint(0, max(model.num_classes, 1), (batch,), generator=gen).to(device)
    r = model.resolution
    real = (torch.rand(batch, model.img_channels, r, r, generator=gen) * 2 - 1).to(device)
    return z, y, real


def measure(args, preset: str) -> dict:
    """Time every side of one preset, alternating rounds; FLOPs, memory, ratios."""
    device = args.device
    model = bench_model(preset, device, args.width)
    batch = args.batch or SIZES[preset]["cuda" if device.startswith("cuda") else "cpu"][1]
    bf16 = args.precision == "bf16"
    dev_type = "cuda" if device.startswith("cuda") else "cpu"

    def autocast():
        return torch.autocast(dev_type, dtype=torch.bfloat16, enabled=bf16)

    torch.manual_seed(0)
    sides = [nlgan_side(model)]
    if args.biggan:
        torch.manual_seed(0)
        sides.append(biggan_side(Path(args.biggan).expanduser(), model))
    params = {s.name: [sum(p.numel() for p in n.parameters()) for n in (s.G, s.D)] for s in sides}
    sides = [
        prepare(s, device, args.compile, s.name == "nlgan" and not args.no_channels_last)
        for s in sides
    ]
    inputs = make_inputs(batch, model.z_dim, model, device)
    times: dict[str, list[float]] = {s.name: [] for s in sides}
    for side in sides:  # warm-up: compilation, allocator, first-call overheads
        for _ in range(args.warmup):
            iteration(side, *inputs, args.d_steps, autocast)
        sync(device)
    for _ in range(args.rounds):
        for side in sides:
            start = time.perf_counter()
            for _ in range(args.iters):
                iteration(side, *inputs, args.d_steps, autocast)
            sync(device)
            times[side.name].append((time.perf_counter() - start) / args.iters)
    result = {
        "preset": preset, "resolution": model.resolution, "width": model.g_ch, "batch": batch,
        "device": torch.cuda.get_device_name(device) if dev_type == "cuda" else "cpu",
        "precision": args.precision, "compile": args.compile, "d_steps": args.d_steps,
        "nlgan_channels_last": not args.no_channels_last,
        "parameters": params, "s_per_iter": {k: statistics.median(v) for k, v in times.items()},
    }  # fmt: skip
    result["img_per_s"] = {k: batch * args.d_steps / v for k, v in result["s_per_iter"].items()}
    if len(sides) == 2:
        a, b = (result["s_per_iter"][s.name] for s in sides)
        result["time_ratio_nlgan_over_biggan"] = a / b
    nl = sides[0]
    flops = flops_per_iteration(nl, inputs, args.d_steps, autocast) if not args.compile else None
    if flops:
        result["flops_per_iter"] = flops
        result["achieved_tflops"] = flops / result["s_per_iter"]["nlgan"] / 1e12
        peak = peak_tflops(device, args.precision, args.peak_tflops)
        if peak:
            result["share_of_peak"] = result["achieved_tflops"] / peak
    if dev_type == "cuda":
        result["peak_memory_gib"] = {}
        for side in sides:
            torch.cuda.reset_peak_memory_stats(device)
            iteration(side, *inputs, args.d_steps, autocast)
            sync(device)
            result["peak_memory_gib"][side.name] = torch.cuda.max_memory_allocated(device) / 2**30
        if args.max_batch and model.resolution == 128:
            result["largest_batch"] = {
                s.name: largest_batch(s, device, model.z_dim, model, args.d_steps, autocast)
                for s in sides
            }
    return result


def print_table(results: list[dict]) -> None:
    """One line per preset and side, then the ratio."""
    for r in results:
        head = (f"{r['preset']} {r['resolution']}px width {r['width']} batch {r['batch']} "
                f"{r['device']} {r['precision']}{' +compile' if r['compile'] else ''}")  # fmt: skip
        print(head)
        for name, s in r["s_per_iter"].items():
            g, d = r["parameters"][name]
            mem = r.get("peak_memory_gib", {}).get(name)
            extra = f", peak {mem:.2f} GiB" if mem is not None else ""
            print(f"  {name:15s} {1000 * s:8.1f} ms/iter  {r['img_per_s'][name]:8.1f} img/s  "
                  f"params G {g:,} D {d:,}{extra}")  # fmt: skip
        if "time_ratio_nlgan_over_biggan" in r:
            print(f"  time nlgan / BigGAN-PyTorch: {r['time_ratio_nlgan_over_biggan']:.3f}")
        if "flops_per_iter" in r:
            share = f", {100 * r['share_of_peak']:.1f}% of peak" if "share_of_peak" in r else ""
            print(f"  {r['flops_per_iter'] / 1e9:.2f} GFLOP/iter, "
                  f"{r['achieved_tflops'] * 1e3:.2f} GFLOP/s achieved{share}")  # fmt: skip
        if "largest_batch" in r:
            print(f"  largest batch that fits: {r['largest_batch']}")


def main(argv: list[str] | None = None) -> None:
    """Parse options, measure each preset, print the table (and JSON with --json)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default="cifar10_sagan,imagenet64_sagan,imagenet128_sagan")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--biggan", default=None, help="folder with BigGAN-PyTorch's BigGAN.py")
    parser.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    parser.add_argument("--compile", action="store_true", help="torch.compile both sides' G, D")
    parser.add_argument("--no-channels-last", action="store_true", help="nlgan side contiguous")
    parser.add_argument("--width", type=int, default=None, help="g_ch = d_ch [preset default]")
    parser.add_argument("--batch", type=int, default=None)
    parser.add_argument("--d-steps", type=int, default=1)
    parser.add_argument("--iters", type=int, default=3, help="iterations per timed round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--peak-tflops", type=float, default=None)
    parser.add_argument("--max-batch", action="store_true", help="CUDA: largest batch at 128 px")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads [torch's default]")
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.biggan and not (Path(args.biggan).expanduser() / "BigGAN.py").is_file():
        parser.error(f"--biggan {args.biggan}: no BigGAN.py there (clone ajbrock/BigGAN-PyTorch)")
    results = [measure(args, p) for p in args.presets.split(",") if p]
    print_table(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
