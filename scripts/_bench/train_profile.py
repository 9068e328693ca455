"""Where the time of the vmapped ``measure.train.train`` step goes: the parts of one SGD step of
all networks timed in isolation, on the benchmark's shapes and XLA options.

Each part is its own jitted computation over all ``nets`` networks at once (one ``vmap``, the
layout ``train`` uses), run for ``steps`` steps inside a ``lax.scan`` so that dispatch costs
nothing, timed interleaved (A B C A B C, medians):

- ``step``: ``measure.train.train_step`` (forward, backward, SGD update) on a fixed minibatch per
  network, the hidden layers run as ``train`` runs them (``TrainSpec.layer_unroll``: an unrolled
  ``lax.scan`` over the stacked hidden params, or a loop for deep networks);
- ``step, layer loop``: the same step with the layers a ``lax.scan`` loop (dynamic-slice of the
  stacked params, dynamic-update-slice of their gradients, the loop's carry);
- ``step, separate layer arrays``: the hidden params held as ``depth`` separate arrays and the
  layers a Python loop (no stacked params at all); ``step, layer loop`` minus this = the layer
  loop's bookkeeping;
- ``sgd update``: only ``p - lr g`` over every parameter (a fixed g);
- ``batch sampling``: the minibatch indices (``randint`` from ``fold_in(batch key, step)``) and
  the gather of the examples;
- ``evaluation``: the loss and accuracy on the test and evaluation sets, per evaluation;
- ``hidden matmuls``: the hidden layers' three batched matmuls (forward h W, backward g W^T,
  weight gradient h^T g; ``nets`` x (batch, width) x (width, width)) each timed alone as one
  jitted ``einsum`` (a roofline for this shape on this XLA: the step cannot run its matmuls faster
  than this), times ``depth``.

XLA's ``cost_analysis`` FLOPs of one ``step`` are shown beside the count by formula.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from initjax import keys
from initjax.measure import train as T
from initjax.models import init_stack
from scripts._bench.timing import fmt_s, interleave


@dataclasses.dataclass
class Profile:
    """Seconds per training step of all networks, per part, and the cores each part kept busy."""

    per_step: dict[str, float]
    busy: dict[str, float]
    gflops: dict[str, float]  # hidden-matmul rates in isolation, GFLOP/s
    compile_s: float
    xla_flops_per_step: float
    formula_flops_per_step: float
    eval_s: float  # one evaluation (test + evaluation set), seconds
    options: str
    unrolled: bool

    def note(self, label: str, step_s: float, steps: int, n_evals: int) -> str:
        """One paragraph: each part's share of ``train``'s measured time per step ``step_s``."""
        p = self.per_step
        share = lambda t: f"{100 * t / step_s:.0f}%"
        book = p["step, layer loop"] - p["step, separate layer arrays"]
        rest = p["step"] - p["hidden matmuls"] - p["sgd update"]
        evals = self.eval_s * n_evals / steps
        mm = self.gflops
        return (
            f"{label} profile (xla_options={self.options!r}; parts timed alone, per step of all "
            f"networks, share of train's {fmt_s(step_s * 1e3)} ms per step): "
            f"hidden-layer matmuls at their isolated speed {fmt_s(p['hidden matmuls'] * 1e3)} ms "
            f"({share(p['hidden matmuls'])}; forward {mm['fwd']:.0f}, backward {mm['bwd']:.0f}, "
            f"weight gradient {mm['wgrad']:.0f} GFLOP/s alone, cores busy "
            f"{self.busy['hidden matmuls']:.2f}); "
            f"SGD update {fmt_s(p['sgd update'] * 1e3)} ms ({share(p['sgd update'])}); tanh, "
            f"bias, loss, copies and the rest of the step {fmt_s(rest * 1e3)} ms ({share(rest)}); "
            f"minibatch sampling and gather "
            f"{fmt_s(p['batch sampling'] * 1e3)} ms ({share(p['batch sampling'])}); "
            f"evaluation {fmt_s(evals * 1e3)} ms per step amortized ({share(evals)}; "
            f"{fmt_s(self.eval_s)} s per evaluation). The step alone "
            f"({'layers unrolled' if self.unrolled else 'layer loop'}, as train runs it): "
            f"{fmt_s(p['step'] * 1e3)} ms ({share(p['step'])}, cores busy "
            f"{self.busy['step']:.2f}); with the layers a lax.scan loop "
            f"{fmt_s(p['step, layer loop'] * 1e3)} ms, as separate arrays in a Python loop "
            f"{fmt_s(p['step, separate layer arrays'] * 1e3)} ms: the loop's bookkeeping "
            f"(dynamic slices of the stacked params and of their gradients) "
            f"{fmt_s(book * 1e3)} ms ({share(book)}). Compile (first call minus a timed call) "
            f"{fmt_s(self.compile_s)} s; XLA cost_analysis counts "
            f"{self.xla_flops_per_step / 1e9:.2f} GFLOP per step"
            + ("" if self.unrolled else " (a loop's body once)")
            + f" vs {self.formula_flops_per_step / 1e9:.2f} by formula (matmuls only)."
        )


def _nets_setup(model, dataset, sw_n, sb, lr_n, batch: int, seed: int = 0):
    stack = model.stack()
    x_tr, y_tr = (jnp.asarray(a) for a in dataset[:2])
    nets = len(lr_n)
    ks = keys.seed_keys(nets, seed)
    in_shape = tuple(x_tr.shape[1:])

    @jax.jit
    def init(ks, sw):
        return jax.vmap(lambda k, s: init_stack(stack, keys.role(k, keys.PARAMS), in_shape, s, sb))(
            ks, sw
        )

    params = init(ks, jnp.asarray(sw_n))
    idx = np.random.default_rng(seed).integers(0, len(x_tr), (nets, batch))
    xb, yb = x_tr[idx], y_tr[idx]
    return stack, params, xb, yb, jnp.asarray(lr_n), ks


def _unstack(params):
    h = params["hidden"]
    depth = jax.tree.leaves(h)[0].shape[1]
    layer = lambda i: jax.tree.map(lambda a: a[:, i], h)
    return params | {"hidden": tuple(layer(i) for i in range(depth))}


def _unrolled_logits(stack, params, x):
    z = stack.input_apply(params["input"], x)
    for p in params["hidden"]:
        z = stack.layer_apply(p, z)
    return stack.output(params.get("readout"), z)


def profile_step(
    model: Any,
    dataset: tuple[np.ndarray, ...],
    spec: T.TrainSpec,
    sw_n: np.ndarray,
    sigma_b2: float,
    lr_n: np.ndarray,
    *,
    options: str,
    steps: int,
    repeats: int = 2,
    compile_s: float = float("nan"),
) -> Profile:
    """Time the parts of ``train``'s step (module docstring) for ``len(lr_n)`` networks, each
    over ``steps`` steps, ``repeats`` times interleaved; ``compile_s`` is shown as given."""
    import optax

    copts = T.XLA_OPTIONS[options]
    stack, params, xb, yb, lr, ks = _nets_setup(
        model, dataset, sw_n, sigma_b2, lr_n, spec.batch_size
    )
    nets, width, depth, b = len(lr_n), stack.width, stack.depth, spec.batch_size
    x_tr, y_tr, x_te, y_te = (jnp.asarray(a) for a in dataset)
    tx_of = lambda r: optax.sgd(r)

    def steps_of(loss):
        def one(p, lr, x, y):
            tx = tx_of(lr)
            s = tx.init(p)

            def body(c, _):
                g = jax.grad(lambda q: loss(q, x, y))(c)
                u, _ = tx.update(g, s, c)
                return optax.apply_updates(c, u), None

            return jax.lax.scan(body, p, None, length=steps)[0]

        f = jax.jit(jax.vmap(one), compiler_options=copts)
        return f

    unrolled = spec.layer_unroll(depth)
    scan_loss = lambda p, x, y: T.loss_and_accuracy(stack, p, x, y, unroll=unrolled)[0]
    loop_loss = lambda p, x, y: T.loss_and_accuracy(stack, p, x, y, unroll=1)[0]

    def unrolled_loss(p, x, y):
        import optax as _o

        logits = _unrolled_logits(stack, p, x)
        return _o.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    f_step = steps_of(scan_loss)
    f_loop = steps_of(loop_loss)
    f_unrolled = steps_of(unrolled_loss)
    p_un = _unstack(params)

    g_fixed = jax.tree.map(lambda a: a * 1e-3, params)

    @jax.jit
    def _upd(p, g, lr):
        def body(c, _):
            return jax.tree.map(
                lambda a, d: a - lr.reshape((-1,) + (1,) * (a.ndim - 1)) * d, c, g
            ), None

        return jax.lax.scan(body, p, None, length=steps)[0]

    f_upd = jax.jit(_upd, compiler_options=copts)

    n = x_tr.shape[0]

    def _sample(ks):
        def one(k):
            bk = keys.role(k, keys.BATCHES)

            def body(acc, step):
                idx = jax.random.randint(jax.random.fold_in(bk, step), (b,), 0, n)
                return acc + jnp.sum(x_tr[idx]) + jnp.sum(y_tr[idx]), None

            return jax.lax.scan(body, jnp.float32(0), jnp.arange(steps))[0]

        return jax.vmap(one)(ks)

    f_sample = jax.jit(_sample, compiler_options=copts)
    x_ev, y_ev = x_tr[: spec.eval_size], y_tr[: spec.eval_size]

    def _eval(p):
        f = lambda q: (
            T.loss_and_accuracy(stack, q, x_te, y_te),
            T.loss_and_accuracy(stack, q, x_ev, y_ev),
        )
        return jax.vmap(f)(p)

    f_eval = jax.jit(_eval, compiler_options=copts)

    k3 = jax.random.split(jax.random.key(1), 3)
    h = jax.random.normal(k3[0], (nets, b, width))
    w = jax.random.normal(k3[1], (nets, width, width)) / np.sqrt(width)
    g = jax.random.normal(k3[2], (nets, b, width))
    hp = "highest" if stack.precision == "highest" else None
    mm = {
        "fwd": jax.jit(lambda h, w, g: jnp.einsum("mbi,mij->mbj", h, w, precision=hp),
                       compiler_options=copts),
        "bwd": jax.jit(lambda h, w, g: jnp.einsum("mbj,mij->mbi", g, w, precision=hp),
                       compiler_options=copts),
        "wgrad": jax.jit(lambda h, w, g: jnp.einsum("mbi,mbj->mij", h, g, precision=hp),
                         compiler_options=copts),
    }  # fmt: skip
    mm_reps = max(3, min(steps, 20))

    def mm_run():
        out = {}
        for k, f in mm.items():
            t0 = time.perf_counter()
            for _ in range(mm_reps):
                f(h, w, g).block_until_ready()
            out[k] = (time.perf_counter() - t0) / mm_reps
        return out

    block = lambda t: jax.block_until_ready(t)
    contenders = {
        "step": lambda: block(f_step(params, lr, xb, yb)),
        "step, layer loop": lambda: block(f_loop(params, lr, xb, yb)),
        "step, separate layer arrays": lambda: block(f_unrolled(p_un, lr, xb, yb)),
        "sgd update": lambda: block(f_upd(params, g_fixed, lr)),
        "batch sampling": lambda: block(f_sample(ks)),
        "evaluation": lambda: block(f_eval(params)),
        "hidden matmuls": mm_run,
    }
    res = interleave(contenders, repeats, warmup=1)
    per_step = {k: res.stats[k].median / steps for k in contenders}
    per_step["evaluation"] = res.stats["evaluation"].median
    mm_times = res.results["hidden matmuls"]
    mm_flops = 2.0 * nets * b * width * width
    gflops = {k: mm_flops / t / 1e9 for k, t in mm_times.items()}
    per_step["hidden matmuls"] = depth * sum(mm_times.values())
    busy = {k: res.stats[k].busy for k in contenders}

    # XLA counts a while loop's body once: the isolated step's scan body is one step.
    ca = f_step.lower(params, lr, xb, yb).compile().cost_analysis()
    ca = ca[0] if isinstance(ca, list | tuple) else ca
    xla_flops = float((ca or {}).get("flops", float("nan")))
    d_in = x_tr.shape[1]
    # forward, then backward twice that less the input layer's input gradient (not needed)
    fwd = 2.0 * b * (d_in * width + depth * width * width + width * 10)
    formula = (3.0 * fwd - 2.0 * b * d_in * width) * nets
    return Profile(
        per_step=per_step,
        busy=busy,
        gflops=gflops,
        compile_s=compile_s,
        xla_flops_per_step=xla_flops,
        formula_flops_per_step=formula,
        eval_s=per_step.pop("evaluation"),
        options=options,
        unrolled=unrolled,
    )
