"""One layer definition, two paths: materialized (params stacked along depth) and fused.

Every architecture is described by a :class:`Stack`: a frozen, hashable dataclass of pure functions

- ``input_init(key, in_shape, sigma_w2, sigma_b2)`` / ``input_apply(p, x) -> z^0``: the input
  projection (layer 0);
- ``layer_init(key, sigma_w2, sigma_b2)`` / ``layer_apply(p, z^{l-1}) -> z^l``: one of the ``depth``
  identical hidden layers (l = 1..depth), from pre-activation to pre-activation;
- ``readout_init`` / ``readout_apply``: the optional readout (layer depth + 1);
- ``features(z^depth)``: the network's output without readout, phi(z^depth).

Key scheme (``initjax.keys``): for a seed key k, ``root = keys.role(k, keys.PARAMS)``; layer l's key
is ``keys.layer(root, l)`` (0 = input projection, 1..depth hidden, depth + 1 readout); a layer's
kernel and bias keys are ``fold_in(layer_key, keys.KERNEL)`` / ``fold_in(layer_key, keys.BIAS)``.

The **materialized** path (:func:`init_stack`) draws layer l's params from its key with
``jax.lax.map`` (a scan, so each layer is drawn by the same unbatched computation) and stacks them
along a leading depth axis; :func:`apply_stack` scans over them. The **fused** path (used by
``initjax.measure``) draws layer l's params from the same key inside the scan step and drops them
after use, so memory does not grow with depth. Both give bit-identical weights and statistics.

A data-dependent ``kernel_init`` (LSUV, MetaInit, GradInit;
:mod:`initjax.initializers.data_dependent`) adds a second stage to the materialized path: its
base initializer draws the params, then :func:`refine_params` changes them on a data batch, with
the key ``keys.data_init(root)``.
``model.init(rngs, x)`` and :func:`init_params` refine on their ``x``.

Dropout (inverted dropout, Srivastava et al. 2014; its mean-field maps: Schoenholz et al. 2017,
Sec. 4 and :mod:`initjax.theory.maps`): a stack whose family supports it has a ``keep_prob``
field rho in (0, 1] and multiplies the activations phi(z^{l-1}) feeding each hidden layer l
(l = 1..depth) and the readout (l = depth + 1) by m / rho, m ~ Bernoulli(rho) i.i.d. per example
and unit, m = [U < rho] with U ~ Uniform[0, 1) drawn from ``keys.layer(dropout_root, l)``, where
``dropout_root = keys.role(seed_key, keys.DROPOUT)``. Masks of different rho share U (common random
numbers). The input projection (layer 0) sees the raw input, without dropout. rho = 1 runs
exactly the code without dropout.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar

import flax.linen as nn
import jax
import jax.numpy as jnp

from initjax import activations, initializers, keys
from initjax.initializers.sampling import standard_uniform
from initjax.models import _params
from initjax.models._validate import choice, optional_positive_int
from initjax.models._validate import keep_prob as check_keep_prob

PRECISIONS = (None, "default", "high", "highest")

__all__ = [
    "Stack",
    "StackModule",
    "init_stack",
    "apply_stack",
    "init_params",
    "params_root",
    "stack_of",
    "check_rescale",
    "data_method",
    "refine_params",
    "dropout",
    "dropout_root",
    "hidden_apply",
]

Params = Any


class UnsupportedCapability(TypeError):
    """A model family lacks an optional capability: unit-level access (``unit_weights``,
    ``units_matrix``: the unit-symmetry metrics) or parameter roles (``roles``: the
    parametrizations). The message names the family and the method it would need."""


@dataclasses.dataclass(frozen=True)
class Stack(abc.ABC):
    """Pure description of a depth-scanned network (hashable: it is a static jit argument).

    Attributes (common):
      depth: number of identical hidden layers (the scan length).
      activation: the resolved :class:`initjax.activations.Activation`.
      readout: number of readout units, or None.
      dtype: parameter / compute dtype.

    Class attribute ``UNSUPPORTED_METRICS``: metric name -> reason, for the registered metrics
    (:mod:`initjax.measure.metrics`) this architecture cannot compute; ``propagate`` refuses
    them with the reason.
    """

    UNSUPPORTED_METRICS: ClassVar[Mapping[str, str]] = {}
    # Dropout: a family that supports it declares a dataclass field ``keep_prob: float = 1.0``,
    # sets SUPPORTS_DROPOUT and accepts an optional mask key as the last argument of
    # layer_apply / readout_apply (module docstring). This class default is not a field.
    SUPPORTS_DROPOUT: ClassVar[bool] = False
    keep_prob = 1.0

    depth: int
    activation: activations.Activation
    readout: int | None
    dtype: Any

    # -- per-architecture pure functions ---------------------------------------------------------
    @abc.abstractmethod
    def input_init(self, key: jax.Array, in_shape: tuple[int, ...], sigma_w2, sigma_b2) -> Params:
        """Params of the input projection (layer 0) for one example of shape ``in_shape``."""

    @abc.abstractmethod
    def input_apply(self, p: Params, x: jax.Array) -> jax.Array:
        """z^0 for a batch ``x`` of shape ``(B, *in_shape)``."""

    @abc.abstractmethod
    def layer_init(self, key: jax.Array, sigma_w2, sigma_b2) -> Params:
        """Params of one hidden layer."""

    @abc.abstractmethod
    def layer_apply(self, p: Params, z: jax.Array) -> jax.Array:
        """z^l from z^{l-1}, both ``(B, *feature_shape)``."""

    @abc.abstractmethod
    def readout_init(self, key: jax.Array, sigma_w2, sigma_b2) -> Params:
        """Params of the readout (only called when ``readout`` is not None)."""

    @abc.abstractmethod
    def readout_apply(self, p: Params, z: jax.Array) -> jax.Array:
        """Logits ``(B, readout)`` from the last pre-activation z^depth."""

    @abc.abstractmethod
    def default_input_shape(self) -> tuple[int, ...]:
        """Per-example input shape used when inputs are generated."""

    @abc.abstractmethod
    def check(self, in_shape: tuple[int, ...]) -> None:
        """Validate input shape and initializer / kernel-shape compatibility (traces, never
        compiles). Raises ValueError naming the argument."""

    # -- optional: unit-level access (needed by the unit_symmetry metric) --------------------------
    def unit_weights(self, p: Params, layer: int) -> jax.Array:
        """Incoming weight vectors of the layer's units as columns: ``(fan_in, units)``.

        ``layer`` is 0 for the input projection's params, 1 for a hidden layer's. A stack that
        does not define it does not support the ``unit_symmetry`` metric.

        Raises:
          UnsupportedCapability: the family does not define it.
        """
        raise UnsupportedCapability(f"{type(self).__name__} does not define unit_weights")

    def units_matrix(self, a: jax.Array) -> jax.Array:
        """Activations ``(B, *feature_shape)`` as a ``(rows, units)`` matrix (units = columns).

        Raises:
          UnsupportedCapability: the family does not define it.
        """
        raise UnsupportedCapability(f"{type(self).__name__} does not define units_matrix")

    # -- hook for data-dependent initialization (LSUV) ---------------------------------------------
    def affine_units(self, group: str) -> tuple[tuple[str, ...], ...]:
        """Paths, within one layer's params, of the layer's affine maps ``{kernel, bias}``, in
        forward order. ``group``: "input", "hidden" or "readout". Default ``((),)``: the layer's
        params are one affine map whose output is the layer's output. Stacks whose layers hold
        several maps (residual branches, attention) override this and :meth:`affine_outputs`."""
        return ((),)

    def affine_outputs(self, group: str, p: Params, z: jax.Array) -> tuple[jax.Array, ...]:
        """Outputs of the maps of :meth:`affine_units` for the layer input ``z`` (same order)."""
        if group == "input":
            return (self.input_apply(p, z),)
        if group == "hidden":
            return (self.layer_apply(p, z),)
        return (self.readout_apply(p, z),)

    # -- parameter roles (used by initjax.parametrizations) ----------------------------------------
    def roles(self) -> dict[str, Any]:
        """The :class:`~initjax.models.ParamRole` of every parameter: a pytree shaped like
        ``init_stack``'s params with one hidden layer's leaves (no depth axis), i.e.
        ``{"input": ..., "hidden": ..., ["readout": ...]}``.

        A family that does not define it cannot be reparametrized (SP/NTK/muP need the roles).

        Raises:
          UnsupportedCapability: the family declares no roles.
        """
        raise UnsupportedCapability(
            f"{type(self).__name__} does not declare parameter roles (Stack.roles)"
        )

    # -- shared ------------------------------------------------------------------------------------
    def features(self, z: jax.Array) -> jax.Array:
        """phi(z^depth): the output without readout (Pennington et al. 2017: x^L = phi(h^L))."""
        return self.activation(z)

    def output(
        self, params: Params | None, z: jax.Array, drop: jax.Array | None = None
    ) -> jax.Array:
        """Readout logits if the stack has a readout, else :meth:`features`.

        ``drop``: the dropout root key (:func:`dropout_root`) or None (no dropout); the readout's
        mask key is ``keys.layer(drop, depth + 1)``.
        """
        if self.readout is None:
            return self.features(z)
        if drop is None:
            return self.readout_apply(params, z)
        return self.readout_apply(params, z, keys.layer(drop, self.depth + 1))

    def input_shape_of(self, x_shape: tuple[int, ...]) -> tuple[int, ...]:
        """Per-example shape of a batch shape ``(B, *in_shape)`` (checked by :meth:`check`)."""
        return tuple(x_shape[1:])


def dropout(a: jax.Array, key: jax.Array, keep_prob: float) -> jax.Array:
    """Inverted dropout: ``a * m / keep_prob`` with m = [U < keep_prob], U ~ Uniform[0, 1).

    Args:
      a: activations, any shape and floating dtype; one independent mask entry per element.
      key: the layer's mask key (U is drawn in float32 with ``a.shape``).
      keep_prob: rho in (0, 1] (a static Python float).

    Returns:
      An array like ``a``; E[result] = a, E[result^2] = a^2 / keep_prob.
    """
    u = standard_uniform(key, a.shape)
    return jnp.where(u < keep_prob, a / jnp.asarray(keep_prob, a.dtype), jnp.zeros((), a.dtype))


def dropout_root(stack: Stack, seed_key: jax.Array) -> jax.Array | None:
    """``keys.role(seed_key, keys.DROPOUT)`` when the stack drops units (keep_prob < 1), else
    None (then no mask is drawn and the layers run exactly as without dropout)."""
    return keys.role(seed_key, keys.DROPOUT) if stack.keep_prob < 1.0 else None


def hidden_apply(
    stack: Stack, p: Params, z: jax.Array, drop: jax.Array | None, layer: jax.Array | int
) -> jax.Array:
    """Hidden layer ``layer``'s ``layer_apply``, with its dropout mask when ``drop`` (the root
    from :func:`dropout_root`) is not None: mask key ``keys.layer(drop, layer)``."""
    if drop is None:
        return stack.layer_apply(p, z)
    return stack.layer_apply(p, z, keys.layer(drop, layer))


def _arange_layers(depth: int) -> jax.Array:
    # The hidden layers' indices 1..depth; int32 in both paths, so fold_in sees the same bits.
    return jnp.arange(1, depth + 1, dtype=jnp.int32)


def init_stack(
    stack: Stack, root: jax.Array, in_shape: tuple[int, ...], sigma_w2=None, sigma_b2=0.0
) -> dict[str, Params]:
    """Materialized params from the params root key ``keys.role(seed_key, keys.PARAMS)``.

    Returns:
      ``{"input": p0, "hidden": stacked, ["readout": pr]}`` where every leaf of ``stacked`` has a
      leading axis of length ``depth`` (layer l at index l - 1).
    """
    p_in = stack.input_init(keys.layer(root, 0), in_shape, sigma_w2, sigma_b2)
    hidden = jax.lax.map(
        lambda i: stack.layer_init(keys.layer(root, i), sigma_w2, sigma_b2),
        _arange_layers(stack.depth),
    )
    out = {"input": p_in, "hidden": hidden}
    if stack.readout is not None:
        out["readout"] = stack.readout_init(keys.layer(root, stack.depth + 1), sigma_w2, sigma_b2)
    return out


# Compiled once per (stack, input shape): eager op-by-op execution would round some draws
# differently from the fused (jitted) path; under jit both paths compile the same graph.
_init_stack_jit = jax.jit(init_stack, static_argnums=(0, 2))


def data_method(stack: Stack) -> initializers.DataDependentMethod | None:
    """The data-dependent refinement of ``stack.kernel_init`` (None for ordinary initializers).

    Raises:
      ValueError: a data-dependent initializer given for another role (readout_init,
        last_init, bias_init): it refines the whole network, so it belongs in kernel_init.
    """
    k = getattr(stack, "kernel_init", None)
    for f in dataclasses.fields(stack):
        v = getattr(stack, f.name)
        if f.name != "kernel_init" and initializers.is_data_dependent(v) and v != k:
            raise ValueError(
                f"{f.name}: {v!r} is a data-dependent initializer; it refines the whole network, "
                "so give it as kernel_init"
            )
    return initializers.method_of(k)


def refine_params(
    stack: Stack,
    params: dict[str, Params],
    x: jax.Array,
    y: jax.Array | None,
    root: jax.Array,
) -> tuple[dict[str, Params], dict[str, Any]]:
    """Second stage of a data-dependent ``kernel_init``: refine one network's params on data.

    Args:
      stack: the network (static).
      params: materialized params from :func:`init_stack` (drawn by the base initializer).
      x: ``(N, *in_shape)`` examples; y: ``(N,)`` integer labels or None.
      root: the params root key ``keys.role(seed_key, keys.PARAMS)``; the refinement uses
        ``keys.data_init(root)``.

    Returns:
      ``(params, info)``: unchanged params and ``{}`` when ``kernel_init`` is not data-dependent.
    """
    m = data_method(stack)
    if m is None:
        return params, {}
    return m.apply(stack, params, jnp.asarray(x).astype(stack.dtype), y, keys.data_init(root))


_refine_jit = jax.jit(refine_params, static_argnums=0)


def apply_stack(
    stack: Stack,
    params: dict[str, Params],
    x: jax.Array,
    dropout_key: jax.Array | None = None,
    *,
    unroll: int | bool = 1,
) -> jax.Array:
    """The network's output for a batch ``x`` (``(B, *in_shape)``): readout logits or phi(z^L).

    ``dropout_key``: the dropout root ``keys.role(seed_key, keys.DROPOUT)`` to drop units with
    the stack's ``keep_prob`` (training mode); None (default) or keep_prob = 1: no dropout
    (inverted dropout needs no rescaling at evaluation).

    ``unroll``: ``jax.lax.scan``'s unroll of the hidden layers (1: a loop; True: straight-line
    code, which spares the loop's dynamic slicing of the stacked params and, under ``grad``, the
    dynamic-update-slicing of their gradients, at the cost of a compile time growing with depth).
    The same operations either way; XLA may fuse them differently, so results can differ in
    float32 rounding.
    """
    z = stack.input_apply(params["input"], x)
    drop = dropout_key if stack.keep_prob < 1.0 else None
    if drop is None:
        z, _ = jax.lax.scan(
            lambda h, p: (stack.layer_apply(p, h), None), z, params["hidden"], unroll=unroll
        )
    else:
        z, _ = jax.lax.scan(
            lambda h, pi: (hidden_apply(stack, pi[0], h, drop, pi[1]), None),
            z,
            (params["hidden"], _arange_layers(stack.depth)),
            unroll=unroll,
        )
    return stack.output(params.get("readout"), z, drop)


def params_root(module: nn.Module) -> jax.Array:
    """The params root key of a Linen module, derived injectively from its module path.

    For a top-level model this is exactly the key passed to ``model.init``, so
    ``model.init({'params': keys.role(seed_key, keys.PARAMS)}, x)`` follows the key scheme. For
    a submodule at path ``(p_1, ..., p_m)`` below the key k that Flax carries (the key given to
    ``init``, or a lifted transform's), it is ``keys.submodule(k, path)``: the SHA-256 of the
    JSON-encoded path folded into k as eight 32-bit words. The encoding is unambiguous, so
    ``("block", "1_mlp")`` and ``("block1", "_mlp")`` get different keys (Flax's own
    ``make_rng`` joins the names without a separator and gives both the same key); distinct
    paths collide only if SHA-256 does.
    """
    scope = module.scope
    rng = getattr(scope, "rngs", {}).get("params") if scope is not None else None
    if rng is None or not hasattr(rng, "rng") or not hasattr(rng, "suffix"):  # pragma: no cover
        raise TypeError(  # flax internals changed: refuse rather than risk shared keys
            f"{type(module).__name__}: cannot read the 'params' key of this Flax scope"
        )
    return keys.submodule(rng.rng, tuple(rng.suffix))


class StackModule(nn.Module):
    """Thin Linen wrapper: params ``{"input", "hidden" (stacked along depth), ["readout"]}``.

    Subclasses define the fields and :meth:`stack`. ``sigma_w2`` / ``sigma_b2`` fields give the
    standard-parameterization variances (see :mod:`initjax.models._params`).
    """

    def stack(self) -> Stack:  # pragma: no cover - every architecture overrides it
        raise TypeError(f"{type(self).__name__} must define stack() -> Stack")

    @nn.compact
    def __call__(self, x: jax.Array, dropout_key: jax.Array | None = None) -> jax.Array:
        """Readout logits ``(B, readout)`` or features phi(z^depth) for a batch ``x``.

        ``dropout_key``: None (no dropout: evaluation) or the dropout root
        ``keys.role(seed_key, keys.DROPOUT)`` (training with the model's ``keep_prob``).
        """
        st = self.stack()
        x = jnp.asarray(x)
        in_shape = st.input_shape_of(x.shape)
        if self.is_initializing():
            st.check(in_shape)
        sw2, sb2 = self.sigma_w2, self.sigma_b2

        def init_all(_rng):
            root = params_root(self)
            full = _init_stack_jit(st, root, in_shape, sw2, sb2)
            if data_method(st) is not None:  # data-dependent kernel_init: refine on this x
                full = _refine_jit(st, full, x, None, root)[0]
            return full

        # One init call draws all groups, so the key scheme (not flax's per-name folding) decides.
        params = {}
        if self.is_initializing():
            full = init_all(None)
            for name, value in full.items():
                params[name] = self.param(name, lambda _rng, v=value: v)
        else:
            for name in ("input", "hidden") + (("readout",) if st.readout is not None else ()):
                params[name] = self.param(name, lambda _rng: None)
        return apply_stack(st, params, x, dropout_key)


def stack_of(model: Any) -> Stack:
    """The :class:`Stack` of a model (a :class:`StackModule` or a Stack itself).

    Raises:
      TypeError: anything else.
    """
    if isinstance(model, Stack):
        return model
    if isinstance(model, StackModule):
        return model.stack()
    raise TypeError(
        "model must be an initjax.models module (a registered model family: see "
        f"initjax.models.names()) or a Stack, got {type(model).__name__}"
    )


def init_params(
    model: Any,
    seed_key: jax.Array,
    x: jax.Array | None = None,
    *,
    in_shape=None,
    y: jax.Array | None = None,
) -> dict[str, dict[str, Params]]:
    """Variables ``{"params": ...}`` of ``model`` for one seed, following the key scheme.

    Equal (bit for bit) to ``model.init({"params": keys.role(seed_key, keys.PARAMS)}, x)`` and to
    the weights the fused path draws. ``jax.vmap`` it over ``keys.seed_keys(n)`` for n networks.
    A data-dependent ``kernel_init`` (LSUV, ...) is refined on ``x`` (and labels ``y``).

    Args:
      model: an initjax model module.
      seed_key: one typed key (e.g. ``keys.seed_keys(16)[s]``).
      x: an input batch ``(B, *in_shape)``; or give ``in_shape`` (per example) instead.
      y: integer labels of ``x``, for data-dependent initializers that use them (GradInit).

    Raises:
      ValueError: neither ``x`` nor ``in_shape``, an incompatible shape / initializer, or a
        data-dependent initializer without the data it needs.
    """
    st = stack_of(model)
    if in_shape is None:
        if x is None:
            raise ValueError("init_params: pass an input batch x or in_shape=(...) per example")
        in_shape = st.input_shape_of(tuple(jnp.shape(x)))
    in_shape = tuple(in_shape)
    st.check(in_shape)
    method = data_method(st)
    if method is not None:
        if x is None:
            raise ValueError(
                f"init_params: kernel_init {method.name!r} is data-dependent; pass a batch x"
            )
        method.check(labels=y is not None)
    root = keys.role(seed_key, keys.PARAMS)
    params = _init_stack_jit(st, root, in_shape, model.sigma_w2, model.sigma_b2)
    if method is not None:
        params = _refine_jit(st, params, x, y, root)[0]
    return {"params": params}


def check_rescale(stack: Stack) -> None:
    """Raise unless every kernel initializer of ``stack`` promises a variance, so a given
    ``sigma_w2`` can be honoured (fields named ``*_init`` / ``*_init_fn``, biases excepted).

    Raises:
      ValueError: naming the field (see :func:`initjax.models._params.check_rescalable`).
    """
    for f in dataclasses.fields(stack):
        if f.name == "bias_init" or not f.name.endswith(("_init", "_init_fn")):
            continue
        arg = f.name.removesuffix("_fn")
        _params.check_rescalable(getattr(stack, f.name), arg=arg)


def validate_common(module: Any) -> None:
    """Checks every model shares: variances, readout, dtype; with a sigma_w2, every kernel
    initializer must promise a variance (:func:`check_rescale`)."""
    _params.check_variance(module.sigma_w2, arg="sigma_w2", allow_none=True)
    _params.check_variance(module.sigma_b2, arg="sigma_b2")
    optional_positive_int(module.readout, arg="readout")
    choice(module.precision, PRECISIONS, arg="precision")
    kp = getattr(module, "keep_prob", 1.0)
    check_keep_prob(kp, arg="keep_prob")
    try:
        dt = jnp.dtype(module.dtype)
    except TypeError:
        raise TypeError(f"dtype must be a floating dtype, got {module.dtype!r}") from None
    if not jnp.issubdtype(dt, jnp.floating):
        raise TypeError(f"dtype must be a floating dtype, got {module.dtype!r}")
    if module.sigma_w2 is not None:
        check_rescale(module.stack())
