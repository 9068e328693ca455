"""optax optimizers with per-parameter learning rates, Adam epsilons and weight decays.

``optimizer(name, learning_rate, parametrized=P)`` splits the parameters into groups of equal
(learning-rate, epsilon, weight-decay) multipliers of a :class:`~initjax.parametrizations.
Parametrized` and gives each group the base optimizer with its own hyper-parameters
(``optax.multi_transform``), exactly as ``torch.optim`` param groups do in ``mup.MuSGD`` /
``mup.MuAdam``. ``learning_rate`` may be traced (a ``vmap`` over learning rates compiles once).
Without ``parametrized`` it is the plain optimizer (standard parametrization).

Base optimizers (weight decay ``wd``; ``lr`` the group's learning rate):

- ``sgd``: p <- p - lr (g + wd p)   (``torch.optim.SGD(weight_decay=wd)``);
- ``momentum``: heavy ball, trace t <- g + wd p + momentum t, p <- p - lr t;
- ``adam``: Adam on g + wd p (coupled L2, ``torch.optim.Adam(weight_decay=wd)``);
- ``adamw``: decoupled, p <- p - lr (adam(g) + wd p) (``optax.adamw``, ``torch.optim.AdamW``);
- ``rmsprop``: optax's rmsprop (decay 0.9) on g + wd p; epsilon sits inside the square root
  (g / sqrt(nu + eps)), so its multiplier is squared.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import optax

from initjax.parametrizations._table import OPTIMIZER_FAMILIES

__all__ = ["OPTIMIZERS", "optimizer", "base_optimizer", "groups"]

OPTIMIZERS = tuple(OPTIMIZER_FAMILIES)


def _check_lr(learning_rate: Any) -> None:
    import jax

    if isinstance(learning_rate, jax.core.Tracer):
        return
    lr = np.asarray(learning_rate, dtype=np.float64)
    if lr.size == 0 or not np.all(np.isfinite(lr)) or np.any(lr <= 0):
        raise ValueError(f"learning_rate must be > 0, got {learning_rate!r}")


def base_optimizer(
    name: str,
    learning_rate: Any,
    *,
    momentum: float = 0.9,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: Any = 0.0,
) -> optax.GradientTransformation:
    """One optax optimizer (see the module docstring); hyper-parameters may be traced.

    Raises:
      ValueError: unknown ``name`` (lists the allowed ones), learning_rate <= 0.
    """
    if name not in OPTIMIZER_FAMILIES:
        raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {name!r}")
    _check_lr(learning_rate)
    if name == "adamw":
        return optax.adamw(learning_rate, b1=b1, b2=b2, eps=eps, weight_decay=weight_decay)
    if name == "sgd":
        tx = optax.sgd(learning_rate)
    elif name == "momentum":
        tx = optax.sgd(learning_rate, momentum=momentum)
    elif name == "adam":
        tx = optax.adam(learning_rate, b1=b1, b2=b2, eps=eps)
    else:
        tx = optax.rmsprop(learning_rate, eps=eps)
    if isinstance(weight_decay, int | float) and weight_decay == 0:
        return tx
    return optax.chain(optax.add_decayed_weights(weight_decay), tx)


def groups(parametrized, name: str) -> tuple[dict[str, Any], dict[str, tuple[float, ...]]]:
    """``(labels, group_multipliers)``: a params-shaped pytree of group labels, and per label the
    (learning-rate, epsilon, weight-decay) multipliers under optimizer ``name``."""
    eps_power = 2.0 if name == "rmsprop" else 1.0
    label_of: dict[tuple[float, ...], str] = {}

    def key(lf) -> tuple[float, ...]:
        return (lf.lr(name), lf.eps**eps_power, lf.wd(name))

    for lf in parametrized.leaves:
        label_of.setdefault(key(lf), f"group{len(label_of)}")
    labels = parametrized.tree_of(lambda lf: label_of[key(lf)])
    return labels, {v: k for k, v in label_of.items()}


def optimizer(
    name: str,
    learning_rate: Any,
    *,
    parametrized: Any = None,
    momentum: float = 0.9,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: Any = 0.0,
) -> optax.GradientTransformation:
    """The optimizer ``name`` with the per-parameter multipliers of ``parametrized``.

    Args:
      name: one of :data:`OPTIMIZERS` (sgd, momentum, adam, adamw, rmsprop).
      learning_rate: the base learning rate (the one tuned at the base shape); may be traced.
      parametrized: a :class:`~initjax.parametrizations.Parametrized`, or None (no multipliers).
      momentum, b1, b2, eps, weight_decay: the base hyper-parameters.

    Returns:
      ``optax.GradientTransformation`` over params of the parametrized model's structure.

    Raises:
      ValueError: unknown optimizer, learning_rate <= 0.
    """
    kw = dict(momentum=momentum, b1=b1, b2=b2)
    if parametrized is None:
        return base_optimizer(name, learning_rate, eps=eps, weight_decay=weight_decay, **kw)
    if name not in OPTIMIZER_FAMILIES:
        raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {name!r}")
    _check_lr(learning_rate)
    labels, mults = groups(parametrized, name)
    transforms = {
        label: base_optimizer(
            name,
            learning_rate * lr_m,
            eps=eps * eps_m,
            weight_decay=weight_decay * wd_m,
            **kw,
        )
        for label, (lr_m, eps_m, wd_m) in mults.items()
    }
    return optax.multi_transform(transforms, labels)
