"""Sharing on the Hub without a network: staging a run, the model card, loading hf://user/name
from the local Hugging Face cache (HF_HUB_OFFLINE=1, set in conftest.py) and from a folder with
the same files, the upload calls, and one-line errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from nlgan.config import EvalConfig
from nlgan.hub.remote import upload
from nlgan.hub.staging import PushOptions, read_metrics, stage
from nlgan.metrics.protocol import protocol, record
from nlgan.sampling import generate, load_generator
from nlgan.storage.checkpoint import CheckpointError, load_latest
from nlgan.train.evaluation import BestScore

from clitools import cli, png

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _record(fid: float) -> dict:
    """A score record as `nlgan fid --json` writes it (through the same functions)."""
    part = protocol(("fid",), 500, "clean", {"name": "inception", "hash": "abc"},
                    {"kind": "folder", "path": "/data/real", "count": 500, "split": "train"},
                    seed=0, truncation=None)  # fmt: skip
    return record({"fid": fid, "n": 500}, part)


def _cache(cache, repo: str, folder) -> None:
    """Put ``folder`` into a Hugging Face cache as revision main of model ``repo``."""
    entry = cache / f"models--{repo.replace('/', '--')}"
    (entry / "refs").mkdir(parents=True)
    (entry / "refs" / "main").write_text(COMMIT)
    shutil.copytree(folder, entry / "snapshots" / COMMIT)


@pytest.fixture(scope="module")
def staged(tiny_run_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("hub")
    (root / "fid.json").write_text(json.dumps(_record(12.5)))
    options = PushOptions(with_g=True, with_d=True, with_config=True,
                          metrics=(str(root / "fid.json"),))  # fmt: skip
    files = stage(tiny_run_dir, root / "repo", "me/tiny", options)
    return root / "repo", files


def test_the_staged_repository_holds_the_run_s_networks(staged, tiny_run_dir):
    folder, files = staged
    names = ["generator.safetensors", "G.safetensors", "D.safetensors", "config.yaml",
             "samples.png", "metrics.json", "README.md"]  # fmt: skip
    assert [f.name for f in files] == names
    _, state = load_latest(tiny_run_dir)
    for name, key in (("generator", "G_ema"), ("G", "G"), ("D", "D")):
        weights = load_file(str(folder / f"{name}.safetensors"))
        assert weights.keys() == state[key].keys()
        assert all(torch.equal(weights[k], state[key][k]) for k in weights)
    G_run, _ = load_generator(tiny_run_dir)
    G_folder, cfg = load_generator(folder)  # the same layout, loaded from a plain folder
    torch.testing.assert_close(generate(G_folder, 4, seed=3), generate(G_run, 4, seed=3))
    assert png(folder / "samples.png").shape[0] >= 3 * 16  # one row per class (3)
    assert json.loads((folder / "metrics.json").read_text())[0]["fid"] == 12.5


def test_the_model_card_is_generated_from_the_checkpoint(staged):
    folder, _ = staged
    card = (folder / "README.md").read_text()
    assert card.startswith("---\nlibrary_name: nlgan\n") and "\n# me/tiny\n" in card
    for text in ("| resolution | 16 x 16, 3 channel(s) |", "| classes | 3 |", "8x8, 16x16",
                 "data: `folder` (`imgs`)", "steps: 2 generator steps", "![samples](samples.png)",
                 'nlgan.load_generator("hf://me/tiny")', "nlgan sample hf://me/tiny"):  # fmt: skip
        assert text in card, text
    # the score with its protocol: n, seed, resize, backbone, reference
    assert "fid 12.5" in card and "n=500, seed=0" in card and "resize=clean" in card
    assert "reference=folder real (500 images, split train)" in card


def test_the_runs_best_in_training_score_is_published_first():
    best = BestScore(EvalConfig(metrics=("fid",)))
    best.update({"fid": 30.0, "n": 100}, 400, _record(30.0)["protocol"])
    records = read_metrics((), {"eval_best": best.record})
    assert records[0]["fid"] == 30.0 and records[0]["measured"] == "in training, step 400"


def test_hf_sources_load_from_the_local_cache(staged, tiny_run_dir, tmp_path, monkeypatch):
    folder, _ = staged
    _cache(tmp_path / "cache", "me/tiny", folder)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    G_run, _ = load_generator(tiny_run_dir)
    for source in ("hf://me/tiny", "hf://me/tiny@main"):
        G, cfg = load_generator(source)
        assert cfg.model.resolution == 16
        torch.testing.assert_close(generate(G, 4, seed=1), generate(G_run, 4, seed=1))
    raw, _ = load_generator("hf://me/tiny", ema=False)  # G.safetensors
    G_raw, _ = load_generator(tiny_run_dir, ema=False)
    torch.testing.assert_close(generate(raw, 2), generate(G_raw, 2))
    cli("sample", "hf://me/tiny", "--grid", tmp_path / "g.png", "--per-class", 2)
    assert png(tmp_path / "g.png").std() > 1
    with pytest.raises(CheckpointError, match="HF_HUB_OFFLINE is set and it is not in the local"):
        load_generator("hf://me/other")
    with pytest.raises(Exception, match="expected hf://USER/NAME"):
        load_generator("hf://no-slash")


class _RecordingApi:
    """Stands in for huggingface_hub.HfApi: records the calls and what the folder held."""

    def __init__(self):
        self.calls = []

    def create_repo(self, repo_id, **kwargs):
        self.calls.append(("create_repo", repo_id, kwargs))
        return f"https://huggingface.co/{repo_id}"

    def upload_folder(self, **kwargs):
        names = sorted(p.name for p in Path(kwargs["folder_path"]).iterdir())
        self.calls.append(("upload_folder", kwargs["repo_id"], names))


def test_upload_creates_the_repo_and_commits_the_folder(staged):
    folder, files = staged
    api = _RecordingApi()
    assert upload(folder, "me/tiny", private=True, api=api) == "https://huggingface.co/me/tiny"
    (_, repo, kwargs), (_, repo2, names) = api.calls
    assert repo == repo2 == "me/tiny" and kwargs["private"] and kwargs["exist_ok"]
    assert names == sorted(f.name for f in files)
    with pytest.raises(Exception, match="is not a Hub repository id USER/NAME"):
        upload(folder, "not a repo", private=False, api=api)


def test_push_writes_a_local_folder_and_refuses_what_a_run_lacks(tiny_run_dir, tmp_path):
    out = cli("push", tiny_run_dir, "me/tiny", "--local-dir", tmp_path / "repo").output
    assert "wrote 3 files" in out and "generator.safetensors, samples.png, README.md" in out
    assert not (tmp_path / "repo" / "D.safetensors").exists()
    refused = cli(
        "push", tiny_run_dir, "me/tiny", "--best", "--local-dir", tmp_path / "r2", ok=False
    )
    assert refused.exit_code == 1 and "no best checkpoint" in refused.output
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"fid": 1.0}))
    refused = cli("push", tiny_run_dir, "me/tiny", "--metrics", bad, "--local-dir",
                  tmp_path / "r3", ok=False)  # fmt: skip
    assert "not a score record (write one: nlgan fid --json)" in refused.output
