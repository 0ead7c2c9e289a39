"""Reading other projects' files never runs code from them; tensors move with checks."""

from __future__ import annotations

import os

import pytest
import torch

from nlgan.interop.foreign import ForeignObject, InteropError, Transfer, read_torch_file
from nlgan.nn.spectral import sn_linear

from interop_data import INTEROP


class _Payload:
    """Unpickling this would run a shell command (what a malicious checkpoint does)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_file_that_would_run_code_is_refused(tmp_path):
    marker = tmp_path / "ran"
    torch.save({"config": {"x": _Payload(marker)}}, tmp_path / "bad.pth")
    torch.save({"config": {"x": _Payload(marker)}}, tmp_path / "bad-legacy.pth",
               _use_new_zipfile_serialization=False)  # fmt: skip
    for name in ("bad.pth", "bad-legacy.pth"):
        with pytest.raises(InteropError, match="will not unpickle.*system"):
            read_torch_file(tmp_path / name)
    assert not marker.exists()


def test_biggan_pytorchs_legacy_config_reads_with_stand_ins_for_its_modules():
    info = read_torch_file(INTEROP / "biggan32" / "state_dict.pth")
    config = info["config"]
    assert info["itr"] == 1234 and config["G_ch"] == 4 and config["dataset"] == "C10"
    assert isinstance(config["G_activation"], ForeignObject)  # nn.ReLU, not instantiated
    assert type(config["G_activation"]).__name__ == "ReLU"


def test_damaged_and_missing_files_are_one_line_errors(tmp_path):
    (tmp_path / "cut.pth").write_bytes((INTEROP / "biggan32" / "G.pth").read_bytes()[:1000])
    with pytest.raises(InteropError, match="not a readable torch file"):
        read_torch_file(tmp_path / "cut.pth")
    with pytest.raises(InteropError, match="no such file"):
        read_torch_file(tmp_path / "none.pth")


def test_transfer_checks_shapes_and_refuses_unused_tensors():
    layer = sn_linear(3, 2)
    source = {
        "fc.weight_orig": torch.randn(2, 3),
        "fc.weight_u": torch.randn(2),
        "fc.weight_v": torch.randn(3),
        "fc.bias": torch.randn(2),
        "extra": torch.ones(1),
    }
    t = Transfer(source, "test.pth")
    t.layer(layer, "fc", "torch")
    w = source["fc.weight_orig"]
    sigma = torch.dot(source["fc.weight_u"], w @ source["fc.weight_v"])
    torch.testing.assert_close(layer.eval().weight, w / sigma)  # PyTorch's eval-mode weight
    with pytest.raises(InteropError, match="1 tensors have no place.*'extra'"):
        t.finish()
    with pytest.raises(InteropError, match="shape \\(2, 3\\) where nlgan's model has \\(3, 2\\)"):
        Transfer(source, "test.pth").copy(torch.zeros(3, 2), "fc.weight_orig")
    with pytest.raises(InteropError, match="fc is spectral-normed but nlgan's layer is not"):
        Transfer(source, "test.pth").layer(torch.nn.Linear(3, 2), "fc", "torch")
