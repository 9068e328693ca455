"""Parametrizations as data: SP, NTK, muP, depth-muP and CompleteP.

A parametrization (:class:`Parametrization`) is a table: for each role class of parameter (input,
hidden, readout, vector, scalar; ``initjax.models.ROLES``) a :class:`Rule` of five multipliers of
the standard parametrization (init variance, forward multiplier, SGD and Adam learning rates,
Adam epsilon; weight decay derived), each a monomial in the width multipliers of the parameter's
fans and the depth multiplier, plus depth rules for residual branches. ``names()`` lists the
registered ones, ``get(name)`` returns one, ``register(p)`` adds one; ``initjax parametrizations``
prints the tables with their sources (:mod:`initjax.parametrizations.builtin`).

``parametrize(model, "mup", base_width=64)`` evaluates the rules for every parameter of a model
(:class:`Parametrized`); its ``init``, ``apply`` and ``optimizer`` are the only way the numbers
enter initialization, the forward pass and optax, so the three cannot disagree.
``initjax.measure.train(..., parametrization=P)`` trains with them and
``initjax.measure.coord_check`` checks them.
"""

from initjax.parametrizations._table import (
    ATTENTION_LOGITS,
    ONE,
    OPTIMIZER_FAMILIES,
    ROLE_CLASSES,
    Parametrization,
    Rule,
    Scaling,
    get,
    names,
    register,
    role_class,
)
from initjax.parametrizations.apply import LeafRule, Parametrized, parametrize
from initjax.parametrizations.builtin import COMPLETEP, DEPTH_MUP, MUP, NTK, SP, depth_rules
from initjax.parametrizations.optim import OPTIMIZERS, base_optimizer, optimizer

__all__ = [
    "ATTENTION_LOGITS",
    "COMPLETEP",
    "DEPTH_MUP",
    "LeafRule",
    "MUP",
    "NTK",
    "ONE",
    "OPTIMIZERS",
    "OPTIMIZER_FAMILIES",
    "Parametrization",
    "Parametrized",
    "ROLE_CLASSES",
    "Rule",
    "SP",
    "Scaling",
    "base_optimizer",
    "depth_rules",
    "get",
    "names",
    "optimizer",
    "parametrize",
    "register",
    "role_class",
]
