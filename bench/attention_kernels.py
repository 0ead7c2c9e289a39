"""Which kernels SAGAN self-attention really runs: profiler kernel names of one forward+backward.

PyTorch's ``scaled_dot_product_attention`` silently falls back to its math path (which builds
the N x N map) when its fused kernels cannot take the inputs; this lists what ran, so a fallback
shows. On CUDA, bf16/fp16 should show flash or memory-efficient kernels.

    python bench/attention_kernels.py --device cuda --dtype bf16 [--size 64] [--channels 256]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

from nlgan.nn import SelfAttention

FUSED = ("flash", "efficient", "fmha", "cutlass")


def kernels(device: str, dtype: torch.dtype, size: int, channels: int, batch: int) -> dict:
    """Names of the attention ops and device kernels in one forward+backward, and a verdict."""
    block = SelfAttention(channels).to(device).train()
    with torch.no_grad():
        block.gamma.fill_(0.5)
    x = torch.randn(batch, channels, size, size, device=device, requires_grad=True)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device == "cuda" else [])
    with profile(activities=activities) as prof:
        with torch.autocast(device, dtype=dtype, enabled=dtype != torch.float32):
            block(x).float().sum().backward()
        if device == "cuda":
            torch.cuda.synchronize()
    names = sorted({e.name for e in prof.events()})
    attention = [n for n in names if "attention" in n.lower() or any(f in n.lower() for f in FUSED)]
    math_path = any("_scaled_dot_product_attention_math" in n for n in names)
    fused = [n for n in attention if any(f in n.lower() for f in FUSED)]
    return {"device": device, "dtype": str(dtype), "size": size, "attention_ops": attention,
            "fused": bool(fused) and not math_path, "math_fallback": math_path}  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    """Print the attention kernels (and JSON with --json)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", choices=["fp32", "bf16", "fp16"], default="fp32")
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--channels", type=int, default=256)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[args.dtype]
    result = kernels(args.device, dtype, args.size, args.channels, args.batch)
    print(f"{args.device} {args.dtype} {args.size}x{args.size}: fused={result['fused']}, "
          f"math fallback={result['math_fallback']}")  # fmt: skip
    for name in result["attention_ops"]:
        print(f"  {name}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
