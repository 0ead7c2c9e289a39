"""What a careless or unlucky run does to its files: hand-edited configs, damaged checkpoints,
stale temporary files, full disks, read-only and foreign run directories, failing evaluations,
and one-line errors for bad values."""

from __future__ import annotations

import resource
import shutil
import signal
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from nlgan.cli import main
from nlgan.storage.checkpoint import list_checkpoints, load_latest

from tiny import tiny_run

TINY = tiny_run(steps=2, batch_size=8, ckpt_every=1, keep_ckpts=5, sample_every=0, log_every=1)


def _train(*args: str, code: int = 0):
    result = CliRunner().invoke(main, ["train", *[str(a) for a in args]])
    assert result.exit_code == code, result.output + repr(result.exception)
    if code:  # one error line, no traceback (progress lines may precede it)
        errors = [line for line in result.output.splitlines() if "Error" in line]
        assert "Traceback" not in result.output and len(errors) == 1, result.output
    return result


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY))
    return path


@pytest.fixture
def run(config, tmp_path):
    out = tmp_path / "run"
    _train(config, "--out", out)
    return out


def test_hand_edits_of_config_yaml_cannot_get_around_the_resume_guard(run):
    saved = (run / "config.yaml").read_text()
    edited = yaml.safe_load(saved)
    edited["train"]["lr_d"] = 0.004
    edited["train"]["seed"] = 7
    (run / "config.yaml").write_text(yaml.safe_dump(edited))
    bad = _train("--resume", run, "--set", "train.steps=3", code=1)
    assert f"{run / 'config.yaml'} (edited since the run) changes train.lr_d=0.004" in bad.output
    assert "train.seed=7 (trained with 0)" in bad.output
    # Keys that may change on resume may change in the file too, and take effect.
    edited = yaml.safe_load(saved)
    edited["train"]["steps"] = 3
    (run / "config.yaml").write_text(yaml.safe_dump(edited))
    _train("--resume", run)
    assert load_latest(run)[1]["step"] == 3


def flip_bytes_inside_a_tensor(path, count: int = 64) -> None:
    """Overwrite ``count`` bytes in the middle of the largest tensor stored in a checkpoint."""
    with zipfile.ZipFile(path) as archive:
        info = max((i for i in archive.infolist() if "/data/" in i.filename),
                   key=lambda i: i.file_size)  # fmt: skip
        with open(path, "rb") as f:  # the local header tells where the data start
            f.seek(info.header_offset + 26)
            name_len, extra_len = np.frombuffer(f.read(4), "<u2")
        start = info.header_offset + 30 + int(name_len) + int(extra_len) + info.file_size // 2
    data = bytearray(path.read_bytes())
    data[start : start + count] = bytes(255 - b for b in data[start : start + count])
    path.write_bytes(bytes(data))


def test_a_bit_flipped_checkpoint_is_skipped_on_resume_and_refused_elsewhere(run, tmp_path):
    newest = list_checkpoints(run)[-1]
    flip_bytes_inside_a_tensor(newest)
    import torch

    torch.load(newest, weights_only=True)  # the zip itself still reads: only the checksum sees it
    with pytest.warns(UserWarning, match=f"skipping damaged checkpoint: {newest}: damaged"):
        path, state = load_latest(run)
    assert path.name == "ckpt-000000001.pt" and state["step"] == 1
    with pytest.warns(UserWarning, match="skipping damaged checkpoint"):
        _train("--resume", run, "--set", "train.steps=2")
    assert load_latest(run)[1]["step"] == 2  # step 2 redone from step 1
    flip_bytes_inside_a_tensor(list_checkpoints(run)[-1])
    for args in (["sample", newest, "--grid", tmp_path / "g.png"],
                 ["export", newest, tmp_path / "g.safetensors"]):  # fmt: skip
        result = CliRunner().invoke(main, [str(a) for a in args])
        assert result.exit_code == 1 and "damaged (its content does not match the checksum" in (
            result.output
        )


def test_stale_temp_files_of_a_killed_save_are_removed_at_the_next_start(run):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    stale = run / "checkpoints" / f".ckpt-000000003.pt.tmp-{dead}"  # as nlgan 0.1.0 named them
    stale.write_bytes(b"half")
    newer = run / "checkpoints" / f".ckpt-000000004.pt.tmp-{dead}.pt"
    newer.write_bytes(b"half")
    _train("--resume", run, "--set", "train.steps=3")
    assert not stale.exists() and not newer.exists()


def test_train_out_refuses_a_folder_that_is_not_a_run(config, tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "config.yaml").write_text("my own notes")
    (folder / "photo.jpg").write_bytes(b"x")
    bad = _train(config, "--out", folder, code=1)
    assert "is a folder that holds other files, not an nlgan run" in bad.output
    assert (folder / "config.yaml").read_text() == "my own notes"


def _subprocess_train(cwd, *args, preexec=None, prefix=()) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "WANDB_MODE": "disabled", "OMP_NUM_THREADS": "1"}
    import os

    env = {**os.environ, **env}
    cmd = [*prefix, sys.executable, "-m", "nlgan.cli", "train", *map(str, args)]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
                          preexec_fn=preexec)  # fmt: skip


