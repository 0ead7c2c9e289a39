"""Model options added so that imported BigGAN-PyTorch / StudioGAN models can be expressed:
D attention by block number, an unnormalised shared embedding, ReLU'd D shortcuts."""

from __future__ import annotations

import pytest
import torch
from torch.nn.utils import parametrize

from nlgan.config import ConfigError
from nlgan.models import Discriminator, Generator, attention_gammas
from nlgan.nn import SelfAttention

from tiny import tiny_model as tiny


def test_d_attention_after_numbered_blocks_even_when_sizes_repeat():
    cfg = tiny(resolution=32, d_ch=8, d_attn_resolutions=(), d_attn_blocks=(2, 3, 4))
    D = Discriminator(cfg)
    kinds = [isinstance(m, SelfAttention) for m in D.attention]
    assert kinds == [False, True, True, True] and D.attention_sizes == [8, 8, 8]
    with torch.no_grad():
        for i, layer in enumerate(D.attention_layers()):
            layer.gamma.fill_(0.1 * (i + 1))
    assert attention_gammas(D) == pytest.approx({8: 0.1, "8.2": 0.2, "8.3": 0.3})
    x = torch.randn(2, 3, 32, 32)
    assert D(x, torch.tensor([0, 1])).shape == (2,)
    both = Discriminator(tiny(resolution=32, d_ch=8, d_attn_resolutions=(16,), d_attn_blocks=(4,)))
    assert [isinstance(m, SelfAttention) for m in both.attention] == [True, False, False, True]


def test_the_shared_embedding_is_spectral_normed_unless_shared_sn_is_off():
    normed = Generator(tiny(shared_dim=8))
    plain = Generator(tiny(shared_dim=8, shared_sn=False))
    assert parametrize.is_parametrized(normed.shared, "weight")
    assert not parametrize.is_parametrized(plain.shared, "weight")
    y = torch.tensor([0, 2])
    torch.testing.assert_close(plain.embed(y), plain.shared.weight[y])  # the raw table


def test_relu_shortcut_adds_relu_of_the_input_in_all_but_the_first_block():
    torch.manual_seed(0)
    D = Discriminator(tiny(d_attn_resolutions=()))
    torch.manual_seed(0)
    R = Discriminator(tiny(d_attn_resolutions=(), d_relu_shortcut=True))
    assert not R.blocks[0].relu_shortcut and all(b.relu_shortcut for b in R.blocks[1:])
    R.load_state_dict(D.state_dict())  # same tensors: the option changes the function only
    x = torch.randn(4, 3, 16, 16)
    block = R.blocks[2]  # no shortcut conv: out = residual + ReLU(x)
    h = torch.randn(4, 16, 4, 4)
    residual = D.blocks[2](h) - h
    torch.testing.assert_close(block(h), residual + torch.relu(h))
    assert (
        R(x, torch.zeros(4, dtype=torch.long)) - D(x, torch.zeros(4, dtype=torch.long))
    ).abs().max() > 1e-4


def test_default_models_are_unchanged_by_the_new_options():
    torch.manual_seed(0)
    old = Generator(tiny(shared_dim=8))
    assert {"shared.parametrizations.weight.original"} <= set(old.state_dict())
    cfg = tiny()
    assert (cfg.shared_sn, cfg.d_attn_blocks, cfg.d_relu_shortcut) == (True, (), False)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"d_attn_blocks": (4,)}, r"d_attn_blocks=\[4\]: the 16x16 discriminator's blocks 1..3"),
        ({"d_attn_blocks": (0,)}, r"d_attn_blocks=\[0\]"),
        (
            {"d_attn_blocks": (1,), "d_ch": 3, "d_attn_resolutions": ()},
            r"d_attn_blocks=\[1\]: that stage has 12 channels .* model.attn_key_div=8 does not",
        ),
    ],
)
def test_bad_attention_blocks_are_config_errors(overrides, message):
    with pytest.raises(ConfigError, match=message):
        tiny(**overrides)
