"""Spectral norm: sigma ~ 1 after power iteration, sigma buffer, eval mode, state_dict."""

from __future__ import annotations

import copy

import pytest
import torch

from nlgan.nn import SpectralNorm, sn_conv, sn_embedding, sn_linear, spectral_sigmas


def _true_sigma(weight: torch.Tensor) -> float:
    return float(torch.linalg.matrix_norm(weight.detach().flatten(1), ord=2))


def _sn(module: torch.nn.Module) -> SpectralNorm:
    return module.parametrizations.weight[0]


def _run(module: torch.nn.Module, steps: int) -> None:
    """Training-mode forwards: one power iteration each."""
    module.train()
    for _ in range(steps):
        _ = module.weight


LAYERS = {
    "conv": lambda: sn_conv(6, 10, 3, padding=1),
    "linear": lambda: sn_linear(20, 7),
    "embedding": lambda: sn_embedding(5, 12),
}


@pytest.mark.parametrize("kind", list(LAYERS))
def test_normalised_weight_has_unit_sigma(kind):
    torch.manual_seed(0)
    layer = LAYERS[kind]()
    with torch.no_grad():
        layer.parametrizations.weight.original.mul_(3.7)  # far from 1 before normalisation
    _run(layer, 20)
    assert _true_sigma(layer.weight) == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize("kind", list(LAYERS))
def test_sigma_buffer_tracks_true_sigma(kind):
    torch.manual_seed(1)
    layer = LAYERS[kind]()
    with torch.no_grad():
        layer.parametrizations.weight.original.mul_(2.5)
    _run(layer, 20)
    raw = layer.parametrizations.weight.original
    assert float(_sn(layer).sigma) == pytest.approx(_true_sigma(raw), rel=1e-3)
    sigmas = spectral_sigmas(torch.nn.Sequential(layer))
    assert list(sigmas.values()) == [pytest.approx(_true_sigma(raw), rel=1e-3)]


def test_fresh_layer_in_eval_mode_is_normalised():
    # A model sampled before any training forward must not divide by a random projection.
    torch.manual_seed(2)
    layer = sn_linear(16, 16)
    layer.eval()
    assert _true_sigma(layer.weight) == pytest.approx(1.0, rel=0.05)
    assert float(_sn(layer).sigma) > 0


def test_reset_estimate_after_reinitialising_the_weight():
    torch.manual_seed(3)
    layer = sn_conv(4, 8, 3)
    raw = layer.parametrizations.weight.original
    with torch.no_grad():
        raw.normal_(0.0, 5.0)
    _sn(layer).reset_estimate(raw)
    layer.eval()
    assert float(_sn(layer).sigma) == pytest.approx(_true_sigma(raw), rel=0.05)


def test_eval_mode_does_not_update_u():
    torch.manual_seed(4)
    layer = sn_linear(8, 8)
    sn = _sn(layer)
    _run(layer, 1)
    u, v = sn._u.clone(), sn._v.clone()
    layer.eval()
    w1 = layer.weight.clone()
    w2 = layer.weight.clone()
    assert torch.equal(sn._u, u) and torch.equal(sn._v, v)
    assert torch.equal(w1, w2)
    layer.train()
    _ = layer.weight
    assert not torch.equal(sn._u, u)


def test_one_power_iteration_per_training_forward():
    torch.manual_seed(5)
    layer = sn_linear(8, 8)
    sn = _sn(layer)
    w = layer.parametrizations.weight.original.detach()
    u = sn._u.clone()
    _run(layer, 1)
    v_expected = torch.nn.functional.normalize(w.t() @ u, dim=0)
    u_expected = torch.nn.functional.normalize(w @ v_expected, dim=0)
    torch.testing.assert_close(sn._u, u_expected)
    torch.testing.assert_close(sn._v, v_expected)


def test_gradient_flows_to_raw_weight_through_sigma():
    torch.manual_seed(6)
    layer = sn_linear(5, 3)
    layer(torch.randn(4, 5)).square().sum().backward()
    grad = layer.parametrizations.weight.original.grad
    assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0


