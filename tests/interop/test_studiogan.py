"""StudioGAN weights imported into nlgan give StudioGAN's own outputs.

The references were computed by StudioGAN's model code in eval mode (see interop_data.py), with
its own truncated sampler as well as nlgan's. Images and D logits must agree to 1e-5 (max abs).
"""

from __future__ import annotations

import functools
import shutil

import pytest
import torch
import yaml

from nlgan.interop.foreign import InteropError
from nlgan.interop.studiogan import import_studiogan
from nlgan.models import Discriminator

from interop_data import IMAGE_ATOL, INTEROP, built_networks, max_diff, meta, reference

CASES = {"studiogan-sagan32": "SAGAN-tiny.yaml", "studiogan-biggan32": "BigGAN-tiny.yaml"}


@functools.cache
def nets(name: str, with_config: bool = True) -> tuple:
    """The import of one fixture folder (with its YAML) and its networks, in eval mode."""
    config = INTEROP / name / CASES[name] if with_config else None
    imported = import_studiogan(INTEROP / name, config)
    return imported, built_networks(imported)


@pytest.mark.parametrize("name", CASES)
def test_images_and_logits_equal_studiogan(name):
    _, models = nets(name)
    ref = reference(name)
    G, D = models["G"], models["D"]
    with torch.no_grad():
        for images, z in (("images", "z"), ("images_trunc", "z_trunc"),
                          ("images_trunc_studiogan", "z_trunc_studiogan")):  # fmt: skip
            assert max_diff(G(ref[z].float(), ref["y"]), ref[images]) <= IMAGE_ATOL, images
        assert max_diff(D(ref["images"], ref["y"]), ref["d_fake"]) <= 1e-5
        assert max_diff(D(ref["images_trunc"], ref["y2"]), ref["d_other"]) <= 1e-5
    # StudioGAN's truncated sampler keeps |z| <= 0.5, like nlgan's
    assert float(ref["z_trunc_studiogan"].abs().max()) <= 0.5


def test_big_resnet_shared_embeddings_and_interpolation():
    _, models = nets("studiogan-biggan32")
    ref = reference("studiogan-biggan32")
    G = models["G"]
    with torch.no_grad():
        assert torch.equal(G.embed(ref["y"]), ref["embed"])
        mixed = 0.5 * (G.embed(ref["y"]) + G.embed(ref["y2"]))
        assert max_diff(G(ref["z"], emb=mixed), ref["images_mix"]) <= IMAGE_ATOL


def test_studiogans_in_place_relu_shortcut_is_what_its_d_computes():
    imported, models = nets("studiogan-sagan32")
    assert imported.config.model.d_relu_shortcut
    plain = Discriminator(imported.config.model.__class__(
        **{**imported.config.model.__dict__, "d_relu_shortcut": False}))  # fmt: skip
    plain.load_state_dict(imported.weights["D"])
    ref = reference("studiogan-sagan32")
    with torch.no_grad():  # the same weights without it are far off: the option matters
        assert max_diff(plain.eval()(ref["images"], ref["y"]), ref["d_fake"]) > 0.1


def test_the_config_agrees_with_the_tensors_and_is_optional():
    imported, _ = nets("studiogan-sagan32")
    m = imported.config.model
    assert (m.resolution, m.arch, m.num_classes, m.z_dim, m.g_ch, m.d_ch) == (
        32,
        "studiogan",
        10,
        128,
        4,
        4,
    )  # fmt: skip  (StudioGAN's 32 px D is 2 x d_conv_dim)
    assert (m.g_attn_resolutions, m.d_attn_resolutions, m.shared_dim, m.hier) == (
        (16,), (16,), 0, False)  # fmt: skip
    assert (m.bn_eps, m.sn_eps) == (1e-4, 1e-6)
    assert imported.step == 1000 and imported.config.data.name == "cifar10"
    assert meta("studiogan-sagan32")["commit"] == "947b35e9835b67860fdce44d337f6d7fee7c8db3"
    assert imported.config.train.d_steps_per_g_step == 5  # StudioGAN's default, carried over
    big = nets("studiogan-biggan32")[0].config.model
    assert (big.shared_dim, big.hier, big.z_dim) == (8, True, 20)
    for name in CASES:
        assert nets(name, with_config=False)[0].config.model == nets(name)[0].config.model


def test_a_single_file_finds_its_siblings_and_an_ema_file(tmp_path):
    folder = INTEROP / "studiogan-biggan32"
    for file in folder.glob("model=*.pth"):
        shutil.copy(file, tmp_path / file.name)
    ema = tmp_path / "model=G_ema-best-weights-step=1000.pth"
    shutil.copy(folder / "model=G-best-weights-step=1000.pth", ema)
    imported = import_studiogan(tmp_path / "model=G-best-weights-step=1000.pth")
    assert sorted(imported.weights) == ["D", "G", "G_ema"]
    with pytest.raises(InteropError, match="no model=G-current-weights"):
        import_studiogan(tmp_path, when="current")


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("d_cond_mtd", "2C", "MODEL.d_cond_mtd='2C'"),
        ("g_act_fn", "GELU", "MODEL.g_act_fn='GELU'"),
        ("aux_cls_type", "ADC", "MODEL.aux_cls_type='ADC'"),
        ("g_conv_dim", 8, "g_conv_dim=8 but the weights have 4"),
        ("attn_g_loc", [3], "attn_g_loc=\\[3\\] but the weights have \\[2\\]"),
        ("backbone", "big_resnet", "backbone='big_resnet'"),
    ],
)
def test_unsupported_or_contradicting_options_are_refused(tmp_path, key, value, message):
    config = yaml.safe_load((INTEROP / "studiogan-sagan32" / "SAGAN-tiny.yaml").read_text())
    config["MODEL"][key] = value
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    with pytest.raises(InteropError, match=message):
        import_studiogan(INTEROP / "studiogan-sagan32", tmp_path / "c.yaml")


def test_an_unreadable_config_is_one_line(tmp_path):
    (tmp_path / "c.yaml").write_text("MODEL:\n  a: [1\n")
    with pytest.raises(InteropError, match="not a readable YAML file") as err:
        import_studiogan(INTEROP / "studiogan-sagan32", tmp_path / "c.yaml")
    assert "\n" not in str(err.value)


def test_files_of_another_project_are_refused_in_one_line(tmp_path):
    state = torch.load(INTEROP / "biggan32" / "G.pth", weights_only=True)
    torch.save({"state_dict": state}, tmp_path / "model=G-best-weights-step=5.pth")
    with pytest.raises(InteropError, match="G has") as err:
        import_studiogan(tmp_path)
    assert str(err.value) == "G has 3 residual blocks: not a 32-256 px StudioGAN G"  # unwrapped
