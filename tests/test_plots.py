"""initjax.plots helpers with values computed by hand."""

import numpy as np
import pytest

from initjax.plots import cell_edges


def test_cell_edges_are_midpoints_with_mirrored_ends():
    # uneven spacing: 1.0, 1.5, 2.5 -> midpoints 1.25, 2.0; ends 1 - 0.25 and 2.5 + 0.5
    np.testing.assert_allclose(cell_edges([1.0, 1.5, 2.5]), [0.75, 1.25, 2.0, 3.0])
    # every center lies inside its own cell
    e = cell_edges([10, 30, 50, 70])
    assert np.all((e[:-1] < [10, 30, 50, 70]) & ([10, 30, 50, 70] < e[1:]))


def test_cell_edges_of_a_single_center_span_one_unit():
    assert cell_edges([4.0]) == pytest.approx([3.5, 4.5])
