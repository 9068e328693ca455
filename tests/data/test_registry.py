"""The dataset registry and load's argument checks: clear errors naming the argument."""

from __future__ import annotations

import pytest

from initjax import data


def test_names_and_info():
    assert data.names() == [
        "associative_recall",
        "cifar10",
        "fashion_mnist",
        "gaussian_mixture",
        "mnist",
        "mnist1d",
        "teacher",
    ]
    assert data.info("mnist").input_shape == (28, 28, 1)
    assert data.info("Fashion-MNIST").name == "fashion_mnist"  # spelling normalized
    assert data.info("cifar10").sizes == {"train": 50000, "test": 10000}
    assert data.SPLITS == ("train", "test")


def test_unknown_dataset_suggests_closest():
    with pytest.raises(ValueError, match=r"unknown dataset 'mnsit'\. Did you mean 'mnist'"):
        data.load("mnsit")
    with pytest.raises(ValueError, match="Registered datasets: associative_recall, cifar10"):
        data.info("imagenet")
    with pytest.raises(TypeError, match="string"):
        data.info(3)


@pytest.mark.parametrize(
    "kwargs,exc,match",
    [
        ({"split": "validation"}, ValueError, "split must be one of 'train', 'test'"),
        ({"limit": 0}, ValueError, "limit must be a positive integer"),
        ({"limit": -5}, ValueError, "limit"),
        ({"limit": 2.5}, TypeError, "limit"),
        ({"limit": True}, TypeError, "limit"),
        ({"normalize": "minmax"}, ValueError, "normalize must be one of"),
        ({"download": "yes"}, TypeError, "download"),
        ({"download": True}, ValueError, "TFDS datasets only"),
        ({"flatten": 1}, TypeError, "flatten"),
        ({"sepration": 2.0}, ValueError, "sepration.*allowed options: dim"),
        ({"separation": -1.0}, ValueError, "separation"),
        ({"separation": "big"}, TypeError, "separation"),
        ({"n_train": 0}, ValueError, "n_train"),
        ({"dim": 4}, ValueError, "dim >= num_classes"),
        ({"num_classes": 1, "dim": 4}, ValueError, "num_classes"),
        ({"seed": -1}, ValueError, "seed"),
    ],
)
def test_bad_load_arguments(kwargs, exc, match):
    split = kwargs.pop("split", "train")
    with pytest.raises(exc, match=match):
        data.load("gaussian_mixture", split, **kwargs)


def test_bad_options_other_datasets(tmp_path):
    with pytest.raises(ValueError, match="TFDS datasets take no options"):
        data.load("mnist", data_dir=tmp_path, seed=3)
    with pytest.raises(ValueError, match="activation"):
        data.load("teacher", activation="nonexistent_fn")
    with pytest.raises(ValueError, match="depth must be >= 0"):
        data.load("teacher", depth=-1)
    with pytest.raises(ValueError, match="train_split"):
        data.load("mnist1d", cache_dir=tmp_path, train_split=1.5)
    with pytest.raises(TypeError, match="padding"):
        data.load("mnist1d", cache_dir=tmp_path, padding=5)
