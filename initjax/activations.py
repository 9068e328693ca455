"""Activation registry shared by initializers (gains), theory (mean-field maps) and models.

Pure ``jax.numpy``; no Flax. An :class:`Activation` is hashable by (name, params) so it can be a
static argument of ``jax.jit`` without recompiling for an equal activation built twice.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax.scipy.special import erf as _erf

from initjax._registry import Registry

__all__ = ["Activation", "aliases", "builder", "get", "names", "register"]

ArrayFn = Callable[[jax.Array], jax.Array]


@dataclasses.dataclass(frozen=True, eq=False)
class Activation:
    """A pointwise nonlinearity phi with optional closed-form derivative.

    Attributes:
      name: canonical name ("tanh", "relu", ...) or the callable's ``__name__`` for custom ones.
      fn: elementwise ``phi(x)``; any shape, preserves dtype.
      deriv: elementwise ``phi'(x)`` in closed form, or None (then ``jax.grad`` is used).
      params: hyper-parameters, e.g. ``{"negative_slope": 0.01}`` for leaky_relu.
      saturation: how :mod:`initjax.measure` defines a "saturated" unit: ``"abs_gt_0.9"`` for
        bounded sigmoidal units (fraction with |phi(x)| > 0.9 of the bound), ``"zero"`` for
        rectifiers (fraction of exact zeros / non-positive inputs), or None.
      torch_name: the name ``torch.nn.init.calculate_gain`` uses, if it has one.
      registered: True when built from the registry; equality/hash then use (name, params).
    """

    name: str
    fn: ArrayFn
    deriv: ArrayFn | None = None
    params: tuple[tuple[str, Any], ...] = ()
    saturation: str | None = None
    torch_name: str | None = None
    registered: bool = False

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.fn(x)

    def derivative(self, x: jax.Array) -> jax.Array:
        """phi'(x), elementwise: the closed form if registered, else ``jax.grad`` of ``fn``."""
        if self.deriv is not None:
            return self.deriv(x)
        x = jnp.asarray(x)
        g = jax.grad(lambda t: self.fn(t))
        flat = jax.vmap(g)(x.reshape(-1))
        return flat.reshape(x.shape)

    @property
    def param_dict(self) -> dict[str, Any]:
        return dict(self.params)

    def _key(self) -> tuple:
        if self.registered:
            return ("registered", self.name, self.params)
        return ("callable", self.fn)

    def __hash__(self) -> int:
        return hash(self._key())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Activation) and self._key() == other._key()

    def __repr__(self) -> str:
        p = ", ".join(f"{k}={v}" for k, v in self.params)
        return f"Activation({self.name}{', ' + p if p else ''})"


_REGISTRY: Registry[Callable[..., Activation]] = Registry(
    "activation", normalize=lambda n: n.strip().lower()
)


def register(name: str, *, defaults: dict[str, Any] | None = None, aliases: tuple[str, ...] = ()):
    """Decorator registering ``builder(**params) -> Activation`` under ``name`` (and aliases).

    ``defaults`` are the activation's hyper-parameters and their default values (the only
    parameters :func:`get` accepts). Names are case-insensitive.

    Raises:
      ValueError: the name or an alias is already registered.
    """

    def deco(builder: Callable[..., Activation]) -> Callable[..., Activation]:
        _REGISTRY.register(name, builder, aliases=aliases, defaults=dict(defaults or {}))
        return builder

    return deco


def names() -> list[str]:
    """Canonical names of the registered activations, sorted."""
    return _REGISTRY.names()


def aliases() -> dict[str, str]:
    """Mapping alias -> canonical name."""
    return _REGISTRY.aliases()


def builder(name: str) -> Callable[..., Activation]:
    """The registered ``builder(**params) -> Activation`` of ``name`` (canonical or alias)."""
    return _REGISTRY.get(name)


