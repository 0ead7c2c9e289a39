"""Interpolation grids: each row's endpoints are the samples `nlgan sample` draws."""

from __future__ import annotations

import pytest
import torch

from nlgan.errors import NlganError
from nlgan.sampling import generate, interpolation_grid

from tiny import tiny_generator

ROUNDING = 1e-5  # the walk and the plain samples run in batches of other sizes


@pytest.fixture(scope="module")
def G():
    # A shared class embedding, so that classes differ already at initialisation.
    return tiny_generator(seed=3, g_attn_resolutions=(8, 16), shared_dim=4)


def _rows(grid: torch.Tensor, rows: int, steps: int) -> torch.Tensor:
    return grid.view(rows, steps, *grid.shape[1:])


def test_class_walk_ends_on_sample_r_of_each_class(G):
    rows, steps = 3, 5
    walk = _rows(interpolation_grid(G, rows, steps, classes=[0, 2], seed=9), rows, steps)
    a, b = generate(G, rows, classes=[0], seed=9), generate(G, rows, classes=[2], seed=9)
    torch.testing.assert_close(walk[:, 0], a, atol=ROUNDING, rtol=0)
    torch.testing.assert_close(walk[:, -1], b, atol=ROUNDING, rtol=0)
    assert not torch.allclose(walk[:, 1], walk[:, 0])


def test_z_walk_with_a_class_ends_on_samples_2r_and_2r_plus_1(G):
    rows, steps = 2, 4
    walk = _rows(interpolation_grid(G, rows, steps, classes=[1], mode="z", seed=2), rows, steps)
    plain = generate(G, 2 * rows, classes=[1], seed=2)
    torch.testing.assert_close(walk[:, 0], plain[0::2], atol=ROUNDING, rtol=0)
    torch.testing.assert_close(walk[:, -1], plain[1::2], atol=ROUNDING, rtol=0)


def test_both_walks_z_and_class_at_once(G):
    walk = _rows(interpolation_grid(G, 2, 3, classes=[2, 0], mode="both", seed=4), 2, 3)
    start = generate(G, 4, classes=[2], seed=4)[0::2]
    end = generate(G, 4, classes=[0], seed=4)[1::2]
    torch.testing.assert_close(walk[:, 0], start, atol=ROUNDING, rtol=0)
    torch.testing.assert_close(walk[:, -1], end, atol=ROUNDING, rtol=0)


def test_z_walk_without_classes_uses_class_r_mod_k(G):
    walk = _rows(interpolation_grid(G, 4, 2, seed=1), 4, 2)
    for r in range(4):
        plain = generate(G, 2 * r + 2, classes=[r % 3], seed=1)
        torch.testing.assert_close(walk[r], plain[2 * r :], atol=ROUNDING, rtol=0)
    # ... which is not what plain `nlgan sample` gives for sample 1 (class 1), hence the rule.
    assert not torch.allclose(walk[0, 1], generate(G, 2, seed=1)[1], atol=1e-3)


def test_unconditional_and_bad_requests():
    U = tiny_generator(num_classes=0)
    with pytest.raises(NlganError, match="unconditional"):
        interpolation_grid(U, classes=[1])
    assert interpolation_grid(U, rows=2, steps=3).shape == (6, 3, 16, 16)
    C = tiny_generator()
    for kwargs, message in [
        (dict(mode="class"), "give --classes A,B"),
        (dict(mode="z", classes=[0, 1]), "at most one class"),
        (dict(classes=[0, 5]), r"class ids must be in \[0, 2\]"),
        (dict(steps=1), "steps >= 2"),
        (dict(mode="sideways"), "choose one of"),
    ]:
        with pytest.raises(NlganError, match=message):
            interpolation_grid(C, **kwargs)
