"""Hand-derived fan table (DESIGN.md "Layouts")."""

import numpy as np
import pytest

from initjax import initializers
from initjax.initializers import fans

CASES = [
    # shape, kwargs, (fan_in, fan_out), why
    ((784, 256), {}, (784, 256), "dense (in, out)"),
    ((3, 3, 16, 32), {}, (144, 288), "HWIO conv: rf = 9"),
    ((3, 3, 16, 32), {"layout": "HWIO"}, (144, 288), "explicit HWIO"),
    ((32, 16, 3, 3), {"layout": "OIHW"}, (144, 288), "PyTorch OIHW: same fans as HWIO"),
    ((5, 16, 32), {}, (80, 160), "1-D conv (W, I, O): rf = 5"),
    ((3, 3, 4, 32), {"groups": 4}, (36, 72), "grouped: in axis holds C_in/groups=4; C_out/g = 8"),
    ((3, 3, 1, 32), {"groups": 32}, (9, 9), "depthwise: 1 in, 1 out per group"),
    ((512, 8, 64), {"in_axis": 0, "out_axis": (1, 2)}, (512, 512), "attention q kernel"),
    ((8, 64, 512), {"in_axis": (0, 1), "out_axis": 2}, (512, 512), "attention out kernel"),
    ((10, 128, 64), {"batch_axis": 0}, (128, 64), "stacked layers: batch axis in neither fan"),
    ((10, 3, 3, 16, 32), {"batch_axis": 0}, (144, 288), "stacked conv kernels"),
    ((4, 6), {"in_axis": 1, "out_axis": 0}, (6, 4), "torch Linear (out, in)"),
    ((3, 3, 32, 16), {"in_axis": -1, "out_axis": -2}, (144, 288), "transposed conv: layer's axes"),
    ((8, 64, 512), {"layout": "dense_general", "in_axis": (0, 1), "out_axis": 2}, (512, 512),
     "dense_general layout with explicit axes"),
    ((3, 3, 16, 32), {"in_axis": np.int64(-2), "out_axis": np.int64(-1)}, (144, 288),
     "numpy integer axes"),
    ((np.int64(5), np.int32(7)), {}, (5, 7), "numpy integer dims"),
    ((1, 1), {}, (1, 1), "1x1"),
    ((0, 5), {}, (0, 5), "zero-size: fans may be 0 (initializers return empty arrays)"),
]  # fmt: skip


@pytest.mark.parametrize("shape,kwargs,expected,why", CASES, ids=[c[3] for c in CASES])
def test_fans_table(shape, kwargs, expected, why):
    assert fans(shape, **kwargs) == expected, why


@pytest.mark.parametrize(
    "shape,kwargs,err,match",
    [
        ((5,), {}, ValueError, "rank 1"),
        ((), {}, ValueError, "rank 0"),
        ((4, 4), {"in_axis": 0, "out_axis": 0}, ValueError, "overlap"),
        ((4, 4), {"in_axis": 3}, ValueError, "in_axis"),
        ((4, 4), {"layout": "NCHW"}, ValueError, "layout"),
        ((3, 3, 4, 30), {"groups": 4}, ValueError, "groups"),
        ((4.0, 4), {}, TypeError, "integers"),
        ((4, -1), {}, ValueError, "non-negative"),
        ((4, 4), {"in_axis": ()}, ValueError, "in_axis must name at least one axis"),
        ((4, 4), {"in_axis": "a"}, TypeError, "in_axis must be an int"),
        ((4, 4), {"groups": 0}, ValueError, "groups must be a positive integer"),
    ],
)
def test_fans_bad_input(shape, kwargs, err, match):
    with pytest.raises(err, match=match):
        fans(shape, **kwargs)


def test_entries_accept_tuple_axes():
    # Several in/out axes through the registry (DenseGeneral / attention kernels).
    init = initializers.get("he_normal", in_axis=(0, 1), out_axis=2)
    assert init.entry.fans_for((8, 64, 512), **init.hparams) == (512, 512)
    assert init.promised_variance_for((8, 64, 512)) == 2.0 / 512
