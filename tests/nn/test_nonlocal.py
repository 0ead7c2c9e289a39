"""The non-local block's maths: shapes, identity at init, equivariance, normalisation, errors."""

from __future__ import annotations

import math

import pytest
import torch

from nlgan.nn import AFFINITIES, NonLocalBlock, SelfAttention, spectral_sigmas

ODD = {1: (7,), 2: (5, 7), 3: (3, 5, 7)}  # odd, non-square sizes
EVEN = {1: (8,), 2: (4, 6), 3: (2, 4, 6)}  # whole pooling windows
CASES = [(d, a, s) for d in (1, 2, 3) for a in AFFINITIES for s in (1, 2)]
IDS = [f"{d}d-{a}-sub{s}" for d, a, s in CASES]


def make_block(dims: int, affinity: str, subsample: int, gamma: float = 0.7, **kw):
    """A tiny block in eval mode (fixed SN) with a non-zero gamma, so it is not the identity."""
    torch.manual_seed(0)
    block = NonLocalBlock(8, dims=dims, affinity=affinity, subsample=subsample, **kw).eval()
    with torch.no_grad():
        block.gamma.fill_(gamma)
    return block


def inputs(sizes: tuple[int, ...], channels: int = 8, batch: int = 2) -> torch.Tensor:
    """A seeded input ``[B, C, *sizes]``."""
    return torch.randn(batch, channels, *sizes, generator=torch.Generator().manual_seed(1))


