"""``nlgan fid``: metrics of the table for a run, image folder, ``.npz`` of images or statistics.

    nlgan fid runs/c10 cifar10-train.npz --n 50000     # EMA G of the latest checkpoint vs stats
    nlgan fid generated/ real/                         # two image folders
    nlgan fid real/ --save-stats cifar10-train.npz     # precompute reference statistics
    nlgan fid runs/c10 cifar10-train:/data/cifar10 --metrics fid,is,kid,prdc,ifid --resize clean

Under ``torchrun --nproc_per_node K -m nlgan.cli fid ...`` each process scores 1/K of the samples.
``--json`` prints the versioned protocol record (``nlgan.metrics.protocol``).
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from nlgan.commands.common import SEED, device_option
from nlgan.metrics.protocol import DEFAULT_BACKBONE, DEFAULT_RESIZE, RESIZE_MODES, UNKNOWN
from nlgan.metrics.table import METRICS, check_backbone, check_metrics, needs_backbone

RUN_SUFFIXES = (".pt", ".safetensors")
DEFAULT_RUN_N = 50_000


@dataclass(frozen=True)
class FidRequest:
    """The options of one ``nlgan fid`` call, as click parsed them."""

    source: str
    reference: str | None
    n: int | None
    metrics: str
    resize: str
    backbone: str
    prdc_k: int
    is_splits: int
    batch_size: int
    inception_weights: str | None
    stats_out: str | None
    resolution: int | None
    seed: int
    truncation: float | None
    device: str
    no_cache: bool
    overwrite: bool
    as_json: bool


def _is_run(path: Path | str) -> bool:
    """A training run directory, a checkpoint / export file, an ``hf://`` repository or a
    folder laid out like one (rather than images or stats)."""
    from nlgan.hub.layout import is_hub_folder
    from nlgan.hub.remote import is_hub_source
    from nlgan.storage.rundir import looks_like_run

    if is_hub_source(path):
        return True
    if path.is_dir():
        return looks_like_run(path) or is_hub_folder(path)
    return path.suffix.lower() in RUN_SUFFIXES


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


def _check(req: FidRequest) -> tuple[str, ...]:
    """Usage errors, before any file is read: the metric names and what they need."""
    try:
        names = check_metrics(req.metrics)
        check_backbone(names, req.backbone)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--metrics") from None
    if req.reference is None and req.stats_out is None and any(METRICS[m].reference for m in names):
        raise click.UsageError(
            "give a REFERENCE (statistics .npz or real images), or --save-stats FILE.npz, "
            "or only metrics that need none (--metrics is)"
        )
    positive = (("--prdc-k", req.prdc_k), ("--is-splits", req.is_splits), ("--n", req.n),
                ("--batch-size", req.batch_size), ("--resolution", req.resolution))  # fmt: skip
    for flag, value in positive:
        if value is not None and value < 1:
            raise click.BadParameter(f"{value}: must be >= 1", param_hint=flag)
    from nlgan.hub.remote import is_hub_source

    if not is_hub_source(req.source) and not Path(req.source).expanduser().exists():
        raise click.UsageError(f"SOURCE {req.source}: no such file or folder")
    if req.stats_out:
        from nlgan.storage.outputs import check_file_output

        check_file_output(req.stats_out, req.overwrite, "--save-stats")
    return names


def _open_source(req: FidRequest, device: str) -> tuple[Any, dict[str, int]]:
    """SOURCE as an image source (a run's EMA generator, or image files), and the metric
    options its run implies (the pairs ruler's training set)."""
    from nlgan.hub.remote import is_hub_source
    from nlgan.metrics.opening import open_images
    from nlgan.metrics.sources import generator_source

    src = req.source if is_hub_source(req.source) else Path(req.source).expanduser()
    if not _is_run(src):
        return open_images(src, resolution=req.resolution), {}
    from nlgan.sampling import load_generator

    G, cfg = load_generator(src, ema=True, device=device)
    n = req.n or DEFAULT_RUN_N
    options = {}
    if cfg is not None and cfg.data.name == "pairs":
        options = {"pairs_seed": cfg.data.seed, "pairs_size": cfg.data.size}
    source = generator_source(G, n, req.seed, req.truncation, description=f"G_ema of {src}")
    return source, options


def _stats_against_stats(req: FidRequest, names: tuple[str, ...], device: str) -> dict[str, Any]:
    """FID of a statistics file against a reference (statistics, or images read here)."""
    from nlgan.metrics.backbones import load_backbone
    from nlgan.metrics.frechet import fid_from_stats
    from nlgan.metrics.opening import open_images
    from nlgan.metrics.protocol import protocol, record
    from nlgan.metrics.reference import open_reference, stats_file_info
    from nlgan.metrics.stats import is_stats_file, load_stats, stats_made_with

    if req.stats_out or names != ("fid",):
        raise click.UsageError(
            f"SOURCE {req.source} holds statistics: only FID against a REFERENCE works with it"
        )
    source = load_stats(req.source)
    if is_stats_file(req.reference):  # two statistics files: no network needed
        ref_stats = load_stats(req.reference)
        ref_info, backbone = stats_file_info(req.reference, ref_stats), None
        ref_made_with = stats_made_with(req.reference)
    else:
        real = open_images(req.reference, resolution=req.resolution)
        extractor = load_backbone(req.backbone, device, req.resize, req.inception_weights)
        ref = open_reference(real, extractor, batch_size=req.batch_size, use_cache=not req.no_cache)
        ref_stats, ref_info, backbone = ref.stats, ref.info, extractor.info
        ref_made_with = {"resize": backbone["resize"], "backbone_hash": backbone.get("hash")}
    made_with = _same_protocol(req, stats_made_with(req.source), ref_made_with)
    scores = {"n": source.n, "fid": fid_from_stats(source, ref_stats)}
    backbone = backbone or {
        "name": None,
        "identity": source.extractor or UNKNOWN,
        "hash": made_with["backbone_hash"],
    }
    part = protocol(
        names, source.n, made_with["resize"], backbone, ref_info,
        source=stats_file_info(req.source, source),
    )  # fmt: skip
    return record(scores, part)


def _same_protocol(
    req: FidRequest, source: dict[str, str | None], reference: dict[str, str | None]
) -> dict[str, str]:
    """The resize and backbone hash both sides share; refused when they differ, "unknown" (with
    a warning) when a side does not record them (pytorch-fid, TTUR, older nlgan files)."""
    from nlgan.metrics.stats import StatsError

    made_with, missing = {}, []
    for key, what in (("resize", "resize"), ("backbone_hash", "network weights")):
        a, b = source.get(key) or UNKNOWN, reference.get(key) or UNKNOWN
        if UNKNOWN not in (a, b) and a != b:
            raise StatsError(
                f"{req.source} and {req.reference} were made with different {what} ({a} vs "
                f"{b}); recompute one with the other's (nlgan fid IMAGES --save-stats)"
            )
        made_with[key] = a if a == b else UNKNOWN
        if UNKNOWN in (a, b):
            missing.append(what)
    if missing:
        warnings.warn(
            f"FID of statistics files that do not record their {' and '.join(missing)}: valid "
            "only if both were made the same way (the record says unknown); make them with "
            "nlgan fid IMAGES --save-stats to have them checked",
            UserWarning,
            stacklevel=2,
        )
    return made_with


def _check_stats_reference(reference: str, names: tuple[str, ...]) -> None:
    """Statistics hold no features or classes: refuse the metrics that need them, early."""
    from nlgan.metrics.stats import StatsError

    titles = [METRICS[m].title for m in names if METRICS[m].reference in ("features", "classes")]
    if titles:
        verb = "needs" if len(titles) == 1 else "need"
        raise StatsError(
            f"{reference}: {' and '.join(titles)} {verb} reference images (a folder, a .npz of "
            "images or cifar10-train:ROOT), not mean/covariance statistics"
        )


def _score(req: FidRequest, names: tuple[str, ...], device: str) -> dict[str, Any] | None:
    """Open every input (cheap checks first), load the backbone, score, and build the record."""
    from nlgan.metrics.backbones import backbone_info, load_backbone
    from nlgan.metrics.distributed import rank_and_world
    from nlgan.metrics.extraction import extract
    from nlgan.metrics.opening import open_images
    from nlgan.metrics.protocol import check_reference_mode, record
    from nlgan.metrics.scoring import describe, evaluate, prepare_reference
    from nlgan.metrics.sources import CallableSource
    from nlgan.metrics.stats import is_stats_file, save_stats, stats_made_with

    images, run_options = _open_source(req, device)
    images.check_length(req.n or 0)
    reference: Any = req.reference
    stats_reference = reference is not None and is_stats_file(reference)
    if stats_reference:
        check_reference_mode(reference, req.resize, stats_made_with(reference))
        _check_stats_reference(reference, names)
    elif reference is not None:
        reference = open_images(reference, resolution=req.resolution)
    extractor = None  # the pixel rulers (pairs) need no feature network
    if req.stats_out or needs_backbone(names):
        extractor = load_backbone(req.backbone, device, req.resize, req.inception_weights)
    if stats_reference and extractor is not None:  # now that the network's hash is known
        made_with = stats_made_with(reference)
        check_reference_mode(reference, req.resize, made_with, extractor.info.get("hash") or "")
    if req.stats_out:
        out = extract(images, extractor, n=req.n, batch_size=req.batch_size, progress=True)
        if rank_and_world()[0] == 0:
            save_stats(out.stats, req.stats_out, backbone_info(extractor))
            click.echo(f"saved statistics of {out.n} images to {req.stats_out}", err=True)
    if reference is None and any(METRICS[m].reference for m in names):
        return None  # --save-stats alone
    ref = prepare_reference(
        reference, names, extractor, batch_size=req.batch_size, use_cache=not req.no_cache,
        progress=True,
    )  # fmt: skip
    n = req.n or len(images)
    options = {"prdc_k": req.prdc_k, "is_splits": req.is_splits, **run_options}
    scores = evaluate(
        images, ref, names, n=n, batch_size=req.batch_size, extractor=extractor,
        use_cache=not req.no_cache, progress=True, **options,
    )  # fmt: skip
    generated = isinstance(images, CallableSource)
    seed, truncation = (req.seed, req.truncation) if generated else (None, None)
    return record(scores, describe(names, n, extractor, ref, images, seed, truncation, **options))


def _check_finite(out: dict[str, Any]) -> None:
    """A NaN/inf score is an error to report, not a number to print with exit status 0."""
    import math

    from nlgan.metrics.stats import StatsError
    from nlgan.metrics.table import UNDEFINED_WHEN_INFINITE

    bad = [
        k
        for k, v in out.items()
        if isinstance(v, float)
        and not math.isfinite(v)
        and not (k in UNDEFINED_WHEN_INFINITE and math.isinf(v))
    ]
    if bad:
        raise StatsError(
            f"{', '.join(f'{k}={out[k]}' for k in bad)}: the statistics or features hold NaN/inf "
            "values (a damaged statistics file, or images that are not finite); recompute them"
        )


def _json_ready(out: dict[str, Any]) -> dict[str, Any]:
    """Standard JSON: an undefined (infinite) score is null, not the non-standard Infinity."""
    import math

    return {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in out.items()}


@click.command(name="fid")
@click.argument("source")
@click.argument("reference", required=False)
@click.option(
    "--n", type=int, default=None, help=f"Samples to score [all images; {DEFAULT_RUN_N} for a run]."
)
@click.option(
    "--metrics", default="fid", show_default=True, help=f"Comma-separated: {', '.join(METRICS)}."
)
@click.option(
    "--resize",
    type=click.Choice(RESIZE_MODES),
    default=DEFAULT_RESIZE,
    show_default=True,
    help="How images reach the network's input size (clean = clean-fid's PIL bicubic).",
)
@click.option(
    "--backbone",
    default=DEFAULT_BACKBONE,
    show_default=True,
    help="inception, a .pt2 / TorchScript file, or module:callable returning [N, D] features.",
)
@click.option("--prdc-k", type=int, default=5, show_default=True, help="k of PRDC's k-NN balls.")
@click.option(
    "--is-splits",
    type=int,
    default=10,
    show_default=True,
    help="IS: splits of the samples (mean and std over them; papers use 10).",
)
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
@click.option("--seed", type=SEED, default=0, show_default=True, help="Latent seed for a run.")
@click.option("--truncation", type=float, default=None, help="Truncated latents for a run.")
@device_option
@click.option("--no-cache", is_flag=True, help="Do not read or write cached reference statistics.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --save-stats file.")
@click.option("--json", "as_json", is_flag=True, help="Print the protocol record as JSON.")
def command(**opts: Any) -> None:
    """Metrics of SOURCE against REFERENCE, or SOURCE's statistics with --save-stats.

    SOURCE: a run directory or checkpoint (samples its EMA generator), an image folder, a .npz of
    uint8 NHWC images, or a statistics .npz. REFERENCE: a statistics .npz (mu, sigma; pytorch-fid,
    TTUR and clean-fid files work), an image folder, a .npz of images, or cifar10-train:ROOT
    (cifar10-test, cifar100-train, ...); statistics of images are cached.
    """
    from nlgan.errors import NlganError
    from nlgan.metrics.distributed import rank_and_world
    from nlgan.metrics.stats import is_stats_file
    from nlgan.metrics.table import format_table

    req = FidRequest(**opts)
    try:
        names = _check(req)
    except NlganError as err:
        raise click.ClickException(str(err)) from None
    started, device = _init_distributed(req.device)
    rank, _ = rank_and_world()
    try:
        if Path(req.source).suffix.lower() == ".npz" and is_stats_file(req.source):
            out = _stats_against_stats(req, names, device)
        else:
            out = _score(req, names, device)
        if out is not None:
            _check_finite(out)
    except (NlganError, ValueError) as err:
        raise click.ClickException(str(err).splitlines()[0]) from None
    finally:
        if started:
            import torch.distributed as dist

            dist.destroy_process_group()
    if out is None or rank != 0:
        return
    click.echo(json.dumps(_json_ready(out)) if req.as_json else format_table(out))
