"""GradInit (Zhu, Ni, Xu, Kong, Huang & Goldstein 2021, "GradInit: Learning to initialize neural
networks for stable and efficient training", arXiv:2102.08098): learn one scale factor per
parameter tensor so that one optimizer step lowers the loss most, under a bound on the gradient
norm.

With params ``theta = alpha * theta0`` (one scalar alpha per tensor of each layer, starting at 1),
a minibatch S, its gradient ``g = grad L(S; theta)`` and the target optimizer's first step
``A[g]`` (``alg="sgd"``: ``g / ||g||_2`` with ``normalize_grad``, else ``g``; ``alg="adam"``:
``sign(g)``), the paper's problem is::

    minimize_alpha  L(S~; theta - eta A[g])   subject to  ||g||_p <= gamma,  alpha >= alpha_min

(p = 2 for SGD, 1 for Adam). Algorithm 1 solves it stochastically: each iteration draws S; if
``||g||_p > gamma`` it takes a step on alpha that lowers ``||g||_p`` (a second-order gradient),
else a step that lowers ``L(S~; theta - eta A[g]) / eta``, where S~ is the first half of S plus a
fresh half batch. Alpha is updated by Adam (betas 0.9, 0.999, eps 1e-8; separate moment
estimates for the two kinds of step) on its gradient clipped to [-grad_clip, grad_clip], then
clamped at ``min_scale`` (kernels and other non-bias tensors) or 0 (biases).

Conventions follow the authors' code (zhuchen03/gradinit, ``gradinit_utils.py``), whose launch
script for networks without normalization sets eta = 0.1, gamma = 1, normalized gradients,
min_scale = 0.01, grad_clip = 1, 390 iterations (one CIFAR-10 epoch at batch 128) and learning
rate 1e-2 (VGG without batch norm); these are the defaults. As in that code, the step direction
A[g] is held constant when differentiating the objective (the constraint step is differentiated
through g). Minibatches are drawn from ``(x, y)`` with replacement.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax

from initjax.initializers import _network as N
from initjax.initializers import _scales as S
from initjax.initializers.data_dependent import register_method

__all__ = ["gradinit", "one_step_loss", "grad_norm"]

_REF = (
    "Zhu et al. 2021, 'GradInit: Learning to initialize neural networks for stable and "
    "efficient training', arXiv:2102.08098, Algorithm 1; defaults of the authors' "
    "launch script (zhuchen03/gradinit)"
)
ALGS = ("sgd", "adam")


def grad_norm(g: Any, alg: str) -> jax.Array:
    """||g||_2 for ``alg="sgd"``, ||g||_1 for ``alg="adam"`` (the paper's p_A); float32 (float64
    for float64 gradients)."""
    leaves = [v.astype(jnp.promote_types(v.dtype, jnp.float32)) for v in jax.tree.leaves(g)]
    if alg == "adam":
        return sum(jnp.sum(jnp.abs(v)) for v in leaves)
    return jnp.sqrt(sum(jnp.sum(jnp.square(v)) for v in leaves))


def step_direction(g: Any, alg: str, normalize_grad: bool) -> Any:
    """A[g]: the target optimizer's first step direction (before the learning rate eta)."""
    if alg == "adam":
        return jax.tree.map(jnp.sign, g)
    if normalize_grad:
        n = grad_norm(g, "sgd")
        return jax.tree.map(lambda v: v / jnp.where(n > 0, n, 1.0).astype(v.dtype), g)
    return g


def one_step_loss(loss, params, xs, ys, xt, yt, *, eta, alg, normalize_grad) -> jax.Array:
    """``L(S~; theta - eta A[grad L(S; theta)])``: the loss on ``(xt, yt)`` after the target
    optimizer's first step on ``(xs, ys)``; ``loss(params, x, y) -> scalar``."""
    g = jax.grad(loss)(params, xs, ys)
    d = step_direction(g, alg, normalize_grad)
    moved = jax.tree.map(lambda p, v: (p - eta * v).astype(p.dtype), params, d)
    return loss(moved, xt, yt)


