"""Training many networks at once: optax, ``vmap`` over seeds and scalar hyper-parameters,
``lax.scan`` over steps.

One compiled call trains H x S networks: H grid cells of (sigma_w2, sigma_b2, learning_rate),
each with S seeds. Every network has its own parameter key and its own minibatch stream
(``initjax.keys``: params from ``role(k, PARAMS)``, minibatch indices from ``fold_in(role(k,
BATCHES), step)``), so network (h, s) trained in a batch equals the same network trained alone,
up to float32 rounding: under ``vmap`` every matmul is a batched one, which XLA may sum in another
order than the unbatched matmul.

Symmetric units (zero or constant init): in exact arithmetic they receive equal gradients and stay
equal. In float32 they stay equal only as long as every operation rounds each unit alike, which
XLA does not promise (a matmul's output columns can come from different kernels: vectorized body
and remainder, thread partitions, batched vs unbatched): a unit may drift from the others by about
one float32 rounding of the weights' scale per step (observed: ~1e-8 after 50-100 steps of a
vmapped run, on some CPUs; bit-identical on others, e.g. an AVX-512 AMD EPYC with jaxlib 0.10.2
for widths 8-256, depths 2-10, SGD, momentum and Adam, 100-200 steps, up to 32 networks per
call, both :data:`XLA_OPTIONS`). The bound tests/measure/test_train.py holds:
max_ij |v_i - v_j| <= steps * eps32 * RMS_j |v_j| for v_j = (W[:, j], b_j).

A network whose loss becomes non-finite is recorded as diverged; the others are unaffected (each
network's arithmetic is independent under ``vmap``).

A :class:`~initjax.parametrizations.Parametrized` model (``parametrize(model, "mup",
base_width=...)``) trains under its parametrization: its init, forward multipliers and
per-parameter optimizer (learning rates, Adam epsilons, weight decays), still H x S networks in
one compiled call.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pandas as pd

from initjax import keys
from initjax.measure import device_memory, sharding
from initjax.models import (
    Stack,
    apply_stack,
    check_rescale,
    data_method,
    init_stack,
    refine_params,
    stack_of,
)
from initjax.parametrizations import Parametrized, base_optimizer

__all__ = [
    "OPTIMIZERS",
    "TrainSpec",
    "TrainResult",
    "make_optimizer",
    "loss_and_accuracy",
    "train_step",
    "train",
    "check_data",
]

OPTIMIZERS = ("sgd", "momentum", "adam", "adamw", "rmsprop")


def make_optimizer(
    name: str, learning_rate: Any, *, momentum: float = 0.9, weight_decay: float = 0.0
):
    """An optax optimizer by name; ``learning_rate`` may be traced (vmapped over).

    ``initjax.parametrizations.base_optimizer`` with optax's defaults (Adam b1 0.9, b2 0.999,
    eps 1e-8; RMSprop decay 0.9); ``weight_decay`` is L2 added to the gradient, except for
    "adamw" (decoupled).

    Raises:
      ValueError: unknown ``name`` (lists the allowed ones) or a concrete learning_rate <= 0.
    """
    return base_optimizer(name, learning_rate, momentum=momentum, weight_decay=weight_decay)


@dataclasses.dataclass(frozen=True)
class TrainSpec:
    """Static training settings (part of the compiled function's identity).

    Attributes:
      optimizer: one of :data:`OPTIMIZERS`.
      steps: SGD steps (> 0); rounded up to a multiple of ``eval_every``.
      batch_size: minibatch size (> 0, <= training-set size); sampled with replacement.
      eval_every: steps between recorded points of the curves (> 0).
      momentum: for ``optimizer="momentum"``.
      weight_decay: L2 coefficient (>= 0; decoupled for "adamw"), scaled per parameter by a
        parametrization's weight-decay multipliers.
      eval_size: training examples used for the train-accuracy curve (the first ones).
      keep_params: also return the initial and final params (memory: 2 x H x S copies of the
        network).
      unroll_layers: run the hidden layers as straight-line code instead of a loop over the
        stacked params (``apply_stack(..., unroll=True)``); None (default): when depth <=
        :data:`UNROLL_MAX_DEPTH`. Unrolled, a step spares the loop's dynamic slicing of the
        stacked params and dynamic-update-slicing of their gradients (the SGD step of 64 tanh MLPs
        alone, 2-core CPU: 1.28x faster at width 64 / depth 10, 1.24x at width 128 / depth 30;
        scripts/benchmark.py case 8 prints this profile) and compiles in a time growing with
        depth. Same operations either way; XLA may fuse them differently, so curves can differ
        in float32 rounding (tests/measure/test_train.py bounds the difference).
    """

    optimizer: str = "sgd"
    steps: int = 1000
    batch_size: int = 128
    eval_every: int = 100
    momentum: float = 0.9
    weight_decay: float = 0.0
    eval_size: int = 1000
    keep_params: bool = False
    unroll_layers: bool | None = None

    def validate(self, n_train: int) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(
                f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}"
            )
        for name in ("steps", "batch_size", "eval_every", "eval_size"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        m = self.momentum
        if isinstance(m, bool) or not isinstance(m, int | float) or not (0 <= m < 1):
            raise ValueError(f"momentum must be a finite number in [0, 1), got {m!r}")
        wd = self.weight_decay
        if isinstance(wd, bool) or not isinstance(wd, int | float) or not (0 <= wd < math.inf):
            raise ValueError(f"weight_decay must be a finite number >= 0, got {wd!r}")
        u = self.unroll_layers
        if not (u is None or isinstance(u, bool)):
            raise ValueError(f"unroll_layers must be None, True or False, got {u!r}")
        if self.batch_size > n_train:
            raise ValueError(
                f"batch_size={self.batch_size} is larger than the training set ({n_train} examples)"
            )

    @classmethod
    def from_config(cls, config: Any, **overrides: Any) -> TrainSpec:
        """The spec from a config's keys of the same names (``optimizer``, ``steps``,
        ``batch_size``, ``eval_every``, ``momentum``, ``eval_size``, ``keep_params``).

        Missing keys take the defaults above, except ``eval_every``, which defaults to ``steps``
        (record the end only); ``overrides`` win over the config.

        Raises:
          ValueError: a value of the wrong type, naming the config key.
        """
        get = config.get if hasattr(config, "get") else (lambda k, d=None: getattr(config, k, d))
        kinds = {
            "optimizer": str,
            "steps": int,
            "batch_size": int,
            "eval_every": int,
            "momentum": float,
            "eval_size": int,
            "keep_params": bool,
        }
        values: dict[str, Any] = {}
        for name, kind in kinds.items():
            v = overrides[name] if name in overrides else get(name, None)
            if v is None:
                continue
            if kind is bool or kind is str:
                ok = isinstance(v, kind)
            else:
                ok = isinstance(v, int | float | np.number) and not isinstance(v, bool)
                ok = ok and (kind is float or float(v).is_integer())
            if not ok:
                article = "an" if kind is int else "a"
                msg = f"config key {name!r} must be {article} {kind.__name__}, got {v!r}"
                raise ValueError(msg)
            values[name] = kind(v)
        unknown = set(overrides) - set(kinds)
        if unknown:
            raise ValueError(
                f"unknown TrainSpec field(s) {sorted(unknown)}; allowed: {list(kinds)}"
            )
        values.setdefault("eval_every", values.get("steps", cls.steps))
        return cls(**values)

    @property
    def n_evals(self) -> int:
        return math.ceil(self.steps / self.eval_every)

    def layer_unroll(self, depth: int) -> bool:
        """Whether the hidden layers run unrolled for a network of ``depth`` hidden layers."""
        if self.unroll_layers is None:
            return depth <= UNROLL_MAX_DEPTH
        return self.unroll_layers


# Deepest network whose hidden layers TrainSpec(unroll_layers=None) unrolls. The compile time of
# the unrolled forward + backward grows with depth: 64 tanh MLPs of width 64, SGD, compile CPU
# time (XLA:CPU, jaxlib 0.10.2) 8.7 s unrolled vs 5.1 s looped at depth 30, 14.4 vs 5.2 s at 64,
# 22.8 vs 5.7 s at 100 (about 0.15 s per layer); unrolled steps were 1.24-1.28x faster.
UNROLL_MAX_DEPTH = 32


def loss_and_accuracy(
    stack: Stack,
    params,
    x: jax.Array,
    y: jax.Array,
    parametrized: Parametrized | None = None,
    *,
    unroll: int | bool = 1,
):
    """Mean softmax cross-entropy and accuracy of the network's logits on (x, y) (computed with
    the parametrization's forward multipliers when ``parametrized`` is given; ``unroll``: of the
    hidden layers' scan, :func:`initjax.models.apply_stack`)."""
    return _loss_and_accuracy_of(_logits(stack, params, x, parametrized, unroll), y)


