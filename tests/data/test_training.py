"""initjax.data.training_data: the one loader of train + test splits for training."""

import numpy as np
import pytest

from initjax import data


def test_training_data_keeps_the_first_examples_with_full_split_statistics():
    x, y, xt, yt = data.training_data("gaussian_mixture")
    x5, y5, xt5, yt5 = data.training_data("gaussian_mixture", n_train=5)
    np.testing.assert_array_equal(x5, x[:5])
    np.testing.assert_array_equal(y5, y[:5])
    np.testing.assert_array_equal(xt5, xt)  # the test split does not depend on n_train
    # standardized with the whole training split's statistics
    np.testing.assert_allclose(x.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(x.std(0), 1, atol=1e-4)
    assert x.dtype == np.float32 and y.dtype == np.int32


def test_training_data_channel_axis_and_flatten():
    x, _, xt, _ = data.training_data("mnist1d", n_train=10, channel_axis=True)
    assert x.shape == (10, 40, 1) and xt.shape[1:] == (40, 1)
    x, *_ = data.training_data("gaussian_mixture", n_train=3, channel_axis=True)
    assert x.shape == (3, 32, 1)


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "10"])
def test_bad_n_train_names_the_argument(bad):
    with pytest.raises(ValueError, match="n_train must be a positive integer or None"):
        data.training_data("gaussian_mixture", n_train=bad)
