"""Every refusal of the importers is one clean line, tested by its exact text: no refusal wrapped
in another ("not StudioGAN ... (no D is not spectral-normed ...)"), and no traceback for damaged
or odd sources (a wrongly shaped tensor, a config that is text or a list, a non-number option,
a non-UTF-8 YAML, an itr of 'abc'); a negative step starts the run at 0, with a note."""

from __future__ import annotations

import shutil

import pytest
import torch

from nlgan.interop.biggan_pytorch import import_biggan_pytorch
from nlgan.interop.foreign import InteropError, read_torch_file
from nlgan.interop.studiogan import import_studiogan
from nlgan.storage.checkpoint import load_latest

from clitools import cli
from interop_data import INTEROP

SAGAN = "model={}-best-weights-step=1000.pth"


def _refused(call, *args, **kwargs) -> str:
    with pytest.raises(InteropError) as err:
        call(*args, **kwargs)
    text = str(err.value)
    assert "\n" not in text and "(no " not in text.split(":", 1)[-1][:40]
    return text


def _biggan(tmp_path, name="biggan32", edit_g=None, edit_d=None, info=None):
    """A copy of a BigGAN-PyTorch fixture folder, with G.pth / D.pth / state_dict.pth edited."""
    folder = tmp_path / "w"
    shutil.copytree(INTEROP / name, folder)
    for file, edit in (("G.pth", edit_g), ("D.pth", edit_d)):
        if edit:
            state = torch.load(folder / file, weights_only=True)
            edit(state)
            torch.save(state, folder / file)
    if info is not None:
        meta = read_torch_file(folder / "state_dict.pth")
        plain = (int, float, str, bool, type(None))  # not the ReLU stand-ins: weights_only
        meta["config"] = {k: v for k, v in meta["config"].items() if isinstance(v, plain)}
        info(meta)
        torch.save(meta, folder / "state_dict.pth")
    return folder


def _studiogan_d(tmp_path, edit):
    folder = tmp_path / "s"
    shutil.copytree(INTEROP / "studiogan-sagan32", folder)
    payload = torch.load(folder / SAGAN.format("D"), weights_only=False)
    edit(payload)
    torch.save(payload, folder / SAGAN.format("D"))
    return folder


def test_studiogan_structure_refusals_are_not_wrapped(tmp_path):
    def no_sn(p):
        p["state_dict"]["linear1.weight"] = p["state_dict"].pop("linear1.weight_orig")

    folder = _studiogan_d(tmp_path, no_sn)
    assert _refused(import_studiogan, folder) == (
        "D is not spectral-normed (apply_d_sn=False): not supported"
    )

    def one_block_less(p):
        for key in [k for k in p["state_dict"] if k.startswith("blocks.3.")]:
            del p["state_dict"][key]

    shutil.rmtree(folder)
    folder = _studiogan_d(tmp_path, one_block_less)
    assert _refused(import_studiogan, folder) == "D has 2 blocks: not the D of a 32 px StudioGAN G"


def test_biggan_structure_refusals_are_not_wrapped(tmp_path):
    def fewer_classes(d):
        d["embed.weight"] = d["embed.weight"][:5].clone()

    folder = _biggan(tmp_path, edit_d=fewer_classes)
    assert _refused(import_biggan_pytorch, folder) == "G and D have different numbers of classes"

    def drop_block(d):
        for key in [k for k in d if k.startswith("blocks.3.")]:
            del d[key]

    shutil.rmtree(folder)
    folder = _biggan(tmp_path, edit_d=drop_block)
    assert _refused(import_biggan_pytorch, folder) == "D.pth does not have the blocks of a 32px D"


