"""Run configuration: frozen dataclasses per concern, each validated when it is built.

A config file is YAML with the sections ``model``, ``data``, ``train``, ``eval`` and ``log``.
Every value is converted to its field's type (PyYAML reads ``1e-4`` as a string), and unknown
keys, wrong types and out-of-range values fail with a one-line :class:`ConfigError` naming the
key, before any work starts. This module imports no torch, so the CLI stays fast.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nlgan.config.augment_names import parse_ops
from nlgan.config.model_checks import ATTN_AFFINITIES, check_structure
from nlgan.config.values import ConfigError
from nlgan.metrics.protocol import DEFAULT_BACKBONE, DEFAULT_RESIZE, RESIZE_MODES
from nlgan.metrics.table import METRICS, best_key, check_backbone, reference_needs
from nlgan.models.arch import ARCH_FAMILIES, ARCHS


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


# torch.manual_seed and torch.Generator take seeds in [0, 2**64); numpy's SeedSequence (the
# sample-i latents) refuses negative ones. Checked here, not where a seed is first used: the
# sample grid that uses train.seed comes only after the first train.sample_every steps.
SEED_MAX = 2**64 - 1


def _check_seed(key: str, value: int) -> None:
    _check(0 <= value <= SEED_MAX, f"{key}={value}: a seed must be in 0 .. 2**64-1 ({SEED_MAX})")


def _check_choice(key: str, value: str, choices: tuple[str, ...]) -> None:
    _check(value in choices, f"{key}={value!r}: choose one of {', '.join(choices)}")


@dataclass(frozen=True)
class ModelConfig:
    """Generator and discriminator architecture."""

    resolution: int = 32  # image size; one of the keys of nlgan.models.arch.ARCHS
    # Width tables: studiogan | biggan (they differ only in the 64 px G; see nlgan/arch.py).
    arch: str = "studiogan"
    num_classes: int = 10  # 0 = unconditional (plain BN in G, no projection in D)
    img_channels: int = 3  # G's output and D's input channels: 1 or 3
    z_dim: int = 128
    g_ch: int = 64  # base width of G; stage widths are g_ch * multiplier
    d_ch: int = 64
    g_attn_resolutions: tuple[int, ...] = (16,)  # feature-map sizes with self-attention in G
    d_attn_resolutions: tuple[int, ...] = (16,)  # ... and in D (independently)
    shared_dim: int = 0  # > 0: BigGAN shared class embedding of this size feeds G's CBN
    shared_sn: bool = True  # spectral norm on that embedding (with g_sn); BigGAN keeps it plain
    # D blocks (1-based, StudioGAN's attn_d_loc) followed by self-attention, besides
    # d_attn_resolutions: for places a size cannot name, e.g. the second 8x8 block.
    d_attn_blocks: tuple[int, ...] = ()
    # D blocks add ReLU(x) as their shortcut, as StudioGAN's in-place ReLU makes its D do.
    d_relu_shortcut: bool = False
    # The attention block in G and D: "sagan" (SAGAN / BigGAN's embedded Gaussian without biases)
    # or one of the non-local paper's affinities (nlgan/nn/nonlocal_block.py): gaussian,
    # embedded_gaussian, dot_product, concatenation. See nlgan/models/attention.py.
    attn_affinity: str = "sagan"
    attn_key_div: int = 8  # theta / phi have C / attn_key_div channels (not used by gaussian)
    attn_value_div: int = 2  # g has C / attn_value_div channels
    attn_pool: int = 2  # keys / values max-pooled attn_pool x attn_pool (1 = every position)
    hier: bool = False  # BigGAN hierarchical latent: a chunk of z per G block joins the CBN input
    init: str = "ortho"  # ortho | N02 | xavier
    g_sn: bool = True  # spectral norm in G (SAGAN puts it in both networks)
    d_sn: bool = True
    bn_eps: float = 1e-5
    sn_eps: float = 1e-6

    def __post_init__(self) -> None:
        resolutions = ", ".join(str(r) for r in ARCHS)
        _check(
            self.resolution in ARCHS,
            f"model.resolution={self.resolution}: not in the architecture table "
            f"(choose from {resolutions})",
        )
        _check(self.num_classes >= 0, "model.num_classes must be >= 0 (0 = unconditional)")
        _check(self.img_channels in (1, 3), "model.img_channels must be 1 or 3")
        _check(self.z_dim > 0, "model.z_dim must be > 0")
        _check(self.g_ch > 0 and self.d_ch > 0, "model.g_ch and model.d_ch must be > 0")
        _check(self.shared_dim >= 0, "model.shared_dim must be >= 0 (0 = per-class BN gains)")
        _check_choice("model.init", self.init, ("ortho", "N02", "xavier"))
        _check_choice("model.arch", self.arch, ARCH_FAMILIES)
        _check_choice("model.attn_affinity", self.attn_affinity, ATTN_AFFINITIES)
        _check(self.bn_eps > 0 and self.sn_eps > 0, "model.bn_eps and model.sn_eps must be > 0")
        check_structure(self)  # placement, widths, size: nlgan/model_checks.py


@dataclass(frozen=True)
class DataConfig:
    """Where training images come from. Image size and channels follow the model config."""

    # digits | pairs | folder | npy (nlgan prepare) | cifar10 | cifar100 | none (imported
    # weights, no training data named)
    name: str = "digits"
    root: str = ""  # image folder, or the CIFAR root that holds cifar-10-batches-py/
    download: bool = False  # CIFAR only: download into root when missing (needs internet)
    hflip: bool = False  # random horizontal flips (off for digits: flipped digits are wrong)
    num_workers: int = 0
    subset: int = 0  # > 0: train on this many images of every class (nlgan/subset.py); 0 = all
    subset_seed: int = 0  # which images; apart from train.seed so every seed sees the same ones
    # pairs (nlgan/data/pairs.py): the training set is images [0, size) drawn from seed
    size: int = 10000
    seed: int = 0

    def __post_init__(self) -> None:
        _check_choice(
            "data.name",
            self.name,
            ("digits", "pairs", "folder", "npy", "cifar10", "cifar100", "none"),
        )
        _check(self.size > 0, "data.size must be > 0 (images of the pairs training set)")
        _check(
            self.name not in ("folder", "npy") or bool(self.root),
            f"data.root is empty: data.name={self.name} needs --set data.root=PATH",
        )
        _check(self.num_workers >= 0, "data.num_workers must be >= 0")
        _check(self.subset >= 0, "data.subset must be >= 0 (images per class; 0 = all)")
        _check_seed("data.subset_seed", self.subset_seed)


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation, checkpointing and in-run sampling."""

    steps: int = 2000  # generator steps
    batch_size: int = 32  # per process and per micro-batch
    grad_accum: int = 1  # micro-batches per optimiser step
    d_steps_per_g_step: int = 1
    loss: str = "hinge"  # hinge | nonsat
    lr_g: float = 1e-4  # TTUR: D learns faster than G (SAGAN: 1e-4 / 4e-4)
    lr_d: float = 4e-4
    # > 0: from this G step both learning rates fall linearly, to 0 at train.steps (0 = constant)
    lr_decay_start: int = 0
    beta1: float = 0.0
    beta2: float = 0.999
    ema_decay: float = 0.9999
    ema_start: int = 0  # G step from which EMA averages (before it, EMA copies G)
    ema_bn: str = "copy"  # the EMA G's BN statistics: copy G's, or average them (train/ema.py)
    mixed_precision: str = "no"  # no | fp16 | bf16
    seed: int = 0
    ckpt_every: int = 1000
    keep_ckpts: int = 3
    sample_every: int = 500
    log_every: int = 50
    report: bool = True  # write RUN/report.html (nlgan report) when the run ends or is stopped
    sync_bn: bool = True  # cross-replica BN statistics when training on several processes
    # torch CPU threads per process (0 = torch's default). On a shared CPU, 1 avoids OpenMP
    # threads spinning against other processes, which made small models ~10x slower here.
    cpu_threads: int = 0
    # Speed switches (bench/bench_throughput.py measures them): channels-last convolutions were
    # 12-21% faster on CPU here; torch.compile of G and D (inductor, or aot_eager to debug);
    # TF32 matmuls and convolutions for training on CUDA (metrics keep full float32).
    channels_last: bool = True
    compile: str = "no"  # no | inductor | aot_eager
    tf32: bool = True
    # Fine-tuning: G, D and EMA G from a run dir or checkpoint (fresh optimisers, step 0); class
    # tables of another size start afresh with init_classes=reinit; FreezeD fixes D's first K.
    init_from: str = ""
    init_classes: str = "keep"  # keep | reinit
    freeze_d_blocks: int = 0
    # Small data (nlgan/train/augment.py, ada.py, regularizers.py); the defaults change nothing.
    augment: str = ""  # D's augmentation: "translation,cutout" (DiffAugment), "ada", ... or off
    # chance of each op per image; the start value if adaptive. None (auto): 1 with a fixed p
    # (DiffAugment's setting), 0 when adaptive (ada_target > 0), where ADA starts.
    augment_p: float | None = None
    ada_target: float = 0.0  # > 0: steer p so that E[sign(D(real))] = target (ADA: 0.6)
    ada_interval: int = 4  # G steps between adjustments of p
    ada_kimg: float = 500.0  # thousands of real images for p to move by 1 (ADA: 500)
    lecam: float = 0.0  # LeCam weight (paper: 0.3 for BigGAN on CIFAR); 0 = off
    lecam_decay: float = 0.99  # EMA decay of its anchors
    lecam_start: int = 1000  # G step from which it applies (StudioGAN / reference code: 1000)
    bcr: float = 0.0  # balanced consistency weight on reals and on fakes (paper: 10); 0 = off
    # bCR's transform T (names as in augment): the paper's and StudioGAN's random flip plus an
    # integer shift up to 1/8 with reflect padding. Digits: use translation (no flips).
    bcr_augment: str = "xflip,xint"

    @property
    def augment_start_p(self) -> float:
        """The augmentation's p at step 0: ``augment_p``, or auto (0 if adaptive, else 1)."""
        if self.augment_p is not None:
            return self.augment_p
        return 0.0 if self.ada_target > 0 else 1.0

    def __post_init__(self) -> None:
        for key in ("steps", "batch_size", "grad_accum", "d_steps_per_g_step", "keep_ckpts"):
            _check(getattr(self, key) > 0, f"train.{key} must be > 0")
        for key in (
            "ckpt_every",
            "sample_every",
            "log_every",
            "ema_start",
            "freeze_d_blocks",
            "lr_decay_start",
        ):
            _check(getattr(self, key) >= 0, f"train.{key} must be >= 0 (0 = never / from start)")
        _check_choice("train.init_classes", self.init_classes, ("keep", "reinit"))
        _check(self.cpu_threads >= 0, "train.cpu_threads must be >= 0 (0 = torch's default)")
        _check_seed("train.seed", self.seed)
        _check_choice("train.loss", self.loss, ("hinge", "nonsat"))
        _check_choice("train.compile", self.compile, ("no", "inductor", "aot_eager"))
        _check_choice("train.ema_bn", self.ema_bn, ("copy", "average"))
        _check_choice("train.mixed_precision", self.mixed_precision, ("no", "fp16", "bf16"))
        _check(self.lr_g > 0 and self.lr_d > 0, "train.lr_g and train.lr_d must be > 0")
        _check(
            self.lr_decay_start < self.steps,
            f"train.lr_decay_start={self.lr_decay_start} must be below train.steps={self.steps}"
            " (the decay ends at train.steps; 0 = constant learning rates)",
        )
        for key in ("beta1", "beta2", "ema_decay"):
            _check(0.0 <= getattr(self, key) < 1.0, f"train.{key} must be in [0, 1)")
        for key in ("augment", "bcr_augment"):
            try:
                parse_ops(getattr(self, key))
            except ValueError as err:
                raise ConfigError(f"train.{key}={getattr(self, key)!r}: {err}") from None
        for key in ("augment_p", "ada_target", "lecam_decay"):
            value = getattr(self, key)
            _check(value is None or 0.0 <= value <= 1.0, f"train.{key} must be in [0, 1]")
        # Settings that would do nothing but cost time (a host sync, an extra D forward):
        _check(
            self.ada_target == 0 or bool(parse_ops(self.augment)),
            f"train.ada_target={self.ada_target} steers the augmentation's p, but train.augment "
            "is empty: set train.augment (e.g. ada) or train.ada_target=0",
        )
        _check(
            self.bcr == 0 or bool(parse_ops(self.bcr_augment)),
            f"train.bcr={self.bcr} needs a transform, but train.bcr_augment is empty: set "
            "train.bcr_augment (e.g. xflip,xint, the paper's) or train.bcr=0",
        )
        for key in ("ada_interval", "ada_kimg"):
            _check(getattr(self, key) > 0, f"train.{key} must be > 0")
        for key in ("lecam", "bcr", "lecam_start"):
            _check(getattr(self, key) >= 0, f"train.{key} must be >= 0 (0 = off / from start)")