def permute_windows(x: torch.Tensor, factors: tuple[int, ...], perm: torch.Tensor) -> torch.Tensor:
    """Move whole pooling windows of ``x [B, C, *S]`` to the grid positions ``perm`` says."""
    b, c, *sizes = x.shape
    grid = [s // f for s, f in zip(sizes, factors, strict=True)]
    split = [n for g, f in zip(grid, factors, strict=True) for n in (g, f)]
    d = len(sizes)
    y = x.reshape(b, c, *split)  # [B, C, g1, f1, g2, f2, ...]
    order = [0, 1, *(2 + 2 * i for i in range(d)), *(3 + 2 * i for i in range(d))]
    y = y.permute(order).reshape(b, c, math.prod(grid), math.prod(factors))[:, :, perm]
    inverse = [order.index(i) for i in range(len(order))]
    return y.reshape(b, c, *grid, *factors).permute(inverse).reshape(x.shape)


@pytest.mark.parametrize(("dims", "affinity", "subsample"), CASES, ids=IDS)
def test_shapes_on_odd_non_square_sizes(dims, affinity, subsample):
    block = make_block(dims, affinity, subsample)
    x = inputs(ODD[dims])
    for reference in (False, True):
        assert block(x, reference=reference).shape == x.shape
    n_keys = math.prod(s // subsample for s in ODD[dims][-2:]) * (ODD[dims][0] if dims == 3 else 1)
    assert block.attention_map(x).shape == (2, math.prod(ODD[dims]), n_keys)


def test_video_time_pooling_only_when_asked():
    x = inputs((4, 6, 8))
    assert make_block(3, "embedded_gaussian", 2).attention_map(x).shape == (2, 192, 4 * 3 * 4)
    timed = make_block(3, "embedded_gaussian", 2, subsample_time=True)
    assert timed.attention_map(x).shape == (2, 192, 2 * 3 * 4)
    assert timed(x).shape == x.shape


@pytest.mark.parametrize(("dims", "affinity", "subsample"), CASES, ids=IDS)
@pytest.mark.parametrize("sn", [False, True])
def test_identity_at_init(dims, affinity, subsample, sn):
    block = NonLocalBlock(8, dims=dims, affinity=affinity, subsample=subsample, sn=sn)
    x = inputs(ODD[dims])
    assert float(block.gamma.detach()) == 0.0 and isinstance(block.gamma, torch.nn.Parameter)
    assert torch.equal(block(x), x)
    assert torch.equal(block(x, reference=True), x)


@pytest.mark.parametrize("affinity", AFFINITIES)
@pytest.mark.parametrize("dims", [1, 2, 3])
def test_permutation_equivariance_without_pooling(dims, affinity):
    block = make_block(dims, affinity, 1)
    x = inputs(ODD[dims])
    perm = torch.randperm(math.prod(ODD[dims]), generator=torch.Generator().manual_seed(2))

    def shuffle(t: torch.Tensor) -> torch.Tensor:
        return t.flatten(2)[:, :, perm].reshape(t.shape)

    with torch.no_grad():
        torch.testing.assert_close(block(shuffle(x)), shuffle(block(x)), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("affinity", AFFINITIES)
@pytest.mark.parametrize("dims", [1, 2, 3])
def test_pooled_equivariance_for_whole_windows(dims, affinity):
    block = make_block(dims, affinity, 2, subsample_time=dims == 3)
    x = inputs(EVEN[dims])
    factors = block.pool_factors
    n_windows = math.prod(block.key_shape(EVEN[dims]))
    perm = torch.randperm(n_windows, generator=torch.Generator().manual_seed(3))
    assert not torch.equal(perm, torch.arange(n_windows))
    with torch.no_grad():
        got = block(permute_windows(x, factors, perm))
        want = permute_windows(block(x), factors, perm)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


def test_permute_windows_moves_whole_windows():
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    swapped = permute_windows(x, (2, 2), torch.tensor([3, 1, 2, 0]))
    assert torch.equal(swapped[0, 0, :2, :2], x[0, 0, 2:, 2:])
    assert torch.equal(swapped[0, 0, 2:, 2:], x[0, 0, :2, :2])
    assert torch.equal(swapped[0, 0, :2, 2:], x[0, 0, :2, 2:])


@pytest.mark.parametrize(("dims", "affinity", "subsample"), CASES, ids=IDS)
def test_tiling_leaves_outputs_unchanged(dims, affinity, subsample):
    """Duplicating every key duplicates every term of the sum: only a correct C(x) cancels it."""
    block = make_block(dims, affinity, subsample)
    x = inputs(EVEN[dims])
    tiled = torch.cat([x, x], dim=-1)
    with torch.no_grad():
        for reference in (False, True):
            out = block(tiled, reference=reference)[..., : x.shape[-1]]
            torch.testing.assert_close(out, block(x), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("subsample", [1, 2])
@pytest.mark.parametrize("affinity", ["gaussian", "embedded_gaussian"])
@pytest.mark.parametrize("dims", [1, 2, 3])
def test_softmax_rows_sum_to_one_over_the_keys(dims, affinity, subsample):
    block = make_block(dims, affinity, subsample, subsample_time=dims == 3 and subsample > 1)
    x = inputs(EVEN[dims])
    weights = block.attention_map(x)
    n = math.prod(EVEN[dims])
    assert weights.shape == (2, n, n // subsample**dims)  # N/4 keys for a pooled image
    assert (weights >= 0).all()
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, n))


@pytest.mark.parametrize("subsample", [1, 2])
@pytest.mark.parametrize("affinity", AFFINITIES)
def test_weights_follow_the_definition(affinity, subsample):
    """``attention_map`` against the paper's formulas, written out pair by pair."""
    block = make_block(2, affinity, subsample)
    x = inputs((4, 6))
    with torch.no_grad():
        q = block.theta(x).flatten(2).transpose(1, 2)  # [B, N, D]
        k = block.pool(block.phi(x)).flatten(2).transpose(1, 2)  # [B, N_k, D]
        n_keys = k.shape[1]
        if affinity == "concatenation":
            pairs = torch.cat(  # [B, N, N_k, 2D]: the definition, built only here
                [
                    q[:, :, None].expand(-1, -1, n_keys, -1),
                    k[:, None].expand(-1, q.shape[1], -1, -1),
                ],
                -1,
            )
            want = torch.relu(block.kernel.w_f(pairs))[..., 0] / n_keys
        else:
            dots = torch.einsum("bnd,bmd->bnm", q, k)
            want = (
                dots.exp() / dots.exp().sum(-1, keepdim=True)
                if "gaussian" in affinity
                else (dots / n_keys)
            )
        torch.testing.assert_close(block.attention_map(x), want, atol=1e-5, rtol=1e-5)


def test_gaussian_compares_raw_features():
    block = make_block(2, "gaussian", 1)
    x = inputs((3, 4))
    tokens = x.flatten(2).transpose(1, 2)  # [B, N, C]
    want = torch.softmax(tokens @ tokens.transpose(1, 2), dim=-1)
    torch.testing.assert_close(block.attention_map(x), want)
    assert not any("theta" in n or "phi" in n for n, _ in block.named_parameters())


def test_odd_sizes_floor_the_key_grid_but_keep_every_query():
    block = make_block(2, "embedded_gaussian", 2)
    assert block.key_shape((5, 7)) == (2, 3)
    assert block.attention_map(inputs((5, 7))).shape == (2, 35, 6)


@pytest.mark.parametrize("affinity", AFFINITIES)
def test_gradients_at_init_reach_gamma(affinity):
    """At init only gamma learns (W_z's gradient is gamma * ... = 0); then everything does."""
    block = NonLocalBlock(8, affinity=affinity, subsample=2)
    x = inputs((4, 6))
    block(x).square().sum().backward()
    assert block.gamma.grad is not None and block.gamma.grad.abs() > 0
    assert block.w_z.weight.grad is not None and torch.all(block.w_z.weight.grad == 0)

    block.zero_grad()
    with torch.no_grad():
        block.gamma.fill_(0.5)
    block(x).square().sum().backward()
    for name, param in block.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name


def test_self_attention_is_the_sagan_block():
    block = SelfAttention(32)
    assert isinstance(block, NonLocalBlock) and block.affinity == "embedded_gaussian"
    assert block.theta.weight.shape[:2] == (4, 32) and block.phi.weight.shape[:2] == (4, 32)
    assert block.g.weight.shape[:2] == (16, 32) and block.w_z.weight.shape[:2] == (32, 16)
    assert block.pool_factors == (2, 2)
    assert isinstance(block.gamma, torch.nn.Parameter) and float(block.gamma.detach()) == 0.0
    assert sorted(spectral_sigmas(block)) == [
        f"{m}.parametrizations.weight.0" for m in ("g", "phi", "theta", "w_z")
    ]
    assert spectral_sigmas(SelfAttention(32, sn=False)) == {}
    x = inputs((8, 10), channels=32)
    assert torch.equal(block(x), x)
    weights = block.attention_map(x)
    assert weights.shape == (2, 80, 20)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 80))
    assert SelfAttention(32, subsample=1).attention_map(x).shape == (2, 80, 80)


def test_concatenation_spectral_norms_w_f():
    block = NonLocalBlock(8, affinity="concatenation", sn=True)
    assert "kernel.w_f.parametrizations.weight.0" in spectral_sigmas(block)
    assert len(spectral_sigmas(block)) == 5


BAD_BUILDS = [
    (lambda: NonLocalBlock(8, dims=4), r"dims=4 is not supported \(choose 1, 2 or 3\)"),
    (
        lambda: NonLocalBlock(8, affinity="cosine"),
        r"unknown affinity 'cosine' \(choose from gaussian, embedded_gaussian, dot_product, "
        r"concatenation\)",
    ),
    (lambda: NonLocalBlock(1), r"inter_channels=0 with channels=1; pass inter_channels >= 1"),
    (lambda: NonLocalBlock(0), r"channels=0 must be a positive int"),
    (lambda: NonLocalBlock(8, subsample=0), r"subsample=0 must be an int pooling factor >= 1"),
    (lambda: NonLocalBlock(8, subsample=True), r"subsample=True must be an int pooling factor"),
    (lambda: NonLocalBlock(8, subsample_time=True), r"subsample_time=True needs dims=3"),
    (lambda: SelfAttention(12), r"channels=12 must be a positive multiple of 8"),
    (lambda: SelfAttention(4), r"channels=4 must be a positive multiple of 8"),
    (lambda: SelfAttention(-8), r"channels=-8 must be a positive multiple of 8"),
    (lambda: SelfAttention(0), r"channels=0 must be a positive multiple of 8"),
]


@pytest.mark.parametrize(("build", "message"), BAD_BUILDS)
def test_bad_construction_is_a_clear_error(build, message):
    with pytest.raises(ValueError, match=message) as info:
        build()
    assert "\n" not in str(info.value)


BAD_INPUTS = [
    (2, 1, (2, 8, 7), r"expects a \[B, C, H, W\] tensor, got shape \(2, 8, 7\); .*dims=1"),
    (1, 1, (8, 7), r"expects a \[B, C, L\] tensor, got shape \(8, 7\); pass a rank-3 tensor"),
    (2, 1, (2, 4, 5, 5), r"built for 8 channels but the input has 4 .*channels=4"),
    (2, 2, (2, 8, 1, 6), r"spatial size \(1, 6\) is too small to max-pool by \(2, 2\)"),
    (1, 2, (2, 8, 1), r"spatial size \(1,\) is too small .*subsample=1"),
]


@pytest.mark.parametrize(("dims", "subsample", "shape", "message"), BAD_INPUTS)
def test_bad_input_is_a_clear_error(dims, subsample, shape, message):
    block = NonLocalBlock(8, dims=dims, subsample=subsample)
    for call in (block, block.attention_map):
        with pytest.raises(ValueError, match=message) as info:
            call(torch.randn(shape))
        assert "\n" not in str(info.value)
