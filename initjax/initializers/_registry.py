"""The one initializer registry: builders plus metadata, looked up by name.

An entry's builder takes hyper-parameters and returns a function
``init(key, shape, dtype=jnp.float32) -> Array`` (the ``jax.nn.initializers.Initializer``
protocol). :func:`get` wraps it in a :class:`BoundInitializer` that validates ``shape`` and
``dtype`` once for every entry, returns empty arrays for zero-size shapes, and carries the entry
and the bound hyper-parameters (so tests and theory read the same promised variance).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from initjax._registry import Registry, import_object
from initjax.initializers.fans import fans as _fans
from initjax.initializers.fans import normalize_shape

__all__ = [
    "BoundInitializer",
    "Entry",
    "SHAPE_KINDS",
    "entry",
    "get",
    "names",
    "aliases",
    "register",
    "register_callable",
]

InitFn = Callable[..., jax.Array]
# variance(fan_in, fan_out, **hparams) -> promised Var[w] per element.
VarianceFn = Callable[..., float]
# shape_variance(shape, **hparams) -> promised Var[w] where the fans alone do not determine it.
ShapeVarianceFn = Callable[..., float]

# Kernel kinds an entry accepts (Entry.shapes), used by listings and by the registry-wide tests:
#   "vector":     rank 0 and 1 (biases, scales); only entries that are not fan-based.
#   "dense":      rank 2, (in, out), any in and out (square, tall, wide).
#   "conv":       rank 3-5 Flax kernels (*spatial, C_in, C_out) with odd spatial sizes and
#                 C_in <= C_out (entries with weaker requirements still list "conv").
#   "multi_axis": rank >= 3 kernels with several in/out axes (DenseGeneral, attention), given
#                 through the entry's in_axis/out_axis hyper-parameters, or flattened as the
#                 entry documents (orthogonal: column_axis).
SHAPE_KINDS = ("vector", "dense", "conv", "multi_axis")
# Hyper-parameters that name axes: an int or a sequence of ints.
_AXIS_HPARAMS = frozenset({"in_axis", "out_axis", "batch_axis", "column_axis"})
# Truncation bounds may be infinite (no truncation on that side); other numbers must be finite.
_BOUND_HPARAMS = frozenset({"lower", "upper", "a", "b"})
# Hyper-parameters that select how fans are computed (forwarded to `fans`).
_FAN_HPARAMS = ("in_axis", "out_axis", "batch_axis", "groups", "layout")


@dataclasses.dataclass(frozen=True)
class Entry:
    """Registry metadata of one initializer.

    Attributes:
      name: canonical name.
      builder: ``builder(**hparams) -> init``.
      family: grouping for listings ("constant", "random", "variance_scaling", "torch",
        "orthogonal", "structured", ...).
      defaults: default hyper-parameters; their Python types define the accepted types.
      reference: the paper (and equation) the entry follows.
      variance: promised per-element variance ``variance(fan_in, fan_out, **hparams)``, or None
        where not defined (e.g. orthogonal on a wide matrix, sparse per-row structure).
      formula: the promise as text, for ``initjax list``.
      aliases: other names resolving to this entry.
      deterministic: True if the result does not depend on the key (zeros, identity, ZerO).
      fan_based: True if the entry needs a kernel shape of rank >= 2.
      choices: for string hyper-parameters, the allowed values.
      shapes: kernel kinds the entry accepts, a subset of :data:`SHAPE_KINDS`.
      shape_variance: ``shape_variance(shape, **hparams)``, the promised variance where the fans
        alone do not determine it (orthogonal on a conv kernel); overrides ``variance`` in
        :meth:`variance_for_shape`.

    The promised variance is the per-element variance Var[w] = E[(w - E w)^2], averaged over the
    elements of the array: what ``np.var`` of one large draw estimates.
    """

    name: str
    builder: Callable[..., InitFn]
    family: str
    defaults: Mapping[str, Any]
    reference: str
    variance: VarianceFn | None = None
    formula: str = ""
    aliases: tuple[str, ...] = ()
    deterministic: bool = False
    fan_based: bool = True
    choices: Mapping[str, tuple[Any, ...]] = dataclasses.field(default_factory=dict)
    shapes: tuple[str, ...] = ("dense", "conv")
    shape_variance: ShapeVarianceFn | None = None

    def promised_variance(self, fan_in: int, fan_out: int, **hparams: Any) -> float | None:
        """The variance this entry promises for the given fans and hyper-parameters (or None).

        Raises:
          ValueError / TypeError: a fan that is not a positive integer.
        """
        _check_fans(fan_in, fan_out)
        if self.variance is None:
            return None
        return float(self.variance(fan_in, fan_out, **{**self.defaults, **hparams}))

    def fans_for(self, shape: Any, **hparams: Any) -> tuple[int, int] | None:
        """``(fan_in, fan_out)`` of ``shape`` under this entry's axis hyper-parameters.

        Uses whichever of in_axis, out_axis, batch_axis, groups, layout the entry has. None for a
        shape of rank < 2 when the entry is not fan-based.
        """
        shape = normalize_shape(shape)
        if len(shape) < 2 and not self.fan_based:
            return None
        merged = {**self.defaults, **hparams}
        kw = {k: merged[k] for k in _FAN_HPARAMS if k in merged and merged[k] is not None}
        return _fans(shape, **kw)

    def variance_for_shape(self, shape: Any, **hparams: Any) -> float | None:
        """The promised per-element variance of an array of ``shape`` (None where undefined)."""
        merged = {**self.defaults, **hparams}
        if self.shape_variance is not None:
            return float(self.shape_variance(normalize_shape(shape), **merged))
        if self.variance is None:
            return None
        f = self.fans_for(shape, **hparams)
        fan_in, fan_out = f if f is not None else (None, None)
        return float(self.variance(fan_in, fan_out, **merged))


_REGISTRY: Registry[Entry] = Registry(
    "initializer", hint="See initjax.initializers.names() or `initjax list`."
)


def _check_key(key: Any, name: str) -> None:
    """A single PRNG key: typed (``jax.random.key``) or raw uint32 (``jax.random.PRNGKey``)."""
    dt = getattr(key, "dtype", None)
    if dt is not None and jnp.issubdtype(dt, jax.dtypes.prng_key):
        if np.shape(key) != ():
            raise ValueError(
                f"initializer {name!r}: key must be a single PRNG key, got a key array of shape "
                f"{np.shape(key)} (vmap over keys instead)"
            )
        return
    if dt is not None and dt == jnp.uint32 and np.shape(key) == (2,):
        return  # raw threefry key from jax.random.PRNGKey
    raise TypeError(
        f"initializer {name!r}: key must be a PRNG key such as jax.random.key(0), got "
        f"{key!r} ({type(key).__name__})"
    )


def _check_fans(fan_in: Any, fan_out: Any) -> None:
    for arg, v in (("fan_in", fan_in), ("fan_out", fan_out)):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise TypeError(f"{arg} must be a positive integer, got {v!r}")
        if v < 1:
            raise ValueError(f"{arg} must be a positive integer (>= 1), got {v!r}")


def register(
    name: str,
    *,
    family: str,
    defaults: Mapping[str, Any] | None = None,
    reference: str,
    variance: VarianceFn | None = None,
    formula: str = "",
    aliases: tuple[str, ...] = (),
    deterministic: bool = False,
    fan_based: bool = True,
    choices: Mapping[str, tuple[Any, ...]] | None = None,
    shapes: tuple[str, ...] | None = None,
    shape_variance: ShapeVarianceFn | None = None,
) -> Callable[[Callable[..., InitFn]], Callable[..., InitFn]]:
    """Decorator adding ``builder(**hparams) -> init`` to the registry.

    Example::

        @register("my_init", family="random", defaults={"scale": 1.0},
                  reference="Me et al. 2026, eq. 3", variance=lambda fi, fo, scale: scale / fi,
                  formula="scale / fan_in")
        def my_init(scale):
            def init(key, shape, dtype=jnp.float32):
                ...
            return init

    ``shapes`` defaults to every kind for entries that are not fan-based, to
    ("dense", "conv", "multi_axis") for fan-based entries with in_axis/out_axis hyper-parameters,
    and to ("dense", "conv") otherwise.

    Raises:
      ValueError: the name or an alias is already registered, or ``shapes`` names an unknown kind.
    """
    if shapes is None:
        if not fan_based:
            shapes = SHAPE_KINDS
        elif {"in_axis", "out_axis"} <= set(defaults or {}):
            shapes = ("dense", "conv", "multi_axis")
        else:
            shapes = ("dense", "conv")
    bad = set(shapes) - set(SHAPE_KINDS)
    if bad or (fan_based and "vector" in shapes):
        raise ValueError(
            f"shapes={shapes!r}: use kinds from {SHAPE_KINDS} ('vector' only if fan_based=False)"
        )

    def deco(builder: Callable[..., InitFn]) -> Callable[..., InitFn]:
        e = Entry(
            name=name,
            builder=builder,
            family=family,
            defaults=dict(defaults or {}),
            reference=reference,
            variance=variance,
            formula=formula,
            aliases=tuple(aliases),
            deterministic=deterministic,
            fan_based=fan_based,
            choices=dict(choices or {}),
            shapes=tuple(shapes),
            shape_variance=shape_variance,
        )
        _REGISTRY.register(name, e, aliases=aliases, family=family)
        return builder

    return deco


def names() -> list[str]:
    """Canonical names of every registered initializer, sorted."""
    return _REGISTRY.names()


def aliases() -> dict[str, str]:
    """Mapping alias -> canonical name."""
    return _REGISTRY.aliases()


def entry(name: str) -> Entry:
    """The :class:`Entry` for a canonical name or alias.

    A name of the form ``"package.module:function"`` (or ``"path/to/file.py:function"``) that
    is not registered yet is imported and registered first (see :func:`register_callable`).

    Raises:
      TypeError: ``name`` is not a string.
      ValueError: unknown name; the message lists the closest registered names.
    """
    if isinstance(name, str) and name not in _REGISTRY and ":" in name:
        return _import_entry(name)
    return _REGISTRY.get(name)


def register_callable(
    fn: InitFn,
    *,
    name: str,
    variance: VarianceFn | None = None,
    formula: str = "",
    reference: str = "",
    family: str = "user",
    fan_based: bool = True,
    deterministic: bool = False,
    shapes: tuple[str, ...] | None = None,
) -> Entry:
    """Register a plain ``init(key, shape, dtype=jnp.float32)`` callable (no hyper-parameters).

    Args:
      fn: the initializer function.
      name: registry name.
      variance: ``variance(fan_in, fan_out) -> float``, the per-element variance ``fn``
        promises; None when it promises none (then ``sigma_w2`` cannot rescale it exactly and
        theory comparisons have no sigma_w2 to start from). Defaults to ``fn.variance`` if the
        function carries one.
      formula: the promise as text for ``initjax list`` (default ``fn.formula`` or "").
      reference, family, fan_based, deterministic, shapes: as in :func:`register`.

    Returns:
      The new :class:`Entry`.

    Raises:
      TypeError: ``fn`` is not callable. ValueError: the name is taken.
    """
    if not callable(fn):
        raise TypeError(f"initializer {name!r} must be callable init(key, shape, dtype)")
    if variance is None:
        variance = getattr(fn, "variance", None)
    if variance is not None and not callable(variance):
        raise TypeError(f"initializer {name!r}: variance must be callable (fan_in, fan_out)")
    formula = formula or str(getattr(fn, "formula", "") or "")
    doc = (getattr(fn, "__doc__", None) or "").strip().splitlines()
    register(
        name,
        family=family,
        defaults={},
        reference=reference or (doc[0] if doc else f"user callable {name}"),
        variance=variance,
        formula=formula,
        fan_based=fan_based,
        deterministic=deterministic,
        shapes=shapes,
    )(lambda: fn)
    return _REGISTRY.get(name)


def _import_entry(spec: str) -> Entry:
    """The entry for ``"module:attr"``: a registered builder's entry, an :class:`Entry`, a
    :class:`BoundInitializer` or a plain callable (the last two are registered under ``spec``)."""
    obj = import_object(spec)
    if spec in _REGISTRY:  # importing the module registered this very name
        return _REGISTRY.get(spec)
    if isinstance(obj, Entry):
        return obj
    for rec in _REGISTRY.records():
        if rec.obj.builder is obj:  # a function decorated with @register
            return rec.obj
    if isinstance(obj, BoundInitializer):
        b = obj
        register(
            spec,
            family=b.entry.family,
            defaults={},
            reference=b.entry.reference,
            variance=None
            if b.entry.variance is None
            else (lambda fi, fo: b.promised_variance(fi, fo)),
            formula=b.entry.formula,
            fan_based=b.entry.fan_based,
            deterministic=b.entry.deterministic,
            shapes=b.entry.shapes,
            shape_variance=(
                None
                if b.entry.variance is None and b.entry.shape_variance is None
                else (lambda shape: b.promised_variance_for(shape))
            ),
        )(lambda: b)
        return _REGISTRY.get(spec)
    if callable(obj):
        return register_callable(obj, name=spec)
    raise TypeError(
        f"{spec!r} is a {type(obj).__name__}, not an initializer: expected a function "
        "init(key, shape, dtype), a BoundInitializer or a function registered with "
        "initjax.initializers.register"
    )


def _is_number(v: Any) -> bool:
    if isinstance(v, bool):
        return False
    if isinstance(v, numbers.Number | np.generic):
        return True
    # Traced or concrete 0-d arrays, so sweeps can vmap over a scale.
    return isinstance(v, jax.Array | np.ndarray) and v.ndim == 0


def _check_hparam(e: Entry, k: str, v: Any) -> None:
    d = e.defaults[k]
    if k in _AXIS_HPARAMS and d is not None:
        seq = v if isinstance(v, tuple | list) else (v,)
        if (
            not seq
            and k != "batch_axis"
            or not all(isinstance(a, int | np.integer) and not isinstance(a, bool) for a in seq)
        ):
            raise TypeError(
                f"initializer {e.name!r}: {k} must be an int or a sequence of ints, got {v!r}"
            )
        return
    if k in e.choices:
        if v not in e.choices[k]:
            raise ValueError(
                f"initializer {e.name!r}: {k}={v!r} is not allowed; choose one of "
                f"{', '.join(map(repr, e.choices[k]))}"
            )
        return
    if d is None:
        return
    if isinstance(d, bool):
        ok = isinstance(v, bool)
    elif isinstance(d, int | float):
        ok = _is_number(v)
    elif isinstance(d, str):
        ok = isinstance(v, str)
    elif isinstance(d, tuple | list):
        ok = isinstance(v, tuple | list | int)
    else:
        ok = True
    if not ok:
        raise TypeError(
            f"initializer {e.name!r}: hyper-parameter {k} must be of type "
            f"{type(d).__name__} like its default {d!r}, got {v!r} ({type(v).__name__})"
        )
    if (
        isinstance(d, int | float)
        and not isinstance(d, bool)
        and not isinstance(v, jax.core.Tracer)
    ):
        a = np.asarray(v, np.float64)
        if np.any(np.isnan(a)):
            raise ValueError(f"initializer {e.name!r}: hyper-parameter {k} must not be NaN")
        if k not in _BOUND_HPARAMS and not np.all(np.isfinite(a)):
            raise ValueError(
                f"initializer {e.name!r}: hyper-parameter {k} must be finite, got {v!r}"
            )


@dataclasses.dataclass(frozen=True, eq=False)
class BoundInitializer:
    """An initializer with its hyper-parameters bound: ``init(key, shape, dtype=float32)``.

    Calling it validates ``shape`` (integers >= 0) and ``dtype`` (a floating dtype; float64 only
    with x64 enabled), checks that a fan-based entry gets a kernel whose fans are defined (rank
    >= 2, valid axes and groups), returns ``jnp.zeros(shape, dtype)`` for zero-size shapes, and
    otherwise calls the entry's function. The result has exactly the requested dtype.

    Raises (at call): TypeError for a key that is not a PRNG key (e.g. an int), a non-integer
    shape or non-floating dtype; ValueError for a key array, a
    negative dimension, float64 without x64, a rank < 2 shape for a fan-based entry (the message
    names the shape and in_axis/out_axis), or a shape the entry cannot fill (e.g.
    delta_orthogonal with C_in > C_out).

    Equality and hash use (name, hyper-parameters) when these are hashable, so two equal
    initializers do not force a recompilation when used as static configuration.
    """

    entry: Entry
    hparams: Mapping[str, Any]
    fn: InitFn

    @property
    def name(self) -> str:
        return self.entry.name

    def __call__(self, key: jax.Array, shape: Any, dtype: Any = jnp.float32) -> jax.Array:
        _check_key(key, self.name)
        shape = normalize_shape(shape)
        try:
            dt = jnp.dtype(dtype)
        except TypeError:
            raise TypeError(f"dtype must be a floating dtype, got {dtype!r}") from None
        if not jnp.issubdtype(dt, jnp.floating):
            raise TypeError(
                f"initializer {self.name!r}: dtype must be a floating dtype (float32, bfloat16, "
                f"float16, float64), got {dt}"
            )
        if dt == jnp.float64 and not jax.config.jax_enable_x64:
            raise ValueError(
                f"initializer {self.name!r}: float64 requested but x64 is disabled; enable it "
                "with jax.config.update('jax_enable_x64', True)"
            )
        if self.entry.fan_based:
            # Rank < 2, bad axes or groups: a ValueError naming the shape and axes, raised here
            # once for every entry rather than as an IndexError deep inside one.
            self.entry.fans_for(shape, **self.hparams)
        if math.prod(shape) == 0:
            return jnp.zeros(shape, dt)
        out = self.fn(key, shape, dt)
        return out.astype(dt) if out.dtype != dt else out

    def promised_variance(self, fan_in: int, fan_out: int) -> float | None:
        """Per-element variance promised for these fans (None where undefined)."""
        return self.entry.promised_variance(fan_in, fan_out, **self.hparams)

    def promised_variance_for(self, shape: Any) -> float | None:
        """Per-element variance promised for an array of ``shape`` (None where undefined)."""
        return self.entry.variance_for_shape(shape, **self.hparams)

    def _key(self) -> tuple:
        return (self.entry.name, tuple(sorted(self.hparams.items())))

    def __hash__(self) -> int:
        try:
            return hash(self._key())
        except TypeError:  # traced or array hyper-parameters
            return id(self)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BoundInitializer):
            return NotImplemented
        if self is other:
            return True
        try:
            return bool(self._key() == other._key())
        except Exception:  # arrays do not compare to a single bool
            return False

    def __repr__(self) -> str:
        hp = ", ".join(f"{k}={v!r}" for k, v in self.hparams.items())
        return f"{self.name}({hp})"


def get(name: str, **hparams: Any) -> BoundInitializer:
    """Look up an initializer by name and bind its hyper-parameters.

    Args:
      name: canonical name or alias (``xavier_*`` -> ``glorot_*``, ``kaiming_*`` -> ``he_*``).
      **hparams: hyper-parameters overriding the entry's defaults. Scalar ones may be traced
        (``jax.vmap`` over ``scale``).

    Returns:
      A :class:`BoundInitializer` ``init(key, shape, dtype=jnp.float32) -> Array``.

    Raises:
      ValueError: unknown name (lists the closest names), unknown hyper-parameter (lists the
        allowed ones), or a value outside the allowed choices / range.
      TypeError: a hyper-parameter of the wrong type.
    """
    e = entry(name)
    unknown = sorted(set(hparams) - set(e.defaults))
    if unknown:
        allowed = ", ".join(sorted(e.defaults)) or "none"
        raise ValueError(
            f"initializer {e.name!r}: unknown hyper-parameter(s) {', '.join(unknown)}; "
            f"allowed: {allowed}"
        )
    for k, v in hparams.items():
        _check_hparam(e, k, v)
    merged = {**e.defaults, **hparams}
    return BoundInitializer(e, merged, e.builder(**merged))
