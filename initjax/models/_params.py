"""Drawing one layer's kernel and bias in standard parameterization (DESIGN.md).

Kernels: when ``sigma_w2`` is given, the initializer's draw is rescaled so that
Var[w] = sigma_w2 / fan_in, using the variance the registry entry promises for the layer's fans::

    w = sqrt(sigma_w2 / (fan_in * v)) * init(key, shape),   v = promised_variance(fan_in, fan_out)

A data-dependent entry (LSUV, MetaInit, GradInit) is drawn by its base initializer here and refined
on data afterwards (:func:`initjax.models.refine_params`); its base's promise is used. A plain
callable initializer (``jax.nn.initializers.orthogonal()``, ...) or a registry entry without a
promise (identity, dirac, zero_init_hadamard) has no known variance, so ``sigma_w2`` cannot be
honoured: that is a ValueError (no silent guess). Declare the variance of a callable with
``initjax.initializers.with_variance(init, variance=lambda fan_in, fan_out: ...)`` or use it with
``sigma_w2=None`` (as given). A promise of 0 (zeros, ones, constant) is used as drawn: there is no
variance to rescale. With ``sigma_w2=None`` the initializer is used exactly as given.

Biases: ``b = sqrt(sigma_b2) * N(0, 1)`` (so ``sigma_b2 = 0`` gives exact zeros), unless an explicit
``bias_init`` is given. Scalars enter only as multipliers of draws that do not depend on them, so
``sigma_w2`` / ``sigma_b2`` may be traced: a vmap over them reuses one compilation and gives common
random numbers across a grid.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from initjax import initializers
from initjax.initializers import BoundInitializer, sampler_of
from initjax.initializers.sampling import standard_normal

__all__ = [
    "Initializer",
    "resolve_initializer",
    "kernel_multiplier",
    "draw_kernel",
    "draw_bias",
    "check_variance",
    "check_init_shape",
    "check_rescalable",
    "check_output",
]

Initializer = Callable[..., jax.Array]


def resolve_initializer(init: Any, *, arg: str, allow_none: bool = False) -> Initializer | None:
    """A registry name -> ``initializers.get(name)``; a BoundInitializer or callable as is.

    Raises:
      ValueError: unknown registry name (the registry suggests close names), prefixed by ``arg``.
      TypeError: neither a string nor a callable.
    """
    if init is None and allow_none:
        return None
    if isinstance(init, str):
        try:
            return initializers.get(init)
        except ValueError as err:
            raise ValueError(f"{arg}: {err}") from None
    if callable(init):
        return init
    raise TypeError(
        f"{arg} must be an initializer name (see `initjax list`), a BoundInitializer or a "
        f"jax.nn.initializers-style callable init(key, shape, dtype), got {init!r}"
    )


def init_name(init: Initializer | None) -> str:
    """Short human-readable name of an initializer (for tables and file names)."""
    if init is None:
        return "none"
    if isinstance(init, BoundInitializer):
        return init.name
    return getattr(init, "__qualname__", getattr(init, "__name__", type(init).__name__))


def check_variance(value: Any, *, arg: str, allow_none: bool = False) -> None:
    """Reject a concrete negative, non-finite or non-numeric variance; tracers pass through.

    Raises:
      ValueError: ``value`` < 0 or not finite, naming ``arg``.
      TypeError: ``value`` is not a real number (or None when ``allow_none``).
    """
    if value is None:
        if allow_none:
            return
        raise TypeError(f"{arg} must be a non-negative real number, got None")
    if isinstance(value, jax.core.Tracer):
        return
    if isinstance(value, bool) or not (
        isinstance(value, numbers.Real | np.floating | np.integer)
        or (isinstance(value, jax.Array | np.ndarray) and np.ndim(value) == 0)
    ):
        raise TypeError(f"{arg} must be a non-negative real number (a variance), got {value!r}")
    v = float(value)
    if not np.isfinite(v) or v < 0:
        raise ValueError(f"{arg} must be a finite variance >= 0, got {value!r}")


def _promised_variance(init: Initializer, fan_in: int, fan_out: int) -> Any:
    """The entry's promise (a float, possibly a tracer for traced hyper-parameters) or None."""
    init = sampler_of(init)
    if not isinstance(init, BoundInitializer) or init.entry.variance is None:
        return None
    e = init.entry
    return e.variance(fan_in, fan_out, **{**e.defaults, **init.hparams})


