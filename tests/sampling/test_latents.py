"""The latent/class rule: sample i = G(latent i of the seed's stream, class i mod K)."""

from __future__ import annotations

import pytest
import torch

from nlgan.errors import NlganError
from nlgan.sampling import LATENT_CHUNK, latents, latents_for, truncated_normal


def test_truncation_bounds_every_entry_and_keeps_the_shape():
    rng = torch.Generator().manual_seed(0)
    z = truncated_normal((1024, 8), 0.5, rng)
    assert z.shape == (1024, 8) and z.abs().max() <= 0.5
    # A truncated normal at 0.5 has std ~0.28 (a clamp would pile mass at +-0.5 instead).
    assert 0.26 < z.std().item() < 0.30
    assert (z.abs() > 0.49).float().mean() < 0.05
    for tiny in (0, 1e-9, 0.009):
        with pytest.raises(NlganError, match=f"truncation={tiny}: use a threshold >= 0.01"):
            truncated_normal((2, 2), tiny, rng)


def test_tiny_thresholds_return_promptly_with_the_right_distribution():
    # At 0.02 nearly every redraw fails (98% of a normal lies outside), so after the bounded
    # redraw rounds the inverse CDF fills in: still bounded, and uniform-like within +-t.
    rng = torch.Generator().manual_seed(1)
    z = truncated_normal((256, 64), 0.02, rng)
    assert z.abs().max() <= 0.02
    # A normal truncated at 0.02 is nearly uniform on [-0.02, 0.02]: std 0.02 / sqrt(3).
    assert z.std().item() == pytest.approx(0.02 / 3**0.5, rel=0.03)
    assert abs(z.mean().item()) < 5e-4


def test_usual_thresholds_give_the_images_their_seeds_always_gave():
    # Plain redrawing (what nlgan 0.1.0 did) and the bounded method agree at usual thresholds.
    for t in (0.3, 0.5, 1.0):
        rng = torch.Generator().manual_seed(7)
        z = torch.randn(512, 16, generator=rng)
        outside = z.abs() > t
        while outside.any():
            z[outside] = torch.randn(int(outside.sum()), generator=rng)
            outside = z.abs() > t
        assert torch.equal(truncated_normal((512, 16), t, torch.Generator().manual_seed(7)), z)


def test_latents_do_not_depend_on_how_they_are_split():
    whole = latents(0, LATENT_CHUNK + 100, 4, seed=3)
    assert torch.equal(latents(LATENT_CHUNK - 10, 60, 4, seed=3), whole[LATENT_CHUNK - 10 :][:60])
    assert latents(0, 2000, 4, seed=3, truncation=1.0).abs().max() <= 1.0
    assert not torch.equal(latents(0, 5, 4, seed=4), whole[:5])
    assert latents(3, 0, 4).shape == (0, 4)


def test_latents_for_is_latent_i_and_class_i_mod_k():
    z, y = latents_for(5, 7, 4, num_classes=3, seed=2)
    assert torch.equal(z, latents(5, 7, 4, seed=2))
    assert y.tolist() == [2, 0, 1, 2, 0, 1, 2]  # (5 .. 11) mod 3
    _, y = latents_for(1, 4, 4, num_classes=10, seed=2, classes=[7, 3])
    assert y.tolist() == [3, 7, 3, 7]  # classes[i mod 2] for i = 1 .. 4
    z, y = latents_for(0, 3, 4, num_classes=0)
    assert y is None and z.shape == (3, 4)


@pytest.mark.parametrize(
    ("num_classes", "classes", "message"),
    [
        (3, [3], r"classes \[3\]: class ids must be in \[0, 2\]"),
        (3, [], "classes is empty"),
        (0, [1], "unconditional"),
    ],
)
def test_latents_for_refuses_bad_classes(num_classes, classes, message):
    with pytest.raises(NlganError, match=message):
        latents_for(0, 2, 4, num_classes, classes=classes)
