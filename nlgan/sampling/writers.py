"""Stream generated images to disk: an image folder or an ``.npz`` array, never all in memory.

Both writers work under a temporary name and rename on :meth:`close`, so an interrupted export
never leaves something that looks complete; what ``--overwrite`` may replace is decided by
:mod:`nlgan.storage.outputs` (only earlier outputs of ``nlgan sample``, replaced once the new
one is done).
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from nlgan.errors import SamplingError
from nlgan.storage.files import temp_path
from nlgan.storage.outputs import (
    OutputExistsError,
    check_tree_output,
    mark_folder,
    move_into_place,
    npz_mark,
)

SAMPLES = "samples"  # the kind of output these writers mark

__all__ = ["FolderWriter", "NpzWriter", "OutputExistsError"]


class FolderWriter:
    """``root/<class>/<i>.png`` (or ``root/<i>.png`` when unconditional), written atomically."""

    def __init__(self, root: str | Path, conditional: bool, overwrite: bool = False):
        self.root = check_tree_output(root, SAMPLES, overwrite)
        self.conditional = conditional
        self.tmp = temp_path(self.root)
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp.mkdir()
        self.counts: dict[int, int] = {}
        self.total = 0

    def write(self, images: np.ndarray, labels: np.ndarray | None) -> None:
        """Add a batch: ``images [B, H, W, C]`` uint8, ``labels [B]`` (ignored if unconditional)."""
        for i, image in enumerate(images):
            if self.conditional:
                label = int(labels[i])
                directory = self.tmp / str(label)
                index = self.counts.get(label, 0)
                self.counts[label] = index + 1
            else:
                directory, index = self.tmp, self.total
            directory.mkdir(exist_ok=True)
            Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(
                directory / f"{index:06d}.png"
            )
            self.total += 1

    def close(self) -> Path:
        """Mark the finished folder as nlgan's and move it to its final name."""
        mark_folder(self.tmp, SAMPLES, images=self.total)
        return move_into_place(self.tmp, self.root)

    def abort(self) -> None:
        """Remove what was written."""
        shutil.rmtree(self.tmp, ignore_errors=True)


class NpzWriter:
    """An ``.npz`` with ``images`` (uint8 ``[N, H, W, C]``) and ``labels`` (int64 ``[N]``).

    The arrays are streamed into the zip member by member (the ``.npy`` header says the final
    shape up front), so N can exceed memory. ``np.load`` reads the result as usual.
    """

    def __init__(self, path: str | Path, n: int, shape: tuple[int, int, int], overwrite=False):
        self.path = Path(path)
        if self.path.suffix != ".npz":
            raise SamplingError(f"{self.path}: an array export must end in .npz")
        check_tree_output(self.path, SAMPLES, overwrite)
        self.n, self.shape = n, shape
        self.tmp = temp_path(self.path)
        self.zip = zipfile.ZipFile(self.tmp, "w", zipfile.ZIP_STORED, allowZip64=True)
        self.member = self.zip.open("images.npy", "w", force_zip64=True)
        header = {"descr": "|u1", "fortran_order": False, "shape": (n, *shape)}
        np.lib.format.write_array_header_2_0(self.member, header)
        self.labels: list[np.ndarray] = []
        self.written = 0

    def write(self, images: np.ndarray, labels: np.ndarray | None) -> None:
        """Add a batch of ``[B, H, W, C]`` uint8 images (and their labels)."""
        if images.shape[1:] != self.shape or images.dtype != np.uint8:
            raise ValueError(
                f"expected uint8 images of shape [B, {self.shape}], got {images.shape}"
            )
        if self.written + len(images) > self.n:
            raise ValueError(f"more than the announced {self.n} images")
        self.member.write(np.ascontiguousarray(images).tobytes())
        self.labels.append(np.zeros(len(images), np.int64) if labels is None else labels)
        self.written += len(images)

    def close(self) -> Path:
        """Finish the zip and move it to its final name."""
        if self.written != self.n:
            self.abort()
            raise ValueError(f"{self.path}: wrote {self.written} of the announced {self.n} images")
        self.member.close()
        labels = np.concatenate(self.labels).astype(np.int64)
        with self.zip.open("labels.npy", "w", force_zip64=True) as member:
            np.lib.format.write_array(member, labels)
        self.zip.comment = npz_mark(SAMPLES)  # invisible to np.load
        self.zip.close()
        return move_into_place(self.tmp, self.path)

    def abort(self) -> None:
        """Remove what was written."""
        try:
            self.member.close()
            self.zip.close()
        except (ValueError, OSError):
            pass
        self.tmp.unlink(missing_ok=True)
