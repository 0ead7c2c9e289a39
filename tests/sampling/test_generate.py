"""Batched generation and class grids: deterministic, on the documented latents, mode-safe."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nlgan.errors import NlganError
from nlgan.sampling import (
    class_grid,
    eval_mode,
    generate,
    generate_uint8,
    iter_generate,
    latents,
)

from tiny import tiny_generator


def test_generate_is_deterministic_and_batch_size_independent():
    G = tiny_generator()
    a = generate(G, 11, seed=5, batch_size=4)
    b = generate(G, 11, seed=5, batch_size=11)
    c = generate(G, 11, seed=6, batch_size=4)
    assert a.shape == (11, 3, 16, 16) and a.dtype == torch.float32
    assert a.min() >= 0.0 and a.max() <= 1.0
    assert torch.allclose(a, b, atol=1e-5)
    assert not torch.allclose(a, c, atol=1e-3)
    assert torch.allclose(generate(G, 11, seed=5, batch_size=4), a, atol=0)
    u8 = generate_uint8(G, 3, seed=5)
    assert u8.dtype == np.uint8 and u8.shape == (3, 16, 16, 3)


def test_generate_matches_the_generator_on_the_documented_latents():
    G = tiny_generator()
    z = latents(0, 6, 8, seed=2, truncation=0.7)
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    with torch.no_grad():
        expected = (G(z, y) + 1) / 2
    assert torch.allclose(generate(G, 6, seed=2, truncation=0.7, batch_size=4), expected, atol=1e-6)


def test_labels_are_class_balanced_and_restrictable():
    G = tiny_generator()
    labels = torch.cat([y for _, y in iter_generate(G, 30, batch_size=7)])
    assert torch.bincount(labels).tolist() == [10, 10, 10]
    labels = torch.cat([y for _, y in iter_generate(G, 8, classes=[2, 0], batch_size=3)])
    assert labels.tolist() == [2, 0, 2, 0, 2, 0, 2, 0]
    with pytest.raises(NlganError, match=r"classes \[3\]: class ids must be in \[0, 2\]"):
        next(iter_generate(G, 4, classes=[3]))


def test_unconditional_generator_yields_no_labels():
    G = tiny_generator(num_classes=0)
    batches = list(iter_generate(G, 5, batch_size=2))
    assert [len(images) for images, _ in batches] == [2, 2, 1]
    assert all(y is None for _, y in batches)
    with pytest.raises(NlganError, match="unconditional"):
        next(iter_generate(G, 2, classes=[0]))
    assert class_grid(G, per_class=3).shape == (9, 3, 16, 16)


def test_generation_restores_training_mode_and_needs_no_grad():
    G = tiny_generator().train()
    before = {k: v.clone() for k, v in G.state_dict().items()}
    images = generate(G, 4)
    assert G.training and not images.requires_grad
    after = G.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # BN stats untouched


def test_eval_mode_restores_the_previous_mode_even_on_error():
    G = tiny_generator().train()
    with eval_mode(G):
        assert not G.training and not G.blocks[0].training
    assert G.training and G.blocks[0].training
    with pytest.raises(RuntimeError), eval_mode(G):
        raise RuntimeError("boom")
    assert G.training
    G.eval()
    with eval_mode(G):
        pass
    assert not G.training


def test_class_grid_rows_are_classes_columns_share_z():
    G = tiny_generator()
    grid = class_grid(G, per_class=4, seed=1, batch_size=5)
    assert grid.shape == (12, 3, 16, 16)
    z = latents(0, 4, 8, seed=1)
    with torch.no_grad():
        row_2 = (G(z, torch.full((4,), 2)) + 1) / 2
    assert torch.allclose(grid[8:12], row_2, atol=1e-6)
    assert class_grid(G, per_class=2, classes=[1]).shape == (2, 3, 16, 16)
