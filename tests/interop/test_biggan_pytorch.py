"""BigGAN-PyTorch weights imported into nlgan give BigGAN-PyTorch's own outputs.

The references were computed by BigGAN-PyTorch's model code in eval mode (see interop_data.py).
Images must agree to 1e-5 (max abs, on [-1, 1]); D logits to 1e-5 in float64, and in float32 to
1e-5 plus float32's own rounding of large logits (BigGAN-PyTorch's float32 logits of ~68 differ
from its float64 ones by 2.6e-5).
"""

from __future__ import annotations

import functools
import shutil

import pytest
import torch

from nlgan.interop.biggan_pytorch import import_biggan_pytorch
from nlgan.interop.foreign import InteropError
from nlgan.models import Discriminator, Generator
from nlgan.sampling import latents

from interop_data import (
    IMAGE_ATOL,
    INTEROP,
    TRUNCATION,
    TRUNCATION_SEED,
    built_networks,
    max_diff,
    meta,
    reference,
)

CASES = ["biggan32", "biggan128", "biggan32-plain"]


@functools.cache
def nets(name: str) -> tuple:
    """The import of one fixture folder and its networks (eval mode), made once per session."""
    imported = import_biggan_pytorch(INTEROP / name)
    return imported, built_networks(imported)


@pytest.mark.parametrize("name", CASES)
def test_images_equal_biggan_pytorch_on_the_same_z_and_y(name):
    _, models = nets(name)
    ref = reference(name)
    with torch.no_grad():
        images = models["G"](ref["z"], ref["y"])
        truncated = models["G"](ref["z_trunc"], ref["y"])
    assert max_diff(images, ref["images"]) <= IMAGE_ATOL
    assert max_diff(truncated, ref["images_trunc"]) <= IMAGE_ATOL
    # the truncated latents are nlgan's sampling stream, so `nlgan sample --truncation` gives
    # BigGAN-PyTorch's images for them
    z = latents(0, len(ref["z"]), ref["z"].shape[1], seed=TRUNCATION_SEED, truncation=TRUNCATION)
    assert torch.equal(z, ref["z_trunc"])
    assert max_diff(images, truncated) > 0.01  # different latents, different images


@pytest.mark.parametrize("name", ["biggan32", "biggan128"])
def test_shared_class_embeddings_and_their_interpolation(name):
    _, models = nets(name)
    ref = reference(name)
    G = models["G"]
    with torch.no_grad():
        assert torch.equal(G.embed(ref["y"]), ref["embed"])
        mixed = 0.5 * (G.embed(ref["y"]) + G.embed(ref["y2"]))
        assert max_diff(G(ref["z"], emb=mixed), ref["images_mix"]) <= IMAGE_ATOL


def test_the_ema_generator_comes_from_g_ema_pth():
    imported, models = nets("biggan32")
    ref = reference("biggan32")
    with torch.no_grad():
        ema = models["G_ema"](ref["z"], ref["y"])
    assert max_diff(ema, ref["images_ema"]) <= IMAGE_ATOL
    assert max_diff(ema, ref["images"]) > 1e-3  # G_ema.pth differs from G.pth
    assert imported.step == 1234 and imported.record["files"] == ["D.pth", "G.pth", "G_ema.pth"]
    # made by the commit tools/make_interop_fixtures.py names
    assert meta("biggan32")["commit"] == "98459431a5d618d644d54cd1e9fceb1e5045648d"


@pytest.mark.parametrize("name", ["biggan32", "biggan128"])
def test_discriminator_logits_equal_biggan_pytorch(name):
    imported, models = nets(name)
    ref = reference(name)
    D64 = Discriminator(imported.config.model).double()
    D64.load_state_dict(imported.weights["D"])
    D64.eval()
    for key, images, labels in (("d_fake", "images", "y"), ("d_other", "images_trunc", "y2")):
        with torch.no_grad():
            logits = models["D"](ref[images], ref[labels])
            logits64 = D64(ref[images].double(), ref[labels])
        torch.testing.assert_close(logits, ref[key], atol=1e-5, rtol=1e-6)
        assert max_diff(logits64, ref[f"{key}64"]) <= 1e-5


