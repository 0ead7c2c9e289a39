"""Can the data loader keep up? Decoded images/s of an image folder, per number of workers.

Writes a folder of JPEGs (``--images`` photos-like noise images of ``--size`` px, ImageNet-like
file sizes), then reads it through nlgan's ``folder`` data set and DataLoader exactly as training
does (decode, resize the shorter side, centre-crop, [-1, 1]) at ``--resolution``, for each worker
count. Compare the images/s with what a train step consumes (``bench_throughput.py``'s img/s):
the loader is not the bottleneck when it delivers more.

    python bench/bench_loader.py --workers 0,2,4 --resolution 128
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader


def write_jpegs(folder: Path, count: int, size: int) -> None:
    """Smooth random images (like photos, unlike white noise, which JPEG cannot compress)."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        small = rng.integers(0, 256, (size // 16, size // 16, 3), dtype=np.uint8)
        image = Image.fromarray(small).resize((size, size), Image.BICUBIC)
        image.save(folder / f"{i:06d}.jpg", quality=90)


def loader_rate(folder: Path, resolution: int, workers: int, batch: int) -> float:
    """Images/s of one pass over the folder with ``workers`` worker processes."""
    from nlgan.config import DataConfig, ModelConfig
    from nlgan.data import build_dataset

    model = ModelConfig(resolution=resolution, num_classes=0, g_attn_resolutions=(),
                        d_attn_resolutions=())  # fmt: skip
    dataset = build_dataset(DataConfig(name="folder", root=str(folder)), model)
    loader = DataLoader(
        dataset, batch_size=batch, shuffle=True, num_workers=workers, drop_last=True,
        persistent_workers=workers > 0, prefetch_factor=4 if workers else None,
    )  # fmt: skip
    next(iter(loader))  # start the workers before timing
    start, seen = time.perf_counter(), 0
    for x, _ in loader:
        seen += len(x)
    return seen / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> None:
    """Print images/s per worker count (and JSON with --json)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=512)
    parser.add_argument("--size", type=int, default=375, help="stored JPEG side (ImageNet ~400)")
    parser.add_argument("--resolution", type=int, default=128)
    parser.add_argument("--workers", default="0,2")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--folder", default=None, help="an existing image folder to read instead")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.folder) if args.folder else Path(tmp) / "jpegs"
        if not args.folder:
            write_jpegs(folder, args.images, args.size)
        rates = {}
        for workers in (int(w) for w in args.workers.split(",")):
            rates[workers] = loader_rate(folder, args.resolution, workers, args.batch)
            print(f"workers {workers:2d}: {rates[workers]:8.1f} img/s "
                  f"({args.resolution} px from {args.size} px JPEGs)")  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps({"resolution": args.resolution, "img_per_s": rates}))


if __name__ == "__main__":
    main()
