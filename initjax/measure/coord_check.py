"""The coordinate check of muP (Yang et al. 2022, "Tensor Programs V", arXiv:2203.03466, §D.1;
the ``mup`` package's ``coord_check``), with slopes, confidence intervals and a verdict.

For each parametrization and each width (or depth), ``seeds`` networks (a ``vmap``) take
``steps`` optimizer steps on one fixed batch; before the first step and after each step the check
records, per layer l (0 = input projection, 1..L hidden, "output" = the logits):

- ``coord``: mean |z_t^l| over examples and units (the size of a coordinate);
- ``delta``: mean |z_t^l - z_0^l| (how far the features moved: Theta(1) under muP);
- for attention families (a stack with ``attention_logits``), the same two quantities of each
  block's attention logits (``attn_logits_l``, layer l): Theta(1) updates under muP's
  q.k / d_head, growing under SP's q.k / sqrt(d_head) (Yang et al. 2022, §J.2.1);

and per kernel (spectral view, Yang, Simon & Bernstein 2023, arXiv:2310.17813, Condition 1)
the spectral norm of the effective weight W_t and of its update W_t - W_0, both divided by
sqrt(fan_out / fan_in) (``spec_w``, ``spec_dw``: Theta(1) under muP, for every layer). Spectral
norms come from ``power_iters`` power iterations on W^T W (a lower bound; for Gaussian 1024 x 1024
matrices 32 iterations are within 2% of the largest singular value, tests/measure/
test_coord_check.py), computed on the flattened ``(fan_in, C_out)`` matrix for convolutions.

:func:`coord_slopes` fits, per seed, log(value) against log(width) (or log(depth)) by least
squares, and reports the mean slope over seeds with its standard error and a Student-t
confidence interval. :func:`coord_verdict` compares them with an expectation per
parametrization fixed in advance: "flat" (the interval lies inside (-1/2, flat_bound]: no growth,
and no faster decay than the O(size^-1/2) finite-size correction of a converging coordinate),
"grows" (the interval lies above ``grow_min``) or "shrinks".

Costs per seed, width N, depth L, batch B, T steps: T forward/backward passes O(T L B N^2) and
``power_iters`` matrix-vector products per kernel and step, O(T L power_iters N^2); memory about
5 copies of the params (params, their init, the gradient, two Adam moments), O(L N^2), so seeds
are mapped in groups that fit ``memory_gb``.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pandas as pd

from initjax import keys, models
from initjax import parametrizations as P
from initjax.initializers.sampling import standard_normal
from initjax.models import Stack

__all__ = [
    "CoordVerdict",
    "EXPECTATIONS",
    "QUANTITIES",
    "coord_check",
    "coord_run",
    "coord_slopes",
    "coord_verdict",
    "seed_bytes",
    "default_expectation",
    "default_in_shape",
    "spectral_norm",
    "t_quantile",
]

QUANTITIES = ("coord", "delta", "spec_w", "spec_dw")
EXPECTATIONS = ("flat", "grows", "shrinks")
_KERNEL_CLASSES = ("input", "hidden", "readout")


# --- statistics ------------------------------------------------------------------------------


def t_quantile(p: float, dof: float) -> float:
    """Quantile of Student's t distribution, by bisection on its CDF (regularized incomplete beta,
    float64: P(T <= t) = 1 - I_{dof / (dof + t^2)}(dof / 2, 1 / 2) / 2 for t >= 0).

    Raises:
      ValueError: p outside (0, 1) or dof <= 0.
    """
    if not 0 < p < 1:
        raise ValueError(f"p must be in (0, 1), got {p!r}")
    if not dof > 0:
        raise ValueError(f"dof must be > 0, got {dof!r}")
    if p < 0.5:
        return -t_quantile(1 - p, dof)

    def cdf(t: float) -> float:
        return 1.0 - 0.5 * _betainc(dof / 2.0, 0.5, dof / (dof + t * t))

    lo, hi = 0.0, 1.0
    while cdf(hi) < p:
        hi *= 2.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if cdf(mid) < p else (lo, mid)
    return 0.5 * (lo + hi)


def _betainc(a: float, b: float, x: float) -> float:
    """Regularized incomplete beta I_x(a, b) in float64: the continued fraction of Numerical
    Recipes (Press et al. 2007, §6.4) by the modified Lentz method, with the symmetry
    I_x(a, b) = 1 - I_{1-x}(b, a) where the fraction converges slowly."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    if x > (a + 1.0) / (a + b + 2.0):
        return 1.0 - _betainc(b, a, 1.0 - x)
    ln_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 10000):
        for num in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return math.exp(ln_front) * h / a