def _loss_and_accuracy_of(logits: jax.Array, y: jax.Array):
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
    acc = jnp.mean(jnp.argmax(logits, -1) == y)
    return loss, acc


def _logits(stack: Stack, params, x, parametrized: Parametrized | None = None, unroll=1):
    if parametrized is not None:
        return parametrized.apply(params, x, unroll=unroll)
    return apply_stack(stack, params, x, unroll=unroll)


def train_step(
    stack: Stack,
    tx,
    params,
    opt_state,
    xb: jax.Array,
    yb: jax.Array,
    parametrized: Parametrized | None = None,
    *,
    unroll: int | bool = 1,
):
    """One optimizer step on a minibatch. Pure: returns (params, opt_state, loss, accuracy).
    ``unroll``: of the hidden layers' scan (:func:`initjax.models.apply_stack`)."""
    return _step(stack, tx, params, opt_state, xb, yb, parametrized, unroll)[:4]


def _step(stack, tx, params, opt_state, xb, yb, parametrized, unroll):
    """:func:`train_step`, also returning the gradients it applied."""
    (loss, acc), grads = jax.value_and_grad(
        lambda p: loss_and_accuracy(stack, p, xb, yb, parametrized, unroll=unroll), has_aux=True
    )(params)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, loss, acc, grads