def get(
    activation: str | Activation | Callable[[jax.Array], jax.Array], **params: Any
) -> Activation:
    """Return an :class:`Activation` from a registered name, an Activation or a callable.

    Args:
      activation: a name in :func:`names` (aliases such as "swish", "identity" resolve), an
        :class:`Activation` (returned as is), or any elementwise callable (derivative by autodiff).
      **params: hyper-parameters of a registered activation, e.g. ``negative_slope=0.2``.

    Raises:
      ValueError: unknown name (the message suggests the closest names) or unknown parameter.
      TypeError: ``activation`` is neither a string nor callable.
    """
    if isinstance(activation, Activation):
        if params:
            raise ValueError("activation: parameters cannot be passed with an Activation instance")
        return activation
    if isinstance(activation, str):
        rec = _REGISTRY.record(activation)
        defaults = rec.metadata["defaults"]
        unknown = set(params) - set(defaults)
        if unknown:
            allowed = ", ".join(sorted(defaults)) or "none"
            raise ValueError(
                f"activation {rec.name!r}: unknown parameter(s) {sorted(unknown)}; "
                f"allowed: {allowed}"
            )
        merged = {**defaults, **params}
        return dataclasses.replace(rec.obj(**merged), registered=True)
    if callable(activation):
        return Activation(name=getattr(activation, "__name__", "custom"), fn=activation)
    raise TypeError(
        "activation must be a registered name, an Activation or a callable, "
        f"got {type(activation)!r}"
    )


def _simple(
    name: str,
    fn: ArrayFn,
    deriv: ArrayFn | None = None,
    *,
    aliases=(),
    saturation=None,
    torch_name=None,
) -> None:
    register(name, aliases=aliases)(lambda: Activation(name, fn, deriv, (), saturation, torch_name))


_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)

_simple(
    "linear",
    lambda x: x,
    lambda x: jnp.ones_like(x),
    aliases=("identity", "none"),
    torch_name="linear",
)
_simple(
    "tanh", jnp.tanh, lambda x: 1.0 - jnp.tanh(x) ** 2, saturation="abs_gt_0.9", torch_name="tanh"
)
_simple(
    "relu", jax.nn.relu, lambda x: (x > 0).astype(x.dtype), saturation="zero", torch_name="relu"
)
# erf: the Williams (1997) kernel gives closed-form maps; derivative 2/sqrt(pi) exp(-x^2).
_simple(
    "erf", _erf, lambda x: (2.0 / math.sqrt(math.pi)) * jnp.exp(-(x**2)), saturation="abs_gt_0.9"
)
_simple(
    "sigmoid",
    jax.nn.sigmoid,
    lambda x: jax.nn.sigmoid(x) * (1.0 - jax.nn.sigmoid(x)),
    torch_name="sigmoid",
)
_simple("selu", jax.nn.selu, None, torch_name="selu")
_simple("gelu", lambda x: jax.nn.gelu(x, approximate=False), None)
_simple("silu", jax.nn.silu, None, aliases=("swish",))
_simple("softplus", jax.nn.softplus, jax.nn.sigmoid)
_simple(
    "hard_tanh",
    lambda x: jnp.clip(x, -1.0, 1.0),
    lambda x: ((x > -1.0) & (x < 1.0)).astype(x.dtype),
    saturation="abs_gt_0.9",
)
_simple("sin", jnp.sin, jnp.cos)
# softsign x / (1 + |x|): the second nonlinearity of Glorot & Bengio (2010).
_simple(
    "softsign",
    lambda x: x / (1.0 + jnp.abs(x)),
    lambda x: 1.0 / (1.0 + jnp.abs(x)) ** 2,
    saturation="abs_gt_0.9",
)


def _finite_param(name: str, arg: str, value: Any) -> float:
    """``value`` as a finite float; TypeError / ValueError naming the activation and ``arg``."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise TypeError(f"{name}: {arg} must be a real number, got {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name}: {arg} must be finite, got {value!r}")
    return v


@register("leaky_relu", defaults={"negative_slope": 0.01})
def _leaky_relu(negative_slope: float) -> Activation:
    a = _finite_param("leaky_relu", "negative_slope", negative_slope)
    return Activation(
        "leaky_relu",
        lambda x: jnp.where(x > 0, x, a * x),
        lambda x: jnp.where(x > 0, jnp.ones_like(x), jnp.full_like(x, a)),
        (("negative_slope", a),),
        "zero",
        "leaky_relu",
    )


@register("elu", defaults={"alpha": 1.0})
def _elu(alpha: float) -> Activation:
    a = _finite_param("elu", "alpha", alpha)
    return Activation(
        "elu",
        lambda x: jax.nn.elu(x, alpha=a),
        lambda x: jnp.where(x > 0, jnp.ones_like(x), a * jnp.exp(jnp.minimum(x, 0.0))),
        (("alpha", a),),
    )
