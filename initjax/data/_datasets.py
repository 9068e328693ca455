"""Registry entries for every dataset initjax knows."""

from __future__ import annotations

import inspect

from initjax.data import _mnist1d, sequence, synthetic
from initjax.data._registry import DatasetInfo, register

_TFDS = [
    DatasetInfo(
        name="mnist",
        kind="tfds",
        description="handwritten digits, 28x28 grey",
        input_shape=(28, 28, 1),
        num_classes=10,
        sizes={"train": 60000, "test": 10000},
        image=True,
        reference="LeCun, Bottou, Bengio, Haffner 1998 (TFDS 'mnist')",
        source_url="https://storage.googleapis.com/cvdf-datasets/mnist/",
    ),
    DatasetInfo(
        name="fashion_mnist",
        kind="tfds",
        description="clothing items, 28x28 grey",
        input_shape=(28, 28, 1),
        num_classes=10,
        sizes={"train": 60000, "test": 10000},
        image=True,
        reference="Xiao, Rasul, Vollgraf 2017, arXiv:1708.07747 (TFDS 'fashion_mnist')",
        source_url="http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    ),
    DatasetInfo(
        name="cifar10",
        kind="tfds",
        description="natural images, 32x32 RGB",
        input_shape=(32, 32, 3),
        num_classes=10,
        sizes={"train": 50000, "test": 10000},
        image=True,
        reference="Krizhevsky 2009, 'Learning multiple layers of features from tiny images' "
        "(TFDS 'cifar10')",
        source_url="https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
    ),
]


def _defaults(fn) -> dict:
    return {
        k: p.default
        for k, p in inspect.signature(fn).parameters.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    }


def _mnist1d_loader(split, cache_dir=None, **options):
    return _mnist1d.load_split(split, options, cache_dir)


def _synthetic_loader(fn):
    def loader(split, cache_dir=None, **options):
        del cache_dir  # cheap to regenerate; never cached
        return fn(split, **options)

    return loader


_GAUSS = _defaults(synthetic.gaussian_mixture)
_TEACHER = _defaults(synthetic.teacher)
_RECALL = _defaults(sequence.associative_recall)

_GENERATED = [
    DatasetInfo(
        name="mnist1d",
        kind="generated",
        description="1-D digit templates, shifted/scaled/sheared/noised (mnist1d package)",
        input_shape=(40,),
        num_classes=10,
        sizes={"train": 4000, "test": 1000},
        options=dict(_mnist1d.OPTIONS),
        reference="Greydanus & Steinbach 2024, 'Scaling down deep learning with MNIST-1D', "
        "ICML (arXiv:2011.14439)",
        loader=_mnist1d_loader,
    ),
    DatasetInfo(
        name="gaussian_mixture",
        kind="generated",
        description="k isotropic Gaussians, orthonormal means times `separation`",
        input_shape=(_GAUSS["dim"],),
        num_classes=_GAUSS["num_classes"],
        sizes={"train": _GAUSS["n_train"], "test": _GAUSS["n_test"]},
        options=_GAUSS,
        reference="synthetic (initjax.data.synthetic.gaussian_mixture)",
        loader=_synthetic_loader(synthetic.gaussian_mixture),
    ),
    DatasetInfo(
        name="teacher",
        kind="generated",
        description="Gaussian inputs labelled by argmax of a random MLP teacher",
        input_shape=(_TEACHER["dim"],),
        num_classes=_TEACHER["num_classes"],
        sizes={"train": _TEACHER["n_train"], "test": _TEACHER["n_test"]},
        options=_TEACHER,
        reference="synthetic teacher-student (initjax.data.synthetic.teacher)",
        loader=_synthetic_loader(synthetic.teacher),
    ),
    DatasetInfo(
        name="associative_recall",
        kind="generated",
        description="key-value pairs then a query key; label = its value (needs attention)",
        input_shape=(2 * _RECALL["n_pairs"] + 1,),
        num_classes=_RECALL["n_values"],
        sizes={"train": _RECALL["n_train"], "test": _RECALL["n_test"]},
        options=_RECALL,
        tokens=True,
        reference="Ba et al. 2016, 'Using Fast Weights to Attend to the Recent Past', §4.1 "
        "(initjax.data.sequence.associative_recall)",
        loader=_synthetic_loader(sequence.associative_recall),
    ),
]

for _entry in (*_TFDS, *_GENERATED):
    register(_entry)