def _layer_grad_norms(grads) -> jax.Array:
    """Per-layer gradient norms: [input, hidden 1..depth, (readout)], shape (depth + 1 [+ 1],)."""
    sq = lambda tree: sum(jnp.sum(jnp.square(g)) for g in jax.tree.leaves(tree))
    hidden = sum(
        jnp.sum(jnp.square(g).reshape(g.shape[0], -1), axis=1)
        for g in jax.tree.leaves(grads["hidden"])
    )
    parts = [sq(grads["input"])[None], hidden]
    if "readout" in grads:
        parts.append(sq(grads["readout"])[None])
    return jnp.sqrt(jnp.concatenate(parts))


def _one_network(stack, spec: TrainSpec, seed_key, sw2, sb2, lr, data, pz=None):
    x_tr, y_tr, x_te, y_te = data
    n = x_tr.shape[0]
    in_shape = tuple(x_tr.shape[1:])
    kw = dict(momentum=spec.momentum, weight_decay=spec.weight_decay)
    if pz is None:
        root = keys.role(seed_key, keys.PARAMS)
        params = init_stack(stack, root, in_shape, sw2, sb2)
        if data_method(stack) is not None:  # LSUV, MetaInit, GradInit: refine on the train set
            params = refine_params(stack, params, x_tr, y_tr, root)[0]
        tx = make_optimizer(spec.optimizer, lr, **kw)
    else:
        params = pz.init(seed_key, sw2, sb2)
        tx = pz.optimizer(spec.optimizer, lr, **kw)
    params0 = params
    opt_state = tx.init(params)
    unroll = spec.layer_unroll(stack.depth)
    batch_key = keys.role(seed_key, keys.BATCHES)
    # The test set and the first eval_size training examples are evaluated by one forward pass
    # of both, stacked: one copy of the forward code in the program instead of two.
    n_te = x_te.shape[0]
    x_eval = jnp.concatenate([x_te, x_tr[: spec.eval_size]])
    y_eval = jnp.concatenate([y_te, y_tr[: spec.eval_size]])

    def evaluate(p):
        logits = _logits(stack, p, x_eval, pz, unroll)
        te = _loss_and_accuracy_of(logits[:n_te], y_eval[:n_te])
        tr = _loss_and_accuracy_of(logits[n_te:], y_eval[n_te:])
        return te, tr

    def batch(step):
        idx = jax.random.randint(jax.random.fold_in(batch_key, step), (spec.batch_size,), 0, n)
        return x_tr[idx], y_tr[idx]

    # grad_norm0 comes from the gradients of the first step (the initial params on minibatch
    # 0), taken inside the loop: a separate gradient pass before it would compile a second copy
    # of the forward and backward code (a Transformer's train program: ~30% longer to compile).
    norms_shape = jax.eval_shape(_layer_grad_norms, params)

    def step_fn(carry, step):
        params, opt_state, norms0 = carry
        xb, yb = batch(step)
        params, opt_state, loss, acc, grads = _step(
            stack, tx, params, opt_state, xb, yb, pz, unroll
        )
        norms0 = jax.lax.cond(step == 0, _layer_grad_norms, lambda _: norms0, grads)
        return (params, opt_state, norms0), (loss, acc)

    def block(carry, b):
        steps = b * spec.eval_every + jnp.arange(spec.eval_every)
        carry, (loss, acc) = jax.lax.scan(step_fn, carry, steps)
        (te_loss, te_acc), (tr_loss, tr_acc) = evaluate(carry[0])
        bad = ~jnp.all(jnp.isfinite(loss))
        return carry, (loss.mean(), acc.mean(), tr_loss, tr_acc, te_loss, te_acc, bad)

    carry = (params, opt_state, jnp.zeros(norms_shape.shape, norms_shape.dtype))
    (final, _, norms0), curves = jax.lax.scan(block, carry, jnp.arange(spec.n_evals))
    batch_loss, batch_acc, tr_loss, tr_acc, te_loss, te_acc, bad = curves
    extra = {"params": final, "params0": params0} if spec.keep_params else {}
    return extra | {
        "batch_loss": batch_loss,
        "batch_acc": batch_acc,
        "train_loss": tr_loss,
        "train_acc": tr_acc,
        "test_loss": te_loss,
        "test_acc": te_acc,
        "diverged": jnp.any(bad) | ~jnp.isfinite(te_loss[-1]),
        "grad_norm0": norms0,
    }