def test_the_model_config_is_read_from_the_tensors_and_agrees_with_state_dict_pth():
    imported, _ = nets("biggan32")
    m = imported.config.model
    assert (m.resolution, m.arch, m.num_classes, m.z_dim, m.g_ch, m.d_ch) == (
        32, "biggan", 10, 20, 4, 4)  # fmt: skip
    assert (m.shared_dim, m.shared_sn, m.hier, m.g_attn_resolutions) == (8, False, True, (16,))
    # D_attn=16 in BigGAN-PyTorch's 32 px table means after all four D blocks (its table
    # calls every block "16"), which d_attn_resolutions cannot say: block numbers
    assert (m.d_attn_resolutions, m.d_attn_blocks) == ((), (1, 2, 3, 4))
    assert (m.bn_eps, m.sn_eps) == (1e-5, 1e-6)
    assert imported.config.data.name == "cifar10"
    big = nets("biggan128")[0].config.model
    assert (big.num_classes, big.z_dim, big.d_attn_resolutions, big.d_attn_blocks) == (
        1000, 120, (16,), ())  # fmt: skip


def test_without_state_dict_pth_the_tensors_alone_rebuild_it(tmp_path):
    shutil.copy(INTEROP / "biggan128" / "G.pth", tmp_path / "G.pth")
    imported, models = nets("biggan128")
    alone = import_biggan_pytorch(tmp_path)
    assert alone.config.model.z_dim == 120 and alone.config.data.name == "none"
    assert "D" not in alone.weights and alone.step == 0
    G = Generator(alone.config.model)
    G.load_state_dict(alone.weights["G"])
    ref = reference("biggan128")
    with torch.no_grad():
        assert max_diff(G.eval()(ref["z"], ref["y"]), ref["images"]) <= IMAGE_ATOL


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"G_ch": 8}, "says G_ch=8, but the weights have G_ch=4"),
        ({"hier": False}, "says hier=False"),
        ({"G_param": "SVD"}, "says G_param='SVD', but the weights have G_param='SN'"),
        ({"mybn": True}, "mybn / cross_replica"),
        ({"BN_eps": 1e-4}, "BN_eps=0.0001"),
        ({"model": "BigGANdeep"}, "model=BigGANdeep"),
        ({"norm_style": "gn"}, "norm_style=gn"),
        ({"G_nl": "elu"}, "non-ReLU"),
        ({"D_attn": "32"}, "D_attn='32', but the weights have attention after D blocks \\[1, 2"),
    ],
)
def test_unsupported_or_contradicting_options_are_refused(override, message):
    with pytest.raises(InteropError, match=message):
        import_biggan_pytorch(INTEROP / "biggan32", overrides=override)


def test_a_tensor_without_a_place_in_nlgan_is_refused(tmp_path):
    state = torch.load(INTEROP / "biggan32-plain" / "G.pth", weights_only=True)
    state["blocks.0.0.extra.weight"] = torch.zeros(3)
    torch.save(state, tmp_path / "G.pth")
    with pytest.raises(InteropError, match="no place in nlgan's model.*blocks.0.0.extra.weight"):
        import_biggan_pytorch(tmp_path)


def test_a_folder_without_a_generator_is_refused(tmp_path):
    shutil.copy(INTEROP / "biggan32" / "D.pth", tmp_path / "D.pth")
    with pytest.raises(InteropError, match="no G.pth or G_ema.pth"):
        import_biggan_pytorch(tmp_path)


def test_files_of_another_project_are_refused_in_one_line(tmp_path):
    studiogan = INTEROP / "studiogan-sagan32" / "model=G-best-weights-step=1000.pth"
    torch.save(torch.load(studiogan, weights_only=True)["state_dict"], tmp_path / "G.pth")
    with pytest.raises(InteropError, match="G has") as err:
        import_biggan_pytorch(tmp_path)
    assert str(err.value) == "G has 0 blocks: not a BigGAN-PyTorch G at 32-256 px"  # unwrapped
