"""The video-model options of the non-local block: use_scale, a normalised W_z, init std."""

from __future__ import annotations

import pytest
import torch

from nlgan.nn import NonLocalBlock, spectral_sigmas


def _x(*shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(3))


@pytest.mark.parametrize("affinity", ["gaussian", "embedded_gaussian"])
def test_use_scale_divides_the_logits_by_the_square_root_of_the_key_width(affinity):
    torch.manual_seed(0)
    plain = NonLocalBlock(16, affinity=affinity, key_channels=4).eval()
    scaled = NonLocalBlock(16, affinity=affinity, key_channels=4, use_scale=True).eval()
    scaled.load_state_dict(plain.state_dict())
    x = _x(2, 16, 5, 6)
    q = plain.theta(x).flatten(2).transpose(1, 2)
    k = plain.phi(x).flatten(2).transpose(1, 2)
    width = 16 if affinity == "gaussian" else 4
    expected = torch.softmax(q @ k.transpose(1, 2) / width**0.5, dim=-1)
    torch.testing.assert_close(scaled.attention_map(x), expected)
    assert (scaled.attention_map(x) - plain.attention_map(x)).abs().max() > 1e-3
    with torch.no_grad():
        scaled.gamma.fill_(0.8)  # the fused kernel and the explicit map agree with scaling
        torch.testing.assert_close(scaled(x), scaled(x, reference=True), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_a_normalised_w_z_starts_as_the_identity_and_learns_through_bn(dims):
    block = NonLocalBlock(8, dims=dims, subsample=2, w_z_norm=True)
    x = _x(2, 8, *(4,) * dims)
    assert torch.equal(block.train()(x), x) and torch.equal(block.eval()(x), x)
    assert not hasattr(block, "gamma") and block.w_z.bias is None
    assert float(block.w_z_bn.weight.detach().abs().max()) == 0.0
    block.train()
    block(x).sum().backward()
    assert block.w_z_bn.weight.grad.abs().max() > 0  # BN's gain gets the first gradient
    with torch.no_grad():
        block.w_z_bn.weight.fill_(1.0)
    assert (block.eval()(x) - x).abs().max() > 1e-3


@pytest.mark.parametrize("sn", [False, True])
def test_init_std_draws_the_convolutions_from_a_normal_and_zeroes_biases(sn):
    torch.manual_seed(0)
    block = NonLocalBlock(64, dims=3, init_std=0.01, sn=sn)
    for layer in (block.theta, block.phi, block.g, block.w_z):
        raw = layer.parametrizations.weight.original if sn else layer.weight
        assert 0.006 < float(raw.detach().std()) < 0.014
        assert layer.bias is None or float(layer.bias.detach().abs().max()) == 0.0
    if sn:  # the power iteration restarted on the new weights: sigma ~ the top singular value
        for name, sigma in spectral_sigmas(block).items():
            layer = dict(block.named_modules())[name.rsplit(".parametrizations", 1)[0]]
            raw = layer.parametrizations.weight.original.detach()
            top = torch.linalg.matrix_norm(raw.flatten(1), 2)
            assert abs(sigma - float(top)) / float(top) < 0.05


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"affinity": "dot_product", "use_scale": True}, "use_scale=True scales softmax logits"),
        ({"init_std": 0.0}, "init_std=0.0 must be > 0"),
    ],
)
def test_bad_options_are_one_line_errors(kwargs, message):
    with pytest.raises(ValueError, match=message) as info:
        NonLocalBlock(8, **kwargs)
    assert "\n" not in str(info.value)
