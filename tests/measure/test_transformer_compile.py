"""Transformer depth is a scan: the traced program does not grow from depth 4 to 256.

Measured without timing: the lowered StableHLO of propagate (fused and materialized paths, with
gradient and attention metrics) and of train has the same number of lines at depth 4 and 256
(only constants holding the depth change), and each call traces once.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from initjax import keys
from initjax.measure import engine, prepare
from initjax.measure import train as T
from initjax.models import Transformer, stack_of


def _model(depth: int, **kw) -> Transformer:
    return Transformer(width=8, depth=depth, heads=2, patch=2, seq_len=4, **kw)


@pytest.mark.slow  # the fused path is also checked by the registry-wide contract (depth 3 vs 48)
@pytest.mark.parametrize("path", ["fused", "materialized"])
def test_propagate_program_is_flat_in_depth(path):
    lines = {}
    for depth in (4, 256):
        before = engine.trace_count()
        text = prepare(_model(depth, norm="post"), seeds=2, metrics="q,grad_sq,attn,qkv_grad",
                       batch=3, path=path).lower().as_text()  # fmt: skip
        assert engine.trace_count() == before + 1
        lines[depth] = text.count("\n")
    assert lines[4] == lines[256], lines


def test_train_program_is_flat_in_depth():
    x = np.zeros((16, 8), np.float32)
    y = np.zeros((16,), np.int32)
    data = tuple(jnp.asarray(a) for a in (x, y, x, y))
    kw = dict(optimizer="adam", steps=2, batch_size=4, eval_every=1, eval_size=4)
    looped = T.TrainSpec(**kw, unroll_layers=False)
    auto = T.TrainSpec(**kw)  # unrolls only up to UNROLL_MAX_DEPTH layers, loops beyond
    lines = {}
    for depth, spec in ((4, looped), (T.UNROLL_MAX_DEPTH + 1, auto), (256, auto)):
        st = stack_of(_model(depth, readout=3, norm="pre"))
        lowered = T._train_jit("default").lower(
            st, spec, keys.seed_keys(2), None, jnp.zeros(1), jnp.full((1,), 0.1), data, None
        )
        lines[depth] = lowered.as_text().count("\n")
    assert lines[4] == lines[T.UNROLL_MAX_DEPTH + 1] == lines[256], lines


def test_negative_control_an_unrolled_stack_grows_with_depth():
    # The same line count check fails for a Python loop over the blocks.
    import jax

    def lines(depth):
        st = stack_of(_model(depth))

        def unrolled(z):
            for i in range(depth):
                z = st.layer_apply(st.layer_init(jax.random.key(i), None, 0.0), z)
            return z

        return jax.jit(unrolled).lower(jnp.zeros((1, 4, 8))).as_text().count("\n")

    short, deep = lines(2), lines(4)
    assert deep - short > 200, (short, deep)  # about 270 lines per unrolled block
