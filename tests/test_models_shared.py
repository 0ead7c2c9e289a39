"""model.shared_sn: the shared class embedding with or without spectral norm (BigGAN: without)."""

from __future__ import annotations

import torch

from nlgan.models import Generator

from tiny import tiny_model


def test_shared_embedding_is_plain_when_asked_and_normed_by_default():
    normed = Generator(tiny_model(shared_dim=6))
    plain = Generator(tiny_model(shared_dim=6, shared_sn=False))
    assert "shared.parametrizations.weight.original" in normed.state_dict()  # old checkpoints
    assert "shared.weight" in plain.state_dict()
    assert type(plain.shared) is torch.nn.Embedding
    y = torch.tensor([0, 2])
    torch.testing.assert_close(plain.embed(y), plain.shared.weight[y])
    z = torch.randn(2, 8)
    assert plain.eval()(z, y).shape == (2, 3, 16, 16)
