"""mmcv non-local fixtures: state dicts of mmcv's own ``NonLocal1d/2d/3d`` (the NL-I3D video
setting, mmseg's 2-D setting and the other modes), inputs, and their eval-mode outputs. Run by
make_interop_fixtures.py inside an extracted mmcv tree: ``part_mmcv.py SOURCE OUT COMMIT``."""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from common import perturb, seed, warm_up
from mmcv.cnn.bricks.non_local import NonLocal1d, NonLocal2d, NonLocal3d

# name -> (class, keyword arguments as an mmcv config would give them, input shape)
CASES = {
    # mmaction2's NL-I3D blocks: embedded Gaussian, no scaling, BN3d on conv_out, (1, 2, 2) pooling
    "i3d": (NonLocal3d, dict(sub_sample=True, use_scale=False, norm_cfg=dict(type="BN3d"),
                             mode="embedded_gaussian"), (2, 16, 4, 6, 8)),
    # mmseg's NLNet head: embedded Gaussian with mmcv's default scaling, BN, 2x2 pooling
    "2d_scaled_bn": (NonLocal2d, dict(sub_sample=True, use_scale=True, norm_cfg=dict(type="BN"),
                                      mode="embedded_gaussian"), (2, 16, 6, 8)),
    "2d_dot": (NonLocal2d, dict(mode="dot_product"), (2, 16, 5, 7)),
    "2d_concat": (NonLocal2d, dict(sub_sample=True, mode="concatenation"), (2, 16, 6, 8)),
    "2d_gaussian": (NonLocal2d, dict(sub_sample=True, mode="gaussian"), (2, 16, 6, 8)),
    "1d": (NonLocal1d, dict(sub_sample=True, mode="embedded_gaussian", reduction=4), (2, 16, 12)),
}  # fmt: skip
PREFIX = "backbone.layer2.1.non_local_block."  # how a block sits inside an mmaction2 model


@torch.no_grad()
def main() -> None:
    """One file: every case's state dict (the i3d one also under a model prefix), the options
    it was built with, its input and mmcv's output."""
    _, out, commit = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    gen = seed(12)
    fixtures = {"source": "https://github.com/open-mmlab/mmcv", "commit": commit}
    for name, (cls, kwargs, shape) in CASES.items():
        block = cls(16, **kwargs)
        # mmcv draws theta / phi / g with std 0.01, which leaves the block ~the identity; large
        # weights and biases make every part of the mapping show in the output
        for module in block.modules():
            if isinstance(module, torch.nn.modules.conv._ConvNd):
                module.weight.normal_(0.0, 0.3, generator=gen)
                if module.bias is not None:
                    module.bias.normal_(0.0, 0.1, generator=gen)
        warm_up(block, lambda shape=shape, block=block: block(torch.randn(shape, generator=gen)))
        perturb(block, gen)
        # conv_out starts at zero (mmcv's zeros_init: the identity); move it
        if block.conv_out.norm_cfg is None:
            block.conv_out.conv.weight.normal_(0.0, 0.2, generator=gen)
        else:
            weight = block.conv_out.norm.weight
            weight.copy_(0.5 + torch.rand(weight.shape, generator=gen))
        block.eval()
        x = torch.randn(shape, generator=gen)
        options = {k: v for k, v in kwargs.items() if k != "norm_cfg"}
        options["norm"] = kwargs.get("norm_cfg", {}).get("type")
        fixtures[name] = {"state_dict": dict(block.state_dict()), "options": options,
                          "input": x, "output": block(x)}  # fmt: skip
    fixtures["i3d_in_model"] = {PREFIX + k: v for k, v in fixtures["i3d"]["state_dict"].items()}
    torch.save(fixtures, out / "mmcv_nonlocal.pt")


if __name__ == "__main__":
    main()
