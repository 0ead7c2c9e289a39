"""D's augmentation: every op differentiable, p = 0 the identity, reals and fakes alike."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import ks_2samp

from nlgan.config.augment_names import OPS, parse_ops
from nlgan.losses import losses_for
from nlgan.train.ada import AugmentProbability
from nlgan.train.augment import AugmentPipe
from nlgan.train.objective import Objective


def _images(n: int, channels: int, size: int = 8, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(n, channels, size, size, generator=gen, dtype=torch.float64) * 2 - 1


# Hue and saturation are dropped for grey images (they would do nothing).
CASES = [(op, c) for op in OPS for c in (1, 3) if c == 3 or op not in ("hue", "saturation")]


@pytest.mark.parametrize(("op", "channels"), CASES)
def test_every_op_is_differentiable(op, channels):
    pipe = AugmentPipe((op,), channels)
    x = _images(3, channels, size=6).requires_grad_(True)

    def augment(x):  # the same draws on every call: a fixed function of x
        return pipe(x, 1.0, torch.Generator().manual_seed(1))

    assert not torch.equal(augment(x), x)  # the op really does something here
    assert torch.autograd.gradcheck(augment, (x,), eps=1e-6, atol=1e-5)


@pytest.mark.parametrize("spec", [*OPS, "ada", "ada,color,translation,cutout"])
def test_p_zero_is_the_exact_identity(spec):
    x = _images(16, 3).float()
    out = AugmentPipe(parse_ops(spec), 3)(x, 0.0, torch.Generator().manual_seed(0))
    assert torch.equal(out, x)


def test_p_is_the_chance_per_image_and_draws_repeat_for_a_seed():
    x = _images(400, 1).float()
    pipe = AugmentPipe(("translation",), 1)
    out = pipe(x, 0.3, torch.Generator().manual_seed(2))
    changed = (out != x).flatten(1).any(1).double().mean()
    # Shift (0, 0) leaves an image unchanged: 1 of 3 x 3 shifts at 8 px (1/8 of 8 px = 1 px).
    assert abs(changed - 0.3 * (1 - 1 / 9)) < 0.06
    again = pipe(x, 0.3, torch.Generator().manual_seed(2))
    assert torch.equal(out, again)  # counter-seeded draws are what exact resume relies on


def test_unknown_op_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="'flip' is unknown: choose from ada, xflip"):
        parse_ops("translation,flip")
    assert parse_ops(" cutout , translation ") == ("translation", "cutout")  # pipeline order


def test_lumaflip_negates_grey_and_hue_keeps_grey_grey():
    x = _images(64, 1).float()
    out = AugmentPipe(("lumaflip",), 1)(x, 1.0, torch.Generator().manual_seed(0))
    flipped = (out != x).flatten(1).any(1)
    assert 0 < flipped.sum() < 64  # a coin flip per image
    torch.testing.assert_close(out[flipped], -x[flipped])
    assert AugmentPipe(("hue", "saturation"), 1).ops == ()  # dropped: the identity on grey
    grey = x.expand(-1, 3, -1, -1)
    rgb = AugmentPipe(("hue",), 3)(grey, 1.0, torch.Generator().manual_seed(0))
    torch.testing.assert_close(rgb[:, 0], rgb[:, 1], atol=1e-5, rtol=0)  # rotation about grey


class RecordingD(torch.nn.Module):
    """A D that remembers what it was shown; its verdict is the mean brightness."""

    def __init__(self):
        super().__init__()
        self.seen: list[torch.Tensor] = []
        self.scale = torch.nn.Parameter(torch.ones(()))

    def forward(self, x, y=None):
        self.seen.append(x.detach().clone())
        return self.scale * x.mean((1, 2, 3))


def _brightness_shift(seen: torch.Tensor, original: torch.Tensor) -> torch.Tensor:
    return (seen - original).mean((1, 2, 3))  # per image: how much the transform moved it


def test_reals_and_fakes_go_through_the_same_distribution_of_transforms():
    n = 300
    images = _images(n, 3).float()
    objective = Objective(
        losses_for("hinge"), AugmentPipe(parse_ops("ada,translation"), 3), AugmentProbability(0.5)
    )
    D = RecordingD()
    # Fakes and reals are the same images, so any difference is the transforms' doing.
    objective.d_loss(D, (images, None), (images.clone(), None), step=1, phase=0, micro=0)
    fake_seen, real_seen = D.seen[0].split([n, n])
    objective.g_loss(D, images, None, step=1, phase=1, micro=0)
    g_seen = D.seen[1]
    shifts = [_brightness_shift(s, images) for s in (fake_seen, real_seen, g_seen)]
    for s in shifts:
        assert (s.abs() > 1e-6).double().mean() > 0.3  # augmented, in every phase
    # The same distribution for fakes and reals in the D step, and for G's images in the G step.
    assert ks_2samp(shifts[0].numpy(), shifts[1].numpy()).pvalue > 1e-3
    assert ks_2samp(shifts[0].numpy(), shifts[2].numpy()).pvalue > 1e-3
    # ... while untransformed images would be told apart at once (the test can fail).
    assert ks_2samp(shifts[0].numpy(), torch.zeros(n).numpy()).pvalue < 1e-6
    # Different images get different draws: not one transform for the whole batch.
    assert len(torch.unique(shifts[1].round(decimals=4))) > n // 2


def test_gradients_reach_g_through_the_augmentation():
    z = torch.randn(8, 3 * 8 * 8, requires_grad=True)
    fake = torch.tanh(z).view(8, 3, 8, 8)  # a stand-in G
    objective = Objective(losses_for("hinge"), AugmentPipe(parse_ops("ada,cutout"), 3))
    objective.probability.p = 1.0
    loss = objective.g_loss(RecordingD(), fake, None, step=3, phase=1, micro=0)
    loss.backward()
    assert z.grad is not None and z.grad.abs().sum() > 0


def test_geometric_padding_is_adas_reflection_without_the_edge_pixel():
    from nlgan.train.augment import _translate, _warp

    x = torch.arange(2 * 1 * 4 * 6, dtype=torch.float32).view(2, 1, 4, 6)
    # inverse map: output pixel (j, i) reads input (j - 2, i + 1): a shift right by 2, up by 1
    out = _warp(x, _translate(torch.full((2,), -2.0), torch.full((2,), 1.0)).double())
    padded = np.pad(x.numpy(), ((0, 0), (0, 0), (5, 5), (5, 5)), mode="reflect")  # d c b|a b c d
    want = padded[:, :, 5 + 1 : 5 + 1 + 4, 5 - 2 : 5 - 2 + 6]
    np.testing.assert_allclose(out.numpy(), want, atol=1e-5)
    assert out[0, 0, 0, 0] == x[0, 0, 1, 2]  # column -2 reflects to 2, not (repeating) to 1
    # beyond one image size: zeros, as in ADA (its margin is capped at size - 1)
    far = _warp(x, _translate(torch.full((2,), -20.0), torch.zeros(2)).double())
    assert far.abs().max() == 0
    # flips land on pixel centres: exact
    flipped = _warp(x, torch.diag(torch.tensor([-1.0, 1.0, 1.0])).repeat(2, 1, 1).double())
    torch.testing.assert_close(flipped, x.flip(-1), atol=1e-5, rtol=0)