def test_state_dict_round_trip():
    torch.manual_seed(7)
    a = sn_conv(3, 5, 3, padding=1)
    _run(a, 5)
    b = sn_conv(3, 5, 3, padding=1)
    b.load_state_dict(a.state_dict())
    for key in ("_u", "_v", "sigma"):
        assert torch.equal(getattr(_sn(a), key), getattr(_sn(b), key))
    a.eval()
    b.eval()
    x = torch.randn(2, 3, 8, 8)
    torch.testing.assert_close(a(x), b(x), rtol=0, atol=0)
    assert set(a.state_dict()) == {
        "bias",
        "parametrizations.weight.original",
        "parametrizations.weight.0._u",
        "parametrizations.weight.0._v",
        "parametrizations.weight.0.sigma",
    }


def test_deepcopy_keeps_parametrization():
    # The EMA generator is a deep copy of G.
    torch.manual_seed(8)
    layer = sn_linear(6, 4)
    twin = copy.deepcopy(layer)
    assert isinstance(_sn(twin), SpectralNorm)
    layer.eval()
    twin.eval()
    x = torch.randn(2, 6)
    torch.testing.assert_close(layer(x), twin(x))


def test_sn_flag_off_gives_plain_layer():
    layer = sn_conv(2, 3, 1, sn=False)
    assert type(layer) is torch.nn.Conv2d
    assert type(sn_linear(2, 3, sn=False)) is torch.nn.Linear
    assert type(sn_embedding(2, 3, sn=False)) is torch.nn.Embedding
    assert type(sn_conv(2, 3, 1, sn=False, dims=1)) is torch.nn.Conv1d


def test_power_iteration_runs_in_float32_under_autocast():
    torch.manual_seed(9)
    layer = sn_linear(8, 8)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = layer(torch.randn(2, 8))
    assert out.dtype == torch.bfloat16
    assert _sn(layer)._u.dtype == torch.float32 and _sn(layer).sigma.dtype == torch.float32


def test_bad_power_iterations():
    with pytest.raises(ValueError, match="n_power_iterations=0"):
        SpectralNorm(torch.ones(2, 2), n_power_iterations=0)


@pytest.mark.parametrize(
    "cast",
    [
        lambda m: m.to(torch.bfloat16),
        lambda m: m.half(),
        lambda m: m.bfloat16(),
        lambda m: m.double(),
    ],
    ids=["to-bf16", "half", "bfloat16", "double"],
)
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_spectral_norm_survives_dtype_casts(cast, mode):
    torch.manual_seed(0)
    reference = sn_conv(8, 16, 3)
    layer = cast(copy.deepcopy(reference))
    getattr(layer, mode)()
    getattr(reference, mode)()
    dtype = layer.parametrizations.weight.original.dtype
    x = torch.randn(2, 8, 5, 5)
    y = layer(x.to(dtype))
    reference(x)  # the same number of power iterations on both
    assert y.dtype == dtype and torch.isfinite(y.float()).all()
    # Same normalised weight as the float32 layer, up to the cast's precision.
    tol = {torch.float64: 1e-6, torch.bfloat16: 2e-2, torch.float16: 2e-3}[dtype]
    torch.testing.assert_close(layer.weight.float(), reference.weight, atol=tol, rtol=tol)
    sigma = layer.parametrizations.weight[0].sigma
    assert sigma.dtype == dtype


def test_a_cast_generator_samples():
    from nlgan.models import Discriminator, Generator
    from nlgan.sampling import generate

    from tiny import tiny_model

    cfg = tiny_model()
    torch.manual_seed(0)
    G = Generator(cfg).eval()
    reference = generate(G, 4, seed=1)
    for dtype in (torch.bfloat16, torch.float64):
        cast = copy.deepcopy(G).to(dtype)
        images = generate(cast, 4, seed=1)  # sampling casts z to the parameters' dtype
        torch.testing.assert_close(images, reference, atol=0.05 if dtype == torch.bfloat16
                                   else 1e-5, rtol=0)  # fmt: skip
        D = Discriminator(cfg).to(dtype).train()
        assert D(images.to(dtype) * 2 - 1, torch.tensor([0, 1, 2, 0])).dtype == dtype