@pytest.mark.slow
def test_a_full_disk_while_saving_is_one_line_and_damages_nothing(config, tmp_path):
    out = tmp_path / "full"
    assert _subprocess_train(tmp_path, config, "--out", out,
                             "--set", "train.steps=1").returncode == 0  # fmt: skip
    size = list_checkpoints(out)[-1].stat().st_size

    def limit_file_size():  # writes past the limit fail with EFBIG, as a full disk fails them
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (size // 2, size // 2))

    done = _subprocess_train(tmp_path, "--resume", out, "--set", "train.steps=2",
                             preexec=limit_file_size)  # fmt: skip
    assert done.returncode == 1, done.stderr
    err = done.stderr.strip().splitlines()[-1]
    assert (
        err.startswith("Error: writing checkpoint") and "ckpt-000000002.pt failed (File too" in err
    )
    assert "the last good checkpoint is ckpt-000000001.pt" in err
    assert "Traceback" not in done.stderr
    assert [p.name for p in (out / "checkpoints").iterdir()] == ["ckpt-000000001.pt"]
    assert load_latest(out)[1]["step"] == 1


def _read_only_prefix(folder) -> list[str] | None:
    """A command prefix that runs with ``folder`` mounted read-only (root ignores file modes)."""
    if shutil.which("unshare") is None:
        return None
    script = f'mount --bind {folder} {folder} && mount -o remount,bind,ro {folder} && exec "$@"'
    prefix = ["unshare", "-r", "-m", "sh", "-c", script, "sh"]
    probe = subprocess.run([*prefix, "touch", str(folder / "probe")], capture_output=True)
    return prefix if probe.returncode != 0 and not (folder / "probe").exists() else None


@pytest.mark.slow
def test_a_read_only_run_directory_is_one_line_for_new_runs_and_resumes(run, config, tmp_path):
    prefix = _read_only_prefix(tmp_path)
    if prefix is None:
        pytest.skip("cannot make a read-only mount here (needs unshare and user namespaces)")
    for args in (["--resume", run, "--set", "train.steps=3"],
                 [config, "--out", tmp_path / "new"]):  # fmt: skip
        done = _subprocess_train(tmp_path, *args, prefix=prefix)
        assert done.returncode == 1, done.stderr
        last = done.stderr.strip().splitlines()[-1]
        assert "cannot write there" in last or "cannot create" in last, last
        assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (["train.lr_d=inf"], "train.lr_d='inf': must be a finite number"),
        (["model.z_dim=1e9"], "billion parameters (limit 2 billion"),
        (["model.g_ch=100000"], "model.g_ch=100000, model.d_ch=4"),
    ],
)
def test_bad_values_are_one_line(config, tmp_path, sets, message):
    args = [a for s in sets for a in ("--set", s)]
    assert message in _train(config, "--out", tmp_path / "r", *args, code=1).output


def test_config_files_that_cannot_be_read_right(tmp_path, monkeypatch):
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("log:\n  name: caf\xe9\n".encode("latin-1"))
    assert "not UTF-8 text (byte 0xe9" in _train(latin, code=1).output
    twice = tmp_path / "twice.yaml"
    twice.write_text("train:\n  lr_d: 1.0e-4\n  lr_d: 4.0e-4\n")
    assert "key 'lr_d' appears twice (line 3)" in _train(twice, code=1).output
    monkeypatch.setenv("WANDB_MODE", "bogus")
    ok = tmp_path / "ok.yaml"
    ok.write_text(yaml.safe_dump(TINY))
    out = _train(ok, "--out", tmp_path / "r", code=1).output
    assert "WANDB_MODE='bogus': choose one of online, offline, disabled" in out


def test_a_failing_evaluation_keeps_that_steps_checkpoint_and_training_goes_on(
    config, tmp_path, monkeypatch
):
    import torch

    from nlgan.metrics.inception import random_state_dict
    from nlgan.metrics.stats import StatsError
    from nlgan.train.evaluation import PeriodicEval

    weights = tmp_path / "inception.pt"
    torch.save(random_state_dict(seed=0), weights)
    reference = tmp_path / "real.npz"
    np.savez(reference, mu=np.zeros(2048), sigma=np.eye(2048))
    calls = []

    def fail(self, G):
        calls.append(1)
        raise StatsError("reference statistics went missing")

    monkeypatch.setattr(PeriodicEval, "score", fail)
    sets = ["eval.every=1", f"eval.reference={reference}", f"eval.inception_weights={weights}",
            "eval.n=4", "train.ckpt_every=0", "train.steps=2"]  # fmt: skip
    args = [a for s in sets for a in ("--set", s)]
    with pytest.warns(UserWarning, match="step [12]: evaluation failed"):
        result = _train(config, "--out", tmp_path / "r", *args)
    assert "reference statistics went missing" in result.output and len(calls) == 2
    names = [p.name for p in list_checkpoints(tmp_path / "r")]
    assert names == ["ckpt-000000001.pt", "ckpt-000000002.pt"]  # saved before the report


@pytest.mark.parametrize(
    ("mu", "message"),
    [(np.zeros(10), "statistics of 10-d features, but the feature network gives 2048-d"),
     (np.full(2048, np.nan), "holds NaN/inf values")],
)  # fmt: skip
def test_a_reference_that_cannot_be_scored_is_refused_before_training(config, tmp_path, mu,
                                                                      message):  # fmt: skip
    import torch

    from nlgan.metrics.inception import random_state_dict

    weights = tmp_path / "inception.pt"
    torch.save(random_state_dict(seed=0), weights)
    reference = tmp_path / "real.npz"
    np.savez(reference, mu=mu, sigma=np.eye(len(mu)))
    sets = ["eval.every=1", f"eval.reference={reference}", f"eval.inception_weights={weights}"]
    args = [a for s in sets for a in ("--set", s)]
    result = _train(config, "--out", tmp_path / "r", *args, code=1)
    assert message in result.output
    assert not list_checkpoints(tmp_path / "r")
