"""data.subset: N images of every class, a pure function of the labels and data.subset_seed."""

from __future__ import annotations

import pytest
import torch

from nlgan.config import DataConfig
from nlgan.data import build_dataset
from nlgan.data.subset import ClassSubset, SubsetError, check_subset, subset_indices

from tiny import tiny_model


def test_n_images_of_every_class_the_same_every_time():
    labels = torch.arange(5).repeat_interleave(torch.tensor([7, 9, 5, 12, 6]))
    a = subset_indices(labels, 4, seed=0)
    assert len(a) == 20 and torch.equal(a, a.sort().values)
    assert torch.bincount(labels[a]).tolist() == [4] * 5
    assert torch.equal(a, subset_indices(labels, 4, seed=0))  # any process, any resume
    assert not torch.equal(a, subset_indices(labels, 4, seed=1))
    assert set(subset_indices(labels, 3, seed=0).tolist()) != set(a[:15].tolist())  # drawn
    with pytest.raises(SubsetError, match="data.subset=6: class 2 has only 5 images"):
        subset_indices(labels, 6, seed=0)


def test_a_digits_subset_holds_the_images_of_the_full_set():
    model = tiny_model(num_classes=10, img_channels=1)
    ds = build_dataset(DataConfig(name="digits", subset=18, subset_seed=0), model)
    assert isinstance(ds, ClassSubset) and len(ds) == 180 and ds.num_classes == 10
    assert torch.bincount(ds.labels).tolist() == [18] * 10
    full = build_dataset(DataConfig(name="digits"), model)
    x, y = ds[7]
    fx, fy = full[int(ds.indices[7])]
    assert torch.equal(x, fx) and y == fy
    assert check_subset(full, None) is None
    assert torch.equal(check_subset(ds, ds.indices.clone()), ds.indices)
    with pytest.raises(SubsetError, match="differ from the checkpoint's"):
        check_subset(ds, ds.indices + 1)
    with pytest.raises(SubsetError):
        check_subset(full, ds.indices)  # the run trained on a subset, now it would not