@dataclass(frozen=True)
class EvalConfig:
    """Periodic evaluation of the EMA generator during training."""

    every: int = 0  # G steps between evaluations; 0 = off
    n: int = 10000  # generated samples per evaluation
    reference: str = ""  # .npz statistics, an image folder of real images, cifar10-train:ROOT
    metrics: tuple[str, ...] = ("fid",)  # names of nlgan.metrics.table.METRICS
    batch_size: int = 100
    inception_weights: str = ""  # local FID Inception weights file (else env / hub cache)
    resize: str = DEFAULT_RESIZE  # legacy_tensorflow | clean | legacy_pytorch
    backbone: str = DEFAULT_BACKBONE  # inception, a .pt2 / TorchScript file, or module:callable
    prdc_k: int = 5  # k of PRDC's k-NN balls
    best: str = ""  # score kept in checkpoints/best.pt ("" = the first metric's, e.g. fid)

    def __post_init__(self) -> None:
        _check(self.every >= 0, "eval.every must be >= 0 (0 = off)")
        _check(self.n > 0 and self.batch_size > 0, "eval.n and eval.batch_size must be > 0")
        _check(bool(self.metrics), f"eval.metrics is empty: name any of {', '.join(METRICS)}")
        for m in self.metrics:
            _check_choice("eval.metrics", m, tuple(METRICS))
        _check_choice("eval.resize", self.resize, RESIZE_MODES)
        _check(self.prdc_k >= 1, "eval.prdc_k must be >= 1")
        try:
            check_backbone(self.metrics, self.backbone)
        except ValueError as err:
            raise ConfigError(f"eval.{err}") from None  # "eval.metrics=is need ..."
        try:
            best_key(self.metrics, self.best)
        except ValueError as err:
            raise ConfigError(str(err)) from None
        _check(
            self.every == 0 or bool(self.reference) or not reference_needs(self.metrics),
            "eval.every > 0 needs eval.reference (a .npz of statistics or an image folder)",
        )


@dataclass(frozen=True)
class LogConfig:
    """Experiment tracking (wandb). WANDB_MODE in the environment overrides ``wandb``."""

    wandb: str = "disabled"  # online | offline | disabled
    project: str = "nlgan"
    entity: str = ""
    name: str = ""
    tags: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_choice("log.wandb", self.wandb, ("online", "offline", "disabled"))


@dataclass(frozen=True)
class Config:
    """A whole run: one section per concern."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    log: LogConfig = field(default_factory=LogConfig)

    def __post_init__(self) -> None:
        _check(
            self.data.name != "digits" or self.model.num_classes in (0, 10),
            f"model.num_classes={self.model.num_classes}: the digits data set has 10 classes "
            "(use 10, or 0 for unconditional)",
        )
        _check(
            self.data.name != "pairs" or self.model.num_classes in (0, 4),
            f"model.num_classes={self.model.num_classes}: the pairs data set has 4 classes "
            "(use 4, or 0 for unconditional)",
        )
