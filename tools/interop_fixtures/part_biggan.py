"""BigGAN-PyTorch fixtures: tiny G / D / G_ema and state_dict.pth in its own format, with
reference images and D logits from its own forward passes. Run by make_interop_fixtures.py
inside an extracted BigGAN-PyTorch tree: ``part_biggan.py SOURCE OUT COMMIT``."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import BigGAN  # BigGAN-PyTorch's model file, from the extracted tree
import torch
import utils  # BigGAN-PyTorch's utils: its argument parser and tables
from common import jitter, nlgan_truncated, perturb, save_reference, seed, warm_up

# name -> (command-line arguments of BigGAN-PyTorch's train.py, files to write, samples)
CASES = {
    "biggan32": (
        "--dataset C10 --G_ch 4 --D_ch 4 --G_shared --shared_dim 8 --hier --dim_z 20 "
        "--G_attn 16 --D_attn 16 --SN_eps 1e-6 --BN_eps 1e-5 --ema",
        ("G", "D", "G_ema"),
        4,
    ),
    "biggan128": (
        "--dataset I128_hdf5 --G_ch 4 --D_ch 2 --G_shared --shared_dim 16 --hier --dim_z 120 "
        "--G_attn 64 --D_attn 16 --SN_eps 1e-6 --BN_eps 1e-5 --G_nl inplace_relu "
        "--D_nl inplace_relu",
        ("G", "D"),
        2,
    ),
    "biggan32-plain": (  # BigGAN-PyTorch's CIFAR setting: per-class BN embeddings, no hier
        "--dataset C10 --G_ch 4 --D_ch 4 --G_attn 0 --D_attn 0 --G_init N02 --D_init N02",
        ("G",),
        4,
    ),
}


def config_for(argv: str) -> dict:
    """The config dict train.py builds from these arguments (what state_dict.pth stores)."""
    config = vars(utils.prepare_parser().parse_args(argv.split()))
    config["resolution"] = utils.imsize_dict[config["dataset"]]
    config["n_classes"] = utils.nclass_dict[config["dataset"]]
    config["G_activation"] = utils.activation_dict[config["G_nl"]]
    config["D_activation"] = utils.activation_dict[config["D_nl"]]
    return config


@torch.no_grad()
def make(name: str, argv: str, files: tuple[str, ...], n: int, out: Path, commit: str) -> None:
    """Build, perturb, save and run one BigGAN-PyTorch model family."""
    gen = seed(sum(map(ord, name)))
    config = config_for(argv)
    G = BigGAN.Generator(**config)
    D = BigGAN.Discriminator(**config)
    K, dim_z = config["n_classes"], G.dim_z

    def g_forward() -> torch.Tensor:
        z = torch.randn(8, dim_z, generator=gen)
        return G(z, G.shared(torch.randint(K, (8,), generator=gen)))

    warm_up(G, g_forward)
    warm_up(D, lambda: D(torch.rand(8, 3, G.resolution, G.resolution, generator=gen) * 2 - 1,
                         torch.randint(K, (8,), generator=gen)))  # fmt: skip
    perturb(G, gen)
    perturb(D, gen)
    G.eval()
    D.eval()
    folder = out / name
    folder.mkdir(parents=True, exist_ok=True)
    models = {"G": G, "D": D}
    if "G_ema" in files:
        G_ema = BigGAN.Generator(**{**config, "skip_init": True, "no_optim": True})
        G_ema.load_state_dict(G.state_dict())
        jitter(G_ema, gen)
        models["G_ema"] = G_ema.eval()
    for key in files:  # torch's pre-1.6 format, as the 2019 release
        torch.save(models[key].state_dict(), folder / f"{key}.pth",
                   _use_new_zipfile_serialization=False)  # fmt: skip
    state_dict = {"itr": 1234, "epoch": 3, "save_num": 0, "save_best_num": 0,
                  "best_IS": 0, "best_FID": 999999, "config": config}  # fmt: skip
    torch.save(state_dict, folder / "state_dict.pth", _use_new_zipfile_serialization=False)

    z = torch.randn(n, dim_z, generator=gen)
    y = torch.randint(K, (n,), generator=gen)
    y2 = (y + 1 + torch.randint(K - 1, (n,), generator=gen)) % K
    z_trunc = nlgan_truncated(n, dim_z)
    arrays = {"z": z, "y": y, "y2": y2, "z_trunc": z_trunc}
    arrays["images"] = G(z, G.shared(y))
    arrays["images_trunc"] = G(z_trunc, G.shared(y))
    if config["G_shared"]:
        arrays["embed"] = G.shared(y)
        arrays["images_mix"] = G(z, 0.5 * (G.shared(y) + G.shared(y2)))
    if "G_ema" in models:
        arrays["images_ema"] = models["G_ema"](z, models["G_ema"].shared(y))
    if "D" in files:  # float32 logits, and float64 ones (below float32's rounding noise)
        D64 = copy.deepcopy(D).double()
        for key, x, labels in (
            ("d_fake", arrays["images"], y),
            ("d_other", arrays["images_trunc"], y2),
        ):
            arrays[key] = D(x, labels)[:, 0]
            arrays[f"{key}64"] = D64(x.double(), labels)[:, 0]
    meta = {"source": "https://github.com/ajbrock/BigGAN-PyTorch", "commit": commit,
            "argv": argv, "files": list(files)}  # fmt: skip
    save_reference(folder / "reference.npz", meta, **arrays)


def main() -> None:
    """Write every case under OUT."""
    _, out, commit = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    for name, (argv, files, n) in CASES.items():
        make(name, argv, files, n, out, commit)


if __name__ == "__main__":
    main()