def test_a_wrongly_shaped_tensor_is_one_line(tmp_path):
    def short_u0(g):
        g["blocks.1.0.conv1.u0"] = g["blocks.1.0.conv1.u0"][:, :-1].clone()

    folder = _biggan(tmp_path, edit_g=short_u0)
    assert _refused(import_biggan_pytorch, folder) == (
        "G.pth: blocks.1.0.conv1.u0 has shape (1, 15) where its weight has 16 outputs: the "
        "file's tensors do not fit together"
    )

    def narrow_conv(g):
        g["blocks.0.0.conv2.weight"] = g["blocks.0.0.conv2.weight"][:, :-1].clone()

    shutil.rmtree(folder)
    folder = _biggan(tmp_path, edit_g=narrow_conv)
    assert _refused(import_biggan_pytorch, folder) == (
        "G.pth: blocks.0.0.conv2 weight has shape (16, 15, 3, 3) where nlgan's model has "
        "(16, 16, 3, 3): the config does not describe these weights"
    )


@pytest.mark.parametrize(
    ("config", "kind"), [("BigGAN", "str"), (["G_ch", 4], "list")]
)  # fmt: skip
def test_a_state_dict_config_that_is_not_a_dict_is_one_line(tmp_path, config, kind):
    folder = _biggan(tmp_path, info=lambda m: m.update(config=config))
    assert _refused(import_biggan_pytorch, folder) == (
        f"{folder}/state_dict.pth: its config is a {kind}, not BigGAN-PyTorch's dict of options "
        "(give the options with --source-set KEY=VALUE, or remove the file)"
    )


def test_an_itr_that_is_not_a_number_is_one_line(tmp_path):
    folder = _biggan(tmp_path, info=lambda m: m.update(itr="abc"))
    assert _refused(import_biggan_pytorch, folder) == (
        "state_dict.pth's itr='abc' is not a step number (a whole number)"
    )


def test_a_negative_itr_starts_the_run_at_step_0_with_a_note(tmp_path):
    folder = _biggan(tmp_path, info=lambda m: m.update(itr=-5))
    imported = import_biggan_pytorch(folder)
    assert imported.step == 0 and imported.record["itr"] == 0
    assert "state_dict.pth's itr=-5 is negative: the run starts at step 0" in imported.record[
        "notes"]  # fmt: skip
    out = cli("import", "biggan-pytorch", folder, "--out", tmp_path / "run").output
    assert "note: state_dict.pth's itr=-5 is negative: the run starts at step 0" in out
    assert sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir()) == [
        "ckpt-000000000.pt"]  # fmt: skip
    assert load_latest(tmp_path / "run")[1]["step"] == 0


def test_source_set_values_that_are_not_numbers_are_one_line(tmp_path):
    result = cli("import", "biggan-pytorch", INTEROP / "biggan32", "--out", tmp_path / "r",
                 "--source-set", "BN_eps=abc", ok=False)  # fmt: skip
    assert result.exit_code == 1 and result.output.strip() == (
        "Error: BigGAN-PyTorch option BN_eps='abc' is not a number: fix it with "
        "--source-set BN_eps=..."
    )
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("key", ["G_attn", "D_attn"])
def test_attention_options_that_are_not_sizes_are_one_line(key):
    assert _refused(import_biggan_pytorch, INTEROP / "biggan32", {key: "abc"}) == (
        f"BigGAN-PyTorch option {key}='abc' is not a list of sizes like '16_32' or '0': fix it "
        f"with --source-set {key}=..."
    )


def test_a_studiogan_config_that_is_not_utf8_is_one_line(tmp_path):
    (tmp_path / "c.yaml").write_bytes(b"MODEL:\n  backbone: \xff\xfe resnet\n")
    result = cli("import", "studiogan", INTEROP / "studiogan-sagan32", "--config",
                 tmp_path / "c.yaml", "--out", tmp_path / "r", ok=False)  # fmt: skip
    assert result.exit_code == 1 and result.output.strip() == (
        f"Error: --config {tmp_path / 'c.yaml'}: not a UTF-8 text file (byte 19); give "
        "StudioGAN's YAML"
    )
