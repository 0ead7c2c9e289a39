"""Resize modes: equal to clean-fid's resizers, and FID in each mode equal to clean-fid's FID.

clean-fid's own code is the reference: its resizers (``cleanfid.resize.make_resizer``), its
folder pipeline and its ``frechet_distance`` (``cleanfid.fid.compute_fid``). Its Inception
weights cannot be downloaded here, so both sides use the FID Inception with the same random
He-scaled weights, fed the way each of clean-fid's modes feeds its network:

- clean: clean-fid resizes (PIL bicubic, float) and the TorchScript Inception normalises;
- legacy_tensorflow: no resize outside the network; NVIDIA's TorchScript Inception resizes inside
  with ``affine_grid`` + ``grid_sample`` (TF1 bilinear, re-implemented below independently of
  torch-fidelity's resize that nlgan uses);
- legacy_pytorch: clean-fid resizes with ``F.interpolate`` and calls pytorch-fid's InceptionV3
  (clean-fid's vendored copy, given the random weights instead of downloading).

Both sides keep the first ``DIMS`` of the 2048 pool features: clean-fid's ``scipy.linalg.sqrtm``
takes ~16 s at d = 2048 on one core, against ~0.1 s at d = 256, and the slice changes nothing
upstream of the features (resize, normalisation, network, statistics, Fréchet distance).
"""

from __future__ import annotations

import warnings

import cleanfid.resize as cleanfid_resize
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from nlgan.metrics import FolderSource, evaluate
from nlgan.metrics.inception import InceptionExtractor, load_inception, random_state_dict
from nlgan.metrics.reference_cache import cache_key
from nlgan.metrics.resize import resize_images

DIMS = 256
SHAPES = [(17, 23), (31, 45), (37, 29), (301, 320)]  # odd, non-square, and one downscale


