"""Datasets for initialization experiments, as numpy arrays.

``load(name, split)`` returns ``(x float32, y int32)``; see :func:`load` for normalization.
TFDS datasets (mnist, fashion_mnist, cifar10) are read offline from a prepared data_dir through
``tfds.data_source`` (ArrayRecord, no TensorFlow needed to read); ``prepare`` /
``initjax data prepare NAME`` downloads them once (needs internet and ``pip install -e '.[tf]'``).
``mnist1d``, ``gaussian_mixture``, ``teacher`` and ``associative_recall`` (token sequences) are
generated locally and always work.

Example::

    from initjax import data
    x, y = data.load("mnist1d", "train")            # (4000, 40) float32, (4000,) int32
    xt, yt = data.load("mnist1d", "test")           # standardized with the train statistics
    x, y, xt, yt = data.training_data("mnist1d", n_train=1000)  # both splits, first 1000 train
    for xb, yb in data.batches(x, y, 128, key):     # one shuffled epoch
        ...
    x1, x2 = data.input_pairs(x, y, 256, key)       # different-class pairs for c^0
"""

from initjax.data import _datasets  # noqa: F401  (registers every dataset)
from initjax.data._load import NORMALIZE, available, load, prepare, status
from initjax.data._registry import SPLITS, DatasetInfo, info, names, register
from initjax.data._tfds import DatasetNotPreparedError, DatasetPrepareError
from initjax.data.batching import batches, input_pairs, pair_indices
from initjax.data.normalize import feature_stats, standardize
from initjax.data.sequence import associative_recall
from initjax.data.synthetic import (
    gaussian_mixture,
    gaussian_mixture_means,
    teacher,
    teacher_logits,
    teacher_params,
)
from initjax.data.training import training_data

__all__ = [
    "NORMALIZE",
    "SPLITS",
    "DatasetInfo",
    "DatasetNotPreparedError",
    "DatasetPrepareError",
    "associative_recall",
    "available",
    "batches",
    "feature_stats",
    "gaussian_mixture",
    "gaussian_mixture_means",
    "info",
    "input_pairs",
    "load",
    "names",
    "pair_indices",
    "prepare",
    "register",
    "standardize",
    "status",
    "teacher",
    "teacher_logits",
    "teacher_params",
    "training_data",
]
