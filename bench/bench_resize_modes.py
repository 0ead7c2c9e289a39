"""How much the resize mode moves FID: the same two image sets scored in every --resize mode.

    python bench/bench_resize_modes.py                     # photos bundled with scikit-learn
    python bench/bench_resize_modes.py GEN/ REAL/ --inception-weights WEIGHTS.pth   # your own sets

Without folders it builds a reproducible real-image set from the two photos scikit-learn ships
(``sklearn.datasets.load_sample_images``: china.jpg and flower.jpg, 427 x 640): ``--n`` random
96 x 96 crops of each photo, shrunk to 32 x 32 (PIL box filter), then split in halves — A is
half of the china crops plus half of the flower crops, B the other halves, so A and B come from
one distribution and FID(A, B) is the small-FID regime where resize artefacts matter most. Uses
the real Inception weights when found offline, else random He-scaled weights (then the FID
values only show that the modes differ, not by how much a real network would).
"""

from __future__ import annotations

import argparse
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from nlgan.metrics import FolderSource, evaluate, load_inception
from nlgan.metrics.inception import random_state_dict
from nlgan.metrics.protocol import RESIZE_MODES
from nlgan.metrics.resize import resize_images
from nlgan.metrics.weights import InceptionWeightsError, resolve_inception_weights


def sample_photo_sets(root: Path, n: int, seed: int = 0) -> tuple[Path, Path]:
    """Two folders of 32x32 crops of scikit-learn's sample photos, from one distribution."""
    from sklearn.datasets import load_sample_images

    rng = np.random.default_rng(seed)
    crops = []
    for photo in load_sample_images().images:  # [427, 640, 3] uint8 each
        for _ in range(n):
            top, left = rng.integers(0, photo.shape[0] - 96), rng.integers(0, photo.shape[1] - 96)
            crop = Image.fromarray(photo[top : top + 96, left : left + 96])
            crops.append(crop.resize((32, 32), Image.BOX))
    order = rng.permutation(len(crops))
    folders = (root / "A", root / "B")
    for side, folder in enumerate(folders):
        folder.mkdir(parents=True)
        for i, index in enumerate(order[side::2]):
            crops[index].save(folder / f"{i:04d}.png")
    return folders


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", nargs="?", help="first image folder (default: sample photo crops)")
    parser.add_argument("b", nargs="?", help="second image folder")
    parser.add_argument("--n", type=int, default=200, help="crops per photo (no folders given)")
    parser.add_argument("--inception-weights", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        try:
            weights = resolve_inception_weights(args.inception_weights, download=False)
            print(f"weights: {weights}")
        except InceptionWeightsError:
            weights = tmp / "random-inception.pth"
            torch.save(random_state_dict(), weights)
            print("weights: RANDOM He-scaled (real weights not found offline): FID values are")
            print("         not those of the real network; only the differences between modes are")
        a, b = (Path(args.a), Path(args.b)) if args.a else sample_photo_sets(tmp / "photos", args.n)
        source_a, source_b = FolderSource(a), FolderSource(b)
        print(f"A: {a} ({len(source_a)} images)   B: {b} ({len(source_b)} images)")
        first = next(source_a.batches(0, min(len(source_a), 64), 64))
        inputs = {mode: resize_images(first, 299, mode) for mode in RESIZE_MODES}
        fids = {}
        for mode in RESIZE_MODES:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # few samples: the bias warning
                scores = evaluate(
                    source_a, source_b, "fid", extractor=load_inception(weights, resize=mode),
                    use_cache=False, batch_size=50,
                )  # fmt: skip
            fids[mode] = scores["fid"]
            pixels = (inputs[mode] - inputs["legacy_tensorflow"]).abs().mean()
            change = 100 * (fids[mode] / fids["legacy_tensorflow"] - 1)
            print(
                f"  {mode:18s} FID {fids[mode]:10.4f}  ({change:+6.2f}% vs legacy_tensorflow)  "
                f"299x299 input differs by {pixels:.2f} / 255 on average"
            )


if __name__ == "__main__":
    main()