def _image(h: int, w: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.mark.parametrize("h, w", SHAPES)
def test_clean_resize_equals_cleanfid(h, w):
    image = _image(h, w, h * w)
    theirs = cleanfid_resize.make_resizer("PIL", False, "bicubic", (299, 299))(image)  # HWC
    ours = resize_images(torch.from_numpy(image).permute(2, 0, 1)[None], 299, "clean")
    assert ours.dtype == torch.float32 and ours.shape == (1, 3, 299, 299)
    np.testing.assert_allclose(ours[0].permute(1, 2, 0).numpy(), theirs, rtol=0, atol=1e-4)
    assert float(ours.min()) >= 0 and float(ours.max()) <= 255


@pytest.mark.parametrize("h, w", SHAPES[:2])
def test_legacy_pytorch_resize_equals_cleanfid(h, w):
    image = _image(h, w, h + w)
    with warnings.catch_warnings():  # clean-fid's PyTorch resizer silences warnings globally
        theirs = cleanfid_resize.make_resizer("PyTorch", False, "bilinear", (299, 299))(image)
    ours = resize_images(torch.from_numpy(image).permute(2, 0, 1)[None], 299, "legacy_pytorch")
    np.testing.assert_allclose(ours[0].permute(1, 2, 0).numpy(), theirs, rtol=0, atol=1e-3)


def test_grayscale_is_resized_as_rgb():
    gray = torch.from_numpy(_image(9, 13, 1)[..., :1]).permute(2, 0, 1)[None]
    rgb = gray.expand(-1, 3, -1, -1)
    for mode in ("clean", "legacy_pytorch", "legacy_tensorflow"):
        torch.testing.assert_close(resize_images(gray, 40, mode), resize_images(rgb, 40, mode))


def test_unknown_mode_is_one_line_error():
    with pytest.raises(ValueError, match="resize='bicubic': choose one of legacy_tensorflow"):
        resize_images(torch.zeros(1, 3, 4, 4, dtype=torch.uint8), 8, "bicubic")


def test_mode_is_part_of_the_identity_and_the_cache_key():
    state = random_state_dict(seed=0)
    identities = {
        mode: InceptionExtractor(state, "inception-2015-12-05:sha256=abc", resize=mode).identity
        for mode in ("legacy_tensorflow", "clean", "legacy_pytorch")
    }
    # the default keeps the identity nlgan always used, so existing caches and .npz stay valid
    assert identities["legacy_tensorflow"] == "inception-2015-12-05:sha256=abc"
    assert len(set(identities.values())) == 3
    keys = {cache_key({"kind": "folder", "root": "/r"}, 10, ident) for ident in identities.values()}
    assert len(keys) == 3


# --------------------------------------------------------------------------- FID parity


def _tf1_resize_like_nvidia(x: torch.Tensor) -> torch.Tensor:
    """TF1 bilinear to 299 as NVIDIA's TorchScript Inception does it (affine grid + border)."""
    b, c, h, w = x.shape
    theta = torch.eye(2, 3, dtype=x.dtype).repeat(b, 1, 1)
    # shift so that output pixel j samples input coordinate j * size_in / 299 (no half pixel)
    theta[:, 0, 2] += 1 / w - 1 / 299
    theta[:, 1, 2] += 1 / h - 1 / 299
    grid = F.affine_grid(theta, [b, c, 299, 299], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("resize-parity")
    for name, shift, seed in (("a", 0, 1), ("b", 40, 2)):
        (root / name).mkdir()
        for i in range(3):  # few images: every one is a 299x299 Inception forward on CPU
            h, w = SHAPES[i]
            pixels = np.clip(_image(h, w, seed * 10 + i).astype(int) * 3 // 4 + shift, 0, 255)
            Image.fromarray(pixels.astype(np.uint8)).save(root / name / f"{i}.png")
    state = random_state_dict(seed=0)
    torch.save(state, root / "weights.pth")
    return root, state


def _cleanfid_extractor(mode: str, state: dict) -> callable:
    """clean-fid's network for ``mode``, with ``state`` as its weights."""
    if mode == "legacy_pytorch":
        import cleanfid.inception_pytorch as pytorch_fid

        original = pytorch_fid.load_state_dict_from_url
        pytorch_fid.load_state_dict_from_url = lambda *args, **kwargs: state  # no download
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # torchvision: 'pretrained' is old
                net = pytorch_fid.InceptionV3(output_blocks=[3], resize_input=False).eval()
        finally:
            pytorch_fid.load_state_dict_from_url = original
        return lambda x: net(x / 255)[0].flatten(1)[:, :DIMS]  # clean-fid's "pytorch_inception"
    trunk = InceptionExtractor(state, "reference", fuse=False).trunk  # BN not folded
    resize = _tf1_resize_like_nvidia if mode == "legacy_tensorflow" else (lambda x: x)
    return lambda x: trunk((resize(x) - 128) / 128).flatten(1)[:, :DIMS]


class FirstFeatures:
    """nlgan's extractor, keeping the first DIMS pool features (the same slice as clean-fid's)."""

    def __init__(self, extractor):
        self.extractor, self.identity, self.device = extractor, extractor.identity, extractor.device
        self.feature_dim, self.num_logits = DIMS, extractor.num_logits

    def __call__(self, images):
        pool, logits = self.extractor(images)
        return pool[:, :DIMS], logits


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["legacy_tensorflow", "clean", "legacy_pytorch"])
def test_fid_in_each_mode_equals_cleanfid(folders, mode):
    import cleanfid.fid

    root, state = folders
    extractor = _cleanfid_extractor(mode, state)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # its sqrtm on rank-deficient covariances, its resizer
        theirs = cleanfid.fid.compute_fid(
            str(root / "a"),
            str(root / "b"),
            mode=mode,
            custom_feat_extractor=extractor,
            num_workers=0,
            batch_size=1,  # legacy_tensorflow feeds images of their own size
            device=torch.device("cpu"),
            verbose=False,
        )
    ours_extractor = FirstFeatures(load_inception(root / "weights.pth", resize=mode))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # 3 samples: the small-sample warning
        ours = evaluate(
            FolderSource(root / "a"),
            FolderSource(root / "b"),
            extractor=ours_extractor,
            use_cache=False,
            batch_size=4,
        )["fid"]
    assert theirs > 0.05
    assert ours == pytest.approx(float(theirs), rel=1e-4)
