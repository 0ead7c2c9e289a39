"""Training data: every place images are read, checked, prepared and served to the trainer.

- :mod:`~nlgan.data.build`: ``build_dataset(cfg.data, cfg.model)``, the data set a config names;
- :mod:`~nlgan.data.folders`: labelled image folders;
- :mod:`~nlgan.data.builtin`: CIFAR-10/100 and the offline digits;
- :mod:`~nlgan.data.prepared`: ``nlgan prepare``'s memory-mapped uint8 ``.npy`` data sets;
- :mod:`~nlgan.data.subset`: ``data.subset`` images of every class;
- :mod:`~nlgan.data.image_io` / :mod:`~nlgan.data.image_checks`: reading image files (any bit
  depth, damaged files, decompression bombs) and remembering which files decode;
- :mod:`~nlgan.data.tensors`: in-memory images and the conversion to the model's range.

Items are ``(x, y)``: ``x`` float32 ``[C, R, R]`` in [-1, 1], ``y`` an int64 label.
"""

from nlgan.data.build import build_dataset
from nlgan.data.builtin import build_cifar, build_digits, digits_images
from nlgan.data.folders import ImageFolder, build_image_folder
from nlgan.data.tensors import DataError, TensorImages

__all__ = [
    "DataError",
    "ImageFolder",
    "TensorImages",
    "build_cifar",
    "build_dataset",
    "build_digits",
    "build_image_folder",
    "digits_images",
]