def spectral_norm(w: jax.Array, iters: int = 32, key: jax.Array | None = None) -> jax.Array:
    """Largest singular value of a matrix ``(m, n)`` by ``iters`` power iterations on W^T W from a
    Gaussian start (float32; a lower bound that converges from below)."""
    key = jax.random.key(0) if key is None else key
    v = standard_normal(key, (w.shape[1],), w.dtype)
    v = v / jnp.linalg.norm(v)
    hi = jax.lax.Precision.HIGHEST

    def body(_, v):
        u = jnp.matmul(w.T, jnp.matmul(w, v, precision=hi), precision=hi)
        n = jnp.linalg.norm(u)
        return jnp.where(n > 0, u / jnp.where(n > 0, n, 1.0), v)

    v = jax.lax.fori_loop(0, iters, body, v)
    return jnp.linalg.norm(jnp.matmul(w, v, precision=hi))


# --- one run ---------------------------------------------------------------------------------


def _has_logits(stack: Stack) -> bool:
    return hasattr(stack, "attention_logits") and hasattr(stack, "attention_input")


def _layer_outputs(stack: Stack, p, x: jax.Array) -> list[jax.Array]:
    """[z^0, z^1..z^L stacked (L, B, ...), logits] of the network with effective params ``p``;
    for attention families also the attention logits of each block, stacked (L, B, H, T, T),
    before the logits (masked entries 0: a width-independent fraction of every mean)."""
    z0 = stack.input_apply(p["input"], x)
    attn = _has_logits(stack)

    def body(z, lp):
        a = None
        if attn:
            a, mask = stack.attention_logits(lp, stack.attention_input(lp, z))
            a = jnp.where(mask, a, 0.0)
        z = stack.layer_apply(lp, z)
        return z, (z, a)

    zl, (zs, att) = jax.lax.scan(body, z0, p["hidden"])
    out = stack.output(p.get("readout"), zl)
    return [z0, zs, att, out] if attn else [z0, zs, out]


def _abs_means(outs: list[jax.Array], ref: list[jax.Array] | None) -> jax.Array:
    """(n,) mean |z| (or |z - ref|) per recorded layer: input, hidden 1..L, [attention logits
    1..L], output."""
    d = outs if ref is None else [a - b for a, b in zip(outs, ref, strict=True)]
    per_layer = lambda a: jnp.mean(jnp.abs(a).reshape(a.shape[0], -1), axis=1)
    parts = [jnp.mean(jnp.abs(d[0]))[None], *[per_layer(a) for a in d[1:-1]]]
    return jnp.concatenate([*parts, jnp.mean(jnp.abs(d[-1]))[None]])


def _kernels(pz: P.Parametrized) -> list[P.LeafRule]:
    return [lf for lf in pz.leaves if lf.role_class in _KERNEL_CLASSES and len(lf.shape) >= 2]


def _get(tree, path):
    for k in path:
        tree = tree[k]
    return tree


def _pair_norms(w, w0, iters):
    mat = lambda a: a.reshape(-1, a.shape[-1])
    return spectral_norm(mat(w), iters), spectral_norm(mat(w - w0), iters)