def check_rescalable(init: Initializer | None, *, arg: str) -> None:
    """Raise unless ``sigma_w2`` can rescale ``init``: it must promise a variance.

    Raises:
      ValueError: ``init`` is a plain callable or a registry entry without a promised variance,
        naming ``arg`` and saying how to declare the variance or drop ``sigma_w2``.
    """
    if init is None:
        return
    init = sampler_of(init)  # a data-dependent entry: its base draws (and promises)
    if isinstance(init, BoundInitializer) and init.entry.variance is not None:
        return
    what = (
        f"registry entry {init.name!r} promises no variance"
        if isinstance(init, BoundInitializer)
        else f"the callable {init_name(init)!r} has no known variance"
    )
    raise ValueError(
        f"{arg}: sigma_w2 rescales the draw to Var = sigma_w2 / fan_in using the variance the "
        f"initializer promises, but {what}. Pass sigma_w2=None to use it as given, use a "
        "registered initializer (`initjax list`), or declare its variance: "
        "initjax.initializers.with_variance(init, lambda fan_in, fan_out: ...)"
    )


def kernel_multiplier(
    init: Initializer, fan_in: int, fan_out: int, sigma_w2: Any
) -> jax.Array | None:
    """The factor applied to ``init``'s draw so Var[w] = sigma_w2 / fan_in (None: use as drawn).

    Computed in float32 from ``sigma_w2`` (concrete or traced) exactly the same way in the fused
    and materialized paths, so both produce bit-identical kernels.

    Raises:
      ValueError: ``sigma_w2`` is given and ``init`` promises no variance
        (:func:`check_rescalable`).
    """
    if sigma_w2 is None:
        return None
    check_rescalable(init, arg="kernel initializer")
    s = jnp.asarray(sigma_w2, jnp.float32)
    v = _promised_variance(init, fan_in, fan_out)
    if isinstance(v, jax.core.Tracer):
        v = jnp.asarray(v, jnp.float32)
        safe = jnp.where(v > 0, v, 1.0)
        return jnp.where(v > 0, jnp.sqrt(s / (jnp.float32(fan_in) * safe)), jnp.float32(1.0))
    if float(v) == 0.0:  # zeros / constants: nothing to rescale
        return None
    return jnp.sqrt(s / jnp.float32(fan_in * float(v)))


def _folded(
    init: Initializer, fan_in: int, fan_out: int, sigma_w2: Any, extra_scale: Any
) -> Initializer | None:
    """``init`` with the kernel multiplier folded into its own scale hyper-parameter, or None.

    For the entries whose law is a fixed shape times a scale (the variance-scaling family:
    Var = scale / n(mode); ``normal``: std = stddev), multiplying a draw by m is the same law as
    drawing with scale * m^2 (stddev * m). Folding lets the sampler emit the final weights in
    one pass (the bits, the transform and the multiplier fused in one loop) instead of a second
    pass over the kernel behind an optimization barrier. The values differ from "draw, then
    multiply" only by the rounding of one product (a relative 2^-24 per weight).
    """
    if not isinstance(init, BoundInitializer):
        return None
    e, hp = init.entry, dict(init.hparams)
    if e.family == "variance_scaling" and "scale" in hp:
        knob, power = "scale", 2
    elif e.name == "normal" and "stddev" in hp:
        knob, power = "stddev", 1
    else:
        return None
    m = kernel_multiplier(init, fan_in, fan_out, sigma_w2)
    if extra_scale is not None:
        x = jnp.asarray(extra_scale, jnp.float32)
        m = x if m is None else m * x
    if m is None:
        return None
    hp[knob] = jnp.asarray(hp[knob], jnp.float32) * (m * m if power == 2 else m)
    return BoundInitializer(e, hp, e.builder(**hp))


def _barrier(x: jax.Array) -> jax.Array:
    # XLA reassociates products of constants (e.g. sqrt(sigma_w2) * (sqrt(2) * erfinv(u))) and
    # moves scalar multipliers through dots, differently when sigma_w2 is a constant (Linen init)
    # or traced (fused sweep). Barriers pin the order, so both paths give bit-identical weights.
    return jax.lax.optimization_barrier(x)


