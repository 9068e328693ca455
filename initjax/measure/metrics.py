"""Metrics of signal propagation, in one registry: a metric is a function plus :func:`register`.

A **per-layer** metric is a pure function of a :class:`LayerContext` (one seed, one layer, inside
``jit``/``vmap``/``scan``) returning a float32 scalar, or a dict of scalars for several columns.
It runs in the engine's forward scan (``needs`` "z" / "params" / "input": the pre-activations
z^l, the layer's params, the layer's input z^{l-1}) or in its backward scan (``needs`` "grad" /
"param_grad": g^l = d loss / d z^l, d loss / d params of the layer). A
**whole-network** metric (``per_layer=False``, ``needs=("jacobian",)``) is a function of a
:class:`NetworkContext` holding the input-output Jacobian at one input, returning a 1-D array.
:func:`initjax.measure.propagate` computes exactly the passes the requested metrics need; it has
no list of metric names of its own.

Shapes: ``z`` and ``g`` are ``(B, *feature_shape)``, the batch of one layer. Non-finite inputs
give non-finite outputs (never an exception).

Built-in metrics (Poole et al. 2016, arXiv:1606.05340, eqs. 3-5; Glorot & Bengio 2010, §4.2;
Schoenholz et al. 2017, arXiv:1611.01232; Pennington et al. 2017, arXiv:1711.04735):

- ``q``: q^l = mean over examples and units of (z^l)^2.
- ``c``: mean over pairs a < b of q_ab / sqrt(q_aa q_bb), q_ab = mean_i z_ia z_ib (uncentred, as
  Poole et al.); undefined (NaN) where the layer underflowed (see below).
- ``grad_sq``: mean over the batch of |d loss / d z^l|^2 (backward q~^l).
- ``act_std``: standard deviation of phi(z^l) over examples and units.
- ``act_saturation``: fraction of saturated units, per ``Activation.saturation``: "abs_gt_0.9"
  counts |phi(z)| > 0.9 (tanh, erf, hard_tanh, softsign: bound 1), "zero" counts z <= 0
  (rectifiers: a zero or leaky slope).
- ``unit_symmetry`` (columns ``unit_dist``, ``act_rank``): smallest Euclidean distance between two
  units' incoming weight vectors; numerical rank of the (rows, units) activation matrix, with
  numpy's tolerance max(rows, units) * eps(float32) * largest singular value.
- ``distinct_units`` (columns ``distinct_units``, ``unit_rel_dist_min``, ``unit_rel_dist_max``):
  number of distinct units of the layer (incoming vectors (weights, bias) closer than
  ``units.DEFAULT_REL_TOL`` = 1e-4 x their RMS norm count once, single linkage) and the smallest /
  largest distance between two units in RMS norms (:mod:`initjax.measure.units`).
- ``weight_rank``: numerical rank of the layer's ``(fan_in, units)`` kernel, numpy's tolerance
  max(fan_in, units) * eps(float32) * largest singular value (0 for an all-zero kernel).
- ``jac_sv``: singular values of d phi(z^depth) / d x at one input, descending.
- ``z_moments`` (columns ``z_mean``, ``z_var``): mean and centred variance of all entries of z^l
  (examples, units, positions), so q^l = z_var + z_mean^2: ``z_var`` is the quantity LSUV
  (Mishkin & Matas 2016) sets to 1.

Non-finite values and float32 limits (``nonfinite_policy``; :func:`flags`). Per (seed, layer):
``underflow`` = q^l < ``np.finfo(np.float32).tiny`` (1.18e-38; includes an all-zero layer), or
the mean square of one example's pre-activations q^l_aa (the norms c^l divides by) is below it;
both are computed for every layer whatever the requested metrics. ``nonfinite`` = some metric
value of the row (or z^l itself) is NaN or +-inf. Per seed: ``diverged`` = the network
overflowed: some value is +-inf, or NaN that is not explained by underflow. A metric's policy
says how its values enter these flags:

- ``"overflow"`` (default): +-inf anywhere, or NaN on a row that did not underflow, means the
  network overflowed.
- ``"undefined_on_underflow"``: as "overflow", and the value is recorded as NaN on underflowed
  rows (ratios built from q, such as c = 0/0).
- ``"ignore"``: non-finite values are flagged ``nonfinite`` but never set ``diverged`` (values
  undefined by construction, e.g. ``unit_dist`` of a layer with one unit).
- ``"hidden_only"``: the metric describes a hidden layer (block) and is NaN by definition at
  layer 0 (the input projection): layer 0 is never flagged; hidden layers as "overflow".
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from initjax._registry import Registry
from initjax.measure import units
from initjax.models import Stack

__all__ = [
    "CallInfo",
    "FLAGS",
    "JAC_MAX",
    "LayerContext",
    "Metric",
    "NONFINITE_POLICIES",
    "NetworkContext",
    "UNDERFLOW_Q",
    "activation_std",
    "columns",
    "correlation",
    "evaluate",
    "flags",
    "get",
    "min_example_second_moment",
    "min_unit_distance",
    "names",
    "numerical_rank",
    "register",
    "saturation",
    "mean_and_variance",
    "second_moment",
    "support",
    "unregister",
]

NONFINITE_POLICIES = ("overflow", "undefined_on_underflow", "ignore", "hidden_only")
NEEDS = ("z", "params", "input", "grad", "param_grad", "jacobian")
# Needs served by the backward scan (they exclude the forward ones).
_BACKWARD = frozenset({"grad", "param_grad"})
# Per-row / per-seed flag columns every propagation table carries.
FLAGS = ("underflow", "nonfinite", "diverged")
# float32's smallest normal number: q^l below it has left the normal range (contract: underflow).
UNDERFLOW_Q = float(np.finfo(np.float32).tiny)
# Exact Jacobians: both sizes are limited (memory n_in * n_out, an O(n^3) SVD).
JAC_MAX = 1024
# Column names a metric may not take (table keys and flags).
_RESERVED = frozenset({"seed", "layer", "index", "sv", "sigma_w2", "sigma_b2", "cell", *FLAGS})

_HI = jax.lax.Precision.HIGHEST


# --- contexts ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class LayerContext:
    """What a per-layer metric sees at layer l of one seed's network (traced values).

    Attributes:
      z: ``(B, *feature_shape)`` pre-activations z^l (gradient stopped), or None in the
        backward pass.
      g: ``(B, *feature_shape)`` d loss / d z^l in the backward pass (``needs=("grad",)``),
        else None.
      params: the layer's params in the forward pass (the input projection's at layer 0, one
        hidden layer's otherwise), else None.
      stack: the model's :class:`initjax.models.Stack` (``stack.activation``, ``unit_weights``...).
      layer: the layer index l (an int32 scalar, traced inside the scan).
      kind: 0 for the input projection (layer 0), 1 for a hidden layer (static).
      z_in: ``(B, *feature_shape)`` the hidden layer's input z^{l-1} in the forward pass
        (``needs`` "input"; gradient stopped), None at layer 0 and in the backward pass.
      param_grad: d loss / d (the hidden layer's params), a pytree like ``params``, in the
        backward pass (``needs`` "param_grad"); None at layer 0 and in the forward pass.
    """

    z: jax.Array | None
    g: jax.Array | None
    params: Any
    stack: Stack
    layer: Any
    kind: int
    z_in: jax.Array | None = None
    param_grad: Any = None

    @property
    def activation(self):
        """The model's :class:`initjax.activations.Activation`."""
        return self.stack.activation

    @property
    def a(self) -> jax.Array:
        """phi(z^l), ``(B, *feature_shape)``."""
        return self.stack.activation(self.z)


@dataclasses.dataclass(frozen=True)
class NetworkContext:
    """What a whole-network metric sees (one seed).

    Attributes:
      jacobian: ``(n_in, n_out)`` float32, d phi(z^depth) / d x at one input (``jac_input``):
        row i is the derivative along input coordinate i.
      stack: the model's Stack.
    """

    jacobian: jax.Array
    stack: Stack


@dataclasses.dataclass(frozen=True)
class CallInfo:
    """Static facts of one ``propagate`` call, for a metric's ``check`` (before tracing).

    Attributes:
      stack: the model's Stack. in_shape: per-example input shape. feat_shape: per-example
      pre-activation shape. batch: inputs per network. jac_input: the Jacobian's example.
    """

    stack: Stack
    in_shape: tuple[int, ...]
    feat_shape: tuple[int, ...]
    batch: int
    jac_input: int


# --- the registry -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, eq=False)
class Metric:
    """A registered metric (see :func:`register` for the fields)."""

    name: str
    fn: Callable[..., Any]
    columns: tuple[str, ...]
    per_layer: bool
    needs: tuple[str, ...]
    nonfinite_policy: str
    supports: Callable[[Stack], str | bool | None] | None
    check: Callable[[CallInfo], None] | None
    description: str
    reference: str
    log_scale: bool

    @property
    def engine_pass(self) -> str:
        """Which engine pass computes it: "forward", "backward" or "jacobian"."""
        if "jacobian" in self.needs:
            return "jacobian"
        if _BACKWARD & set(self.needs):
            return "backward"
        return "forward"


_REGISTRY: Registry[Metric] = Registry(
    "metric", sort=False, hint="`initjax list --kind metrics` describes them."
)


def register(
    name: str,
    fn: Callable[..., Any] | None = None,
    *,
    columns: Sequence[str] | None = None,
    per_layer: bool = True,
    needs: Sequence[str] = ("z",),
    nonfinite_policy: str = "overflow",
    supports: Callable[[Stack], str | bool | None] | None = None,
    check: Callable[[CallInfo], None] | None = None,
    description: str = "",
    reference: str = "",
    log_scale: bool = False,
    replace: bool = False,
) -> Any:
    """Add a metric; usable as ``register(name, fn, ...)`` or as ``@register(name, ...)``.

    Args:
      name: the name users request (``metrics=("q", name)``, ``--metrics q,name``).
      fn: per-layer: ``fn(ctx: LayerContext) -> scalar`` or ``-> {column: scalar}``;
        whole-network: ``fn(ctx: NetworkContext) -> 1-D array``. Traced under jit and vmap.
      columns: table columns it fills (default ``(name,)``); a dict result must have exactly
        these keys.
      per_layer: True for one value per layer, False for a whole-network metric.
      needs: what ``fn`` reads: ``"z"``, ``"params"``, ``"input"`` (forward pass),
        ``"grad"``, ``"param_grad"`` (backward pass; not combined with forward needs),
        ``"jacobian"`` (whole-network metrics only).
      nonfinite_policy: one of :data:`NONFINITE_POLICIES` (module docstring).
      supports: ``supports(stack) -> None | True`` when the metric is defined for that model,
        else ``False`` or a reason string; ``propagate`` refuses an unsupported request with it.
      check: ``check(info: CallInfo)`` raising ValueError for call settings the metric cannot
        handle (batch too small, sizes too large), before anything is compiled.
      description, reference: for ``initjax list --kind metrics``.
      log_scale: plot on a log axis when positive (figures).
      replace: replace an existing metric of the same name.

    Returns:
      ``fn`` (so it works as a decorator).

    Raises:
      ValueError: bad ``needs`` / ``nonfinite_policy`` / columns (reserved or taken by another
        metric), or the name is taken. TypeError: ``fn`` not callable.
    """
    if fn is None:
        return lambda f: register(
            name,
            f,
            columns=columns,
            per_layer=per_layer,
            needs=needs,
            nonfinite_policy=nonfinite_policy,
            supports=supports,
            check=check,
            description=description,
            reference=reference,
            log_scale=log_scale,
            replace=replace,
        )
    if not callable(fn):
        raise TypeError(f"metric {name!r}: fn must be callable, got {fn!r}")
    needs = tuple(needs)
    bad = [n for n in needs if n not in NEEDS]
    if bad or not needs:
        raise ValueError(
            f"metric {name!r}: needs must be a non-empty subset of {NEEDS}, got {needs}"
        )
    if _BACKWARD & set(needs) and not set(needs) <= _BACKWARD:
        raise ValueError(
            f"metric {name!r}: backward needs ('grad', 'param_grad') cannot be combined with "
            f"forward ones, got {needs}"
        )
    if ("jacobian" in needs) != (not per_layer) or ("jacobian" in needs and len(needs) > 1):
        raise ValueError(
            f"metric {name!r}: whole-network metrics (per_layer=False) need exactly "
            "('jacobian',); per-layer metrics need z, params or grad"
        )
    if nonfinite_policy not in NONFINITE_POLICIES:
        raise ValueError(
            f"metric {name!r}: nonfinite_policy must be one of {NONFINITE_POLICIES}, "
            f"got {nonfinite_policy!r}"
        )
    cols = tuple(columns) if columns is not None else (name,)
    if not cols or len(set(cols)) != len(cols) or not all(isinstance(c, str) for c in cols):
        raise ValueError(f"metric {name!r}: columns must be distinct strings, got {cols!r}")
    taken = {
        c: r.name
        for r in _REGISTRY.records(load_plugins=False)
        for c in r.obj.columns
        if r.name != name
    }
    for c in cols:
        if c in _RESERVED or c.startswith("_"):
            raise ValueError(f"metric {name!r}: column name {c!r} is reserved")
        if c in taken and not (replace and taken[c] == name):
            raise ValueError(f"metric {name!r}: column {c!r} belongs to metric {taken[c]!r}")
    if not per_layer and len(cols) != 1:
        raise ValueError(f"metric {name!r}: a whole-network metric has exactly one column")
    metric = Metric(
        name=name,
        fn=fn,
        columns=cols,
        per_layer=bool(per_layer),
        needs=needs,
        nonfinite_policy=nonfinite_policy,
        supports=supports,
        check=check,
        description=description or ((fn.__doc__ or "").strip().splitlines() or [""])[0],
        reference=reference,
        log_scale=bool(log_scale),
    )
    _REGISTRY.register(name, metric, replace=replace)
    return fn


def unregister(name: str) -> None:
    """Remove a metric (e.g. a test's temporary one). Raises ValueError for unknown names."""
    _REGISTRY.unregister(name)


def names() -> list[str]:
    """Registered metric names in table order (registration order; built-ins first)."""
    return _REGISTRY.names()


def get(name: str) -> Metric:
    """The :class:`Metric` registered as ``name``.

    Raises:
      ValueError: unknown name (lists the registered metrics). TypeError: not a string.
    """
    return _REGISTRY.get(name)


def columns(metrics: Sequence[str], *, per_layer: bool = True) -> list[str]:
    """Table columns of the given metric names, in order (per-layer or whole-network ones)."""
    out: list[str] = []
    for m in map(get, metrics):
        if m.per_layer == per_layer:
            out.extend(m.columns)
    return out


def support(name: str, stack: Stack) -> str | None:
    """None if metric ``name`` can be computed on ``stack``, else the reason it cannot.

    Asks the stack (``Stack.UNSUPPORTED_METRICS``) and the metric's ``supports``.
    """
    reason = getattr(stack, "UNSUPPORTED_METRICS", {}).get(name)
    if reason:
        return str(reason)
    m = get(name)
    if m.supports is None:
        return None
    ok = m.supports(stack)
    if ok is None or ok is True:
        return None
    return ok if isinstance(ok, str) and ok else f"not supported by {type(stack).__name__}"


def evaluate(metric: Metric, ctx: LayerContext | NetworkContext) -> dict[str, jax.Array]:
    """``metric.fn(ctx)`` as ``{column: value}``: float32 scalars (per layer) or 1-D arrays.

    Raises (while tracing): TypeError naming the metric when the result has the wrong keys or
    shape.
    """
    out = metric.fn(ctx)
    if isinstance(out, Mapping):
        if set(out) != set(metric.columns):
            raise TypeError(
                f"metric {metric.name!r} returned columns {sorted(out)}, registered "
                f"{list(metric.columns)}"
            )
        vals = {c: out[c] for c in metric.columns}
    elif len(metric.columns) == 1:
        vals = {metric.columns[0]: out}
    else:
        raise TypeError(
            f"metric {metric.name!r} has columns {list(metric.columns)}: return a dict of them"
        )
    res = {}
    for c, v in vals.items():
        v = jnp.asarray(v).astype(jnp.float32)
        want = 0 if metric.per_layer else 1
        if v.ndim != want:
            kind = "a scalar" if metric.per_layer else "a 1-D array"
            raise TypeError(
                f"metric {metric.name!r} (column {c!r}) must return {kind}, got shape {v.shape}"
            )
        res[c] = v
    return res


# --- non-finite values and float32 limits (host side, numpy) ----------------------------------


def flags(
    arrays: dict[str, np.ndarray], metrics: Sequence[str]
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
    """Apply the non-finite policies to measured arrays and compute the flags.

    Args:
      arrays: column -> array; per-layer columns ``(..., seeds, layers)``, whole-network ones
        ``(..., seeds, n)``, plus ``"_q"`` (q^l of every layer) and ``"_qmin"`` (the smallest
        per-example mean square q^l_aa), both ``(..., seeds, layers)``.
      metrics: the measured metric names.

    Returns:
      (arrays without ``_q`` / ``_qmin``, undefined values set to NaN; underflow
      ``(..., seeds, layers)``;
      nonfinite ``(..., seeds, layers)``; diverged ``(..., seeds)``), all flags bool.
    """
    arrays = dict(arrays)
    q = np.asarray(arrays.pop("_q"))
    qmin = np.asarray(arrays.pop("_qmin"))
    underflow = np.isfinite(q) & ((q < UNDERFLOW_Q) | (qmin < UNDERFLOW_Q))
    nonfinite = ~np.isfinite(q)  # z^l itself (or its square) overflowed
    bad = ~np.isfinite(q)  # per row: an overflow
    net_bad = np.zeros(q.shape[:-1], bool)
    for m in map(get, metrics):
        for c in m.columns:
            v = np.asarray(arrays[c])
            if m.per_layer:
                if m.nonfinite_policy == "undefined_on_underflow":
                    v = np.where(underflow, np.nan, v).astype(v.dtype)
                    arrays[c] = v
                nf = ~np.isfinite(v)
                if m.nonfinite_policy == "hidden_only":
                    nf[..., 0] = False  # NaN by definition at the input projection
                nonfinite = nonfinite | nf
                if m.nonfinite_policy != "ignore":
                    bad = bad | (nf & (np.isinf(v) | ~underflow))
            elif m.nonfinite_policy != "ignore":
                net_bad = net_bad | np.any(~np.isfinite(v), axis=-1)
    diverged = np.any(bad, axis=-1) | net_bad
    return arrays, underflow, nonfinite, diverged


# --- the built-in metric functions ------------------------------------------------------------


def second_moment(z: jax.Array) -> jax.Array:
    """q = mean(z**2) over all axes (float32)."""
    return jnp.mean(jnp.square(z.astype(jnp.float32)))


def mean_and_variance(z: jax.Array) -> dict[str, jax.Array]:
    """``{"z_mean", "z_var"}``: mean and centred (two-pass) variance over all axes (float32)."""
    zf = z.astype(jnp.float32)
    m = jnp.mean(zf)
    return {"z_mean": m, "z_var": jnp.mean(jnp.square(zf - m))}


def min_example_second_moment(z: jax.Array) -> jax.Array:
    """min over examples a of q_aa = mean over units of z_a**2 (float32); ``z`` is ``(B, ...)``."""
    zf = z.reshape(z.shape[0], -1).astype(jnp.float32)
    return jnp.min(jnp.mean(jnp.square(zf), axis=1))


def correlation(z: jax.Array) -> jax.Array:
    """Mean off-diagonal entry of the normalized (uncentred) Gram matrix of the batch ``z``.

    Each example is first divided by its largest absolute entry (c is scale-invariant), so the
    Gram matrix's products neither underflow nor overflow float32 while z itself is normal:
    without it, products of pre-activations of size ~1e-19 flush to zero and c drifts (1.00005
    one layer before a ReLU network's q^l underflows). NaN for an all-zero example.
    """
    b = z.shape[0]
    zf = z.reshape(b, -1).astype(jnp.float32)
    zf = zf / jnp.max(jnp.abs(zf), axis=1, keepdims=True)
    g = jnp.matmul(zf, zf.T, precision=_HI) / zf.shape[1]
    d = jnp.sqrt(jnp.diagonal(g))
    cos = g / (d[:, None] * d[None, :])
    iu = jnp.triu_indices(b, k=1)
    return jnp.mean(cos[iu])


def activation_std(a: jax.Array) -> jax.Array:
    """Standard deviation of the activations ``a`` = phi(z) over all axes."""
    return jnp.std(a.astype(jnp.float32))


def saturation(z: jax.Array, a: jax.Array, kind: str) -> jax.Array:
    """Fraction of saturated units; ``kind`` is ``Activation.saturation`` ("abs_gt_0.9"|"zero")."""
    if kind == "abs_gt_0.9":
        s = jnp.abs(a) > 0.9
    elif kind == "zero":
        s = z <= 0
    else:
        raise ValueError(f"unknown saturation kind {kind!r}")
    ok = jnp.all(jnp.isfinite(z))
    return jnp.where(ok, jnp.mean(s.astype(jnp.float32)), jnp.nan)


def min_unit_distance(w: jax.Array) -> jax.Array:
    """Smallest pairwise distance between the columns of ``w`` ``(fan_in, units)``.

    The closest pair is found from the Gram matrix, d_ij^2 = |w_i|^2 + |w_j|^2 - 2 w_i.w_j
    (cost units^2 * fan_in, one matmul); its distance is then computed directly as
    |w_i - w_j|, so identical units give exactly 0 and the value does not depend on how XLA
    tiles the matmul (e.g. sharded vs unsharded). NaN if units < 2.
    """
    wt = w.astype(jnp.float32).T  # (units, fan_in)
    u = wt.shape[0]
    if u < 2:
        return jnp.float32(jnp.nan)
    g = jnp.matmul(wt, wt.T, precision=_HI)
    sq = jnp.diagonal(g)
    d2 = sq[:, None] + sq[None, :] - 2.0 * g
    d2 = jnp.where(jnp.eye(u, dtype=bool), jnp.inf, d2)
    k = jnp.argmin(jnp.where(jnp.isnan(d2), jnp.inf, d2))
    diff = wt[k // u] - wt[k % u]
    return jnp.where(jnp.all(jnp.isfinite(wt)), jnp.sqrt(jnp.sum(jnp.square(diff))), jnp.nan)


def numerical_rank(m: jax.Array) -> jax.Array:
    """Numerical rank of ``m`` ``(rows, units)`` as float32 (NaN if ``m`` is not finite)."""
    mf = m.astype(jnp.float32)
    ok = jnp.all(jnp.isfinite(mf))
    s = jnp.linalg.svd(jnp.where(ok, mf, 0.0), compute_uv=False)
    tol = s[0] * max(mf.shape) * jnp.finfo(jnp.float32).eps
    r = jnp.sum(s > tol).astype(jnp.float32)
    return jnp.where(ok, r, jnp.nan)


def _sq_norm(g: jax.Array) -> jax.Array:
    """Mean over the batch (axis 0) of the squared norm over the remaining axes."""
    g = g.astype(jnp.float32)
    return jnp.mean(jnp.sum(jnp.square(g), axis=tuple(range(1, g.ndim))))


def _singular_values(ctx: NetworkContext) -> jax.Array:
    j = ctx.jacobian.astype(jnp.float32)
    ok = jnp.all(jnp.isfinite(j))
    sv = jnp.linalg.svd(jnp.where(ok, j, 0.0), compute_uv=False)
    return jnp.where(ok, sv, jnp.nan)


def _needs_pairs(info: CallInfo) -> None:
    if info.batch < 2:
        raise ValueError(f"metric 'c' needs batch >= 2 inputs, got {info.batch}")


def _saturation_defined(stack: Stack) -> str | None:
    if stack.activation.saturation is None:
        return (
            f"undefined for activation {stack.activation.name!r} (defined for tanh-like bounded "
            "units and rectifiers)"
        )
    return None


def _has_units(stack: Stack) -> str | None:
    if type(stack).unit_weights is Stack.unit_weights or (
        type(stack).units_matrix is Stack.units_matrix
    ):
        return f"{type(stack).__name__} does not define unit_weights / units_matrix"
    return None


def _jacobian_fits(info: CallInfo) -> None:
    j = info.jac_input
    if isinstance(j, bool) or not isinstance(j, int) or not (0 <= j < info.batch):
        raise ValueError(f"jac_input must index the batch [0, {info.batch}), got {j!r}")
    n_in, n_out = int(np.prod(info.in_shape)), int(np.prod(info.feat_shape))
    if max(n_in, n_out) > JAC_MAX:
        raise ValueError(
            f"metric 'jac_sv' computes the exact {n_out} x {n_in} Jacobian; both sizes must be "
            f"<= {JAC_MAX} (use a smaller width / input)"
        )


register(
    "q",
    lambda ctx: second_moment(ctx.z),
    description="mean squared pre-activation q^l",
    reference="Poole et al. 2016, eq. 3",
    log_scale=True,
)
register(
    "c",
    lambda ctx: correlation(ctx.z),
    nonfinite_policy="undefined_on_underflow",
    check=_needs_pairs,
    description="mean correlation of the pre-activations of input pairs c^l",
    reference="Poole et al. 2016, eq. 5",
)
register(
    "grad_sq",
    lambda ctx: _sq_norm(ctx.g),
    needs=("grad",),
    description="mean over the batch of |d loss / d z^l|^2",
    reference="Schoenholz et al. 2017 (backward q~^l); Glorot & Bengio 2010, Fig. 7",
    log_scale=True,
)
register(
    "act_std",
    lambda ctx: activation_std(ctx.a),
    description="standard deviation of phi(z^l)",
    reference="Glorot & Bengio 2010, Fig. 3",
    log_scale=True,
)
register(
    "act_saturation",
    lambda ctx: saturation(ctx.z, ctx.a, ctx.activation.saturation),
    supports=_saturation_defined,
    description="fraction of saturated units",
    reference="Glorot & Bengio 2010, §3",
)
register(
    "unit_symmetry",
    lambda ctx: {
        "unit_dist": min_unit_distance(
            ctx.stack.unit_weights(jax.lax.stop_gradient(ctx.params), ctx.kind)
        ),
        "act_rank": numerical_rank(ctx.stack.units_matrix(ctx.a)),
    },
    columns=("unit_dist", "act_rank"),
    needs=("z", "params"),
    nonfinite_policy="ignore",
    supports=_has_units,
    description="smallest distance between units' weight vectors; rank of the activations",
    reference="symmetry breaking at initialization",
)


register(
    "jac_sv",
    _singular_values,
    per_layer=False,
    needs=("jacobian",),
    check=_jacobian_fits,
    description="singular values of the input-output Jacobian at one input (exact SVD)",
    reference="Pennington et al. 2017",
    log_scale=True,
)

register(
    "z_moments",
    lambda ctx: mean_and_variance(ctx.z),
    columns=("z_mean", "z_var"),
    description="mean and centred variance of all entries of z^l (q^l = z_var + z_mean^2)",
    reference="Mishkin & Matas 2016 (LSUV normalizes Var(z^l) to 1)",
)


def _layer_unit_vectors(ctx: LayerContext) -> jax.Array:
    """(units, fan_in [+ 1]): the layer's unit weight vectors, with the bias when the layer's
    params hold one of shape (units,)."""
    p = jax.lax.stop_gradient(ctx.params)
    w = ctx.stack.unit_weights(p, ctx.kind)
    b = p.get("bias") if isinstance(p, Mapping) else None
    if b is None or b.shape != (w.shape[1],):
        b = None
    return units.unit_vectors(w, b)


def _distinct_units(ctx: LayerContext) -> dict[str, jax.Array]:
    v = _layer_unit_vectors(ctx)
    lo, hi = units.relative_distance_range(v)
    return {"distinct_units": units.distinct_units(v), "unit_rel_dist_min": lo,
            "unit_rel_dist_max": hi}  # fmt: skip


register(
    "distinct_units",
    _distinct_units,
    columns=("distinct_units", "unit_rel_dist_min", "unit_rel_dist_max"),
    needs=("params",),
    nonfinite_policy="ignore",
    supports=_has_units,
    description="distinct units of a layer (relative tolerance 1e-4); min/max unit distance",
    reference="symmetry breaking (Goodfellow, Bengio, Courville 2016, Sec. 8.4)",
)
register(
    "weight_rank",
    lambda ctx: numerical_rank(ctx.stack.unit_weights(jax.lax.stop_gradient(ctx.params), ctx.kind)),
    needs=("params",),
    nonfinite_policy="ignore",
    supports=_has_units,
    description="numerical rank of the layer's (fan_in, units) kernel",
    reference="symmetry breaking (Goodfellow, Bengio, Courville 2016, Sec. 8.4)",
)


def __getattr__(attr: str) -> Any:
    # Former constant tuples, read live from the registry (plugin metrics included).
    if attr == "METRICS":
        return tuple(names())
    if attr == "PER_LAYER":
        return tuple(n for n in names() if get(n).per_layer)
    if attr == "COLUMNS":
        return {n: get(n).columns for n in names() if get(n).columns != (n,)}
    raise AttributeError(f"module {__name__!r} has no attribute {attr!r}")
