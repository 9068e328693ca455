"""Parametrizations as data: scalings, rules per role class, and the registry that holds them.

A parametrization says, for every kind of parameter, how five numbers change when a network is
made wider or deeper than a *base* network, relative to the standard parametrization (SP) of the
same shape (init Var = sigma_w2 / fan_in, forward multiplier 1, one global learning rate):

- ``init_var``: multiplier of the SP init variance (the drawn values are scaled by its sqrt);
- ``multiplier``: forward multiplier (the network computes with ``multiplier * W``);
- ``lr_sgd`` / ``lr_adam``: learning-rate multiplier under SGD-like (SGD, momentum) and
  Adam-like (Adam, AdamW, RMSprop: entrywise-normalized) optimizers;
- ``eps``: Adam epsilon multiplier (epsilon kept at the scale of the gradient);
- weight decay: 1 / (the width part of the learning-rate multiplier), so lr x weight decay does
  not change with width (``mup.MuSGD`` / ``mup.MuAdam``; Dey et al. 2025 for AdamW).

Each number is a :class:`Scaling`, a monomial ``m_in^a * m_out^b * m_L^c`` in the width
multipliers of the parameter's fans (``m_in = fan_in / base fan_in``, ``m_out = fan_out / base
fan_out``; 1 for a dimension that does not grow with width, such as the classes of a readout or
the data dimension of an input layer) and the depth multiplier ``m_L = depth / base depth``.
At the base shape every multiplier is 1: every parametrization *is* SP there, so a learning rate
tuned on the base network means the same thing in all of them.

Rules are given per role class (:data:`ROLE_CLASSES`: input, hidden, readout, vector, scalar),
plus two depth rules multiplied in for parameters inside a residual branch (``branch``) and for
those writing into the residual stream (``branch_output``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from initjax._registry import Registry

__all__ = [
    "ATTENTION_LOGITS",
    "ONE",
    "OPTIMIZER_FAMILIES",
    "Parametrization",
    "ROLE_CLASSES",
    "Rule",
    "Scaling",
    "get",
    "names",
    "register",
    "role_class",
]

# Model roles (initjax.models.ROLES) grouped into the rows of the tables (TP5, Table 3 / 8:
# input weights, output weights, hidden weights, "all biases"; norm gains are vectors too).
ROLE_CLASSES: Mapping[str, tuple[str, ...]] = {
    "input": ("input", "embedding", "position"),
    "hidden": ("hidden", "query", "key", "value", "attn_out"),
    "readout": ("readout",),
    "vector": ("bias", "norm_scale", "norm_bias"),
    "scalar": ("gain",),
}
# optimizer name -> family of its learning-rate rule (mup: "Adam-like" normalizes entrywise).
OPTIMIZER_FAMILIES: Mapping[str, str] = {
    "sgd": "sgd",
    "momentum": "sgd",
    "adam": "adam",
    "adamw": "adam",
    "rmsprop": "adam",
}
# Attention logit scale a parametrization asks of models with attention.
ATTENTION_LOGITS = ("inv_sqrt_dhead", "inv_dhead")


def role_class(role: str) -> str:
    """The row of the tables a model role (``initjax.models.ROLES``) belongs to.

    Raises:
      ValueError: unknown role.
    """
    for cls, roles in ROLE_CLASSES.items():
        if role in roles:
            return cls
    known = [r for rs in ROLE_CLASSES.values() for r in rs]
    raise ValueError(f"role must be one of {', '.join(known)}, got {role!r}")


def _power(name: str, e: float) -> str:
    if e == 0:
        return ""
    if e == 1:
        return name
    f = Fraction(e).limit_denominator(8)
    return f"{name}^{f.numerator}/{f.denominator}" if f.denominator != 1 else f"{name}^{f}"


@dataclasses.dataclass(frozen=True)
class Scaling:
    """``m_in^fan_in * m_out^fan_out * m_L^depth`` (exponents; all 0 is the constant 1)."""

    fan_in: float = 0.0
    fan_out: float = 0.0
    depth: float = 0.0

    def __call__(self, m_in: float, m_out: float, m_depth: float) -> float:
        """The value at the given multipliers (floats > 0)."""
        return float(m_in**self.fan_in * m_out**self.fan_out * m_depth**self.depth)

    def __mul__(self, other: Scaling) -> Scaling:
        return Scaling(
            self.fan_in + other.fan_in, self.fan_out + other.fan_out, self.depth + other.depth
        )

    def __str__(self) -> str:
        parts = [
            p
            for p in (
                _power("m_in", self.fan_in),
                _power("m_out", self.fan_out),
                _power("m_L", self.depth),
            )
            if p
        ]
        return " ".join(parts) if parts else "1"

    @property
    def width_part(self) -> Scaling:
        """The same monomial without its depth factor."""
        return Scaling(self.fan_in, self.fan_out, 0.0)

    @property
    def inverse(self) -> Scaling:
        return Scaling(-self.fan_in, -self.fan_out, -self.depth)


ONE = Scaling()


@dataclasses.dataclass(frozen=True)
class Rule:
    """The five multipliers of one role class (see the module docstring), and where they come
    from. Weight decay is derived: :meth:`weight_decay`."""

    init_var: Scaling = ONE
    multiplier: Scaling = ONE
    lr_sgd: Scaling = ONE
    lr_adam: Scaling = ONE
    eps: Scaling = ONE
    source: str = ""

    def __mul__(self, other: Rule) -> Rule:
        src = "; ".join(s for s in (self.source, other.source) if s)
        return Rule(
            self.init_var * other.init_var,
            self.multiplier * other.multiplier,
            self.lr_sgd * other.lr_sgd,
            self.lr_adam * other.lr_adam,
            self.eps * other.eps,
            src,
        )

    def lr(self, family: str) -> Scaling:
        """The learning-rate scaling of optimizer family "sgd" or "adam"."""
        return self.lr_sgd if family == "sgd" else self.lr_adam

    def weight_decay(self, family: str) -> Scaling:
        """1 / the width part of the learning-rate scaling: lr x wd constant in width (mup's
        MuSGD / MuAdam; the depth part is not compensated, as Dey et al. 2025)."""
        return self.lr(family).width_part.inverse


@dataclasses.dataclass(frozen=True)
class Parametrization:
    """A parametrization: per role class rules plus the depth rules of residual networks.

    Attributes:
      name: registry name.
      title: one line.
      rules: role class (:data:`ROLE_CLASSES`) -> :class:`Rule`; every class must be present.
      branch: rule multiplied into every parameter inside a residual branch, or None.
      branch_output: rule multiplied into parameters writing into the residual stream (the
        branch multiplier m_L^-alpha lives here), or None.
      attention_logits: "inv_sqrt_dhead" (q.k / sqrt(d_head)) or "inv_dhead" (q.k / d_head).
      references: the papers.
      notes: remarks printed under the table.
    """

    name: str
    title: str
    rules: tuple[tuple[str, Rule], ...]
    branch: Rule | None = None
    branch_output: Rule | None = None
    attention_logits: str = "inv_sqrt_dhead"
    references: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def __post_init__(self):
        got = [c for c, _ in self.rules]
        missing = [c for c in ROLE_CLASSES if c not in got]
        unknown = [c for c in got if c not in ROLE_CLASSES]
        if missing or unknown or len(set(got)) != len(got):
            raise ValueError(
                f"parametrization {self.name!r}: rules must cover each role class of "
                f"{list(ROLE_CLASSES)} once; missing {missing}, unknown {unknown}"
            )
        if self.attention_logits not in ATTENTION_LOGITS:
            raise ValueError(
                f"attention_logits must be one of {ATTENTION_LOGITS}, got {self.attention_logits!r}"
            )

    def rule(self, cls: str) -> Rule:
        """The width rule of role class ``cls``."""
        return dict(self.rules)[cls]

    def rule_for(self, role: str, *, branch: bool = False, branch_output: bool = False) -> Rule:
        """The combined rule of one parameter: its class rule times the depth rules that apply."""
        r = self.rule(role_class(role))
        if branch and self.branch is not None:
            r = r * self.branch
        if branch_output and self.branch_output is not None:
            r = r * self.branch_output
        return r

    def _all_rules(self) -> list[Rule]:
        return [r for _, r in self.rules] + [r for r in (self.branch, self.branch_output) if r]

    @property
    def uses_width(self) -> bool:
        """Some multiplier depends on a width multiplier (a base width is needed)."""
        return any(
            s.fan_in or s.fan_out
            for r in self._all_rules()
            for s in (r.init_var, r.multiplier, r.lr_sgd, r.lr_adam, r.eps)
        )

    @property
    def uses_depth(self) -> bool:
        """Some multiplier depends on the depth multiplier (a base depth and residual branches
        are needed)."""
        return any(
            s.depth
            for r in self._all_rules()
            for s in (r.init_var, r.multiplier, r.lr_sgd, r.lr_adam, r.eps)
        )

    def replace_rule(self, cls: str, rule: Rule, *, name: str | None = None) -> Parametrization:
        """A copy with role class ``cls``'s rule replaced (e.g. a deliberately wrong readout for
        a negative control); ``name`` defaults to ``"<name>*"``."""
        if cls not in ROLE_CLASSES:
            raise ValueError(f"cls must be one of {', '.join(ROLE_CLASSES)}, got {cls!r}")
        rules = tuple((c, rule if c == cls else r) for c, r in self.rules)
        return dataclasses.replace(self, name=name or f"{self.name}*", rules=rules)

    def rows(self) -> list[dict[str, Any]]:
        """The table: one dict per role class (and depth rule) with the multipliers as text."""
        out = []
        items = list(self.rules)
        if self.branch is not None:
            items.append(("in residual branch (x)", self.branch))
        if self.branch_output is not None:
            items.append(("branch output (x)", self.branch_output))
        for cls, r in items:
            out.append(
                {
                    "parametrization": self.name,
                    "role class": cls,
                    "roles": ", ".join(ROLE_CLASSES.get(cls, ())),
                    "init var": str(r.init_var),
                    "multiplier": str(r.multiplier),
                    "lr (SGD)": str(r.lr_sgd),
                    "lr (Adam)": str(r.lr_adam),
                    "Adam eps": str(r.eps),
                    "wd (SGD)": str(r.weight_decay("sgd")),
                    "wd (Adam)": str(r.weight_decay("adam")),
                    "source": r.source,
                }
            )
        return out


_REGISTRY: Registry[Parametrization] = Registry(
    "parametrization",
    normalize=lambda n: n.strip().lower().replace("-", "_"),
    sort=False,
    hint="`initjax parametrizations` prints them.",
)


def register(p: Parametrization, *, aliases: tuple[str, ...] = ()) -> Parametrization:
    """Add a :class:`Parametrization` to the registry under ``p.name``.

    Raises:
      TypeError: not a Parametrization. ValueError: the name is taken.
    """
    if not isinstance(p, Parametrization):
        raise TypeError(f"register takes a Parametrization, got {p!r}")
    return _REGISTRY.register(p.name, p, aliases=aliases)


def get(name: str | Parametrization) -> Parametrization:
    """A registered parametrization by name (``"mup"``, ``"depth-mup"``...), or ``name`` itself
    if it is already a :class:`Parametrization`.

    Raises:
      ValueError: unknown name (lists the registered ones). TypeError: neither.
    """
    if isinstance(name, Parametrization):
        return name
    if not isinstance(name, str):
        raise TypeError(f"parametrization must be a name or a Parametrization, got {name!r}")
    try:
        return _REGISTRY.get(name)
    except ValueError as err:
        raise ValueError(f"parametrization: {err}") from None


def names() -> list[str]:
    """Registered parametrization names, in registration order."""
    return _REGISTRY.names()