def _check(lr, iters, eta, gamma, alg, min_scale, grad_clip, batch_size, normalize_grad) -> None:
    for name, v in (("lr", lr), ("eta", eta)):
        if not (isinstance(v, int | float) and not isinstance(v, bool) and 0 < v < float("inf")):
            raise ValueError(
                f"initializer 'gradinit': {name} must be a finite number > 0, got {v!r}"
            )
    for name, v in (("gamma", gamma), ("grad_clip", grad_clip)):
        if not (isinstance(v, int | float) and not isinstance(v, bool) and v > 0):
            raise ValueError(
                f"initializer 'gradinit': {name} must be > 0 (inf: no bound), got {v!r}"
            )
    if isinstance(min_scale, bool) or not isinstance(min_scale, int | float) or min_scale < 0:
        raise ValueError(f"initializer 'gradinit': min_scale must be >= 0, got {min_scale!r}")
    if isinstance(iters, bool) or not isinstance(iters, int) or iters < 1:
        raise ValueError(f"initializer 'gradinit': iters must be an integer >= 1, got {iters!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 2:
        raise ValueError(
            f"initializer 'gradinit': batch_size must be an integer >= 2 (two halves), got "
            f"{batch_size!r}"
        )
    if not isinstance(normalize_grad, bool):
        raise ValueError(
            f"initializer 'gradinit': normalize_grad must be True or False, got {normalize_grad!r}"
        )


@register_method(
    "gradinit",
    base="he_normal",
    defaults={
        "lr": 1e-2,
        "iters": 390,
        "eta": 0.1,
        "gamma": 1.0,
        "alg": "sgd",
        "min_scale": 0.01,
        "grad_clip": 1.0,
        "batch_size": 128,
        "normalize_grad": True,
    },
    choices={"alg": ALGS},
    reference=_REF,
    needs_labels=True,
    check=_check,
)
def gradinit(
    stack: Any,
    params: Any,
    x: jax.Array,
    y: jax.Array | None,
    key: jax.Array,
    *,
    lr: float = 1e-2,
    iters: int = 390,
    eta: float = 0.1,
    gamma: float = 1.0,
    alg: str = "sgd",
    min_scale: float = 0.01,
    grad_clip: float = 1.0,
    batch_size: int = 128,
    normalize_grad: bool = True,
) -> tuple[Any, dict[str, Any]]:
    """GradInit on one network (see the module docstring).

    Args:
      stack, params, x, y, key: see :mod:`initjax.initializers.data_dependent`; ``y`` (integer
        labels, < the number of outputs) is required.
      lr: Adam's learning rate for the scale factors (the paper's tau).
      iters: iterations of Algorithm 1, each on a fresh minibatch.
      eta: the target optimizer's learning rate in the one-step objective.
      gamma: the bound on the gradient norm (``inf``: unconstrained).
      alg: the target optimizer, "sgd" (p = 2) or "adam" (p = 1, sign step).
      min_scale: lower bound of the scale factors of non-bias tensors.
      grad_clip: each scale factor's gradient is clipped to [-grad_clip, grad_clip].
      batch_size: examples in S (two halves); S~ is S's first half plus a fresh half.
      normalize_grad: for "sgd", step along g / ||g||_2 (the launch script's setting).

    Returns:
      ``(params, info)``: ``info["scales"]`` the learned factors (a tree like the params,
      ``(depth,)`` under "hidden"); per iteration ``(iters,)``: ``gnorm`` (||g||_p on S before
      the update), ``constrained`` (whether the step was a constraint step), ``loss`` (L(S)) and
      ``one_step`` (the objective L(S~; theta - eta A[g]) on objective steps, NaN on
      constraint steps).

    Raises:
      ValueError: no labels ``y``.
    """
    if y is None:
        raise ValueError("initializer 'gradinit' needs labels y (its objective is the loss)")
    names = S.leaf_names(params)
    lower = jax.tree.map(lambda nm: 0.0 if nm == "bias" else float(min_scale), names)
    alpha0 = jax.tree.map(lambda n: jnp.ones_like(n), S.norms(params))
    half = batch_size // 2
    n = x.shape[0]

    def loss(p, xb, yb):
        return N.cross_entropy(stack, p, xb, yb)

    def theta(a):
        return S.broadcast_mul(params, a)

    def gnorm_of(a, xs, ys):
        return grad_norm(jax.grad(loss)(theta(a), xs, ys), alg)

    def objective(a, d, xt, yt):
        moved = jax.tree.map(lambda p, v: (p - eta * v).astype(p.dtype), theta(a), d)
        return loss(moved, xt, yt) / eta

    tx = optax.adam(lr, b1=0.9, b2=0.999, eps=1e-8)

    def step(carry, i):
        a, st_con, st_obj = carry
        k = jax.random.fold_in(key, i)
        idx = jax.random.randint(k, (batch_size + half,), 0, n)
        s_idx, t_new = idx[:batch_size], idx[batch_size:]
        xs, ys = x[s_idx].astype(stack.dtype), y[s_idx]
        xt = jnp.concatenate([xs[:half], x[t_new].astype(stack.dtype)])
        yt = jnp.concatenate([ys[:half], y[t_new]])
        l_s, g = jax.value_and_grad(loss)(theta(a), xs, ys)
        gn = grad_norm(g, alg)
        constrained = gn > gamma
        d = jax.lax.stop_gradient(step_direction(g, alg, normalize_grad))

        def con_branch(_):
            return jnp.float32(jnp.nan), jax.grad(gnorm_of)(a, xs, ys)

        def obj_branch(_):
            return jax.value_and_grad(objective)(a, d, xt, yt)

        obj, da = jax.lax.cond(constrained, con_branch, obj_branch, None)
        da = jax.tree.map(lambda v: jnp.clip(v, -grad_clip, grad_clip), da)
        up_c, new_c = tx.update(da, st_con, a)
        up_o, new_o = tx.update(da, st_obj, a)
        pick = lambda new, old: jax.tree.map(lambda u, v: jnp.where(constrained, u, v), new, old)
        upd = pick(up_c, up_o)
        st_con = pick(new_c, st_con)
        st_obj = jax.tree.map(lambda u, v: jnp.where(constrained, v, u), new_o, st_obj)
        a = jax.tree.map(lambda ai, ui, lo: jnp.maximum(ai + ui, lo), a, upd, lower)
        return (a, st_con, st_obj), (gn, constrained, l_s, obj)

    carry = (alpha0, tx.init(alpha0), tx.init(alpha0))
    (alpha, _, _), (gn, con, l_s, obj) = jax.lax.scan(step, carry, jnp.arange(iters))
    info = {"scales": alpha, "gnorm": gn, "constrained": con, "loss": l_s, "one_step": obj}
    return theta(alpha), info
