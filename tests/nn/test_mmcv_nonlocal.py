"""mmcv's NonLocal1d/2d/3d weights in nlgan's NonLocalBlock give mmcv's own outputs.

tests/data/interop/mmcv_nonlocal.pt holds state dicts of mmcv's blocks (the NL-I3D video
setting, mmseg's scaled 2-D setting and the other modes), their inputs and mmcv's eval-mode
outputs, written by tools/make_interop_fixtures.py from mmcv's own code.
"""

from __future__ import annotations

import functools

import pytest
import torch

from nlgan.nn import MmcvWeightsError, NonLocalBlock, load_mmcv_nonlocal, mmcv_nonlocal

from interop_data import INTEROP, max_diff

CASES = ["i3d", "2d_scaled_bn", "2d_dot", "2d_concat", "2d_gaussian", "1d"]
PREFIX = "backbone.layer2.1.non_local_block."


@functools.cache
def fixtures() -> dict:
    return torch.load(INTEROP / "mmcv_nonlocal.pt", weights_only=True)


def build(name: str) -> NonLocalBlock:
    case = fixtures()[name]
    opts = case["options"]
    return mmcv_nonlocal(case["state_dict"], opts["mode"], opts.get("use_scale", True))


@pytest.mark.parametrize("name", CASES)
def test_outputs_equal_mmcvs(name):
    case = fixtures()[name]
    block = build(name)
    with torch.no_grad():
        out = block(case["input"])
        explicit = block(case["input"], reference=True)  # the N x N map path agrees too
    assert max_diff(out, case["output"]) <= 1e-5
    assert max_diff(explicit, case["output"]) <= 1e-5
    assert max_diff(out, case["input"]) > 0.05  # the block is not the identity here
    assert block.w_z_norm == (case["options"]["norm"] is not None)


def test_nl_i3d_block_inside_a_model_state_dict_and_built_by_hand():
    case = fixtures()["i3d"]
    from_model = mmcv_nonlocal(fixtures()["i3d_in_model"], use_scale=False, prefix=PREFIX)
    by_hand = NonLocalBlock(16, dims=3, subsample=2, w_z_norm=True)  # (1, 2, 2) pooling
    # NL-I3D's config sets use_scale=False; mmcv's default (and the loader's) is True
    load_mmcv_nonlocal(by_hand, fixtures()["i3d_in_model"], prefix=PREFIX, use_scale=False)
    with torch.no_grad():
        for block in (from_model, by_hand.eval()):
            assert block.pool_factors == (1, 2, 2)
            assert max_diff(block(case["input"]), case["output"]) <= 1e-5


def test_the_scaling_is_needed_where_mmcv_uses_it():
    case = fixtures()["2d_scaled_bn"]
    unscaled = mmcv_nonlocal(case["state_dict"], use_scale=False)
    with torch.no_grad():
        assert max_diff(unscaled(case["input"]), case["output"]) > 1e-3


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"subsample": 2}, "build the block with w_z_norm=True"),
        ({"subsample": 2, "subsample_time": True, "w_z_norm": True}, "sub_sample=True"),
        ({"w_z_norm": True}, "sub_sample=True; build it with subsample=2"),
        ({"subsample": 2, "w_z_norm": True, "sn": True}, "no spectral norm"),
        ({"subsample": 2, "w_z_norm": True, "affinity": "concatenation"}, "mode"),
        ({"subsample": 2, "w_z_norm": True, "inter_channels": 4}, "has shape"),
    ],
)
def test_blocks_that_do_not_fit_the_weights_are_refused(kwargs, message):
    block = NonLocalBlock(16, dims=3, **kwargs)
    with pytest.raises(MmcvWeightsError, match=message):
        load_mmcv_nonlocal(block, fixtures()["i3d"]["state_dict"], use_scale=False)


def test_the_defaults_are_mmcvs_and_a_forgotten_scale_is_refused():
    case = fixtures()["2d_scaled_bn"]  # mmseg's setting: use_scale=True, mmcv's default
    block = mmcv_nonlocal(case["state_dict"])  # embedded_gaussian, use_scale=True
    assert block.use_scale and block.affinity == "embedded_gaussian"
    with torch.no_grad():
        assert max_diff(block(case["input"]), case["output"]) <= 1e-5
    # NonLocalBlock's own default is use_scale=False; loading mmcv's defaults into it is refused
    by_hand = NonLocalBlock(16, dims=2, subsample=2, w_z_norm=True)
    with pytest.raises(MmcvWeightsError) as err:
        load_mmcv_nonlocal(by_hand, case["state_dict"])
    assert str(err.value) == (
        "NonLocalBlock(dims=2, affinity='embedded_gaussian'): the mmcv block scales its logits "
        "(use_scale=True, mmcv's default); build the block with use_scale=True, or pass "
        "use_scale= as the mmcv config had it"
    )
    scaled = NonLocalBlock(16, dims=2, subsample=2, w_z_norm=True, use_scale=True)
    load_mmcv_nonlocal(scaled, case["state_dict"])
    with torch.no_grad():
        assert max_diff(scaled.eval()(case["input"]), case["output"]) <= 1e-5


def test_a_block_that_scales_gaussian_logits_is_refused():
    case = fixtures()["2d_gaussian"]  # mmcv's gaussian block (use_scale=True, ignored there)
    assert not mmcv_nonlocal(case["state_dict"], "gaussian").use_scale
    block = NonLocalBlock(16, dims=2, affinity="gaussian", subsample=2, use_scale=True)
    with pytest.raises(MmcvWeightsError) as err:
        load_mmcv_nonlocal(block, case["state_dict"])
    assert str(err.value) == (
        "NonLocalBlock(dims=2, affinity='gaussian'): mmcv never scales gaussian logits (it "
        "ignores use_scale there); build the block with use_scale=False"
    )


def test_the_fixtures_come_from_the_named_mmcv_commit():
    assert fixtures()["commit"] == "a8073c74bf83d62ec36a103f835faa4837fb6585"


def test_a_wrong_prefix_is_a_one_line_error():
    with pytest.raises(MmcvWeightsError, match="no mmcv non-local weights under the prefix"):
        mmcv_nonlocal(fixtures()["i3d_in_model"], prefix="backbone.layer3.")
