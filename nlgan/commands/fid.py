"""``nlgan fid``: FID / IS / KID of a run, image folder, ``.npz`` of images or statistics.

    nlgan fid runs/c10 cifar10-train.npz --n 50000     # EMA G of the latest checkpoint vs stats
    nlgan fid generated/ real/                         # two image folders
    nlgan fid real/ --save-stats cifar10-train.npz     # precompute reference statistics
    nlgan fid runs/c10 real/ --metrics fid,is,kid --inception-weights pt_inception-...pth

Under ``torchrun --nproc_per_node K -m nlgan.cli fid ...`` each process scores 1/K of the samples.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from nlgan.commands.common import device_option

RUN_SUFFIXES = (".pt", ".safetensors")
DEFAULT_RUN_N = 50_000


def _is_run(path: Path) -> bool:
    """A training run directory or a checkpoint / export file (rather than images or stats)."""
    from nlgan.rundir import looks_like_run

    if path.is_dir():
        return looks_like_run(path)
    return path.suffix.lower() in RUN_SUFFIXES


def _generator_source(path: Path, n: int, device: str, seed: int, truncation: float | None):
    """The EMA generator of a run directory / checkpoint as an image source."""
    from nlgan.metrics.sources import generator_source
    from nlgan.sampling import load_generator

    G, _ = load_generator(path, ema=True, device=device)
    return generator_source(G, n, seed, truncation, description=f"G_ema of {path}")


def _init_distributed(device: str) -> tuple[bool, str]:
    """Join the process group torchrun describes (if any); returns (started here, device)."""
    import torch
    import torch.distributed as dist

    from nlgan.commands.common import pick_device

    device = pick_device(device)
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or dist.is_initialized():
        return False, device
    use_nccl = device.startswith("cuda")
    if use_nccl:
        device = f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
        torch.cuda.set_device(device)
    dist.init_process_group(backend="nccl" if use_nccl else "gloo")
    return True, device


@click.command(name="fid")
@click.argument("source")
@click.argument("reference", required=False)
@click.option(
    "--n", type=int, default=None, help=f"Samples to score [all images; {DEFAULT_RUN_N} for a run]."
)
@click.option("--metrics", default="fid", show_default=True, help="Comma-separated: fid, is, kid.")
@click.option("--batch-size", type=int, default=100, show_default=True)
@click.option(
    "--inception-weights",
    type=click.Path(dir_okay=False),
    default=None,
    help="FID Inception weights file [$NLGAN_INCEPTION_WEIGHTS, else the torch hub cache].",
)
@click.option(
    "--save-stats",
    "stats_out",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write SOURCE's mu/sigma to this .npz (pytorch-fid format).",
)
@click.option(
    "--resolution", type=int, default=None, help="Resize + centre-crop folder images to this size."
)
@click.option("--seed", type=int, default=0, show_default=True, help="Latent seed for a run.")
@click.option("--truncation", type=float, default=None, help="Truncated latents for a run.")
@device_option
@click.option("--no-cache", is_flag=True, help="Do not read or write cached reference statistics.")
@click.option("--json", "as_json", is_flag=True, help="Print the scores as one JSON object.")
def command(
    source: str,
    reference: str | None,
    n: int | None,
    metrics: str,
    batch_size: int,
    inception_weights: str | None,
    stats_out: str | None,
    resolution: int | None,
    seed: int,
    truncation: float | None,
    device: str,
    no_cache: bool,
    as_json: bool,
) -> None:
    """FID / IS / KID of SOURCE against REFERENCE, or SOURCE's statistics with --save-stats.

    SOURCE: a run directory or checkpoint (samples its EMA generator), an image folder, a .npz of
    uint8 NHWC images, or a statistics .npz. REFERENCE: a statistics .npz (mu, sigma; pytorch-fid
    and TTUR files work), an image folder or a .npz of images (statistics are cached).
    """
    from nlgan.errors import NlganError
    from nlgan.metrics import (
        StatsError,
        check_metrics,
        evaluate,
        extract,
        fid_from_stats,
        format_table,
        load_inception,
        load_stats,
        open_images,
        open_reference,
        save_stats,
    )
    from nlgan.metrics.distributed import rank_and_world
    from nlgan.metrics.stats import is_stats_file

    try:
        names = check_metrics(metrics)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--metrics") from None
    if reference is None and stats_out is None and names != ("is",):
        raise click.UsageError(
            "give a REFERENCE (statistics .npz or real images), or --save-stats FILE.npz, "
            "or --metrics is"
        )
    src = Path(source).expanduser()
    if not src.exists():
        raise click.UsageError(f"SOURCE {source}: no such file or folder")
    started, device = _init_distributed(device)
    rank, _ = rank_and_world()
    try:
        if src.suffix.lower() == ".npz" and is_stats_file(src):
            if stats_out or names != ("fid",):
                raise click.UsageError(
                    f"SOURCE {source} holds statistics: only FID against a REFERENCE works with it"
                )
            if is_stats_file(reference):  # two statistics files: no network needed
                ref_stats = load_stats(reference)
            else:
                real = open_images(reference, resolution=resolution)
                extractor = load_inception(inception_weights, device=device)
                ref_stats = open_reference(
                    real, extractor, batch_size=batch_size, use_cache=not no_cache
                ).stats
            scores = {"fid": fid_from_stats(load_stats(src), ref_stats)}
        else:
            # open and check every input before the (slow) network load
            if _is_run(src):
                images = _generator_source(src, n or DEFAULT_RUN_N, device, seed, truncation)
            else:
                images = open_images(src, resolution=resolution)
            images.check_length(n or 0)
            if reference is not None and not is_stats_file(reference):
                reference = open_images(reference, resolution=resolution)
            elif reference is not None and "kid" in names:
                raise StatsError(
                    f"{reference}: KID needs reference images (a folder or .npz of images), "
                    "not mean/covariance statistics"
                )
            extractor = load_inception(inception_weights, device=device)
            scores = None
            if stats_out:
                out = extract(images, extractor, n=n, batch_size=batch_size, progress=True)
                if rank == 0:
                    save_stats(out.stats, stats_out)
                    click.echo(f"saved statistics of {out.n} images to {stats_out}", err=True)
            if reference is not None or (names == ("is",) and stats_out is None):
                scores = evaluate(
                    images,
                    reference,
                    metrics=names,
                    n=n,
                    batch_size=batch_size,
                    extractor=extractor,
                    use_cache=not no_cache,
                    progress=True,
                )
    except NlganError as err:
        raise click.ClickException(str(err)) from None
    finally:
        if started:
            import torch.distributed as dist

            dist.destroy_process_group()
    if scores is None or rank != 0:
        return
    click.echo(json.dumps(scores) if as_json else format_table(scores))
