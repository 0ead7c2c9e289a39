"""RUN/metrics.jsonl: what a run logs, resume without duplicates, rank 0 only, torn lines after
kill -9, and no host read the loop did not already do."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest
import torch
from tqdm.auto import tqdm

from nlgan.config import config_from_dict
from nlgan.storage.rundir import RunDir
from nlgan.storage.runlog import MetricsLog, encode, read_records
from nlgan.train.loop import Trainer

from clitools import train
from hostreads import HostReads
from tiny import tiny_run


def steps_of(records, kind="train"):
    return [r["step"] for r in records if r["kind"] == kind]


def test_a_run_logs_losses_gammas_p_r_t_lrs_and_images_per_second(tmp_path):
    out = tmp_path / "run"
    train("--out", out, "--set", "model.g_ch=4", "--set", "model.d_ch=4",
          "--set", "model.z_dim=8", "--set", "train.steps=3", "--set", "train.batch_size=4",
          "--set", "train.log_every=1", "--set", "train.sample_every=0",
          "--set", "train.ckpt_every=0", "--set", "train.augment=ada,translation",
          "--set", "train.ada_target=0.6", "--set", "train.ada_interval=1")  # fmt: skip
    records = read_records(RunDir(out).metrics_log)
    assert [r["kind"] for r in records] == ["start", "train", "train", "train"]
    start = records[0]
    assert start["step"] == 0 and start["source"] == "train"
    assert start["machine"]["device"] == "cpu" and start["machine"]["num_processes"] == 1
    assert steps_of(records) == [1, 2, 3]
    values = records[-1]["values"]
    for key in ("loss/d", "loss/g", "attn_gamma/g8", "attn_gamma/d8", "augment/p",
                "augment/r_t", "lr/g", "lr/d", "images_per_s"):  # fmt: skip
        assert isinstance(values[key], float), key
    assert values["lr/g"] == 2e-4 and values["lr/d"] == 4e-4  # the digits preset's
    assert values["images_per_s"] > 0
    times = [r["time"] for r in records]
    assert times == sorted(times) and abs(times[-1] - time.time()) < 300


def test_a_resume_drops_the_steps_it_trains_again(tmp_path):
    out = tmp_path / "run"
    common = ["--set", "train.log_every=1", "--set", "train.ckpt_every=2",
              "--set", "train.keep_ckpts=5"]  # fmt: skip
    train("--out", out, "--set", "model.g_ch=4", "--set", "model.d_ch=4", "--set",
          "model.z_dim=8", "--set", "train.steps=4", "--set", "train.batch_size=4",
          "--set", "train.sample_every=0", *common)  # fmt: skip
    first = read_records(RunDir(out).metrics_log)
    RunDir(out).checkpoint(4).unlink()  # as if killed after logging step 4, before saving it
    train("--resume", out, *common)
    records = read_records(RunDir(out).metrics_log)
    assert steps_of(records) == [1, 2, 3, 4]  # 3 and 4 once each: the first ones were dropped
    assert steps_of(records, "start") == [0, 2]
    redone = {r["step"]: r["values"] for r in records if r["kind"] == "train"}
    before = {r["step"]: r["values"] for r in first if r["kind"] == "train"}
    assert redone[2] == before[2]  # kept as written
    for step in (3, 4):  # an exact resume: the same losses again
        assert redone[step]["loss/d"] == pytest.approx(before[step]["loss/d"], rel=1e-5)


def test_a_torn_last_line_is_skipped_and_removed_on_resume(tmp_path):
    log = MetricsLog(tmp_path, 0)
    for step in (1, 2, 3):
        log.train(step, {"loss/d": float(step)})
    with open(log.path, "ab") as f:
        f.write(encode({"kind": "train", "step": 4, "time": 0.0, "values": {}})[:-9])  # cut
    assert steps_of(read_records(log.path)) == [1, 2, 3]
    resumed = MetricsLog(tmp_path, 3)
    resumed.train(4, {"loss/d": 4.0})
    lines = resumed.path.read_bytes().splitlines()
    assert all(json.loads(line) for line in lines)  # the torn bytes are gone
    assert steps_of(read_records(resumed.path)) == [1, 2, 3, 4]


WRITER = """
import sys
from nlgan.storage.runlog import MetricsLog
log = MetricsLog(sys.argv[1], 0)
print("ready", flush=True)
step = 0
while True:
    step += 1
    log.train(step, {"loss/d": float(step), "pad": "x" * 3000})
"""


def test_records_survive_kill_9_whole(tmp_path):
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)],
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert writer.stdout.readline().strip() == "ready"
    time.sleep(0.5)
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    data = (tmp_path / "metrics.jsonl").read_bytes()
    lines = data.split(b"\n")
    whole = [json.loads(line) for line in lines[:-1]]  # every complete line parses
    steps = steps_of(read_records(tmp_path / "metrics.jsonl"))
    assert len(steps) > 3 and steps == list(range(1, len(steps) + 1))
    assert len(whole) == len(steps) + 1  # the start record and every step, nothing torn inside


def test_only_the_enabled_process_writes(tmp_path):
    other = MetricsLog(tmp_path, 0, enabled=False)  # what ranks > 0 build
    other.train(1, {"loss/d": 1.0})
    other.eval(1, {"eval/fid": 2.0}, {"n": 10})
    assert not (tmp_path / "metrics.jsonl").exists()
    main = MetricsLog(tmp_path, 0)
    main.eval(5, {"eval/fid": 2.5, "eval/kid_mean": float("nan")}, {"n": 10, "seed": 0})
    last = read_records(main.path)[-1]
    assert last["kind"] == "eval" and last["protocol"] == {"n": 10, "seed": 0}
    assert last["values"] == {"eval/fid": 2.5, "eval/kid_mean": None}  # strict JSON


def test_tensors_are_refused_so_the_loop_cannot_sync_through_the_log(tmp_path):
    log = MetricsLog(tmp_path, 0)
    with pytest.raises(TypeError, match="not plain data"):
        log.train(1, {"loss/d": torch.tensor(1.0)})


def test_the_log_step_reads_nothing_more_to_the_host_with_the_metrics_log(tmp_path):
    cfg = config_from_dict(tiny_run(steps=4, batch_size=4, sample_every=0, ckpt_every=0,
                                    log_every=2))  # fmt: skip
    trainer = Trainer(cfg, tmp_path / "run")
    real, meter, bar = trainer._real_batches(), trainer._meter(), tqdm(disable=True)
    counts = []
    for enabled in (True, False):
        trainer.periodic.metrics_log.enabled = enabled
        for _ in range(2):
            trainer.step += 1
            meter.add(trainer.gan_step(trainer.step, real), trainer.step)
        with HostReads() as reads:
            trainer._periodic(meter, bar)
        counts.append(len(reads.calls))
    trainer.tracker.finish()
    assert steps_of(read_records(trainer.periodic.metrics_log.path)) == [2]  # written while enabled
    assert counts[0] == counts[1] > 0  # the log step's own reads, and not one more
