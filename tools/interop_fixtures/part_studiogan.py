"""PyTorch-StudioGAN fixtures: tiny SAGAN (resnet) and BigGAN (big_resnet) checkpoints in its
own file layout (``model=G-best-weights-step=N.pth`` ...), the YAML configs they were built
from, and reference images / D logits from its own forward passes. Run by
make_interop_fixtures.py inside an extracted ``src/``: ``part_studiogan.py SOURCE OUT COMMIT``."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import config  # StudioGAN's config.py: YAML -> MODEL / MODULES, as its main.py does
import numpy as np
import torch
import utils.ops as ops
import utils.sample as sample
import yaml
from common import TRUNCATION, jitter, nlgan_truncated, perturb, save_reference, seed, warm_up

STEP = 1000
# name -> (StudioGAN preset it starts from, keys changed to make it tiny, samples)
CASES = {
    "studiogan-sagan32": ("configs/CIFAR10/SAGAN.yaml", {"g_conv_dim": 4, "d_conv_dim": 8}, 4),
    "studiogan-biggan32": (  # its EMA copy is left out to keep the fixtures small
        "configs/CIFAR10/BigGAN.yaml",
        {"g_conv_dim": 4, "d_conv_dim": 8, "z_dim": 20, "g_shared_dim": 8, "apply_g_ema": False},
        4,
    ),
}


def build(cfgs):
    """G and D exactly as StudioGAN's models/model.py builds the resnet-family backbones."""
    module = __import__(f"models.{cfgs.MODEL.backbone}", fromlist=["something"])
    M, data = cfgs.MODEL, cfgs.DATA
    G = module.Generator(
        z_dim=M.z_dim,
        g_shared_dim=M.g_shared_dim,
        img_size=data.img_size,
        g_conv_dim=M.g_conv_dim,
        apply_attn=M.apply_attn,
        attn_g_loc=M.attn_g_loc,
        g_cond_mtd=M.g_cond_mtd,
        num_classes=data.num_classes,
        g_init=M.g_init,
        g_depth=M.g_depth,
        mixed_precision=False,
        MODULES=cfgs.MODULES,
        MODEL=M,
    )
    D = module.Discriminator(
        img_size=data.img_size,
        d_conv_dim=M.d_conv_dim,
        apply_d_sn=M.apply_d_sn,
        apply_attn=M.apply_attn,
        attn_d_loc=M.attn_d_loc,
        d_cond_mtd=M.d_cond_mtd,
        aux_cls_type=M.aux_cls_type,
        d_embed_dim=M.d_embed_dim,
        normalize_d_embed=M.normalize_d_embed,
        num_classes=data.num_classes,
        d_init=M.d_init,
        d_depth=M.d_depth,
        mixed_precision=False,
        MODULES=cfgs.MODULES,
        MODEL=M,
    )
    return G, D  # fmt: skip


@torch.no_grad()
def make(name: str, preset: str, tiny: dict, n: int, out: Path, commit: str) -> None:
    """Build, perturb, save and run one StudioGAN model family."""
    gen = seed(sum(map(ord, name)))
    folder = out / name
    folder.mkdir(parents=True, exist_ok=True)
    values = yaml.safe_load(Path(preset).read_text())
    values["MODEL"].update(tiny)
    cfg_file = folder / f"{Path(preset).stem}-tiny.yaml"
    cfg_file.write_text(yaml.safe_dump(values, sort_keys=False))
    cfgs = config.Configurations(str(cfg_file))
    G, D = build(cfgs)
    K, z_dim, size = cfgs.DATA.num_classes, cfgs.MODEL.z_dim, cfgs.DATA.img_size
    warm_up(G, lambda: G(torch.randn(8, z_dim, generator=gen),
                         torch.randint(K, (8,), generator=gen)))  # fmt: skip
    warm_up(D, lambda: D(torch.rand(8, 3, size, size, generator=gen) * 2 - 1,
                         torch.randint(K, (8,), generator=gen)))  # fmt: skip
    perturb(G, gen)
    perturb(D, gen)
    models = {"G": G.eval(), "D": D.eval()}
    if cfgs.MODEL.apply_g_ema:  # models/model.py: the EMA generator is a deep copy of G
        models["G_ema"] = copy.deepcopy(G)
        jitter(models["G_ema"], gen)
    for key, model in models.items():  # the dicts worker.py's save() writes
        states = {
            "state_dict": model.state_dict(),
            "optimizer": torch.optim.Adam(model.parameters()).state_dict(),
        }
        if key == "D":
            states.update(
                seed=0,
                run_name=name,
                step=STEP,
                epoch=2,
                topk="initialize",
                aa_p=0.0,
                best_step=STEP,
                best_fid=np.float64(42.5),
                best_fid_ckpt=str(folder),
                lecam_emas=ops.LeCamEMA().__dict__,
            )
        torch.save(states, folder / f"model={key}-best-weights-step={STEP}.pth")  # fmt: skip

    z = torch.randn(n, z_dim, generator=gen)
    y = torch.randint(K, (n,), generator=gen)
    y2 = (y + 1 + torch.randint(K - 1, (n,), generator=gen)) % K
    z_trunc = nlgan_truncated(n, z_dim)
    np.random.seed(1)  # StudioGAN's truncated sampler draws from numpy's global RNG
    z_theirs = sample.sample_normal(n, z_dim, TRUNCATION, "cpu")
    arrays = {"z": z, "y": y, "y2": y2, "z_trunc": z_trunc, "z_trunc_studiogan": z_theirs}
    arrays["images"] = G(z, y)
    arrays["images_trunc"] = G(z_trunc, y)
    arrays["images_trunc_studiogan"] = G(z_theirs, y)
    if cfgs.MODEL.backbone == "big_resnet":
        arrays["embed"] = G.shared(y)
        arrays["images_mix"] = G(z, y, shared_label=0.5 * (G.shared(y) + G.shared(y2)))
    if "G_ema" in models:
        arrays["images_ema"] = models["G_ema"](z, y)
    D64 = copy.deepcopy(D).double()  # float64 logits too: below float32's rounding noise
    for key, x, labels in (
        ("d_fake", arrays["images"], y),
        ("d_other", arrays["images_trunc"], y2),
    ):
        arrays[key] = D(x, labels)["adv_output"]
        arrays[f"{key}64"] = D64(x.double(), labels)["adv_output"]
    meta = {"source": "https://github.com/POSTECH-CVLab/PyTorch-StudioGAN", "commit": commit,
            "preset": f"src/{preset}", "changed": tiny, "files": list(models)}  # fmt: skip
    save_reference(folder / "reference.npz", meta, **arrays)


def main() -> None:
    """Write every case under OUT."""
    _, out, commit = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    for name, (preset, tiny, n) in CASES.items():
        make(name, preset, tiny, n, out, commit)


if __name__ == "__main__":
    main()
