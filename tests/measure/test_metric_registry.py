"""Registry-wide contract: every metric in ``metrics.names()`` is tested here without editing
this file; plus the registration API (a user's metric end to end, and its errors).

Whether a metric runs on every registered model family, or is refused with the reason a family
or the metric declares, is checked in tests/models/test_model_registry.py.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from initjax import keys, models
from initjax.measure import metrics, prepare, propagate
from initjax.models import MLP, init_params, stack_of
from tests import example_runs

NAMES = metrics.names()
# A normal network (tanh near criticality, shallow) for the registration tests below.
NET = MLP(width=8, depth=4, activation="tanh", sigma_w2=1.5, sigma_b2=0.1, readout=3)
# The contract tests read the example networks measured with every metric they support
# (tests/example_runs.py): normal, shallow networks on which every built-in metric is finite.
# Metrics the MLP does not support (token sequences, attention) run on the Transformer.
FAMILIES = ("mlp", "transformer")


def _net_for(name: str) -> str:
    for key in FAMILIES:
        if metrics.support(name, stack_of(models.example(key))) is None:
            return key
    raise AssertionError(f"no test network supports metric {name!r}")  # pragma: no cover


def _all(key="mlp", seeds=(0, 1)):
    return example_runs.measured(key, seeds=seeds)


def test_builtins_in_table_order():
    assert NAMES[:7] == [
        "q",
        "c",
        "grad_sq",
        "act_std",
        "act_saturation",
        "unit_symmetry",
        "jac_sv",
    ]
    assert metrics.get("unit_symmetry").columns == ("unit_dist", "act_rank")
    # Former constants are read from the registry.
    assert metrics.METRICS == tuple(NAMES)
    assert "jac_sv" not in metrics.PER_LAYER and "q" in metrics.PER_LAYER
    assert metrics.COLUMNS["unit_symmetry"] == ("unit_dist", "act_rank")


@pytest.mark.parametrize("name", NAMES)
def test_metadata(name):
    m = metrics.get(name)
    assert m.name == name and m.columns and m.description
    assert m.nonfinite_policy in metrics.NONFINITE_POLICIES
    assert m.engine_pass in ("forward", "backward", "jacobian")
    assert (m.engine_pass == "jacobian") == (not m.per_layer)


@pytest.mark.parametrize("name", NAMES)
def test_shape_dtype_and_finite_on_a_normal_network(name):
    key = _net_for(name)
    r = _all(key)
    net = models.example(key)
    m = metrics.get(name)
    for c in m.columns:
        a = r.arrays[c]
        # float32, or float64 from a host-side finish step (jac_sv: values spanning more than
        # float32's range).
        assert a.dtype == (np.float64 if m.finish is not None else np.float32), (name, c)
        if m.per_layer:
            assert a.shape == (example_runs.SEEDS, net.depth + 1), (name, c)
        else:
            assert a.ndim == 2 and a.shape[0] == example_runs.SEEDS, (name, c)
        if m.nonfinite_policy == "hidden_only":  # undefined at the input projection
            assert np.all(np.isnan(a[:, 0])) and np.all(np.isfinite(a[:, 1:])), (name, c)
        else:
            assert np.all(np.isfinite(a)), (name, c)
    assert not r.diverged.any() and not r.arrays["nonfinite"].any()


@pytest.mark.parametrize("name", NAMES)
def test_vmaps_over_seeds(name):
    # Seed 1 measured first beside another neighbour (seeds 1, 3) equals seed 1 measured second
    # in the batch (0, 1): vmap over seeds keeps each network's arithmetic independent of its
    # slot and of the other networks (a statistic pooled over the seed axis would differ). The
    # same batch size reuses one compiled program; rtol as for float32 sums in another order.
    key = _net_for(name)
    other = _all(key, (1, 3))
    for c in metrics.get(name).columns:
        np.testing.assert_allclose(
            other.arrays[c][0], _all(key).arrays[c][1], rtol=2e-5, atol=1e-6, equal_nan=True
        )


# --- registering a metric ---------------------------------------------------------------------


@pytest.fixture
def scratch():
    """Names registered inside a test are removed afterwards."""
    added = []
    yield added
    for n in added:
        metrics.unregister(n)


def test_user_metrics_in_every_pass(scratch):
    metrics.register("z_absmax", lambda ctx: jnp.max(jnp.abs(ctx.z)), log_scale=True)
    metrics.register(
        "bias_sq",
        lambda ctx: {"bias_sq": jnp.sum(jnp.square(jax.tree.leaves(ctx.params)[0]))},
        needs=("params",),
    )
    metrics.register("grad_max", lambda ctx: jnp.max(jnp.abs(ctx.g)), needs=("grad",))
    metrics.register(
        "jac_fro",
        lambda ctx: jnp.sqrt(jnp.sum(ctx.jacobian**2))[None],
        per_layer=False,
        needs=("jacobian",),
    )
    scratch.extend(["z_absmax", "bias_sq", "grad_max", "jac_fro"])
    assert metrics.names()[-4:] == scratch
    x = np.random.default_rng(2).standard_normal((4, 5), np.float32)
    r = propagate(NET, x, seeds=2, metrics="q,grad_sq,jac_sv,z_absmax,bias_sq,grad_max,jac_fro")
    assert r.columns == ["q", "grad_sq", "z_absmax", "bias_sq", "grad_max"]
    df = r.to_frame()
    assert {"z_absmax", "bias_sq", "grad_max"} <= set(df.columns)
    # Independent values from the materialized params of seed 1.
    p = init_params(NET, keys.seed_keys(2)[1], x)["params"]
    z0 = x @ p["input"]["kernel"] + p["input"]["bias"]
    np.testing.assert_allclose(r.arrays["z_absmax"][1, 0], np.abs(z0).max(), rtol=1e-6)
    # params' first leaf is the bias (sorted keys): input bias at layer 0, hidden biases after.
    np.testing.assert_allclose(
        r.arrays["bias_sq"][1, 0], np.sum(p["input"]["bias"] ** 2), rtol=1e-5
    )
    np.testing.assert_allclose(
        r.arrays["bias_sq"][1, 1:], np.sum(np.asarray(p["hidden"]["bias"]) ** 2, axis=1), rtol=1e-5
    )
    # |g|_max^2 <= batch-mean |g|^2 * batch, and the Frobenius norm is the sv's 2-norm.
    assert np.all(r.arrays["grad_max"] ** 2 <= r.arrays["grad_sq"] * 4 * (1 + 1e-5))
    np.testing.assert_allclose(
        r.arrays["jac_fro"][:, 0], np.linalg.norm(r.arrays["jac_sv"], axis=1), rtol=1e-5
    )


def test_supports_and_check_are_asked_before_compiling(scratch):
    def check(info):
        if info.batch < 4:
            raise ValueError("needs_relu: batch >= 4")

    metrics.register(
        "needs_relu",
        lambda ctx: jnp.mean(ctx.z),
        supports=lambda st: None if st.activation.name == "relu" else "relu networks only",
        check=check,
    )
    scratch.append("needs_relu")
    with pytest.raises(ValueError, match="metric 'needs_relu': relu networks only"):
        prepare(NET, metrics="needs_relu")
    relu = MLP(width=4, depth=2, activation="relu")
    with pytest.raises(ValueError, match="batch >= 4"):
        prepare(relu, metrics="needs_relu", batch=2)
    prepare(relu, metrics="needs_relu", batch=4)


@pytest.mark.parametrize(
    "kw,err,match",
    [
        ({"needs": ("zz",)}, ValueError, "needs"),
        ({"needs": ("grad", "z")}, ValueError, "grad"),
        ({"per_layer": False}, ValueError, "whole-network"),
        ({"needs": ("jacobian",)}, ValueError, "whole-network"),
        ({"nonfinite_policy": "skip"}, ValueError, "nonfinite_policy"),
        ({"columns": ("seed",)}, ValueError, "reserved"),
        ({"columns": ("underflow",)}, ValueError, "reserved"),
        ({"columns": ("act_rank",)}, ValueError, "belongs to metric 'unit_symmetry'"),
        ({"columns": ("a", "a")}, ValueError, "distinct"),
    ],
)
def test_registration_errors(kw, err, match):
    with pytest.raises(err, match=match):
        metrics.register("bad_metric", lambda ctx: ctx.z.sum(), **kw)
    assert "bad_metric" not in metrics.names()


def test_duplicate_name_and_bad_results(scratch):
    with pytest.raises(ValueError, match="metric 'q' is already registered"):
        metrics.register("q", lambda ctx: ctx.z.sum())
    with pytest.raises(TypeError, match="callable"):
        metrics.register("not_fn", 3)
    metrics.register("two_cols", lambda ctx: {"a1": ctx.z.sum()}, columns=("a1", "a2"))
    metrics.register("vector", lambda ctx: ctx.z[0])
    scratch.extend(["two_cols", "vector"])
    with pytest.raises(TypeError, match=r"metric 'two_cols' returned columns \['a1'\]"):
        propagate(NET, seeds=1, metrics="two_cols")
    with pytest.raises(TypeError, match="metric 'vector' .* must return a scalar"):
        propagate(NET, seeds=1, metrics="vector")
    with pytest.raises(ValueError, match=r"metrics: unknown metric 'qq'\. Did you mean 'q'"):
        prepare(NET, metrics="qq")