def draw_kernel(
    init: Initializer,
    key: jax.Array,
    shape: tuple[int, ...],
    fan_in: int,
    fan_out: int,
    sigma_w2: Any,
    dtype: Any = jnp.float32,
    extra_scale: Any = None,
) -> jax.Array:
    """One kernel: ``init(key, shape, dtype)`` times :func:`kernel_multiplier` and ``extra_scale``.

    Args:
      init: the resolved initializer.
      key: the kernel's key (``fold_in(layer_key, keys.KERNEL)``).
      shape: kernel shape in Flax layout, dense ``(fan_in, fan_out)``, conv ``(*k, C_in, C_out)``.
      fan_in, fan_out: the layer's fans (conv: receptive field times channels).
      sigma_w2: target weight variance times fan_in, or None to use ``init`` as given.
      dtype: parameter dtype.
      extra_scale: an architecture's fixed multiplier (e.g. ResMLP's ``branch_scale``) or None.

    Returns:
      Array of ``shape`` and ``dtype``. For the variance-scaling family and ``normal`` the
      multiplier is folded into the initializer's scale (:func:`_folded`): one sampling pass,
      the same law; the raw bits and the key scheme are unchanged.
    """
    sampler = sampler_of(init)
    folded = _folded(sampler, fan_in, fan_out, sigma_w2, extra_scale)
    if folded is not None:
        w = folded(key, shape, dtype)
        check_output(sampler, w, shape, dtype, arg="kernel initializer", where="kernel")
        return _barrier(w)
    w = sampler(key, shape, dtype)
    check_output(sampler, w, shape, dtype, arg="kernel initializer", where="kernel")
    w = _barrier(w)
    m = kernel_multiplier(init, fan_in, fan_out, sigma_w2)
    if extra_scale is not None:
        e = jnp.asarray(extra_scale, jnp.float32)
        m = e if m is None else m * e
    if m is None:
        return w
    return _barrier((w * m.astype(w.dtype)).astype(dtype))


def draw_bias(
    bias_init: Initializer | None,
    key: jax.Array,
    shape: tuple[int, ...],
    sigma_b2: Any,
    dtype: Any = jnp.float32,
) -> jax.Array:
    """One bias: ``sqrt(sigma_b2) * N(0, 1)`` draws, or ``bias_init(key, shape, dtype)``."""
    if bias_init is not None:
        b = bias_init(key, shape, dtype)
        check_output(bias_init, b, shape, dtype, arg="bias_init", where="bias")
        return _barrier(b)
    z = _barrier(standard_normal(key, shape))
    return _barrier((jnp.sqrt(jnp.asarray(sigma_b2, jnp.float32)) * z).astype(dtype))


def check_init_shape(init: Initializer, shape: tuple[int, ...], *, arg: str, where: str) -> None:
    """Trace (never compile) ``init`` on ``shape`` so incompatible inits fail early and clearly.

    Raises:
      ValueError: the initializer rejects the shape (e.g. delta_orthogonal on a dense kernel, a
        fan-based initializer on a 1-D bias) or returns another shape, naming ``arg``, the layer
        and the shape. TypeError: it returns another dtype than float32.
    """
    draw = init if arg == "bias_init" else sampler_of(init)
    try:
        out = jax.eval_shape(lambda k: draw(k, shape, jnp.float32), jax.random.key(0))
    except (ValueError, TypeError, NotImplementedError, IndexError) as err:
        raise ValueError(
            f"{arg}={init_name(init)!r} cannot initialize the {where} of shape {shape}: {err}"
        ) from None
    check_output(draw, out, shape, jnp.float32, arg=arg, where=where)


def check_output(
    init: Initializer, out: Any, shape: tuple[int, ...], dtype: Any, *, arg: str, where: str
) -> None:
    """The boundary check on an initializer's result: an array of exactly ``shape``, ``dtype``.

    Raises:
      ValueError: wrong shape or not an array; TypeError: wrong dtype; naming ``arg`` and the
        initializer.
    """
    got_shape = getattr(out, "shape", None)
    if got_shape is None or tuple(got_shape) != tuple(shape):
        raise ValueError(
            f"{arg}={init_name(init)!r} returned {_describe(out)} for the {where}; an "
            f"initializer must return an array of the requested shape {tuple(shape)}"
        )
    if jnp.dtype(out.dtype) != jnp.dtype(dtype):
        raise TypeError(
            f"{arg}={init_name(init)!r} returned dtype {jnp.dtype(out.dtype)} for the {where}; "
            f"an initializer must return the requested dtype {jnp.dtype(dtype)}"
        )


def _describe(out: Any) -> str:
    shape = getattr(out, "shape", None)
    if shape is None:
        return f"a {type(out).__name__}"
    return f"shape {tuple(shape)}"
