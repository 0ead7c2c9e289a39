"""The GAN step: accumulation equals one big batch, D frozen in the G step, one D forward."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from accelerate import Accelerator
from accelerate.state import AcceleratorState, GradientState, PartialState
from torch import nn

from nlgan.losses import losses_for
from nlgan.train.step import GANStep, Latents

Z, K, C, R = 6, 3, 2, 4


class TinyG(nn.Module):
    """A BN-free conditional generator: nothing depends on the batch composition."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(Z + K, C * R * R)

    def forward(self, z, y):
        h = torch.cat([z, F.one_hot(y, K).float()], 1)  # [B, Z + K]
        return torch.tanh(self.fc(h)).view(-1, C, R, R)


class TinyD(nn.Module):
    """A BN-free projection discriminator that counts its forwards."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(C * R * R, 8)
        self.out = nn.Linear(8, 1)
        self.embed = nn.Embedding(K, 8)
        self.calls: list[int] = []

    def forward(self, x, y):
        self.calls.append(x.shape[0])
        h = F.leaky_relu(self.fc(x.flatten(1)), 0.2)  # [B, 8]
        return self.out(h).squeeze(1) + (self.embed(y) * h).sum(1)


def _reset():
    AcceleratorState._reset_state(reset_partial_state=True)
    PartialState._reset_state()
    GradientState._reset_state()


def _real_stream(batch_size):
    gen = torch.Generator().manual_seed(5)
    x = torch.rand(64, C, R, R, generator=gen) * 2 - 1
    y = torch.randint(K, (64,), generator=gen)
    i = 0
    while True:
        yield x[i : i + batch_size], y[i : i + batch_size]
        i += batch_size


def _train(grad_accum, batch_size, steps=2, d_steps=1, loss="hinge"):
    _reset()
    acc = Accelerator(cpu=True, gradient_accumulation_steps=grad_accum)
    torch.manual_seed(0)
    G, D = TinyG(), TinyD()
    opt_G = torch.optim.SGD(G.parameters(), lr=0.1)
    opt_D = torch.optim.SGD(D.parameters(), lr=0.1)
    G, D, opt_G, opt_D = acc.prepare(G, D, opt_G, opt_D)
    step = GANStep(
        acc, G, D, opt_G, opt_D, losses_for(loss), Latents(Z, K, seed=3), batch_size, d_steps
    )
    real = _real_stream(batch_size)
    out = [step(s, real) for s in range(1, steps + 1)]
    return G, D, out


def test_accumulation_equals_one_big_batch():
    G1, D1, out1 = _train(grad_accum=1, batch_size=8)
    G2, D2, out2 = _train(grad_accum=2, batch_size=4)
    for a, b in ((G1, G2), (D1, D2)):
        for (name, p), q in zip(a.named_parameters(), b.parameters(), strict=True):
            torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6, msg=name)
    for o1, o2 in zip(out1, out2, strict=True):
        torch.testing.assert_close(o1["loss_d"], o2["loss_d"])
        torch.testing.assert_close(o1["loss_g"], o2["loss_g"])
    # Sanity: training moved the weights, so the comparison above means something.
    torch.manual_seed(0)
    assert not torch.allclose(TinyG().fc.weight, G1.fc.weight)


def test_separate_blocks_would_differ():
    """Guard on the test itself: 2x4 without accumulation is a different computation."""
    G1, _, _ = _train(grad_accum=1, batch_size=8, steps=1)
    G3, _, _ = _train(grad_accum=1, batch_size=4, steps=1)
    assert not torch.allclose(G1.fc.weight, G3.fc.weight)


def test_one_d_forward_on_fake_and_real_and_d_frozen_in_g_step():
    _, D, _ = _train(grad_accum=2, batch_size=4, steps=1, d_steps=2)
    # 2 D steps x 2 micro-batches of cat([fake, real]) (8 rows), then 2 G micro-batches (4 rows).
    assert D.calls == [8, 8, 8, 8, 4, 4]
    assert all(p.requires_grad for p in D.parameters())
    assert all(p.grad is None for p in D.parameters())  # the G step left D's grads alone


@pytest.mark.parametrize("loss", ["hinge", "nonsat"])
def test_losses_finite_and_weights_change(loss):
    G, D, out = _train(grad_accum=1, batch_size=8, steps=3, loss=loss)
    for o in out:
        assert torch.isfinite(o["loss_d"]) and torch.isfinite(o["loss_g"])
    if loss == "hinge":
        assert out[0]["loss_d"].item() == pytest.approx(2.0, abs=0.5)  # logits start near 0


def test_latents_depend_on_counters_only():
    lat = Latents(Z, K, seed=1, rank=0)
    z1, y1 = lat.draw(7, 0, 5)
    z2, y2 = lat.draw(7, 0, 5)
    assert torch.equal(z1, z2) and torch.equal(y1, y2)
    assert not torch.equal(z1, lat.draw(8, 0, 5)[0])
    assert not torch.equal(z1, Latents(Z, K, seed=1, rank=1).draw(7, 0, 5)[0])
    z_big, _ = lat.draw(7, 0, 10)
    assert z_big.shape == (10, Z)
    z, y = Latents(Z, 0, seed=1).draw(1, 0, 3)
    assert y is None and z.shape == (3, Z)