def _train_all(stack, spec, seed_keys, sw2, sb2, lr, data, pz):
    per_seed = jax.vmap(_one_network, in_axes=(None, None, 0, None, None, None, None, None))
    per_cell = jax.vmap(per_seed, in_axes=(None, None, None, 0, 0, 0, None, None))
    return per_cell(stack, spec, seed_keys, sw2, sb2, lr, data, pz)


# Optimizer state arrays per parameter (momentum: one trace; adam/adamw: two moments).
OPT_SLOTS = {"sgd": 0, "momentum": 1, "adam": 2, "adamw": 2, "rmsprop": 1}


def _check_memory(
    stack: Stack, spec: TrainSpec, data, cells: int, seeds: int, shard: bool | None = None
) -> None:
    """Refuse (ValueError with the estimate) a training run whose arrays cannot fit.

    Per network: params, gradients, updates and optimizer slots (momentum 1, adam 2), the
    pre-activations of a minibatch kept for backprop (3 per layer), the activations of the
    evaluation forward pass, which takes the test set and the evaluation subset stacked (2 at a
    time); the data once, plus that stacked copy; H x S networks at once, split
    over the accelerators the call is sharded across (:func:`sharding.devices_per_call`). Host:
    the curves, and the initial and final params with ``keep_params``.
    """
    x_tr, x_te = data
    in_shape = tuple(x_tr.shape[1:])
    shapes = jax.eval_shape(lambda: init_stack(stack, jax.random.key(0), in_shape, None, 0.0))
    n_params = sum(math.prod(a.shape) for a in jax.tree.leaves(shapes))
    feat = jax.eval_shape(
        lambda: stack.input_apply(
            stack.input_init(jax.random.key(0), in_shape, None, 0.0),
            jnp.zeros((1, *in_shape), stack.dtype),
        )
    ).shape[1:]
    n_f = math.prod(feat)
    item = jnp.dtype(stack.dtype).itemsize
    per_net = n_params * (3 + OPT_SLOTS.get(spec.optimizer, 2)) + 3 * spec.batch_size * n_f * (
        stack.depth + 1
    )
    n_eval = len(x_te) + min(spec.eval_size, len(x_tr))
    per_net += 2 * n_eval * n_f
    nets = cells * seeds
    # XLA:CPU devices of one process share its RAM: only accelerators split the networks.
    split = (
        1 if jax.devices()[0].platform == "cpu" else sharding.devices_per_call(cells, seeds, shard)
    )
    per_device = -(-nets // split)
    data_bytes = (x_tr.size + x_te.size + n_eval * math.prod(in_shape)) * item
    host = nets * (spec.n_evals * 7 * 4 + (2 * n_params * item if spec.keep_params else 0))
    device_memory.check(
        "train",
        per_device * per_net * item + data_bytes,
        host,
        f"{per_device} network(s) at once per device ({nets} over {split} device(s)) of "
        f"{device_memory.gib(per_net * item)} each "
        f"({n_params} params), "
        f"data {device_memory.gib(data_bytes)}, results {device_memory.gib(host)}",
        "lower seeds, the grid, width, depth, batch_size or the evaluation set",
    )


def check_data(data: Any, classes: int) -> tuple[np.ndarray, ...]:
    """Validate ``(x_train, y_train, x_test, y_test)`` for a ``classes``-way readout.

    Returns:
      The four as numpy arrays.

    Raises:
      TypeError: not four arrays, inputs that are not real numbers, or labels that are not
        integers. ValueError: empty sets, inputs without a feature axis or with other feature
        shapes in train and test, non-finite inputs, labels not 1-D or of another length than
        their inputs, or labels outside [0, classes).
    """
    if isinstance(data, str | bytes) or not isinstance(data, Sequence) or len(data) != 4:
        raise TypeError(
            "data must be a sequence (x_train, y_train, x_test, y_test), got "
            f"{type(data).__name__}"
            + (f" of length {len(data)}" if hasattr(data, "__len__") else "")
        )
    arrays = tuple(np.asarray(a) for a in data)
    names = ("x_train", "y_train", "x_test", "y_test")
    for name, x in zip(names[0::2], arrays[0::2], strict=True):
        if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
            raise TypeError(f"data: {name} must hold real numbers, got dtype {x.dtype}")
        if x.ndim < 2 or len(x) == 0:
            raise ValueError(f"data: {name} must be (n >= 1, *in_shape), got shape {x.shape}")
        bad = int(np.size(x) - np.count_nonzero(np.isfinite(x)))
        if bad:
            raise ValueError(f"data: {name} holds {bad} non-finite value(s) (NaN or inf)")
    x_tr, y_tr, x_te, y_te = arrays
    if x_tr.shape[1:] != x_te.shape[1:]:
        raise ValueError(
            f"data: x_train examples have shape {x_tr.shape[1:]} but x_test's {x_te.shape[1:]}"
        )
    for name, y, x in ((names[1], y_tr, x_tr), (names[3], y_te, x_te)):
        if not np.issubdtype(y.dtype, np.integer):
            raise TypeError(f"data: {name} must hold integer class labels, got dtype {y.dtype}")
        if y.shape != (len(x),):
            raise ValueError(
                f"data: {name} must have shape ({len(x)},) (one label per input), got {y.shape}"
            )
        lo, hi = int(y.min()), int(y.max())
        if lo < 0 or hi >= classes:
            raise ValueError(
                f"data: {name} holds labels in [{lo}, {hi}] but the model's readout={classes} "
                f"units take labels 0..{classes - 1}"
            )
    return arrays


# XLA compiler options per computation (``jax.jit(..., compiler_options=...)``), by name.
# "no_ynn": XLA:CPU's YNNPACK library fusions off, so dots run as XLA's own (Eigen) kernels.
XLA_OPTIONS: dict[str, dict[str, Any] | None] = {
    "default": None,
    "no_ynn": {"xla_cpu_experimental_ynn_fusion_type": ""},
}
_JITS: dict[str, Any] = {}


@functools.cache
def ynn_option_available() -> bool:
    """Whether this jaxlib's XLA:CPU knows the YNNPACK fusion option (compiles a tiny probe)."""
    if jax.default_backend() != "cpu":
        return False
    try:
        jax.jit(lambda a: a @ a, compiler_options=XLA_OPTIONS["no_ynn"]).lower(
            jnp.ones((2, 2))
        ).compile()
    except Exception:  # an unknown option is an XlaRuntimeError / ValueError, version dependent
        return False
    return True


# "auto" turns the YNNPACK fusions off for MLPs at least this wide (BENCHMARKS.md, case 8:
# width 128, depth 30 trained faster without them; width 64, depth 10 did not).
AUTO_NO_YNN_MIN_WIDTH = 128


def _resolve_options(xla_options: str, stack: Stack) -> str:
    if xla_options not in (*XLA_OPTIONS, "auto"):
        allowed = ", ".join(map(repr, (*XLA_OPTIONS, "auto")))
        raise ValueError(f"xla_options must be one of {allowed}, got {xla_options!r}")
    if xla_options == "auto":
        from initjax.models.mlp import MLPStack

        wide = isinstance(stack, MLPStack) and stack.width >= AUTO_NO_YNN_MIN_WIDTH
        return "no_ynn" if wide and ynn_option_available() else "default"
    if xla_options == "no_ynn" and not ynn_option_available():
        raise ValueError(
            "xla_options='no_ynn' needs XLA:CPU with the YNNPACK fusion option "
            f"(backend {jax.default_backend()!r}, jaxlib {jax.lib.__version__})"
        )
    return xla_options


def _train_jit(options: str):
    if options not in _JITS:
        _JITS[options] = jax.jit(
            _train_all, static_argnums=(0, 1, 7), compiler_options=XLA_OPTIONS[options]
        )
    return _JITS[options]


@dataclasses.dataclass
class TrainResult:
    """Curves and outcomes of H x S networks.

    Attributes:
      arrays: ``batch_loss``, ``batch_acc`` (mean over each block of ``eval_every`` steps),
        ``train_loss``, ``train_acc`` (on the first ``eval_size`` training examples),
        ``test_loss``, ``test_acc``: ``(H, S, n_evals)``; ``diverged`` ``(H, S)`` bool;
        ``grad_norm0`` ``(H, S, depth + 1 [+ 1])`` per-layer gradient norms at step 0 (input
        projection, hidden layers 1..depth, readout).
      cells: DataFrame of the H cells (sigma_w2, sigma_b2, learning_rate).
      steps: ``(n_evals,)`` the step count at each recorded point.
      params: final params with leading ``(H, S)`` axes if ``spec.keep_params``, else None.
      params0: the initial params (after a data-dependent refinement, if any), likewise.
    """

    arrays: dict[str, np.ndarray]
    cells: pd.DataFrame
    steps: np.ndarray
    params: Any = None
    params0: Any = None

    def to_frame(self) -> pd.DataFrame:
        """One row per (cell, seed): final losses/accuracies and ``diverged``."""
        h, s = self.arrays["diverged"].shape
        rows = self.cells.loc[np.repeat(np.arange(h), s)].reset_index(drop=True)
        rows.insert(0, "cell", np.repeat(np.arange(h), s))
        rows["seed"] = np.tile(np.arange(s), h)
        for k in ("train_loss", "train_acc", "test_loss", "test_acc"):
            rows[k] = self.arrays[k][..., -1].reshape(-1)
        rows["diverged"] = self.arrays["diverged"].reshape(-1)
        return rows

    def curves_frame(self, *, diverged: bool = False) -> pd.DataFrame:
        """One row per (cell, seed, recorded step): every curve; with ``diverged=True`` also the
        network's (cell, seed) divergence flag (bool) on each of its rows."""
        h, s, t = self.arrays["train_acc"].shape
        idx = np.indices((h, s, t)).reshape(3, -1)
        out = self.cells.loc[idx[0]].reset_index(drop=True)
        out.insert(0, "cell", idx[0])
        out["seed"], out["step"] = idx[1], self.steps[idx[2]]
        for k in ("batch_loss", "batch_acc", "train_loss", "train_acc", "test_loss", "test_acc"):
            out[k] = self.arrays[k].reshape(-1)
        if diverged:
            out["diverged"] = self.arrays["diverged"][idx[0], idx[1]]
        return out


def _broadcast_cells(sigma_w2, sigma_b2, learning_rate) -> tuple[np.ndarray, ...]:
    arrs = []
    for name, v in (
        ("sigma_w2", sigma_w2),
        ("sigma_b2", sigma_b2),
        ("learning_rate", learning_rate),
    ):
        a = np.atleast_1d(np.asarray(v, np.float32))
        if a.ndim != 1 or a.size == 0:
            raise ValueError(f"{name} must be a scalar or a non-empty 1-D array, got {v!r}")
        if not np.all(np.isfinite(a)) or np.any(a < 0):
            raise ValueError(f"{name} must be finite and >= 0, got {v!r}")
        arrs.append(a)
    if np.any(arrs[2] <= 0):
        raise ValueError(f"learning_rate must be > 0, got {learning_rate!r}")
    try:
        return tuple(np.broadcast_arrays(*arrs))
    except ValueError:
        raise ValueError(
            "sigma_w2, sigma_b2 and learning_rate must broadcast to one grid of cells, got "
            f"lengths {[a.size for a in arrs]}"
        ) from None


def train(
    model: Any,
    data: Sequence[np.ndarray],
    *,
    seeds: int | jax.Array = 4,
    sigma_w2: Any = None,
    sigma_b2: Any = None,
    learning_rate: Any = 0.01,
    spec: TrainSpec = TrainSpec(),
    root_seed: int = 0,
    xla_options: str = "auto",
    shard: bool | None = None,
) -> TrainResult:
    """Train ``seeds`` networks per grid cell of (sigma_w2, sigma_b2, learning_rate), in one call.

    A data-dependent ``kernel_init`` (LSUV, MetaInit, GradInit) refines each network's initial
    params on the training set ``(x_train, y_train)`` before the first step (its key:
    ``keys.data_init``; each method samples the minibatches it needs).

    Args:
      model: an initjax model with a readout (e.g. ``MLP(..., readout=10)``), or a
        :class:`~initjax.parametrizations.Parametrized` one (``parametrize(model, "mup",
        base_width=64, in_shape=x_train.shape[1:])``): trained with its init, forward
        multipliers and per-parameter optimizer; ``learning_rate`` is then the base rate.
      data: ``(x_train, y_train, x_test, y_test)``: float inputs ``(n, *in_shape)`` and int labels.
      seeds: number of networks per cell, or an array of typed keys.
      sigma_w2, sigma_b2, learning_rate: scalars or 1-D arrays broadcast to H cells (vmapped:
        no recompilation when their values change). None sigma_w2 / sigma_b2 take the model's.
      spec: optimizer and schedule (:class:`TrainSpec`).
      root_seed: root of ``keys.seed_keys`` when ``seeds`` is an int.
      xla_options: XLA compiler options for this computation, by name (:data:`XLA_OPTIONS`):
        "default", "no_ynn" (XLA:CPU's YNNPACK fusions off), or "auto" (default): "no_ynn" for
        MLPs of width >= :data:`AUTO_NO_YNN_MIN_WIDTH` on CPU where this jaxlib has the option
        (measured faster there: BENCHMARKS.md, case 8), else "default". The options change
        which kernels run, so results may differ in float32 rounding between settings, never
        in law.
      shard: lay the cells x seeds networks over every visible device (``jax.devices()``, all
        processes' in a multi-process run; :mod:`initjax.measure.sharding`); None: when more
        than one device is visible; False: one device.

    Returns:
      :class:`TrainResult`.

    Raises:
      ValueError: a model without readout, bad data shapes, non-finite inputs, labels outside
        [0, readout), unknown optimizer, non-positive learning rate / batch size / steps, a
        batch larger than the dataset, negative variances, a parametrized model whose in_shape
        differs from the data's, or one with a data-dependent initializer, or a run whose
        arrays cannot fit in the available memory (the estimate is given).
      TypeError: data that is not four arrays, or labels that are not integers
        (:func:`check_data`).
    """
    pz = model if isinstance(model, Parametrized) else None
    stack = pz.stack if pz is not None else stack_of(model)
    options = _resolve_options(xla_options, stack)
    if stack.readout is None:
        raise ValueError("model: training needs a readout (e.g. MLP(..., readout=num_classes))")
    x_tr, y_tr, x_te, y_te = check_data(data, stack.readout)
    spec.validate(len(x_tr))
    stack.check(tuple(x_tr.shape[1:]))
    method = data_method(stack)
    if method is not None and pz is not None:
        raise ValueError(
            "model: a data-dependent initializer (LSUV, MetaInit, GradInit) rescales the layers "
            "itself; it cannot be combined with a parametrization"
        )
    if method is not None:
        method.check(labels=True)
    if pz is not None and tuple(x_tr.shape[1:]) != pz.in_shape:
        raise ValueError(
            f"model: parametrized for inputs of shape {pz.in_shape}, but the data's are "
            f"{tuple(x_tr.shape[1:])}; pass in_shape= to parametrize"
        )
    sw2 = model.sigma_w2 if sigma_w2 is None else sigma_w2
    sb2 = model.sigma_b2 if sigma_b2 is None else sigma_b2
    own_init = sw2 is None
    if not own_init:
        check_rescale(stack)
    sw, sb, lr = _broadcast_cells(0.0 if own_init else sw2, sb2, learning_rate)
    n_seeds = seeds.shape[0] if isinstance(seeds, jax.Array) else seeds
    if isinstance(n_seeds, int) and not isinstance(n_seeds, bool) and n_seeds >= 1:
        _check_memory(stack, spec, (x_tr, x_te), len(sw), n_seeds, shard)
    seed_keys = keys.seed_keys(seeds, root_seed)
    data_j = tuple(
        jnp.asarray(a, jnp.int32 if i % 2 else stack.dtype)
        for i, a in enumerate((x_tr, y_tr, x_te, y_te))
    )
    # sigma_w2=None: the initializer as registered (None is an empty pytree under vmap).
    sw_arg = None if own_init else jnp.asarray(sw)
    seed_keys, (sw_arg, sb_arg, lr_arg), (data_j,), _ = sharding.place(
        seed_keys, (sw_arg, jnp.asarray(sb), jnp.asarray(lr)), (data_j,), shard=shard
    )
    out = sharding.gather(
        _train_jit(options)(stack, spec, seed_keys, sw_arg, sb_arg, lr_arg, data_j, pz)
    )
    params = out.pop("params", None)
    params0 = out.pop("params0", None)
    arrays = {k: np.asarray(v) for k, v in out.items()}
    cells = pd.DataFrame(
        {"sigma_w2": np.nan if own_init else sw, "sigma_b2": sb, "learning_rate": lr}
    )
    steps = (np.arange(spec.n_evals) + 1) * spec.eval_every
    return TrainResult(arrays, cells, steps, params, params0)