def _spectral(pz: P.Parametrized, eff, eff0, iters: int) -> tuple[jax.Array, jax.Array]:
    """Per kernel (and hidden layer): ||W||_2 / sqrt(fo / fi), ||W - W0||_2 / sqrt(fo / fi)."""
    sw, sdw = [], []
    for lf in _kernels(pz):
        w, w0 = _get(eff, lf.path), _get(eff0, lf.path)
        norm = math.sqrt(lf.fan_out / lf.fan_in)
        if lf.stacked:
            a, b = jax.vmap(functools.partial(_pair_norms, iters=iters))(w, w0)
        else:
            a, b = _pair_norms(w, w0, iters)
            a, b = a[None], b[None]
        sw.append(a / norm)
        sdw.append(b / norm)
    if not sw:
        return jnp.zeros((0,)), jnp.zeros((0,))
    return jnp.concatenate(sw), jnp.concatenate(sdw)


@dataclasses.dataclass(frozen=True)
class _Spec:
    pz: P.Parametrized
    optimizer: str
    steps: int
    spectral: bool
    power_iters: int
    seeds_per_group: int


def _one_seed(spec: _Spec, seed_key, lr, x, y):
    pz, st = spec.pz, spec.pz.stack
    params = pz.init(seed_key)
    tx = pz.optimizer(spec.optimizer, lr)
    eff0 = pz.effective(params)
    outs0 = _layer_outputs(st, eff0, x)

    def loss(p):
        logits = _layer_outputs(st, pz.effective(p), x)[-1]
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    def stats(p):
        eff = pz.effective(p)
        outs = _layer_outputs(st, eff, x)
        rec = {"coord": _abs_means(outs, None), "delta": _abs_means(outs, outs0)}
        if spec.spectral:
            rec["spec_w"], rec["spec_dw"] = _spectral(pz, eff, eff0, spec.power_iters)
        return rec

    def step(carry, _):
        p, s = carry
        upd, s = tx.update(jax.grad(loss)(p), s, p)
        p = optax.apply_updates(p, upd)
        return (p, s), stats(p)

    _, later = jax.lax.scan(step, (params, tx.init(params)), None, spec.steps)
    first = stats(params)
    return {k: jnp.concatenate([first[k][None], later[k]]) for k in first}


@functools.partial(jax.jit, static_argnums=(0,))
def _run_jit(spec: _Spec, seed_keys, lr, x, y):
    f = lambda k: _one_seed(spec, k, lr, x, y)
    return jax.lax.map(f, seed_keys, batch_size=spec.seeds_per_group)


def _param_bytes(pz: P.Parametrized) -> int:
    n = 0
    for lf in pz.leaves:
        size = math.prod(lf.shape)
        n += size * (pz.depth if lf.stacked else 1)
    return 4 * n


# Copies of the params one seed's step holds at once besides the optimizer state: params, the
# initial params, effective weights now and at init, gradient, update, new params (the spectral
# view's W - W0 reuses the update's buffer after XLA's liveness analysis, measured).
PARAM_COPIES = 7


def seed_bytes(pz: P.Parametrized, optimizer: str, batch: int) -> int:
    """Device bytes one seed of :func:`coord_run` needs: an upper bound on XLA's buffers.

    ``PARAM_COPIES`` x the params, the optimizer state (its real size, from ``optax``'s init
    on the params' shapes: 0 for sgd, 2 copies for adam), and 4 float32 activations per
    example, unit and layer (forward pass kept for the backward, the recorded outputs, those at
    init). Measured against XLA's own peak (``compiled.memory_analysis()``: temporaries +
    arguments + outputs of the compiled check) for MLPs of width 64 to 2048, depth 2 to 8,
    1 to 8 seeds at once, sgd, momentum and adam: XLA's peak is 0.6 to 0.85 of this estimate
    (tests/measure/test_coord_check.py). The process adds JAX's runtime (a few hundred MiB),
    the compilation, and the results on the host.
    """
    params = jax.eval_shape(pz.init, jax.random.key(0))
    state = jax.eval_shape(pz.optimizer(optimizer, 1e-2).init, params)
    state_bytes = sum(
        math.prod(a.shape) * np.dtype(a.dtype).itemsize
        for a in jax.tree.leaves(state)
        if hasattr(a, "shape") and jnp.issubdtype(a.dtype, jnp.floating)
    )
    acts = 16 * batch * max(pz.width, 1) * (pz.depth + 2)
    return int(PARAM_COPIES * _param_bytes(pz) + state_bytes + acts)


