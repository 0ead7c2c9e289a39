"""The training data set a config names: ``build_dataset(cfg.data, cfg.model)``.

``build_dataset(cfg.data, cfg.model)`` returns a torch ``Dataset`` whose items are
``(x, y)``: ``x`` float32 ``[C, R, R]`` in [-1, 1] with ``R = model.resolution`` and
``C = model.img_channels`` (RGB and grayscale are converted as needed), ``y`` an int64 scalar.
``ds.num_classes`` is the number of classes of the data (0 for a flat folder). An
unconditional model (``model.num_classes=0``) may train on labelled data; it ignores ``y``.

The data sets themselves: :mod:`~nlgan.data.folders` (image folders),
:mod:`~nlgan.data.builtin` (CIFAR, digits, pairs), :mod:`~nlgan.data.prepared` (``nlgan prepare``'s
``.npy``); :mod:`~nlgan.data.subset` takes ``data.subset`` images of every class.
"""

from __future__ import annotations

from torch.utils.data import Dataset

from nlgan.config import DataConfig, ModelConfig
from nlgan.data.builtin import CIFAR_SETS, build_cifar, build_digits, build_pairs
from nlgan.data.folders import ImageFolder, build_image_folder
from nlgan.data.prepared import NpyImages
from nlgan.data.subset import take_subset
from nlgan.data.tensors import DataError, TensorImages


def build_dataset(data: DataConfig, model: ModelConfig) -> Dataset:
    """The training data set named by ``data.name`` (``data.subset`` of it), at ``model``'s
    resolution and channels."""
    return take_subset(_build_full(data, model), data.subset, data.subset_seed)


def _build_full(data: DataConfig, model: ModelConfig) -> TensorImages | ImageFolder:
    if data.name == "digits":
        return build_digits(model, data.hflip)
    if data.name == "pairs":
        return build_pairs(model, data.size, data.seed, data.hflip)
    if data.name == "folder":
        return build_image_folder(data.root, model, data.hflip)
    if data.name == "npy":
        dataset = NpyImages(data.root, model, data.hflip)
        if model.num_classes > 0 and dataset.num_classes != model.num_classes:
            raise DataError(
                f"data.root={data.root!r} has {dataset.num_classes} classes but "
                f"model.num_classes={model.num_classes} (set model.num_classes="
                f"{dataset.num_classes})"
            )
        return dataset
    if data.name in CIFAR_SETS:
        return build_cifar(data.name, data.root, model, data.download, data.hflip)
    if data.name == "none":
        raise DataError(
            "data.name=none: this run's weights were imported and it names no training data; "
            "give it with --set data.name=folder --set data.root=PATH (or cifar10 / cifar100)"
        )
    raise DataError(
        f"data.name={data.name!r}: choose one of digits, pairs, folder, npy, cifar10, cifar100"
    )
