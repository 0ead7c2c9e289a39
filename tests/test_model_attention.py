"""model.attn_affinity and its widths / pooling: every kind builds in G and D, starts as the
identity, exposes its attention map; the default is SAGAN's block as before; bad values are
one-line config errors; weights of one kind never load into another."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nlgan.config import ConfigError
from nlgan.config.model_checks import ATTN_AFFINITIES
from nlgan.models import Discriminator, Generator
from nlgan.nn import AFFINITIES, NonLocalBlock, SelfAttention
from nlgan.sampling.attention_maps import capture_attention
from nlgan.storage.checkpoint import CheckpointError, load_weights

from tiny import tiny_model

KINDS = ATTN_AFFINITIES  # sagan + the paper's four
SOFTMAX = ("sagan", "gaussian", "embedded_gaussian")


def test_the_config_lists_sagan_and_every_affinity_of_the_block():
    assert KINDS == ("sagan", *AFFINITIES)
    assert tiny_model().attn_affinity == "sagan"


def _layers(cfg):
    torch.manual_seed(0)
    G, D = Generator(cfg), Discriminator(cfg)
    return G, D, G.attention_layers() + D.attention_layers()


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_builds_in_g_and_d_and_is_the_identity_at_init(kind):
    cfg = tiny_model(attn_affinity=kind)
    G, D, layers = _layers(cfg)
    assert len(layers) == 2  # attention at 8x8 in G and in D
    for layer in layers:
        assert isinstance(layer, NonLocalBlock) and layer.affinity == (
            "embedded_gaussian" if kind == "sagan" else kind
        )
        assert float(layer.gamma.detach()) == 0.0
        x = torch.randn(3, layer.channels, 8, 8)
        assert torch.equal(layer(x), x)  # gamma = 0: exactly the identity
    y = torch.tensor([0, 1, 2])
    images = G(torch.randn(3, 8), y)
    assert images.shape == (3, 3, 16, 16)
    assert D(images, y).shape == (3,)
    # Spectral norm on every projection of the block (g_sn / d_sn), none when switched off.
    normed = {k for k in G.state_dict() if k.startswith("attention.") and "original" in k}
    assert {k.split(".")[2] for k in normed} >= {"g", "w_z"}
    plain = Generator(tiny_model(attn_affinity=kind, g_sn=False)).state_dict()
    assert not [k for k in plain if k.startswith("attention.") and "parametrizations" in k]


def test_the_default_is_sagans_block_with_the_old_names():
    G, D, layers = _layers(tiny_model())
    assert all(type(layer) is SelfAttention for layer in layers)
    names = {k for k in G.state_dict() if k.startswith("attention.")}
    assert {k.rsplit(".", 1)[0] for k in names if k.endswith("original")} == {
        f"attention.0.{p}.parametrizations.weight" for p in ("theta", "phi", "g", "w_z")
    }
    assert not [k for k in names if k.endswith(".bias")]  # BigGAN's block has no biases
    layer = layers[0]  # 16 channels: theta / phi 16 / 8, g 16 / 2, keys pooled 2x2
    assert (layer.key_channels, layer.inter_channels, layer.key_shape((8, 8))) == (2, 8, (4, 4))


@pytest.mark.parametrize("kind", KINDS)
def test_widths_and_pooling_apply_to_every_kind(kind):
    key_div = 8 if kind == "gaussian" else 4
    cfg = tiny_model(attn_affinity=kind, attn_key_div=key_div, attn_value_div=4, attn_pool=1)
    for layer in _layers(cfg)[2]:
        key_width = 16 if kind == "gaussian" else 4  # gaussian compares raw features
        q, k, v = layer._qkv(torch.randn(2, 16, 8, 8))
        assert (q.shape, k.shape, v.shape) == ((2, 64, key_width), (2, 64, key_width), (2, 64, 4))


def _one_line_error(**overrides) -> str:
    with pytest.raises(ConfigError) as err:
        tiny_model(**overrides)
    message = str(err.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"attn_affinity": "softmax"}, "model.attn_affinity='softmax': choose one of sagan, gau"),
        (
            {"attn_key_div": 3},
            "model.g_attn_resolutions=[8]: that stage has 16 channels (model.g_ch=4 x "
            "multiplier), which model.attn_key_div=3 does not divide (theta and phi get channels "
            "/ 3); raise model.g_ch or choose a divisor of 16",
        ),
        ({"attn_value_div": 32}, "multiplier), which model.attn_value_div=32 does not divide"),
        ({"attn_value_div": 0}, "model.attn_value_div=0: must be >= 1"),
        ({"attn_pool": 0}, "model.attn_pool=0: must be >= 1"),
        (
            {"attn_pool": 16},
            "model.g_attn_resolutions=[8]: model.attn_pool=16 does not tile the 8x8 feature map",
        ),
        ({"attn_pool": 3}, "model.attn_pool=3 does not tile the 8x8 feature map"),
        (
            {"attn_affinity": "gaussian", "attn_key_div": 4},
            "model.attn_key_div=4: attn_affinity=gaussian has no theta / phi",
        ),
        (
            {
                "g_attn_resolutions": (),
                "d_attn_resolutions": (),
                "d_attn_blocks": (3,),
                "attn_pool": 8,
            },  # fmt: skip
            "model.d_attn_blocks=[3]: model.attn_pool=8 does not tile the 4x4 feature map",
        ),
    ],
)
def test_impossible_values_are_one_line_config_errors(overrides, expected):
    assert expected in _one_line_error(**overrides)


def test_pooling_and_widths_that_fit_are_accepted():
    cfg = tiny_model(attn_pool=8, attn_key_div=16, attn_value_div=16)
    layer = _layers(cfg)[2][0]
    assert layer.key_shape((8, 8)) == (1, 1) and layer.key_channels == 1
    # gaussian ignores the key width, so any width at the stage is fine for its values.
    assert tiny_model(attn_affinity="gaussian", attn_value_div=16).attn_value_div == 16


@pytest.mark.parametrize("kind", KINDS[1:])
def test_weights_of_one_kind_refuse_another_in_one_line(kind):
    source = Generator(tiny_model(attn_affinity=kind)).state_dict()
    with pytest.raises(CheckpointError) as err:
        load_weights(Generator(tiny_model()), source, "run/ckpt.pt: the G weights")
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("run/ckpt.pt: the G weights do not fit the generator")
    assert "attention.0." in message
    back = Generator(tiny_model())
    with pytest.raises(CheckpointError, match="do not fit the generator"):
        load_weights(Generator(tiny_model(attn_affinity=kind)), back.state_dict(), "x")


@pytest.mark.parametrize("kind", KINDS)
def test_capture_attention_exposes_each_kinds_weights(kind):
    G = Generator(tiny_model(attn_affinity=kind, g_attn_resolutions=(8, 16))).eval()
    with torch.no_grad():  # a live block, so that the map matters to the output
        for layer in G.attention_layers():
            layer.gamma.fill_(1.0)
    y = torch.tensor([0, 1])
    images, maps = capture_attention(G, torch.randn(2, 8), y)
    assert images.shape == (2, 3, 16, 16)
    assert [(m.query_shape, m.key_shape) for m in maps] == [((8, 8), (4, 4)), ((16, 16), (8, 8))]
    for m in maps:
        assert m.weights.shape == (2, m.query_shape[0] ** 2, m.key_shape[0] ** 2)
        rows = m.weights.sum(dim=-1)
        if kind in SOFTMAX:
            assert (m.weights >= 0).all()
            torch.testing.assert_close(rows, torch.ones_like(rows))
        else:  # f / N_k: not normalised to 1
            assert not torch.allclose(rows, torch.ones_like(rows), atol=1e-3)
        if kind == "concatenation":
            assert (m.weights >= 0).all()  # ReLU
    # The map is the one the block uses: z = x + gamma * W_z(map @ v) reproduces G's output.
    inputs = {}
    last = G.attention_layers()[-1]
    hook = last.register_forward_pre_hook(lambda _m, args: inputs.setdefault("x", args[0]))
    with torch.no_grad():
        G(torch.randn(2, 8), y)
        x = inputs["x"]
        torch.testing.assert_close(last(x, reference=True), last(x), atol=1e-5, rtol=1e-5)
    hook.remove()


def test_negative_dot_product_weights_still_draw_a_map():
    from nlgan.sampling.attention_maps import LayerAttention, render_attention

    weights = -1 - torch.arange(16.0).reshape(1, 1, 16).expand(1, 16, 16)  # all < 0
    layer = LayerAttention(0, (4, 4), (4, 4), weights.contiguous())
    figure = render_attention(torch.zeros(1, 3, 8, 8), [layer], ((0.5, 0.5),), panel=32)
    tile = np.asarray(figure)[14 : 14 + 12, 32 : 32 + 12].astype(float)  # no query marker
    assert tile.std() > 10  # a gradient, not one flat colour
