"""BigGAN's standing statistics: BN statistics re-estimated, spectral norm untouched."""

from __future__ import annotations

import torch
from torch.nn.modules.batchnorm import _BatchNorm

from nlgan.nn.spectral import SpectralNorm
from nlgan.sampling import generate, load_generator, standing_stats


def test_standing_stats_replace_bn_statistics_only(tiny_run_dir):
    G, _ = load_generator(tiny_run_dir)
    sn_before = {n: m._u.clone() for n, m in G.named_modules() if isinstance(m, SpectralNorm)}
    bn_before = {
        n: m.running_var.clone() for n, m in G.named_modules() if isinstance(m, _BatchNorm)
    }
    standing_stats(G, batches=3, batch_size=8, seed=0)
    assert not G.training
    for name, m in G.named_modules():
        if isinstance(m, SpectralNorm):
            assert torch.equal(m._u, sn_before[name]), name  # power iteration did not run
        if isinstance(m, _BatchNorm):
            assert int(m.num_batches_tracked) == 3 and m.momentum == 0.1
            assert not torch.allclose(m.running_var, bn_before[name]), name
    again, _ = load_generator(tiny_run_dir)
    standing_stats(again, batches=3, batch_size=8, seed=0)
    torch.testing.assert_close(generate(again, 4), generate(G, 4), atol=0, rtol=0)
