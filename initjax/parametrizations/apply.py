"""One parametrization applied to one model: per-parameter numbers that drive init, forward and
optimizer alike.

``parametrize(model, "mup", base_width=64)`` reads every parameter's role and fans from the
model's stack (:meth:`initjax.models.Stack.roles`) and from the same family at the base shape,
and evaluates the parametrization's rules into a :class:`Parametrized`: for each parameter the
init-variance multiplier, forward multiplier, learning-rate, Adam-epsilon and weight-decay
multipliers. Those numbers are the only place the parametrization enters:

- :meth:`Parametrized.init` draws the family's standard-parametrization params (the key scheme
  of ``initjax.models``) and scales each by sqrt(init-variance multiplier);
- :meth:`Parametrized.apply` computes the network with ``multiplier * param`` for every param;
- :meth:`Parametrized.optimizer` gives the optax transformation with per-parameter learning
  rates, epsilons and weight decays (:mod:`initjax.parametrizations.optim`).

So init, forward and optimizer cannot disagree, and at the base shape every parametrization
reproduces the family's SP network and the base learning rate.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from initjax import keys, models
from initjax.models import (
    ParamRole,
    Stack,
    UnsupportedCapability,
    apply_stack,
    init_stack,
    stack_of,
)
from initjax.parametrizations._table import OPTIMIZER_FAMILIES, Parametrization, get, role_class

__all__ = ["LeafRule", "Parametrized", "parametrize"]

_DEFAULT: Any = object()
# The stack's init compiled once per (stack, input shape) and reused by every Parametrized.init
# (the same program as model.init's, so the same values bit for bit).
_init_stack_jit = jax.jit(init_stack, static_argnums=(0, 2))


@dataclasses.dataclass(frozen=True)
class LeafRule:
    """The numbers of one parameter (one layer's slice for stacked hidden params).

    Attributes:
      path: keys into the params dict, e.g. ``("hidden", "kernel")``.
      role: model role (``initjax.models.ROLES``); ``role_class``: its row of the table.
      shape: per-layer shape; ``stacked``: the params carry a leading depth axis.
      fan_in, fan_out, base_fan_in, base_fan_out: fans here and at the base shape.
      m_in, m_out, m_depth: width multipliers of the fans and the depth multiplier.
      branch, branch_output: residual-branch flags of the role.
      init_var, multiplier, lr_sgd, lr_adam, eps, wd_sgd, wd_adam: the multipliers.
    """

    path: tuple[str, ...]
    role: str
    role_class: str
    shape: tuple[int, ...]
    stacked: bool
    fan_in: int
    fan_out: int
    base_fan_in: int
    base_fan_out: int
    m_in: float
    m_out: float
    m_depth: float
    branch: bool
    branch_output: bool
    init_var: float
    multiplier: float
    lr_sgd: float
    lr_adam: float
    eps: float
    wd_sgd: float
    wd_adam: float

    def lr(self, optimizer: str) -> float:
        """Learning-rate multiplier under ``optimizer`` (a name of ``OPTIMIZER_FAMILIES``)."""
        return self.lr_sgd if _family(optimizer) == "sgd" else self.lr_adam

    def wd(self, optimizer: str) -> float:
        """Weight-decay multiplier under ``optimizer``."""
        return self.wd_sgd if _family(optimizer) == "sgd" else self.wd_adam

    @property
    def name(self) -> str:
        return "/".join(self.path)


def _family(optimizer: str) -> str:
    if optimizer not in OPTIMIZER_FAMILIES:
        raise ValueError(
            f"optimizer must be one of {', '.join(OPTIMIZER_FAMILIES)}, got {optimizer!r}"
        )
    return OPTIMIZER_FAMILIES[optimizer]


def _nest(items: list[tuple[tuple[str, ...], Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path, v in items:
        d = out
        for k in path[:-1]:
            d = d.setdefault(k, {})
        d[path[-1]] = v
    return out


def _key_name(k: Any) -> str:
    return str(getattr(k, "key", getattr(k, "name", getattr(k, "idx", k))))


@dataclasses.dataclass(frozen=True)
class Parametrized:
    """A model under a parametrization: hashable (a static ``jit`` argument).

    Attributes:
      parametrization: the :class:`Parametrization`.
      stack: the model's stack (with the attention logit scale the parametrization asks for).
      in_shape: per-example input shape the fans were read at.
      sigma_w2, sigma_b2: the model's standard-parametrization variances.
      width, base_width, depth, base_depth: the shapes compared (base_* None: not needed).
      leaves: one :class:`LeafRule` per parameter, in the params' flattening order.
    """

    parametrization: Parametrization
    stack: Stack
    in_shape: tuple[int, ...]
    sigma_w2: Any
    sigma_b2: Any
    width: int
    base_width: int | None
    depth: int
    base_depth: int | None
    leaves: tuple[LeafRule, ...]

    @property
    def name(self) -> str:
        return self.parametrization.name

    def tree(self, field: str) -> dict[str, Any]:
        """A pytree shaped like the params with ``field`` of each :class:`LeafRule` (a float)."""
        return self.tree_of(lambda lf: getattr(lf, field))

    def tree_of(self, fn: Callable[[LeafRule], Any]) -> dict[str, Any]:
        """A pytree shaped like the params with ``fn(leaf_rule)`` at each parameter."""
        return _nest([(lf.path, fn(lf)) for lf in self.leaves])

    def _scale(self, params, field: str, power: float = 1.0):
        factors = self.tree(field)
        self._check_structure(params)

        def one(p, f):
            f = float(f) ** power
            return p if f == 1.0 else p * jnp.asarray(f, p.dtype)

        return jax.tree.map(one, params, factors)

    def _check_structure(self, params) -> None:
        want = jax.tree.structure(self.tree("init_var"))
        got = jax.tree.structure(params)
        if want != got:
            raise ValueError(
                f"params do not match the parametrized model: expected the structure {want}, "
                f"got {got}"
            )

    def rescale_init(self, params):
        """Standard-parametrization params -> this parametrization's init (x sqrt(init_var))."""
        return self._scale(params, "init_var", 0.5)

    def init(self, seed_key: jax.Array, sigma_w2: Any = _DEFAULT, sigma_b2: Any = _DEFAULT):
        """Params of one seed: the family's SP draw (``init_stack`` from
        ``keys.role(seed_key, keys.PARAMS)``) times sqrt(init-variance multiplier), per param.

        ``sigma_w2`` / ``sigma_b2`` default to the model's (and may be traced).
        Returns ``{"input", "hidden" (stacked along depth), ["readout"]}``.
        """
        sw2 = self.sigma_w2 if sigma_w2 is _DEFAULT else sigma_w2
        sb2 = self.sigma_b2 if sigma_b2 is _DEFAULT else sigma_b2
        # Compiled once per (stack, input shape) (_init_stack_jit): called eagerly, the layers'
        # jax.lax.map would otherwise be traced and compiled anew on every call.
        root = keys.role(seed_key, keys.PARAMS)
        p = _init_stack_jit(self.stack, root, self.in_shape, sw2, sb2)
        return self.rescale_init(p)

    def effective(self, params):
        """The params the network computes with: ``multiplier * param`` for every param."""
        return self._scale(params, "multiplier")

    def apply(self, params, x: jax.Array, *, unroll: int | bool = 1) -> jax.Array:
        """The network's output (logits or features) for a batch ``x`` ``(B, *in_shape)``
        (``unroll``: of the hidden layers' scan, as in :func:`initjax.models.apply_stack`)."""
        return apply_stack(self.stack, self.effective(params), x, unroll=unroll)

    def optimizer(self, name: str, learning_rate: Any, **kwargs: Any):
        """The optax transformation of ``name`` with this parametrization's per-parameter
        learning rates, epsilons and weight decays; see
        :func:`initjax.parametrizations.optim.optimizer` for ``kwargs``."""
        from initjax.parametrizations.optim import optimizer

        return optimizer(name, learning_rate, parametrized=self, **kwargs)

    def frame(self, optimizer: str | None = None) -> pd.DataFrame:
        """One row per parameter: path, role, fans, multipliers (the learning-rate and weight-decay
        columns of ``optimizer`` only, when given)."""
        rows = []
        for lf in self.leaves:
            d = dataclasses.asdict(lf)
            d["path"] = lf.name
            d["shape"] = "x".join(map(str, lf.shape)) or "scalar"
            if optimizer is not None:
                d["lr"] = lf.lr(optimizer)
                d["wd"] = lf.wd(optimizer)
                for k in ("lr_sgd", "lr_adam", "wd_sgd", "wd_adam"):
                    d.pop(k)
            rows.append(d)
        out = pd.DataFrame(rows)
        out.insert(0, "parametrization", self.name)
        return out


def _shapes(stack: Stack, in_shape, sigma_w2, sigma_b2) -> dict[str, Any]:
    sds = jax.eval_shape(
        lambda k: init_stack(stack, k, in_shape, sigma_w2, sigma_b2), jax.random.key(0)
    )
    return sds


def _leaves_of(model, stack: Stack, in_shape) -> list[tuple[tuple[str, ...], ParamRole, tuple]]:
    """(path, role, per-layer shape) per parameter, checking roles against the params."""
    try:
        roles = stack.roles()
    except UnsupportedCapability:
        raise ValueError(
            f"model: {type(model).__name__} declares no parameter roles (Stack.roles), so it "
            "cannot be reparametrized"
        ) from None
    shapes = _shapes(stack, in_shape, model.sigma_w2, model.sigma_b2)
    is_role = lambda x: isinstance(x, ParamRole)
    r_flat, r_def = jax.tree_util.tree_flatten_with_path(roles, is_leaf=is_role)
    s_flat, s_def = jax.tree_util.tree_flatten_with_path(shapes)
    if r_def != s_def:
        raise ValueError(
            f"model: {type(model).__name__}'s roles() {r_def} do not match its params {s_def}"
        )
    out = []
    for (path, role), (_, sds) in zip(r_flat, s_flat, strict=True):
        if not isinstance(role, ParamRole):
            raise TypeError(f"roles() leaves must be ParamRole, got {role!r}")
        names = tuple(_key_name(k) for k in path)
        shape = tuple(sds.shape)
        if names[0] == "hidden":
            shape = shape[1:]
        out.append((names, role, shape))
    return out


def _width_field(model) -> str:
    name = models.name_of(model)
    if name is None:
        raise ValueError(
            f"model: {type(model).__name__} is not a registered family; pass base=<the same "
            "model at its base width and depth> instead of base_width / base_depth"
        )
    return models.metadata(name)["width_field"]


def _positive(v: Any, arg: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
        raise ValueError(f"{arg} must be a positive integer, got {v!r}")
    return int(v)


def parametrize(
    model: Any,
    parametrization: str | Parametrization = "sp",
    *,
    base_width: int | None = None,
    base_depth: int | None = None,
    base: Any = None,
    in_shape: tuple[int, ...] | None = None,
) -> Parametrized:
    """Evaluate a parametrization's rules for every parameter of ``model``.

    Args:
      model: an ``initjax.models`` module (a registered family).
      parametrization: a registered name (``initjax.parametrizations.names()``: "sp", "ntk",
        "mup", "depth_mup", "completep") or a :class:`Parametrization`.
      base_width: the width at which this parametrization equals SP (where the base learning rate
        was tuned); required when the parametrization depends on width.
      base_depth: likewise for depth (depth-muP, CompleteP).
      base: instead of base_width / base_depth, the model at its base shape (same family).
      in_shape: per-example input shape (default: the stack's ``default_input_shape()``).

    Returns:
      :class:`Parametrized`.

    Raises:
      ValueError: unknown parametrization; a missing base width / depth the rules need; a depth
        scaling on a family without residual branches; roles that do not match the params; an
        attention model whose logit scale cannot be set.
      TypeError: ``model`` is not an initjax model.
    """
    P = get(parametrization)
    if not isinstance(model, models.StackModule):
        raise TypeError(
            f"model must be an initjax.models module (see initjax.models.names()), got "
            f"{type(model).__name__}"
        )
    wf = None
    width = depth = None
    if base is None:
        wf = _width_field(model)
        width, depth = int(getattr(model, wf)), int(model.depth)
        if P.uses_width and base_width is None:
            raise ValueError(
                f"base_width: parametrization {P.name!r} scales with width; give the width at "
                f"which it equals SP (where the base learning rate was tuned), e.g. "
                f"base_width={min(width, 64)}"
            )
        if P.uses_depth and base_depth is None:
            raise ValueError(
                f"base_depth: parametrization {P.name!r} scales with depth; give the depth at "
                "which it equals SP (e.g. base_depth=2)"
            )
        bw = width if base_width is None else _positive(base_width, "base_width")
        bd = depth if base_depth is None else _positive(base_depth, "base_depth")
        base_model = model.clone(parent=None, **{wf: bw, "depth": bd})
    else:
        if type(base) is not type(model):
            raise TypeError(
                f"base must be a {type(model).__name__} (the same family), got "
                f"{type(base).__name__}"
            )
        base_model = base
        name = models.name_of(model)
        wf = models.metadata(name)["width_field"] if name else None
        width = int(getattr(model, wf)) if wf else 0
        bw = int(getattr(base, wf)) if wf else None
        depth, bd = int(model.depth), int(base.depth)

    model, base_model = _with_logits(model, P), _with_logits(base_model, P)
    stack, bstack = stack_of(model), stack_of(base_model)
    shape_in = tuple(stack.default_input_shape() if in_shape is None else in_shape)
    stack.check(shape_in)
    leaves = _leaves_of(model, stack, shape_in)
    base_leaves = _leaves_of(base_model, bstack, shape_in)
    if [p for p, _, _ in leaves] != [p for p, _, _ in base_leaves]:
        raise ValueError("base: the base model's params differ in structure from the model's")
    if P.uses_depth and not any(r.branch_output for _, r, _ in leaves):
        raise ValueError(
            f"parametrization {P.name!r} scales residual branches, but "
            f"{type(model).__name__} has none (use a residual family such as resmlp)"
        )
    m_depth = depth / bd
    rules = []
    for (path, role, shape), (_, brole, bshape) in zip(leaves, base_leaves, strict=True):
        fi, fo = role.fans(shape)
        bfi, bfo = brole.fans(bshape)
        m_in, m_out = fi / bfi, fo / bfo
        r = P.rule_for(role.role, branch=role.branch, branch_output=role.branch_output)
        vals = {
            "init_var": r.init_var(m_in, m_out, m_depth),
            "multiplier": r.multiplier(m_in, m_out, m_depth),
            "lr_sgd": r.lr_sgd(m_in, m_out, m_depth),
            "lr_adam": r.lr_adam(m_in, m_out, m_depth),
            "eps": r.eps(m_in, m_out, m_depth),
            "wd_sgd": r.weight_decay("sgd")(m_in, m_out, m_depth),
            "wd_adam": r.weight_decay("adam")(m_in, m_out, m_depth),
        }
        bad = {k: v for k, v in vals.items() if not (np.isfinite(v) and v > 0)}
        if bad:
            raise ValueError(f"parametrization {P.name!r}: {'/'.join(path)} gets {bad}")
        rules.append(
            LeafRule(
                path=path,
                role=role.role,
                role_class=role_class(role.role),
                shape=shape,
                stacked=path[0] == "hidden",
                fan_in=fi,
                fan_out=fo,
                base_fan_in=bfi,
                base_fan_out=bfo,
                m_in=m_in,
                m_out=m_out,
                m_depth=m_depth,
                branch=role.branch,
                branch_output=role.branch_output,
                **vals,
            )
        )
    return Parametrized(
        parametrization=P,
        stack=stack,
        in_shape=shape_in,
        sigma_w2=model.sigma_w2,
        sigma_b2=model.sigma_b2,
        width=width,
        base_width=bw,
        depth=depth,
        base_depth=bd,
        leaves=tuple(rules),
    )


def _with_logits(model, P: Parametrization):
    """The model with the attention logit scale the parametrization asks for (models without
    attention unchanged)."""
    has_attention = any(
        isinstance(r, ParamRole) and r.role in ("query", "key")
        for r in jax.tree.leaves(_safe_roles(model), is_leaf=lambda x: isinstance(x, ParamRole))
    )
    if not has_attention:
        return model
    if "attn_logit_scale" not in models.field_names(type(model)):
        raise ValueError(
            f"model: {type(model).__name__} has attention but no attn_logit_scale field; "
            f"parametrization {P.name!r} needs logits scaled by {P.attention_logits}"
        )
    if model.attn_logit_scale == P.attention_logits:
        return model
    return model.clone(parent=None, attn_logit_scale=P.attention_logits)


def _safe_roles(model) -> Mapping[str, Any]:
    try:
        return stack_of(model).roles()
    except UnsupportedCapability:
        return {}
