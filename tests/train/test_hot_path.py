"""The training hot path: no host syncs inside a step, compiled networks equal eager ones and do
not recompile, channels-last and fused Adam on by default, divergence still caught before saving."""

from __future__ import annotations

import pytest
import torch
import yaml
from click.testing import CliRunner

from nlgan.cli import main
from nlgan.config import config_from_dict
from nlgan.models import Discriminator, Generator
from nlgan.storage.checkpoint import list_checkpoints
from nlgan.train.interrupt import StopRequest
from nlgan.train.loop import Trainer

from hostreads import HostReads
from tiny import tiny_run


def test_a_training_step_reads_nothing_back_to_the_host(tmp_path):
    cfg = config_from_dict(tiny_run(steps=5, batch_size=4, sample_every=0, ckpt_every=0,
                                    log_every=0, ema_start=1, ema_decay=0.9))  # fmt: skip
    trainer = Trainer(cfg, tmp_path / "run")
    real, meter = trainer._real_batches(), trainer._meter()
    with StopRequest() as stop, HostReads() as reads:
        for step in (1, 2, 3):
            losses = trainer.gan_step(step, real)
            trainer.ema.update(trainer.acc.unwrap_model(trainer.G), step)
            meter.add(losses, step)
            assert trainer._stop_agreed(stop) is False
    assert reads.calls == [], reads.calls[0]
    with HostReads() as reads:  # the check the log / save steps do reads (once)
        assert meter.first_nonfinite() is None
    assert reads.calls
    trainer.tracker.finish()


def test_channels_last_and_fused_adam_are_the_defaults(tmp_path):
    trainer = Trainer(config_from_dict(tiny_run(steps=1)), tmp_path / "run")
    conv = trainer.acc.unwrap_model(trainer.G).blocks[0].conv1.parametrizations.weight.original
    assert conv.is_contiguous(memory_format=torch.channels_last)
    assert trainer.opt_G.optimizer.defaults.get("fused") and trainer.opt_D.optimizer.defaults.get(
        "fused"
    )
    trainer.tracker.finish()


def test_a_compiled_run_traces_once_never_recompiles_and_equals_eager(tmp_path):
    from torch._dynamo.utils import counters

    cfg = config_from_dict(tiny_run(steps=4, batch_size=4, sample_every=0, ckpt_every=0,
                                    log_every=0, compile="aot_eager"))  # fmt: skip
    trainer = Trainer(cfg, tmp_path / "run")  # aot_eager: dynamo + AOT autograd, no C++ build
    real = trainer._real_batches()
    counters.clear()
    trainer.gan_step(1, real)
    traced = counters["frames"]["total"]
    assert traced > 0
    for step in (2, 3):
        trainer.gan_step(step, real)
    assert counters["frames"]["total"] == traced  # no recompilation after the first step
    # Compiled in place: the same state-dict names; and the same outputs as eager networks.
    G, D = trainer.acc.unwrap_model(trainer.G), trainer.acc.unwrap_model(trainer.D)
    eager_G, eager_D = Generator(cfg.model), Discriminator(cfg.model)
    eager_G.load_state_dict(G.state_dict())
    eager_D.load_state_dict(D.state_dict())
    z, y = torch.randn(4, cfg.model.z_dim), torch.tensor([0, 1, 2, 3])
    for net in (G, D, eager_G, eager_D):
        net.eval()
    with torch.no_grad():
        x = G(z, y)
        torch.testing.assert_close(x, eager_G(z, y), rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(D(x, y), eager_D(x, y), rtol=1e-5, atol=1e-5)
    trainer.tracker.finish()


def test_divergence_between_log_steps_is_caught_before_the_next_save(tmp_path, monkeypatch):
    import nlgan.train.loop as loop
    from nlgan.losses import d_hinge, g_hinge

    calls = {"n": 0}

    def nan_at_step_3(real, fake):
        calls["n"] += 1
        loss = d_hinge(real, fake)
        return loss * float("nan") if calls["n"] == 3 else loss

    monkeypatch.setattr(loop, "losses_for", lambda name: (nan_at_step_3, g_hinge))
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny_run(steps=8, batch_size=4, sample_every=0, log_every=0,
                                            ckpt_every=2, keep_ckpts=9)))  # fmt: skip
    result = CliRunner().invoke(main, ["train", str(path), "--out", str(tmp_path / "r")])
    assert result.exit_code == 1, result.output
    assert "step 3: loss is not finite (loss_d=nan" in result.output
    assert [p.name for p in list_checkpoints(tmp_path / "r")] == ["ckpt-000000002.pt"]


@pytest.mark.parametrize("value", ["yes", "tensorrt"])
def test_compile_accepts_known_backends_only(value):
    from nlgan.config import ConfigError

    with pytest.raises(ConfigError, match="train.compile=.*choose one of no, inductor, aot_eager"):
        config_from_dict({"train": {"compile": value}})
