"""LeCam and bCR: their terms match hand computations and reach D's loss; anchors resume."""

from __future__ import annotations

import pytest
import torch

from nlgan.losses import d_hinge, losses_for
from nlgan.train.augment import AugmentPipe
from nlgan.train.objective import Objective
from nlgan.train.regularizers import BalancedConsistency, DOutputs, LeCam, lecam_term


def test_lecam_term_matches_a_hand_computation():
    real = torch.tensor([1.0, -0.5, 2.0])
    fake = torch.tensor([0.3, -1.0])
    # relu(real - 0.2)^2 = [0.64, 0, 3.24] -> mean 1.3133..; relu(0.5 - fake)^2 = [0.04, 2.25]
    # -> mean 1.145.
    got = lecam_term(real, fake, anchor_real=0.5, anchor_fake=0.2)
    assert got.item() == pytest.approx((0.64 + 0 + 3.24) / 3 + (0.04 + 2.25) / 2)
    lecam = LeCam(weight=0.3, decay=0.9, start=0)
    lecam.load_state_dict({"anchor_real": 0.5, "anchor_fake": 0.2})
    term = lecam(DOutputs(fake, real, step=5), real[:0])
    # the current batch is folded in first: anchors 0.9 * (0.5, 0.2) + 0.1 * (mean real, fake)
    anchor_real, anchor_fake = 0.9 * 0.5 + 0.1 * real.mean(), 0.9 * 0.2 + 0.1 * fake.mean()
    want = lecam_term(real, fake, anchor_real, anchor_fake)
    assert term.item() == pytest.approx(0.3 * want.item())


def test_lecam_anchors_move_at_every_d_update_4_per_g_step():
    # cifar10 presets: 4 D updates per G step. Anchors copy the means up to G step `start`
    # (here 1), then take an EMA step at every D update, as lecam-gan and StudioGAN do.
    lecam = LeCam(weight=1.0, decay=0.9, start=1)
    means = {  # (G step, D update) -> (mean D(real), mean D(fake))
        (1, 0): (1.0, -1.0), (1, 1): (2.0, -2.0), (1, 2): (0.5, 0.0), (1, 3): (3.0, -3.0),
        (2, 0): (4.0, 0.0), (2, 1): (0.0, 1.0), (2, 2): (2.0, 2.0), (2, 3): (-1.0, 0.5),
    }  # fmt: skip
    want = None
    for (step, _), (real, fake) in means.items():
        out = DOutputs(torch.full((3,), fake), torch.full((3,), real), step)
        term = lecam(out, out.real_logits[:0])
        if step <= 1:
            want = (real, fake)
            assert term.item() == 0.0
        else:
            want = (0.9 * want[0] + 0.1 * real, 0.9 * want[1] + 0.1 * fake)
            expected = max(real - want[1], 0) ** 2 + max(want[0] - fake, 0) ** 2
            assert term.item() == pytest.approx(expected, rel=1e-6)
    # by hand, from (3, -3) after G step 1: four EMA steps with decay 0.9
    real_hand = 0.9**4 * 3.0 + 0.1 * (0.9**3 * 4.0 + 0.9**2 * 0.0 + 0.9 * 2.0 + -1.0)
    fake_hand = 0.9**4 * -3.0 + 0.1 * (0.9**3 * 0.0 + 0.9**2 * 1.0 + 0.9 * 2.0 + 0.5)
    state = lecam.state_dict()
    assert state["anchor_real"] == pytest.approx(real_hand, rel=1e-6)
    assert state["anchor_fake"] == pytest.approx(fake_hand, rel=1e-6)
    assert lecam.scalars() == {"lecam/anchor_real": state["anchor_real"],
                               "lecam/anchor_fake": state["anchor_fake"]}  # fmt: skip
    again = LeCam(weight=1.0, decay=0.9, start=1)
    again.load_state_dict(state)
    assert again.state_dict() == state
    assert LeCam(1.0).state_dict() == {"anchor_real": None, "anchor_fake": None}
    assert not LeCam(1.0).stateful  # no host sync needed after the G step


def test_lecam_anchors_are_averaged_over_processes_before_the_update():
    halves = []
    lecam = LeCam(weight=1.0, decay=0.5, start=0, average=lambda t: halves.append(t) or t / 2)
    out = DOutputs(torch.full((2,), -1.0), torch.full((2,), 3.0), step=1)
    lecam(out, out.real_logits[:0])
    assert lecam.state_dict() == {"anchor_real": 1.5, "anchor_fake": -0.5}
    assert len(halves) == 1 and halves[0].tolist() == [3.0, -1.0]