def _layer_names(depth: int, attention: bool = False) -> tuple[list[str], list[int]]:
    """Names and layer indices of the recorded activations (the order of :func:`_abs_means`)."""
    hidden = range(1, depth + 1)
    names = ["input", *[f"hidden_{i}" for i in hidden]]
    layers = [0, *hidden]
    if attention:
        names += [f"attn_logits_{i}" for i in hidden]
        layers += list(hidden)
    return [*names, "output"], [*layers, depth + 1]


def coord_run(
    pz: P.Parametrized,
    x: jax.Array,
    y: jax.Array,
    *,
    seeds: int | jax.Array = 4,
    learning_rate: float = 1e-2,
    optimizer: str = "adam",
    steps: int = 3,
    spectral: bool = True,
    power_iters: int = 32,
    root_seed: int = 0,
    memory_gb: float = 4.0,
) -> pd.DataFrame:
    """Coordinates of one parametrized model over ``steps`` optimizer steps on a fixed batch.

    Args:
      pz: the parametrized model (``parametrize``); its stack needs a readout.
      x, y: one batch ``(B, *in_shape)`` and int labels ``(B,)`` (the steps are full-batch
        gradient steps on it; the coordinates are measured on it).
      seeds: networks (independent draws, keys ``keys.seed_keys(seeds, root_seed)``).
      learning_rate: the base learning rate (> 0); optimizer: ``initjax.parametrizations
        .OPTIMIZERS``.
      steps: optimizer steps (>= 1); spectral, power_iters: the spectral view.
      memory_gb: seeds run in groups whose params, init copy, gradient and Adam moments fit.

    Returns:
      Long DataFrame: parametrization, optimizer, width, depth, seed, step (0 = init), kind
      ("activation" | "parameter"), layer (index; for parameters the hidden layer, 0 otherwise),
      name (layer name or parameter path), role, quantity (:data:`QUANTITIES`), value.

    Raises:
      ValueError: no readout, bad sizes, a learning rate <= 0, seeds that cannot fit.
    """
    st = pz.stack
    if st.readout is None:
        raise ValueError("model: the coordinate check trains, so the model needs a readout")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    if not (isinstance(learning_rate, int | float) and learning_rate > 0):
        raise ValueError(f"learning_rate must be > 0, got {learning_rate!r}")
    x = jnp.asarray(x)
    x = x if jnp.issubdtype(x.dtype, jnp.integer) else x.astype(st.dtype)  # token ids stay ints
    y = jnp.asarray(y, jnp.int32)
    if tuple(x.shape[1:]) != pz.in_shape or y.shape != x.shape[:1]:
        raise ValueError(
            f"x, y: expected x of shape (B, {', '.join(map(str, pz.in_shape))}) and y of shape "
            f"(B,), got {tuple(x.shape)} and {tuple(y.shape)}"
        )
    seed_keys = keys.seed_keys(seeds, root_seed)
    per_seed = seed_bytes(pz, optimizer, x.shape[0])
    budget = memory_gb * 2**30
    if per_seed > budget:
        raise ValueError(
            f"memory_gb: one seed of width {pz.width}, depth {pz.depth} needs about "
            f"{per_seed / 2**30:.2f} GiB (params, their init, effective weights, gradient, "
            f"update, optimizer state, activations); raise memory_gb or use a smaller model"
        )
    group = int(max(1, min(len(seed_keys), budget // per_seed)))
    spec = _Spec(pz, optimizer, steps, bool(spectral), int(power_iters), group)
    out = jax.device_get(_run_jit(spec, seed_keys, jnp.float32(learning_rate), x, y))
    return _frame(pz, optimizer, out)


def _frame(pz: P.Parametrized, optimizer: str, out: Mapping[str, np.ndarray]) -> pd.DataFrame:
    names, layer_idx = _layer_names(pz.depth, _has_logits(pz.stack))
    rows = []
    for q in ("coord", "delta"):
        a = np.asarray(out[q], np.float64)  # (S, T + 1, layers)
        s, t, layers = np.indices(a.shape).reshape(3, -1)
        rows.append(
            pd.DataFrame(
                {
                    "seed": s,
                    "step": t,
                    "kind": "activation",
                    "layer": np.asarray(layer_idx)[layers],
                    "name": np.asarray(names)[layers],
                    "role": "",
                    "quantity": q,
                    "value": a.ravel(),
                }
            )
        )
    if "spec_w" in out:
        cols = []
        for lf in _kernels(pz):
            n = pz.depth if lf.stacked else 1
            cols += [(lf.name, lf.role, (i + 1) if lf.stacked else 0) for i in range(n)]
        for q in ("spec_w", "spec_dw"):
            a = np.asarray(out[q], np.float64)  # (S, T + 1, n_cols)
            s, t, c = np.indices(a.shape).reshape(3, -1)
            rows.append(
                pd.DataFrame(
                    {
                        "seed": s,
                        "step": t,
                        "kind": "parameter",
                        "layer": np.asarray([cc[2] for cc in cols])[c],
                        "name": np.asarray([cc[0] for cc in cols])[c],
                        "role": np.asarray([cc[1] for cc in cols])[c],
                        "quantity": q,
                        "value": a.ravel(),
                    }
                )
            )
    frame = pd.concat(rows, ignore_index=True)
    frame.insert(0, "depth", pz.depth)
    frame.insert(0, "width", pz.width)
    frame.insert(0, "optimizer", optimizer)
    frame.insert(0, "parametrization", pz.name)
    return frame


# --- the check over widths or depths ----------------------------------------------------------


def _as_sizes(v: Any, arg: str) -> list[int]:
    vals = [v] if isinstance(v, int) else list(v)
    if not vals or any(isinstance(a, bool) or not isinstance(a, int) or a < 1 for a in vals):
        raise ValueError(f"{arg} must be positive integers, got {v!r}")
    return sorted(set(vals))


def coord_check(
    arch: str | models.StackModule,
    *,
    parametrizations: Sequence[str | P.Parametrization] = ("sp", "mup"),
    widths: Sequence[int] | int = (64, 128, 256, 512, 1024),
    depths: Sequence[int] | int = 2,
    base_width: int | None = None,
    base_depth: int | None = None,
    data: tuple[Any, Any] | None = None,
    in_features: int = 32,
    batch: int = 64,
    model_fields: Mapping[str, Any] | None = None,
    log: Any = None,
    **run_kwargs: Any,
) -> pd.DataFrame:
    """:func:`coord_run` for every parametrization x width x depth.

    Args:
      arch: a registered family name (or a model instance whose width / depth are replaced).
      parametrizations: names or :class:`~initjax.parametrizations.Parametrization` objects.
      widths, depths: one of them a list of >= 2 sizes (the axis of the slopes), the other one
        size (or both lists: every combination).
      base_width, base_depth: where the parametrizations equal SP (default: the smallest).
      data: ``(x, y)`` one batch; default ``batch`` Gaussian inputs of ``in_features`` features
        (keys ``role(key(root_seed), INPUTS)``) with labels drawn uniformly from the readout's
        classes (``role(.., DATA)``).
      model_fields: fields of the model (e.g. activation, readout; default readout=10).
      log: a callable receiving one progress line per run, or None.
      run_kwargs: passed to :func:`coord_run` (seeds, learning_rate, optimizer, steps, ...).

    Returns:
      The concatenated long tables of :func:`coord_run`.
    """
    ws, ds = _as_sizes(widths, "widths"), _as_sizes(depths, "depths")
    bw = min(ws) if base_width is None else base_width
    bd = min(ds) if base_depth is None else base_depth
    fields = {"readout": 10, **dict(model_fields or {})}
    if isinstance(arch, models.StackModule):
        proto_name = models.name_of(arch)
        if proto_name is None:
            raise ValueError("arch: an unregistered model; pass a registered family name")
        name, base_fields = (
            proto_name,
            {f: getattr(arch, f) for f in models.field_names(type(arch))},
        )
    else:
        name, base_fields = arch, {}
    wf = models.metadata(name)["width_field"]
    frames = []
    x = y = None
    for pname in parametrizations:
        p = P.get(pname)
        for d in ds:
            for w in ws:
                m = models.build(name, **{**base_fields, **fields, wf: w, "depth": d})
                if x is None:
                    x, y = _default_data(m, data, in_features, batch, run_kwargs)
                pz = P.parametrize(
                    m,
                    p,
                    base_width=bw if p.uses_width else None,
                    base_depth=bd if p.uses_depth else None,
                    in_shape=tuple(np.shape(x)[1:]),
                )
                frames.append(coord_run(pz, x, y, **run_kwargs))
                if log is not None:
                    log(f"coord-check {p.name}: width {w}, depth {d} done")
    return pd.concat(frames, ignore_index=True)


def default_in_shape(model: models.StackModule, in_features: int = 32) -> tuple[int, ...]:
    """Per-example input shape of the check's default data: the family's default input shape,
    except that one-axis feature inputs get ``in_features`` features (token ids keep the
    family's sequence length)."""
    st = models.stack_of(model)
    shape = tuple(st.default_input_shape())
    if len(shape) == 1 and getattr(st, "vocab", None) is None:
        return (int(in_features),)
    return shape


def _default_data(m, data, in_features, batch, run_kwargs):
    if data is not None:
        x, y = data
        return jnp.asarray(x), jnp.asarray(y)
    st = models.stack_of(m)
    shape = default_in_shape(m, in_features)
    root = jax.random.key(int(run_kwargs.get("root_seed", 0)))
    vocab = getattr(st, "vocab", None)
    if vocab is not None:  # token ids, uniform over the vocabulary
        x = jax.random.randint(keys.role(root, keys.INPUTS), (batch, *shape), 0, vocab)
    else:
        x = standard_normal(keys.role(root, keys.INPUTS), (batch, *shape))
    y = jax.random.randint(keys.role(root, keys.DATA), (batch,), 0, st.readout or 1)
    return x, y


# --- slopes and verdict ------------------------------------------------------------------------


_PER_LAYER = ("hidden_", "attn_logits_")


def _last_layers(t: pd.DataFrame) -> pd.DataFrame:
    """Over depth: activation rows only (parameters differ in count across depths), each
    per-block quantity (hidden_l, attn_logits_l) at the last block, renamed ``<prefix>last``."""
    t = t[t["kind"] == "activation"].copy()
    for prefix in _PER_LAYER:
        per = t["name"].str.startswith(prefix)
        t = t[~per | (t["layer"] == t["depth"])].copy()
        t.loc[t["name"].str.startswith(prefix), "name"] = f"{prefix}last"
    return t


def coord_slopes(table: pd.DataFrame, over: str = "width", level: float = 0.95) -> pd.DataFrame:
    """Log-log slopes of every coordinate against width (or depth), with their uncertainty.

    Per seed, ``log(value)`` is fitted against ``log(size)`` by least squares over the sizes;
    the slope's mean over seeds, its standard error (sample sd / sqrt(seeds)) and the
    ``level`` Student-t confidence interval (seeds - 1 degrees of freedom) are reported. Over
    depth, hidden layers are compared by position: ``hidden_last`` is layer L of each depth
    (likewise ``attn_logits_last``).

    Returns:
      One row per (parametrization, optimizer, [the other size], kind, name, role, quantity,
      step): slope, se, ci_lo, ci_hi, seeds, sizes, nonfinite (seeds whose values were <= 0 or
      not finite somewhere: left out of the fit).

    Raises:
      ValueError: ``over`` not "width" / "depth", fewer than two sizes.
    """
    if over not in ("width", "depth"):
        raise ValueError(f"over must be 'width' or 'depth', got {over!r}")
    other = "depth" if over == "width" else "width"
    t = table.copy()
    if over == "depth":
        t = _last_layers(t)
    keys_ = ["parametrization", "optimizer", other, "kind", "name", "role", "quantity", "step"]
    rows = []
    for key, g in t.groupby(keys_, sort=False):
        piv = g.pivot_table(index="seed", columns=over, values="value", aggfunc="first")
        sizes = np.asarray(piv.columns, np.float64)
        if sizes.size < 2:
            raise ValueError(f"coord_slopes: need >= 2 {over}s, got {sizes.tolist()}")
        vals = piv.to_numpy(np.float64)
        ok = np.all(np.isfinite(vals) & (vals > 0), axis=1)
        lx = np.log(sizes)
        lx = lx - lx.mean()
        slopes = (np.log(np.where(vals[ok] > 0, vals[ok], 1.0)) @ lx) / (lx @ lx)
        n = int(ok.sum())
        mean = float(slopes.mean()) if n else float("nan")
        se = float(slopes.std(ddof=1) / math.sqrt(n)) if n > 1 else float("nan")
        half = t_quantile(0.5 + level / 2, n - 1) * se if n > 1 else float("nan")
        rows.append(
            dict(zip(keys_, key, strict=True))
            | {
                "slope": mean,
                "se": se,
                "ci_lo": mean - half,
                "ci_hi": mean + half,
                "seeds": n,
                "sizes": len(sizes),
                "nonfinite": int((~ok).sum()),
            }
        )
    return pd.DataFrame(rows)


def default_expectation(
    parametrization: str | P.Parametrization, optimizer: str, over: str = "width"
) -> str | None:
    """The expected behaviour of the feature updates (``delta``) after a step, stated in advance.

    Over width: SP grows (Adam moves every weight by ~lr, so z = W x moves by ~lr * fan_in;
    SGD: the hidden layers by ~sqrt(width), the logits by ~width), the muP family stays flat; NTK
    grows under Adam (~sqrt(width)) and is not judged under SGD (its features vanish, its logits
    stay flat). Over depth (residual families): depth-muP and CompleteP stay flat, muP and SP
    without a depth scaling grow (the residual stream is a sum of L Theta(1) branches).
    ``parametrization`` may be an unregistered Parametrization: any width-aware one other than
    NTK claims muP's behaviour (flat), so a modified muP is judged as muP.
    """
    p = P.get(parametrization)
    fam = P.OPTIMIZER_FAMILIES[optimizer]
    if over == "depth":
        return "flat" if p.uses_depth else "grows"
    if p.name in ("sp",):
        return "grows"
    if p.name == "ntk":
        return "grows" if fam == "adam" else None
    if p.uses_width:
        return "flat"
    return None


@dataclasses.dataclass
class CoordVerdict:
    """Outcome of :func:`coord_verdict`: status "PASS" / "FAIL", the criterion (stated before the
    numbers) and one row per check (parametrization, layer, step, slope, CI, expectation,
    passed)."""

    status: str
    criterion: str
    checks: pd.DataFrame

    @property
    def passed(self) -> bool:
        return self.status == "PASS"


def coord_verdict(
    slopes: pd.DataFrame,
    *,
    expect: Mapping[str, str | None] | None = None,
    quantity: str = "delta",
    steps: Sequence[int] | None = None,
    flat_bound: float = 0.2,
    finite_width_floor: float = -0.5,
    grow_min: float = 0.3,
    over: str = "width",
) -> CoordVerdict:
    """Judge the slopes of ``quantity`` (default the feature update) against expectations.

    Args:
      slopes: :func:`coord_slopes`.
      expect: parametrization name -> "flat" | "grows" | "shrinks" | None (not judged); default
        :func:`default_expectation` per parametrization and optimizer.
      quantity: the activation quantity judged ("delta" or "coord").
      steps: the steps judged (default every step >= 1).
      flat_bound: "flat" requires the slope's 95% interval to end below it (no growth).
      finite_width_floor: ... and to start above it. Under muP a coordinate converges to a
        finite limit with a relative correction O(size^-1/2) (the Tensor Programs' fluctuations),
        and a + b n^-1/2 (a, b > 0) has a log-log slope between -1/2 and 0 on any window, so
        slopes down to -1/2 are finite-width convergence, not vanishing; a quantity that vanishes
        like n^-1/2 or faster (the NTK's feature updates) has slope <= -1/2.
      grow_min: "grows" means the interval lies above grow_min ("shrinks": below -grow_min).
      over: "width" or "depth" (for the default expectations).

    Which layers: "flat" is checked on every layer (input, hidden, output); "grows" / "shrinks"
    on the hidden layers and the output (an input layer's fan_in is the data dimension, which does
    not grow, so its coordinates move by a width-independent amount in every parametrization).
    Each check also records whether its interval contains 0 (``ci_contains_0``): at finite width
    muP's slopes are often significantly negative, which the floor allows and the table shows.

    Returns:
      :class:`CoordVerdict`: PASS when every judged check passes (and at least one was judged).
    """
    if quantity not in ("coord", "delta"):
        raise ValueError(f"quantity must be 'coord' or 'delta', got {quantity!r}")
    s = slopes[(slopes["kind"] == "activation") & (slopes["quantity"] == quantity)]
    s = s[s["step"] >= 1] if steps is None else s[s["step"].isin(list(steps))]
    rows = []
    for _, r in s.iterrows():
        if expect is not None:
            e = expect.get(r["parametrization"])
        else:
            e = default_expectation(r["parametrization"], r["optimizer"], over)
        if e is None:
            continue
        if e not in EXPECTATIONS:
            raise ValueError(f"expect: {e!r} is not one of {EXPECTATIONS}")
        if e != "flat" and r["name"] == "input":
            continue
        lo, hi = float(r["ci_lo"]), float(r["ci_hi"])
        if e == "flat":
            ok = finite_width_floor < lo and hi <= flat_bound
        elif e == "grows":
            ok = lo > grow_min
        else:
            ok = hi < -grow_min
        rows.append(
            {k: r[k] for k in ("parametrization", "optimizer", "name", "step")}
            | {
                "slope": r["slope"],
                "se": r["se"],
                "ci_lo": lo,
                "ci_hi": hi,
                "ci_contains_0": bool(lo <= 0 <= hi),
                "expect": e,
                "passed": bool(ok) and bool(np.isfinite(r["slope"])),
            }
        )
    checks = pd.DataFrame(rows)
    status = "PASS" if len(checks) and bool(checks["passed"].all()) else "FAIL"
    what = "z_t - z_0" if quantity == "delta" else "z_t"
    crit = (
        f"log-log slope of mean |{what}| against {over} at every step >= 1, mean over seeds "
        f"with its 95% Student-t interval: 'flat' = interval inside ({finite_width_floor}, "
        f"{flat_bound}] on every layer (no growth; slopes down to -1/2 are the O(size^-1/2) "
        f"finite-size correction); 'grows' = interval above {grow_min} on the hidden layers "
        f"and the output"
    )
    return CoordVerdict(status, crit, checks)
