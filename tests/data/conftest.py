"""Shared fixtures: a real (offline-built) TFDS mnist data_dir and one mnist1d cache per session."""

from __future__ import annotations

import io
import json
import shutil
import types

import numpy as np
import pytest

N_FAKE_TRAIN, N_FAKE_TEST = 300, 100


def fake_image(index: int) -> np.ndarray:
    """A 28x28x1 uint8 image that encodes its own index (pixels 0 and 1) plus a known pattern."""
    img = ((np.arange(28 * 28) * 7 + index * 13) % 256).astype(np.uint8).reshape(28, 28, 1)
    img[0, 0, 0], img[0, 1, 0] = index % 256, index // 256
    return img


def fake_label(index: int) -> int:
    return (index * 3) % 10


@pytest.fixture(scope="session")
def fake_mnist_dir(tmp_path_factory):
    """A data_dir holding a genuine TFDS 'mnist' ArrayRecord dataset, built without TensorFlow.

    The registered MNIST builder is subclassed (outside the registry) to yield PNG bytes made with
    PIL instead of downloading, so reading it goes through the real ``tfds.data_source`` path.
    Train examples have indices 0..N_FAKE_TRAIN-1, test examples 1000.. (see fake_image).
    """
    tfds = pytest.importorskip("tensorflow_datasets")
    from PIL import Image
    from tensorflow_datasets.image_classification import mnist as mnist_module

    def png(a: np.ndarray) -> bytes:
        buf = io.BytesIO()
        Image.fromarray(a[..., 0]).save(buf, format="PNG")
        return buf.getvalue()

    with tfds.core.registered.skip_registration():

        class FakeMnist(mnist_module.MNIST):
            name = "mnist"

            def _split_generators(self, dl_manager):
                return {
                    "train": self._generate_examples(0, N_FAKE_TRAIN),
                    "test": self._generate_examples(1000, N_FAKE_TEST),
                }

            def _generate_examples(self, start, n):
                for i in range(start, start + n):
                    yield i, {"image": png(fake_image(i)), "label": fake_label(i)}

    root = tmp_path_factory.mktemp("tfds_fake")
    FakeMnist(data_dir=str(root), file_format="array_record").download_and_prepare()
    return root


@pytest.fixture(scope="session")
def fake():
    """The fake dataset's generator, for tests that check what was read."""
    return types.SimpleNamespace(
        image=fake_image, label=fake_label, n_train=N_FAKE_TRAIN, n_test=N_FAKE_TEST
    )


@pytest.fixture(scope="session")
def tfrecord_mnist_dir(fake_mnist_dir, tmp_path_factory):
    """A copy of fake_mnist_dir whose metadata says TFRecord (as `tfds build` writes by default)."""
    root = tmp_path_factory.mktemp("tfds_tfrecord")
    shutil.copytree(fake_mnist_dir / "mnist", root / "mnist")
    variant = root / "mnist" / "3.0.1"
    meta = json.loads((variant / "dataset_info.json").read_text())
    meta["fileFormat"] = "tfrecord"
    (variant / "dataset_info.json").write_text(json.dumps(meta))
    for f in variant.glob("*.array_record-*"):
        f.rename(variant / f.name.replace("array_record", "tfrecord"))
    return root


@pytest.fixture(scope="session")
def mnist1d_cache(tmp_path_factory):
    """One mnist1d cache per test session (generation takes ~1 s)."""
    return tmp_path_factory.mktemp("initjax_cache")