class CountingD(torch.nn.Module):
    """D(x) = a * mean(x) + b * x[..., 0, 0]; counts its forwards."""

    def __init__(self):
        super().__init__()
        self.a = torch.nn.Parameter(torch.tensor(2.0))
        self.b = torch.nn.Parameter(torch.tensor(-1.0))
        self.calls = 0

    def forward(self, x, y=None):
        self.calls += 1
        return self.a * x.mean((1, 2, 3)) + self.b * x[:, 0, 0, 0]


def test_objective_adds_lecam_to_the_adversarial_loss():
    gen = torch.Generator().manual_seed(0)
    fake, real = torch.randn(4, 1, 8, 8, generator=gen), torch.randn(4, 1, 8, 8, generator=gen)
    lecam = LeCam(weight=0.3, decay=0.99, start=0)
    lecam.load_state_dict({"anchor_real": 0.1, "anchor_fake": -0.2})
    objective = Objective(losses_for("hinge"), regularizers=[lecam])
    D = CountingD()
    total, stats = objective.d_loss(D, (fake, None), (real, None), step=1, phase=0, micro=0)
    real_logits, fake_logits = D(real), D(fake)
    want_adv = d_hinge(real_logits, fake_logits)
    anchor_real = 0.99 * 0.1 + 0.01 * real_logits.mean()
    anchor_fake = 0.99 * -0.2 + 0.01 * fake_logits.mean()
    want_reg = 0.3 * lecam_term(real_logits, fake_logits, anchor_real, anchor_fake)
    torch.testing.assert_close(stats["loss_d"], want_adv.detach())
    torch.testing.assert_close(stats["reg/lecam"], want_reg.detach())
    torch.testing.assert_close(total, want_adv + want_reg)
    assert stats["d/real"] == pytest.approx(real_logits.mean().item())


def test_bcr_penalises_d_for_changing_its_mind_in_the_same_forward():
    gen = torch.Generator().manual_seed(1)
    fake, real = torch.randn(4, 1, 8, 8, generator=gen), torch.randn(4, 1, 8, 8, generator=gen)
    bcr = BalancedConsistency(10.0, AugmentPipe(("xflip",), 1))
    objective = Objective(losses_for("hinge"), regularizers=[bcr])
    D = CountingD()
    total, stats = objective.d_loss(D, (fake, None), (real, None), step=1, phase=0, micro=0)
    assert D.calls == 1  # D(x) and D(T(x)) in one forward (DDP allows one per backward)
    # Hand computation: T = a coin-flip mirror per image, drawn from the same seeded stream.
    x = torch.cat([fake, real])
    views = bcr.views(x, objective._generator(1, 0, 0))
    d, d_t = D(x), D(views)
    want = 10.0 * ((d[:4] - d_t[:4]).pow(2).mean() + (d[4:] - d_t[4:]).pow(2).mean())
    torch.testing.assert_close(stats["reg/bcr"], want.detach())
    assert stats["reg/bcr"] > 0
    # A D that cannot see mirroring (only the mean) pays nothing.
    D.b.data.zero_()
    _, stats = objective.d_loss(D, (fake, None), (real, None), step=1, phase=0, micro=0)
    assert stats["reg/bcr"].abs() < 1e-6
    total.backward()
    assert D.a.grad is not None


def test_bcr_default_transform_is_the_papers_flip_and_reflect_padded_shift():
    from nlgan.config import TrainConfig
    from nlgan.config.augment_names import parse_ops

    ops = parse_ops(TrainConfig().bcr_augment)
    assert ops == ("xflip", "xint")
    bcr = BalancedConsistency(10.0, AugmentPipe(ops, 3))
    x = torch.rand(64, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    views = bcr.views(x, torch.Generator().manual_seed(1))
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2), mode="reflect")  # no edge repeat
    seen = set()
    for i in range(64):
        matches = [
            (flip, dy, dx)
            for flip in (False, True)
            for dy in range(-2, 3)
            for dx in range(-2, 3)  # up to 1/8 of 16 px
            if torch.allclose(
                views[i],
                (padded[i].flip(-1) if flip else padded[i])[:, 2 + dy : 18 + dy, 2 + dx : 18 + dx],
                atol=1e-5,
            )
        ]
        assert matches, f"view {i} is not a flip + reflect-padded integer shift"
        seen.add(matches[0])
    assert {m[0] for m in seen} == {False, True}  # both flipped and unflipped views
    assert len({(m[1], m[2]) for m in seen}) > 10  # shifts on both axes
