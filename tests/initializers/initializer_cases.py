"""Shape tables and helpers shared by the initializer tests.

Imported as a top-level module: pytest's default (prepend) import mode puts this directory on
sys.path because tests/initializers has no __init__.py. Test files here have basenames unique in
the project (test_init_*.py) for the same reason.
"""

from __future__ import annotations

from initjax import initializers

# One small shape per kernel kind (initjax.initializers.SHAPE_KINDS). Conv kernels have odd
# spatial sizes and C_in <= C_out, the conditions every conv entry accepts (delta_orthogonal's).
# Every registry-wide test uses these same shapes so XLA compilations are shared between entries
# (compilation, not sampling, dominates the run time); tall/wide/square dense and 1-D/3-D conv
# kernels are covered by the entry-specific tests.
SMALL = {
    "vector": [(7,)],
    "dense": [(16, 32)],
    "conv": [(3, 3, 4, 8)],
    "multi_axis": [(16, 4, 8)],
}
# Several input/output axes (attention query kernel (d_model, heads, head_dim)).
MULTI_AXIS_HPARAMS = {"in_axis": 0, "out_axis": (1, 2)}


def hparams_for(name: str, kind: str) -> dict:
    """Hyper-parameters that make entry ``name`` read a ``kind`` kernel correctly."""
    e = initializers.entry(name)
    if kind == "multi_axis" and {"in_axis", "out_axis"} <= set(e.defaults):
        return dict(MULTI_AXIS_HPARAMS)
    return {}


def cases(name: str, table=None):
    """(kind, shape, hparams) for every kernel kind entry ``name`` supports."""
    table = SMALL if table is None else table
    e = initializers.entry(name)
    out = []
    for kind in e.shapes:
        shapes = table[kind] if isinstance(table[kind], list) else [table[kind]]
        out.extend((kind, s, hparams_for(name, kind)) for s in shapes)
    return out


def representative(name: str) -> tuple[tuple[int, ...], dict]:
    """One shape (and hparams) the entry supports: dense if it can, else conv, else a vector."""
    e = initializers.entry(name)
    for kind, shape in (("dense", (16, 32)), ("conv", (3, 3, 4, 8)), ("vector", (7,))):
        if kind in e.shapes:
            return shape, hparams_for(name, kind)
    raise AssertionError(f"{name} supports none of dense, conv, vector: {e.shapes}")
