"""What the sources say about sampling and fine-tuning, carried over or noted: BigGAN-PyTorch's
z_var, G_eval_mode and accumulate_stats; StudioGAN's RUN section and its freezeD numbering."""

from __future__ import annotations

import shutil

import pytest
import torch
import yaml

from nlgan.config import load_config
from nlgan.interop.biggan_pytorch import import_biggan_pytorch
from nlgan.interop.foreign import InteropError
from nlgan.interop.studiogan import import_studiogan
from nlgan.interop.studiogan_settings import freeze_d_from_studiogan
from nlgan.models import Discriminator
from nlgan.train.finetune import freeze_d_blocks

from clitools import cli
from interop_data import INTEROP

SAGAN = INTEROP / "studiogan-sagan32"


def test_biggan_sampling_options_are_recorded_and_noted():
    imported = import_biggan_pytorch(INTEROP / "biggan32")  # its config: BigGAN-PyTorch defaults
    assert imported.record["sampling"] == {
        "z_var": 1.0, "G_eval_mode": False, "accumulate_stats": False,
        "num_standing_accumulations": 16}  # fmt: skip
    assert imported.record["notes"] == [
        "the source sampled in train mode, with batch statistics (G_eval_mode=False); nlgan "
        "samples in eval mode with the stored statistics, so its images differ"
    ]
    standing = import_biggan_pytorch(
        INTEROP / "biggan32", {"accumulate_stats": True, "num_standing_accumulations": 8}
    )
    assert standing.record["notes"] == [
        "the source sampled with standing statistics (accumulate_stats, 8 accumulations): "
        "sample with `nlgan sample RUN --standing-stats 8` to match"
    ]
    assert import_biggan_pytorch(INTEROP / "biggan32", {"G_eval_mode": True}).record["notes"] == []


def test_a_z_var_nlgan_cannot_sample_is_refused_in_one_line(tmp_path):
    result = cli("import", "biggan-pytorch", INTEROP / "biggan32", "--out", tmp_path / "r",
                 "--source-set", "z_var=0.5", ok=False)  # fmt: skip
    assert result.output.strip() == (
        "Error: BigGAN-PyTorch option not supported by the importer: z_var=0.5 (nlgan samples "
        "z ~ N(0, 1); to sample with that anyway: --source-set z_var=1)"
    )
    assert not (tmp_path / "r").exists()


def test_without_a_config_nothing_is_claimed_about_sampling(tmp_path):
    shutil.copy(INTEROP / "biggan32" / "G.pth", tmp_path / "G.pth")
    imported = import_biggan_pytorch(tmp_path)
    assert imported.record["notes"] == [] and set(imported.record["sampling"].values()) == {None}


def _yaml(tmp_path, **run) -> str:
    config = yaml.safe_load((SAGAN / "SAGAN-tiny.yaml").read_text())
    config["RUN"] = run
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    return str(tmp_path / "c.yaml")


def test_studiogans_run_section_is_noted(tmp_path):
    config = _yaml(tmp_path, standing_statistics=True, standing_step=64, truncation_factor=0.5)
    out = cli("import", "studiogan", SAGAN, "--config", config, "--out", tmp_path / "r").output
    assert (
        "note: the source sampled with standing statistics (RUN.standing_statistics): sample "
        "with `nlgan sample RUN --standing-stats 64` to match its FIDs" in out
    )
    assert "note: the source sampled truncated (RUN.truncation_factor=0.5): sample with " \
           "`--truncation 0.5`" in out  # fmt: skip
    imported = import_studiogan(SAGAN, _yaml(tmp_path, batch_statistics=True))
    assert imported.record["notes"] == [
        "the source sampled with batch statistics (RUN.batch_statistics); nlgan samples in eval "
        "mode with the stored statistics, so its images and FIDs differ"
    ]
    assert imported.record["source_config"]["RUN"] == {"batch_statistics": True}


def test_studiogans_freezed_numbering_maps_to_freeze_d_blocks(tmp_path):
    # SAGAN-tiny's D blocks list: block, attention, block, block, block (attn_d_loc [1])
    entries = [("block", 0), ("attn", 1), ("block", 2), ("block", 3), ("block", 4)]
    assert [freeze_d_from_studiogan(entries, n) for n in (-1, 0, 2, 3, 4, 5)] == [0, 0, 1, 2, 3, 4]
    with pytest.raises(InteropError) as err:
        freeze_d_from_studiogan(entries, 1)
    assert str(err.value) == (
        "freezeD=1 freezes D's residual block 1 but not the attention after it; nlgan freezes "
        "both (use freezeD=2) or neither (freezeD=0)"
    )
    run = tmp_path / "r"
    cli("import", "studiogan", SAGAN, "--freeze-d", 3, "--out", run)
    assert load_config(run / "config.yaml").train.freeze_d_blocks == 2
    from_yaml = import_studiogan(SAGAN, _yaml(tmp_path, freezeD=2))
    assert from_yaml.config.train.freeze_d_blocks == 1
    assert from_yaml.record["train_from_source"]["freeze_d_blocks"] == 1
    # the same parameters StudioGAN freezes with freezeD=2: its blocks.0 and blocks.1
    D = Discriminator(from_yaml.config.model)
    frozen = freeze_d_blocks(D, from_yaml.config.train.freeze_d_blocks)
    source = torch.load(SAGAN / "model=D-best-weights-step=1000.pth", weights_only=False)
    theirs = [
        k
        for k in source["state_dict"]
        if k.startswith(("blocks.0.", "blocks.1.")) and not k.endswith(("weight_u", "weight_v"))
    ]  # fmt: skip  (buffers)
    assert len(frozen) == len(theirs) == 11 and {n.split(".", 1)[0] for n in frozen} == {"0"}
    refused = cli("import", "studiogan", SAGAN, "--freeze-d", 1, "--out", tmp_path / "x", ok=False)
    assert refused.exit_code == 1 and "freezeD=1 freezes D's residual block 1" in refused.output
