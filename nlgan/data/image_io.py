"""Reading image files for training and metrics: any bit depth, damaged files, decompression bombs.

:func:`open_image` returns an 8-bit ``L`` or ``RGB`` PIL image, fully decoded, with high bit
depths *scaled* rather than saturated (``Image.convert`` clips 16- and 32-bit values to 255):

- 16-bit grey (PNG / TIFF, modes ``I;16*``): value / 65535;
- 32-bit integer (mode ``I``): by the file's declared sample format: value / 65535 for 16-bit
  data stored as ``I``, value / (2^31 - 1) for signed and / (2^32 - 1) for unsigned 32-bit
  TIFFs (negative values clip to 0);
- floating point (mode ``F``, e.g. 32-bit float TIFF): taken as [0, 1] and clipped;
- everything else (palette, RGBA, CMYK, 16-bit RGB, which Pillow reads as 8-bit RGB, ...):
  ``Image.convert``.

Every failure is an :class:`ImageReadError` with a one-line reason: a file that does not decode
(a valid header with a garbled body fails here, since the whole image is decoded), or a
decompression bomb (more pixels than ``PIL.Image.MAX_IMAGE_PIXELS``, which is also PIL's
threshold for its warning).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from nlgan.errors import NlganError, first_line

_SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I;16N")
_TIFF_BITS, _TIFF_FORMAT = 258, 339  # BitsPerSample, SampleFormat (1 unsigned, 2 signed)


class ImageReadError(NlganError, OSError):
    """An image file cannot be used: it does not decode, or it is a decompression bomb."""


def _scale(img: Image.Image) -> np.ndarray | None:
    """High-bit-depth grey as float32 in [0, 1]; None for the modes ``convert`` handles."""
    if img.mode in _SIXTEEN_BIT:
        return np.asarray(img, dtype=np.float32) / 65535.0
    if img.mode == "I":
        values = np.asarray(img, dtype=np.float64)
        tags = getattr(img, "tag_v2", {}) or {}
        bits = tags.get(_TIFF_BITS, (16,))
        bits = bits[0] if isinstance(bits, tuple) else bits
        if bits <= 16:
            top = 65535.0
        else:
            signed = tags.get(_TIFF_FORMAT, (1,))
            signed = (signed[0] if isinstance(signed, tuple) else signed) == 2
            top = 2.0**31 - 1 if signed else 2.0**32 - 1
        return (values / top).clip(0.0, 1.0).astype(np.float32)
    if img.mode == "F":
        return np.nan_to_num(np.asarray(img, dtype=np.float32), nan=0.0).clip(0.0, 1.0)
    return None


def open_image(path: str | Path, mode: str = "RGB") -> Image.Image:
    """The whole image at ``path`` as an 8-bit ``mode`` ("RGB" or "L") PIL image."""
    path = Path(path)
    try:
        with warnings.catch_warnings():
            # PIL only warns between MAX_IMAGE_PIXELS and twice that: refuse those too.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                img.load()  # decode every byte now, not at the first batch that draws it
                unit = _scale(img)
                if unit is None:
                    return img.convert(mode)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise ImageReadError(
            f"{path}: skipped as a possible decompression bomb ({str(err).split('.')[0]}); "
            "shrink it, or raise PIL.Image.MAX_IMAGE_PIXELS if you trust it"
        ) from None
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError, EOFError) as err:
        reason = first_line(err)
        raise ImageReadError(f"{path}: not a readable image ({reason})") from None
    grey = Image.fromarray((unit * 255.0).round().astype(np.uint8), mode="L")
    return grey if mode == "L" else grey.convert(mode)
