"""In-run FID on 2 processes equals scoring the checkpoint's EMA generator in one process.

``tests/test_metrics_evaluate.py::test_two_processes_score_like_one`` shows that ``evaluate``
over a fixed image set gives one process's score when sharded; this checks the trainer's side:
every rank scores its shard of the *EMA generator's* samples during training (so the ranks'
EMA copies must agree), and the result is what ``nlgan fid`` would compute offline. A small
deterministic stand-in replaces Inception (no weights file offline); the code path is the same.
"""

from __future__ import annotations

import os

import pytest
import torch
import torch.multiprocessing as mp
import torch.nn.functional as F
from PIL import Image

from nlgan.config import config_from_dict
from nlgan.models import Generator
from nlgan.storage.checkpoint import load_latest

from gloo import join_gloo_group
from tiny import tiny_run

WORLD = 2
EVAL_N = 23  # odd: the two shards differ in size


class SmallExtractor:
    """Pooled pixels through a fixed random projection: cheap, deterministic, Inception's API."""

    identity = "multiprocess-test-extractor"
    device = torch.device("cpu")
    feature_dim = 12
    num_logits = 10

    def __init__(self, *args, **kwargs):
        gen = torch.Generator().manual_seed(0)
        self.proj = torch.randn(48, self.feature_dim, generator=gen) / 4

    def __call__(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = F.adaptive_avg_pool2d(images.float().expand(-1, 3, -1, -1) / 255, 4)  # [B, 3, 4, 4]
        pool = torch.tanh(x.flatten(1) @ self.proj)  # [B, 12]
        return pool, pool[:, :10]


def _config(tmp: str) -> dict:
    return {
        **tiny_run(
            steps=2,
            batch_size=4,
            ckpt_every=0,
            sample_every=0,
            log_every=0,
            ema_start=1,
            ema_decay=0.9,
            cpu_threads=1,
        ),
        "eval": {
            "every": 2,
            "n": EVAL_N,
            "batch_size": 5,
            "metrics": ["fid"],
            "reference": os.path.join(tmp, "real"),
        },
    }


def _worker(rank: int, world: int, tmp: str) -> None:
    join_gloo_group(
        rank,
        world,
        tmp,
        ACCELERATE_USE_CPU="1",
        WANDB_MODE="disabled",
        NLGAN_CACHE_DIR=os.path.join(tmp, "cache"),
    )
    import nlgan.train.evaluation as evaluation
    from nlgan.train.loop import Trainer
    from nlgan.train.periodic import Periodic

    evaluation.load_inception = SmallExtractor  # stand-in network, in this child only
    scores = []
    original = Periodic.score

    def recording_score(self, *args, **kwargs):
        scores.append(original(self, *args, **kwargs))
        return scores[-1]

    Periodic.score = recording_score  # score_or_warn calls it through the instance
    trainer = Trainer(config_from_dict(_config(tmp)), os.path.join(tmp, "run"))
    trainer.fit()
    torch.save(scores, os.path.join(tmp, f"scores{rank}.pt"))
    trainer.acc.end_training()


@pytest.mark.multiprocess
@pytest.mark.slow
def test_in_run_fid_on_two_processes_equals_one_process_offline(tmp_path, monkeypatch):
    real = tmp_path / "real"
    real.mkdir()
    gen = torch.Generator().manual_seed(5)
    for i in range(30):
        pixels = torch.randint(0, 256, (16, 16), generator=gen, dtype=torch.uint8).numpy()
        Image.fromarray(pixels).save(real / f"{i:02d}.png")
    mp.spawn(_worker, args=(WORLD, str(tmp_path)), nprocs=WORLD, join=True)
    ranks = [torch.load(tmp_path / f"scores{r}.pt", weights_only=True) for r in range(WORLD)]
    assert len(ranks[0]) == 1 and ranks[0] == ranks[1]  # one evaluation; every rank has it

    import nlgan.train.evaluation as evaluation

    monkeypatch.setattr(evaluation, "load_inception", SmallExtractor)
    monkeypatch.setenv("NLGAN_CACHE_DIR", str(tmp_path / "cache-one-process"))
    _, state = load_latest(tmp_path / "run")
    cfg = config_from_dict(state["config"])
    G = Generator(cfg.model)
    G.load_state_dict(state["G_ema"])
    one = evaluation.PeriodicEval(cfg.eval, torch.device("cpu"))(G)
    assert one.keys() == ranks[0][0].keys() == {"eval/fid"}
    assert ranks[0][0]["eval/fid"] == pytest.approx(one["eval/fid"], rel=1e-6)
    assert one["eval/fid"] > 0
