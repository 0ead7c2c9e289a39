"""The Hub offline: evident offline (HF_HUB_OFFLINE, or a first connection that fails) reads
the local cache at once and fails in one true line, without huggingface_hub's ~25 s of retries.

Nothing here reaches the network: the "Hub" is a closed port on 127.0.0.1.
"""

from __future__ import annotations

import logging
import shutil
import socket
import time

import pytest
import torch
from huggingface_hub import constants

from nlgan.hub.layout import HubError
from nlgan.hub.remote import upload
from nlgan.sampling import generate, load_generator
from nlgan.storage.checkpoint import CheckpointError

from clitools import cli

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again on exit: connections are refused


@pytest.fixture
def unreachable_hub(monkeypatch, tmp_path):
    """Online mode, but the endpoint refuses connections; an empty cache of this test."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{_closed_port()}")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _hub_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name.startswith("huggingface_hub") and r.levelno >= logging.WARNING]  # fmt: skip


def test_an_unreachable_hub_fails_at_once_in_one_true_line(unreachable_hub, caplog):
    caplog.set_level(logging.INFO)
    start = time.monotonic()
    with pytest.raises(CheckpointError) as err:
        load_generator("hf://me/other")
    assert time.monotonic() - start < 5  # huggingface_hub alone retries for ~25 s
    text = str(err.value)
    assert "cannot get generator.safetensors: the Hub is unreachable (" in text
    assert "and it is not in the local cache" in text and "\n" not in text
    assert _hub_warnings(caplog) == []  # no "Retrying in 1s [Retry 1/5]" lines


def test_an_unreachable_hub_still_serves_what_is_cached(unreachable_hub, tiny_run_dir, tmp_path):
    cli("push", tiny_run_dir, "me/tiny", "--local-dir", tmp_path / "repo")
    entry = unreachable_hub / "models--me--tiny"
    (entry / "refs").mkdir(parents=True)
    (entry / "refs" / "main").write_text(COMMIT)
    shutil.copytree(tmp_path / "repo", entry / "snapshots" / COMMIT)
    start = time.monotonic()
    G, _ = load_generator("hf://me/tiny")
    assert time.monotonic() - start < 5
    G_run, _ = load_generator(tiny_run_dir)
    torch.testing.assert_close(generate(G, 2, seed=4), generate(G_run, 2, seed=4))


def test_the_offline_message_says_not_in_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))  # HF_HUB_OFFLINE=1: conftest
    result = cli("sample", "hf://me/other", "--grid", tmp_path / "g.png", ok=False)
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1
    assert "HF_HUB_OFFLINE is set and it is not in the local cache" in result.output


def test_uploads_refuse_at_once_offline_and_unreachable(tmp_path, monkeypatch):
    with pytest.raises(HubError, match="HF_HUB_OFFLINE is set \\(unset it, or write the files"):
        upload(tmp_path, "me/tiny", private=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{_closed_port()}")
    start = time.monotonic()
    with pytest.raises(HubError, match="cannot upload to me/tiny: the Hub is unreachable \\("):
        upload(tmp_path, "me/tiny", private=False)
    assert time.monotonic() - start < 5
