"""Data subsets for small-data experiments: ``data.subset`` images of every class.

The subset is a pure function of the data set's labels and ``data.subset_seed``: the same images
come back on every process and after every resume without anything being saved (the trainer
still stores the indices in each checkpoint and refuses to resume when they differ, e.g. after
a data folder changed). ``subset_seed`` is separate from ``train.seed`` so that runs with
different training seeds see the same images.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.utils.data import Dataset

from nlgan.errors import NlganError


class SubsetError(NlganError, ValueError):
    """``data.subset`` asks for more images of a class than the data set has."""


def subset_indices(labels: Tensor, per_class: int, seed: int) -> Tensor:
    """Sorted indices of ``per_class`` images of every label value, drawn with ``seed``."""
    gen = torch.Generator().manual_seed(seed)
    chosen = []
    for k in torch.unique(labels).tolist():  # ascending, so the draw order is fixed
        members = (labels == k).nonzero().flatten()
        if len(members) < per_class:
            raise SubsetError(
                f"data.subset={per_class}: class {k} has only {len(members)} images "
                f"(lower data.subset, or 0 for all images)"
            )
        chosen.append(members[torch.randperm(len(members), generator=gen)[:per_class]])
    return torch.cat(chosen).sort().values


class ClassSubset(Dataset):
    """A data set restricted to ``indices`` (keeps ``labels`` and ``num_classes``)."""

    def __init__(self, dataset: Dataset, indices: Tensor):
        self.dataset = dataset
        self.indices = indices
        self.labels = dataset.labels[indices]
        self.num_classes = dataset.num_classes

    def __len__(self) -> int:
        return len(self.indices)

    @property
    def skipped(self) -> int:
        """Undecodable files the underlying folder replaced at draw time (the trainer logs it)."""
        return getattr(self.dataset, "skipped", 0)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        return self.dataset[int(self.indices[index])]


def take_subset(dataset: Dataset, per_class: int, seed: int) -> Dataset:
    """``per_class`` images of every class of ``dataset`` (a flat folder is one class); 0 = all."""
    if per_class == 0:
        return dataset
    return ClassSubset(dataset, subset_indices(dataset.labels, per_class, seed))


def check_subset(dataset: Dataset, saved: Tensor | None) -> Tensor | None:
    """The subset's indices (None: whole data set); refuses a resume whose subset changed."""
    current = dataset.indices if isinstance(dataset, ClassSubset) else None
    if saved is not None and (current is None or not torch.equal(current, saved)):
        raise SubsetError(
            "data.subset: the images drawn now differ from the checkpoint's (did the data "
            "folder change?); restore the data or start a new run"
        )
    return current
