"""MetaInit (Dauphin & Schoenholz 2019, "MetaInit: Initializing learning by learning to initialize",
NeurIPS): tune the norm of every weight tensor to minimise the gradient quotient.

The gradient quotient of a loss L at params theta with gradient g = grad L(theta) and Hessian H is
(the paper's definition with its first-order expansion g(theta - g) ~ g - H g)::

    GQ(theta) = 1/P * sum_i | (g_i - (H g)_i) / (g_i + eps * sign(g_i)) - 1 |

over all P parameters (sign(0) = +1). GQ = 0 when one gradient step leaves the gradient unchanged
up to the step itself, i.e. the loss is locally close to linear along the step; large GQ signals
curvature that makes the first steps unstable.

Every weight tensor (rank >= 2 per layer: dense and conv kernels; each hidden layer separately) is
written as ``w = n * u`` with ``u = w / ||w||`` fixed and its norm ``n`` learned: ``steps`` steps of
SGD with momentum on the *sign* of d GQ / d n, each step on a fresh minibatch. Biases and other
tensors keep their values. The defaults are those of google/init2winit's MetaInit
(``init_lib/meta_init.py``, DEFAULT_HPARAMS): learning rate 0.1, momentum 0.5, 50 steps, batches of
8, eps 1e-5, and synthetic data: standard-normal inputs of the data's shape with uniformly random
labels (``data="gaussian"``; MetaInit needs no real data). ``data="given"`` draws the batches from
``x`` (with replacement) with its labels ``y`` (random labels when ``y`` is None).

The loss is the mean softmax cross-entropy of the network's output: the readout logits, or, for a
network without readout, its features phi(z^depth) taken as logits over all their entries.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax

from initjax.initializers import _network as N
from initjax.initializers import _scales as S
from initjax.initializers._sampling import standard_normal
from initjax.initializers.data_dependent import register_method

__all__ = ["metainit", "gradient_quotient"]

_REF = (
    "Dauphin & Schoenholz 2019, 'MetaInit: Initializing learning by learning to initialize', "
    "NeurIPS (gradient quotient, Algorithm 1); defaults of google/init2winit's meta_init"
)


def gradient_quotient(loss, params: Any, eps: float) -> jax.Array:
    """GQ of ``loss(params) -> scalar`` at ``params`` (Hessian-vector product by forward-over-
    reverse differentiation); a float32 scalar (float64 for float64 params)."""
    grad = jax.grad(loss)
    g = grad(params)
    hg = jax.jvp(grad, (params,), (g,))[1]

    def term(gi, hi):
        dt = jnp.promote_types(gi.dtype, jnp.float32)  # float32, or float64 under x64
        gi = gi.astype(dt)
        hi = hi.astype(dt)
        sign = jax.lax.stop_gradient(jnp.where(gi >= 0, 1.0, -1.0))
        return jnp.sum(jnp.abs((gi - hi) / (gi + eps * sign) - 1.0))

    total = sum(jax.tree.leaves(jax.tree.map(term, g, hg)))
    return total / S.count(params)


def _check(lr, steps, batch_size, eps, momentum, data) -> None:
    for name, v in (("lr", lr), ("eps", eps)):
        if not (isinstance(v, int | float) and not isinstance(v, bool) and 0 < v < float("inf")):
            raise ValueError(
                f"initializer 'metainit': {name} must be a finite number > 0, got {v!r}"
            )
    if isinstance(momentum, bool) or not isinstance(momentum, int | float) or not 0 <= momentum < 1:
        raise ValueError(f"initializer 'metainit': momentum must lie in [0, 1), got {momentum!r}")
    for name, v in (("steps", steps), ("batch_size", batch_size)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"initializer 'metainit': {name} must be an integer >= 1, got {v!r}")


def batch_sampler(x, y, key, *, batch_size: int, n_out: int, data: str, dtype):
    """``sample(i) -> (inputs, labels)`` for step ``i`` (key ``fold_in(key, i)``)."""
    in_shape = x.shape[1:]

    def sample(i):
        k_x, k_y = jax.random.split(jax.random.fold_in(key, i))
        if data == "gaussian":
            xb = standard_normal(k_x, (batch_size, *in_shape)).astype(dtype)
            yb = jax.random.randint(k_y, (batch_size,), 0, n_out)
            return xb, yb
        idx = jax.random.randint(k_x, (batch_size,), 0, x.shape[0])
        yb = jax.random.randint(k_y, (batch_size,), 0, n_out) if y is None else y[idx]
        return x[idx].astype(dtype), yb

    return sample


@register_method(
    "metainit",
    base="he_normal",
    defaults={
        "lr": 0.1,
        "steps": 50,
        "batch_size": 8,
        "eps": 1e-5,
        "momentum": 0.5,
        "data": "gaussian",
    },
    choices={"data": ("gaussian", "given")},
    reference=_REF,
    check=_check,
)
def metainit(
    stack: Any,
    params: Any,
    x: jax.Array,
    y: jax.Array | None,
    key: jax.Array,
    *,
    lr: float = 0.1,
    steps: int = 50,
    batch_size: int = 8,
    eps: float = 1e-5,
    momentum: float = 0.5,
    data: str = "gaussian",
) -> tuple[Any, dict[str, Any]]:
    """MetaInit on one network (see the module docstring).

    Args:
      stack, params, x, y, key: see :mod:`initjax.initializers.data_dependent` (``x`` gives the
        input shape, and the batches when ``data="given"``).
      lr, momentum: SGD with momentum on the signs of d GQ / d norm.
      steps: meta-optimization steps, each on a fresh minibatch of ``batch_size``.
      eps: the gradient quotient's guard against division by zero.
      data: "gaussian" (synthetic inputs, random labels) or "given" (minibatches of x, y).

    Returns:
      ``(params, info)``: ``info["gq"]`` ``(steps,)`` the gradient quotient of each step's batch
      before its update; ``info["norms0"]`` / ``info["norms"]`` the tensor norms before and after
      (trees shaped like the params, ``(depth,)`` under "hidden").
    """
    n_out = N.n_outputs(stack, params, tuple(x.shape[1:]))
    norms0 = S.norms(params)
    ranks = S.rank(params)
    learn = jax.tree.map(lambda r: r >= 2, ranks)
    safe = jax.tree.map(lambda n: jnp.where(n > 0, n, 1.0), norms0)
    unit = S.broadcast_mul(params, jax.tree.map(lambda n: 1.0 / n, safe))

    def build(n):
        # Learned tensors: unit * n; the others keep their values (n is their own norm).
        scale = jax.tree.map(lambda lr_, ni, n0: jnp.where(lr_, ni, n0), learn, n, safe)
        return S.broadcast_mul(unit, scale)

    sample = batch_sampler(
        x, y, key, batch_size=batch_size, n_out=n_out, data=data, dtype=stack.dtype
    )
    tx = optax.sgd(learning_rate=lr, momentum=momentum)

    def meta_loss(n, xb, yb):
        return gradient_quotient(lambda p: N.cross_entropy(stack, p, xb, yb), build(n), eps)

    def step(carry, i):
        n, opt_state = carry
        xb, yb = sample(i)
        gq, dn = jax.value_and_grad(meta_loss)(n, xb, yb)
        dn = jax.tree.map(lambda d, lr_: jnp.where(lr_, jnp.sign(d), 0.0), dn, learn)
        updates, opt_state = tx.update(dn, opt_state, n)
        return (optax.apply_updates(n, updates), opt_state), gq

    (n, _), gq = jax.lax.scan(step, (safe, tx.init(safe)), jnp.arange(steps))
    final = jax.tree.map(lambda new, old: new.astype(old.dtype), build(n), params)
    # A zero tensor stays zero whatever its learned norm: report the norm it has.
    norms = jax.tree.map(lambda lr_, ni, n0_: jnp.where(lr_ & (n0_ > 0), ni, n0_), learn, n, norms0)
    return final, {"gq": gq, "norms0": norms0, "norms": norms}
