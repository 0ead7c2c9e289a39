"""The non-local block's fast paths: numerics against the reference, the fused kernel, memory."""

from __future__ import annotations

import math

import pytest
import torch
from torch.profiler import ProfilerActivity, profile

from nlgan.nn import AFFINITIES, NonLocalBlock, SelfAttention

FUSED = "aten::_scaled_dot_product_flash_attention_for_cpu"
MATH = "aten::_scaled_dot_product_attention_math"
SIZES = {1: (9,), 2: (6, 10), 3: (2, 6, 5)}


def seeded(*shape: int) -> torch.Tensor:
    """A seeded standard-normal tensor."""
    return torch.randn(*shape, generator=torch.Generator().manual_seed(4))


def live_block(block: NonLocalBlock, gamma: float = 0.8) -> NonLocalBlock:
    """Eval mode (SN fixed between the calls compared) and a non-zero gamma."""
    block.eval()
    with torch.no_grad():
        block.gamma.fill_(gamma)
    return block


def aten_ops(fn) -> set[str]:
    """Names of the aten ops the profiler records while ``fn()`` runs."""
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        fn()
    return {event.name for event in prof.events()}


def test_profiler_records_the_kernel_names_used_below():
    """Guards the op names: the math path must show up when the widths differ."""
    q, k = seeded(1, 1, 8, 4), seeded(1, 1, 8, 4)
    fused = aten_ops(lambda: torch.nn.functional.scaled_dot_product_attention(q, k, k))
    unfused = aten_ops(
        lambda: torch.nn.functional.scaled_dot_product_attention(q, k, seeded(1, 1, 8, 6))
    )
    assert FUSED in fused and MATH not in fused
    assert MATH in unfused and FUSED not in unfused


@pytest.mark.parametrize("subsample", [1, 2])
@pytest.mark.parametrize("affinity", AFFINITIES)
@pytest.mark.parametrize("dims", [1, 2, 3])
def test_fast_path_matches_reference(dims, affinity, subsample):
    torch.manual_seed(0)
    block = live_block(NonLocalBlock(16, dims=dims, affinity=affinity, subsample=subsample))
    x = seeded(2, 16, *SIZES[dims])
    with torch.no_grad():
        fast, slow = block(x), block(x, reference=True)
    assert (fast - slow).abs().max() < 1e-5
    assert (fast - x).abs().max() > 1e-3  # the attention term is really there


@pytest.mark.parametrize("shape", [(16, 16), (12, 20), (7, 9)])
def test_self_attention_fused_matches_reference_with_gradients(shape):
    torch.manual_seed(0)
    block = live_block(SelfAttention(32))
    x = seeded(2, 32, *shape).requires_grad_()
    grads = []
    for reference in (False, True):
        out = block(x, reference=reference)
        (grad,) = torch.autograd.grad(out.square().sum(), x)
        grads.append((out.detach(), grad))
    (fast, fast_grad), (slow, slow_grad) = grads
    assert (fast - slow).abs().max() < 1e-5
    torch.testing.assert_close(fast_grad, slow_grad, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize(
    "build",
    [
        lambda: SelfAttention(32),
        lambda: SelfAttention(32, subsample=1),
        lambda: NonLocalBlock(32, dims=1, affinity="gaussian", subsample=2),
        lambda: NonLocalBlock(32, dims=2, affinity="embedded_gaussian"),
        lambda: NonLocalBlock(32, dims=3, affinity="embedded_gaussian", key_channels=24),
    ],
    ids=["sagan", "sagan-unpooled", "1d-gaussian", "2d-embedded", "3d-wide-keys"],
)
def test_fused_kernel_runs_forward_and_backward(build):
    block = live_block(build())
    x = seeded(2, 32, *SIZES[block.dims]).requires_grad_()
    ops = aten_ops(lambda: block(x).sum().backward())
    assert FUSED in ops and f"{FUSED}_backward" in ops
    assert MATH not in ops
    assert "aten::_softmax" not in ops  # nothing computed the map on the side


def test_reference_path_builds_the_map():
    block = live_block(SelfAttention(32))
    ops = aten_ops(lambda: block(seeded(1, 32, 8, 8), reference=True))
    assert "aten::_softmax" in ops and FUSED not in ops


def largest_saved_tensor(block: NonLocalBlock, x: torch.Tensor, reference: bool) -> int:
    """The most elements of any tensor autograd saves for the backward of ``block(x)``."""
    sizes = [0]

    def pack(t: torch.Tensor) -> torch.Tensor:
        sizes.append(t.numel())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        block(x, reference=reference).sum().backward()
    return max(sizes)


@pytest.mark.parametrize("affinity", AFFINITIES)
def test_fast_path_never_keeps_the_attention_map(affinity):
    """No [B, N, N_k] tensor is saved for backward (concatenation: at most one, never x 2D)."""
    block = live_block(NonLocalBlock(16, affinity=affinity))
    x = seeded(2, 16, 16, 16).requires_grad_()
    attention_map = 2 * 256 * 256
    assert largest_saved_tensor(block, x, reference=True) >= attention_map
    fast = largest_saved_tensor(block, x, reference=False)
    if affinity == "concatenation":
        assert fast <= attention_map  # pair scores are inherent; [B, N, N_k, 2D] pairs are not
    else:
        assert fast < attention_map / 8


@pytest.mark.parametrize("affinity", ["embedded_gaussian", "dot_product", "concatenation"])
def test_autocast_bf16_forward_and_backward(affinity):
    torch.manual_seed(0)
    block = live_block(NonLocalBlock(16, affinity=affinity, subsample=2, sn=True))
    x = seeded(2, 16, 8, 12).requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = block(x)
    out.float().square().sum().backward()
    assert out.shape == x.shape and torch.isfinite(out).all()
    assert torch.isfinite(x.grad).all() and torch.isfinite(block.gamma.grad)
    with torch.no_grad():
        want = block(x, reference=True)
    scale = (want - x).abs().max()
    assert (out.float() - want).abs().max() < 0.05 * scale + 0.05


def test_self_attention_autocast_bf16_keeps_the_fused_kernel():
    block = live_block(SelfAttention(32))
    x = seeded(2, 32, 8, 8)

    def run() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = block(x)
        assert torch.isfinite(out).all()

    ops = aten_ops(run)
    assert FUSED in ops and MATH not in ops


def test_dot_product_fast_path_cost_does_not_grow_with_n_squared():
    """theta (phi^T g) / N_k: the matmuls' sizes are linear in N."""
    block = live_block(NonLocalBlock(8, affinity="dot_product"))
    x = seeded(1, 8, 32, 32)
    n = math.prod(x.shape[2:])
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        block(x)
    matmul_shapes = [e.input_shapes for e in prof.events() if e.name in ("aten::bmm", "aten::mm")]
    assert matmul_shapes, "expected the fast path's matmuls to be recorded"
    for shapes in matmul_shapes:
        assert all(math.prod(s) < n * n / 16 for s in shapes if s)
