"""Damaging checkpoints the way a disk does: bytes flipped inside a tensor, the zip still whole."""

from __future__ import annotations

import zipfile

import numpy as np


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
