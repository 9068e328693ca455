"""Signal propagation at initialization: per-layer statistics, vmapped over seeds, one ``jit``.

``propagate(model, ...)`` runs ``seeds`` independently initialized copies of ``model`` on the same
(or per-seed) inputs and returns the requested registered metrics (:mod:`initjax.measure.metrics`:
per-layer q^l, c^l, gradient norms, activation statistics, unit symmetry, input-output Jacobian
spectra, and any metric a plugin registers). The engine computes the passes those metrics need
(forward scan; backward scan for gradient metrics; forward-mode tangents for Jacobian metrics) and
has no list of metric names of its own. Every row also gets the float32 flags ``underflow``,
``nonfinite`` and, per seed, ``diverged`` (defined in :mod:`initjax.measure.metrics`).

Everything runs under one ``jax.jit``: a ``vmap`` over seeds inside a ``vmap`` over grid cells of
(sigma_w2, sigma_b2). Depth is a ``jax.lax.scan``. In the default **fused** path layer l's weights
are drawn from its key inside the scan step and dropped after use, so memory does not grow with
depth; the **materialized** path draws the stacked params first (as ``model.init`` does) and gives
bit-identical results. Compiled functions are cached by static configuration (model, metrics,
shapes): changing sigma values does not recompile (:func:`trace_count` counts traces).

Keys (``initjax.keys``): seed s's key k_s = ``seed_keys(seeds, root_seed)[s]``; params from
``role(k_s, PARAMS)``; per-seed inputs from ``role(k_s, INPUTS)``; shared inputs (the default) are
seed 0's, ``role(k_0, INPUTS)``, for every seed; the random cotangent of ``grad_sq`` from
``role(k_s, COTANGENT)``; dropout masks (``keep_prob`` < 1) from ``role(k_s, DROPOUT)``, layer l's
from ``layer(role(k_s, DROPOUT), l)`` (:mod:`initjax.models._core`). Every grid cell uses the
same keys (common random numbers).

Costs per seed and grid cell (N = width, B = batch, L = depth, n = input size), on top of the
forward pass O(L B N^2) and the weight draws O(L N^2), with memory O(B N + N^2) independent of L:
``q``, ``c``, ``act_*``: O(L B N) (``c``: O(L B^2 N)). ``grad_sq``: a reverse scan that draws
the weights again (O(L B N^2 + L N^2)) and stores the pre-activations, memory O(L B N).
``jac_sv``: k = min(n, N) forward-mode tangents of one input carried through the same scan,
re-orthonormalized by a QR per layer and folded into a row-scaled triangular factor
(:mod:`initjax.measure.jacobian`): O(L n N^2) flops (tangents O(L k N^2), QR O(L N k^2),
factor O(L k^2 n)) and O(n N) memory, plus one O(n k^2) float64 SVD per seed on the host. Not
limited by the float32 floor eps * sigma_max of an explicit product (small singular values have
relative errors, see that module); n and N are limited to 1024 (memory and time).
``unit_symmetry``: a Gram matrix O(N^2 fan_in) and an SVD O(B^2 N) per layer.
``distinct_units``: direct pairwise differences O(N^2 fan_in) and a reachability closure
O(N^3 log N) per layer; ``weight_rank``: an SVD O(N^2 fan_in).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from initjax import keys, models
from initjax.initializers.sampling import standard_normal
from initjax.measure import device_memory, preact, sharding
from initjax.measure import jacobian as _J
from initjax.measure import metrics as M
from initjax.measure._args import metrics_arg, seed_keys_arg, sigma_grid
from initjax.measure.inputs import check_c0, gaussian_inputs
from initjax.measure.result import PropagationResult
from initjax.models import (
    Stack,
    check_keep_prob,
    check_rescale,
    data_method,
    dropout_root,
    hidden_apply,
    init_stack,
    refine_params,
    stack_of,
)

__all__ = ["propagate", "prepare", "Prepared", "trace_count", "JAC_MAX", "INPUT_MODES", "PATHS"]

JAC_MAX = M.JAC_MAX
INPUT_MODES = ("shared", "per_seed")
PATHS = ("auto", "fused", "materialized", "preact")

_TRACES = 0


def trace_count() -> int:
    """How many times a propagate computation has been traced (each trace is one compilation).

    The sweep engine reads this before and after a call: equal means the call reused a cached
    executable.
    """
    return _TRACES


@dataclasses.dataclass(frozen=True)
class _Config:
    """Static configuration: the jit cache key (hashable; sigma values are not part of it)."""

    stack: Stack
    metrics: tuple[str, ...]
    specs: tuple[M.Metric, ...]  # the registered metrics (identity: a replaced one recompiles)
    in_shape: tuple[int, ...]
    batch: int
    rescale: bool
    inputs: str  # "given" | "shared" | "per_seed"
    q0: float
    c0: float | None
    path: str  # "fused" | "materialized" | "params" | "preact"
    loss: Callable | None
    jac_input: int
    feat_shape: tuple[int, ...]  # per-example pre-activation shape

    def by_pass(self, name: str) -> tuple[M.Metric, ...]:
        """The requested metrics computed in engine pass ``name`` (forward/backward/jacobian)."""
        return tuple(m for m in self.specs if m.engine_pass == name)


# --- the traced computation -------------------------------------------------------------------


def _layer_stats(
    cfg: _Config, z: jax.Array, p: Any, layer, kind: int, z_in: jax.Array | None = None
) -> dict[str, jax.Array]:
    """Forward-pass metrics of one layer, plus ``_q`` (q^l) and ``_qmin`` (the smallest
    per-example mean square), always: they define the underflow / overflow flags. ``z_in`` is a
    hidden layer's input z^{l-1} (None at layer 0)."""
    z = jax.lax.stop_gradient(z)
    ctx = M.LayerContext(
        z=z,
        g=None,
        params=p,
        stack=cfg.stack,
        layer=jnp.asarray(layer, jnp.int32),
        kind=kind,
        z_in=None if z_in is None else jax.lax.stop_gradient(z_in),
    )
    out = {"_q": M.second_moment(z), "_qmin": M.min_example_second_moment(z)}
    for m in cfg.by_pass("forward"):
        out.update(M.evaluate(m, ctx))
    return out


def _network(cfg: _Config, seed_key, sw2, sb2, params, x):
    """One seed's params: (input params, fetch(i) -> hidden layer i's params, readout params).

    A data-dependent kernel_init (LSUV, ...) is refined on ``x``, the batch being measured.
    """
    st = cfg.stack
    w2 = sw2 if cfg.rescale else None
    if cfg.path == "fused":
        root = keys.role(seed_key, keys.PARAMS)
        p_in = st.input_init(keys.layer(root, 0), cfg.in_shape, w2, sb2)

        def fetch(i):
            return st.layer_init(keys.layer(root, i), w2, sb2)

        p_out = (
            st.readout_init(keys.layer(root, st.depth + 1), w2, sb2)
            if st.readout is not None
            else None
        )
        return p_in, fetch, p_out
    if cfg.path == "materialized":
        root = keys.role(seed_key, keys.PARAMS)
        params = init_stack(st, root, cfg.in_shape, w2, sb2)
        if data_method(st) is not None:
            params = refine_params(st, params, x, None, root)[0]
    else:
        params = params["params"]
    stacked = params["hidden"]

    def fetch(i):
        return jax.tree.map(lambda a: jax.lax.dynamic_index_in_dim(a, i - 1, 0, False), stacked)

    return params["input"], fetch, params.get("readout")


# Layer l's params travel in the scan carry, fetched one step ahead (drawn in the fused path,
# sliced in the materialized one). Every consumer of a layer's params then reads them from the
# loop state, never from an inline draw: XLA's summation order in a fused reduction depends on
# the producers fused into it, so this is what makes both paths' statistics bit-identical.
# Each scan starts with one idle step that only fetches the first layer (no draw outside the
# loop: one copy of the sampling code per scan keeps compile times down). Memory stays O(1) in
# depth: at most two layers' params are alive.


def _idle_params(fetch):
    return jax.tree.map(lambda a: jnp.zeros(a.shape, a.dtype), jax.eval_shape(fetch, jnp.int32(1)))


def _push(f, h: jax.Array, q: jax.Array, dtype) -> jax.Array:
    """f's Jacobian at the example ``h`` ``(1, *shape)`` times the columns of ``q``
    ``(prod(shape), k)``, as a ``(prod(f's output shape), k)`` matrix (forward mode)."""

    def one(u):
        return jax.jvp(f, (h,), (u.reshape(h.shape).astype(dtype),))[1]

    # The barrier keeps XLA from folding the transpose into the jvp's dot: it would swap the
    # dot's operands depending on the batch shape (sharded or not), changing the roundings.
    t = jax.lax.optimization_barrier(jax.vmap(one, in_axes=1)(q))
    return t.reshape(t.shape[0], -1).T


def _forward(cfg: _Config, net, x: jax.Array, drop, *, keep_z: bool):
    """Forward scan over layers with per-layer stats, and the Jacobian at ``x[jac_input]``.

    Returns (z^depth, stats with a leading layer axis, z^0..z^{depth-1} stacked or None,
    the Jacobian d phi(z^depth) / d x0 as a factor (Q ``(n_out, k)``, g ``(k,)``, P
    ``(k, n_in)``, kappa) of :mod:`initjax.measure.jacobian`, or None).
    """
    st = cfg.stack
    p_in, fetch, _ = net
    z0 = st.input_apply(p_in, x)
    s0 = _layer_stats(cfg, z0, p_in, 0, 0)
    jac = bool(cfg.by_pass("jacobian"))
    j = cfg.jac_input
    fac0 = None
    if jac:  # forward-mode tangents of one example, re-orthonormalized at every layer
        n_in = math.prod(cfg.in_shape)
        eye = jnp.eye(n_in, dtype=st.dtype)
        fac0 = _J.start(_push(lambda v: st.input_apply(p_in, v), x[j : j + 1], eye, st.dtype))
    depth = jnp.int32(st.depth)

    def body(carry, i):
        z_prev, p, fac = carry
        z = hidden_apply(st, p, z_prev, drop, i)
        s = _layer_stats(cfg, z, p, i, 1, z_prev)
        idle = i == 0
        if jac:
            h0 = z_prev[j : j + 1]
            b = _push(lambda h: st.layer_apply(p, h), h0, fac[0], st.dtype)
            new = _J.step(b, *fac[1:])
            fac = jax.tree.map(lambda a, b: jnp.where(idle, a, b), fac, new)
        carry = (jnp.where(idle, z_prev, z), fetch(jnp.clip(i + 1, 1, depth)), fac)
        return carry, (s, z_prev if keep_z else None)

    idx = jnp.arange(st.depth + 1, dtype=jnp.int32)
    (z, _, fac), (s, zs) = jax.lax.scan(body, (z0, _idle_params(fetch), fac0), idx)
    s = {k: jnp.concatenate([s0[k][None], v[1:]]) for k, v in s.items()}
    jfac = None
    if jac:
        zj = z[j : j + 1]
        jfac = _J.step(_push(st.features, zj, fac[0], st.dtype), *fac[1:])
    return z, s, (None if zs is None else zs[1:]), jfac


def _backward(cfg: _Config, net, z_last, zs, seed_key, drop) -> dict[str, jax.Array]:
    """Backward-pass metrics of g^l = d loss / d z^l for l = 0..depth, by a reverse scan that
    draws the weights again.

    ``zs`` holds z^0..z^{depth-1} from the forward scan (O(depth B N) memory); each step takes the
    vjp of one layer at its stored input, so no weights are stored.
    """
    st = cfg.stack
    _, fetch, p_out = net
    grad_metrics = cfg.by_pass("backward")
    out, vjp_out = jax.vjp(lambda z: st.output(p_out, z, drop), z_last)
    if cfg.loss is None:
        ct = standard_normal(keys.role(seed_key, keys.COTANGENT), out.shape)
        ct = ct.astype(out.dtype)
    else:
        ct = jax.grad(lambda o: jnp.asarray(cfg.loss(o), jnp.float32))(out)
    (g_last,) = vjp_out(ct)
    depth = st.depth

    param_grads = any("param_grad" in m.needs for m in grad_metrics)

    def stats(g, layer, kind, gp=None):
        ctx = M.LayerContext(
            z=None, g=g, params=None, stack=st, layer=layer, kind=kind, param_grad=gp
        )
        res = {}
        for m in grad_metrics:
            res.update(M.evaluate(m, ctx))
        return res

    def body(carry, k):
        # k = depth: idle step (fetches layer depth); k < depth: layer i = k + 1, whose input
        # z^k is read from the forward pass; g = d loss / d z^i, p = layer i's params (and
        # gp = d loss / d p when a metric needs it).
        g, p = carry
        idle = k == depth
        z_prev = jax.lax.dynamic_index_in_dim(zs, jnp.minimum(k, depth - 1), 0, False)
        gp = None
        if param_grads:
            _, vjp = jax.vjp(lambda h, pp: hidden_apply(st, pp, h, drop, k + 1), z_prev, p)
            g_prev, gp = vjp(g)
        else:
            _, vjp = jax.vjp(lambda h: hidden_apply(st, p, h, drop, k + 1), z_prev)
            (g_prev,) = vjp(g)
        out = stats(g, jnp.minimum(k + 1, depth), 1, gp)
        return (jnp.where(idle, g, g_prev), fetch(jnp.clip(k, 1, depth))), out

    ks = jnp.arange(depth + 1, dtype=jnp.int32)
    (g0, _), res = jax.lax.scan(body, (g_last, _idle_params(fetch)), ks, reverse=True)
    first = stats(g0, jnp.int32(0), 0)
    return {c: jnp.concatenate([first[c][None], v[:depth]]) for c, v in res.items()}


def _seed_metrics(cfg: _Config, seed_key, sw2, sb2, x, params) -> dict[str, jax.Array]:
    net = _network(cfg, seed_key, sw2, sb2, params, x)
    need_grad = bool(cfg.by_pass("backward"))
    drop = dropout_root(cfg.stack, seed_key)
    z_last, stats, zs, jfac = _forward(cfg, net, x, drop, keep_z=need_grad)
    res: dict[str, jax.Array] = dict(stats)
    if need_grad:
        res.update(_backward(cfg, net, z_last, zs, seed_key, drop))
    if jfac is not None:
        ctx = M.NetworkContext(factor=M.JacobianFactor(*jfac), stack=cfg.stack)
        for m in cfg.by_pass("jacobian"):
            res.update(M.evaluate(m, ctx))
    return res


def _run(cfg: _Config, seed_keys, sw2, sb2, x, input_key, params):
    global _TRACES
    _TRACES += 1  # runs only while tracing
    if cfg.path == "preact":
        return preact.run(cfg, seed_keys, sw2, sb2, x, input_key)
    if cfg.inputs == "shared":
        x = gaussian_inputs(input_key, cfg.batch, cfg.in_shape, q0=cfg.q0, c0=cfg.c0)

    def per_seed(k, w2, b2, p):
        xx = x
        if cfg.inputs == "per_seed":
            xx = gaussian_inputs(
                keys.role(k, keys.INPUTS), cfg.batch, cfg.in_shape, q0=cfg.q0, c0=cfg.c0
            )
        return _seed_metrics(cfg, k, w2, b2, xx, p)

    over_seeds = jax.vmap(per_seed, in_axes=(0, None, None, 0 if params is not None else None))
    over_grid = jax.vmap(over_seeds, in_axes=(None, 0, 0, None))
    return over_grid(seed_keys, sw2, sb2, params)


_run_jit = jax.jit(_run, static_argnums=0)


# --- public API -------------------------------------------------------------------------------


@dataclasses.dataclass
class Prepared:
    """A validated propagate call: ``run()`` executes it, ``lower()`` traces it (for timing).

    Attributes:
      config: the static configuration (the compilation cache key).
      args: the dynamic arguments of the jitted function.
    """

    config: _Config
    args: tuple
    meta: dict[str, Any]
    chunks: list[tuple[int, int]]

    def lower(self):
        """``jax.jit(...).lower(...)`` of the full computation (``.compile()`` it to time XLA)."""
        return _run_jit.lower(self.config, *self.args)

    def run(self, progress: bool = False) -> PropagationResult:
        """Execute (compiling on first use) and collect a :class:`PropagationResult`."""
        t0 = time.perf_counter()
        before = _TRACES
        seed_keys, sw2, sb2, x, input_key, params = self.args
        parts = []
        it = self.chunks
        bar = None
        if progress and len(it) > 1:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(it), desc="propagate (seed chunks)", unit="chunk", leave=False)
        for a, b in it:
            pp = None if params is None else jax.tree.map(lambda v, a=a, b=b: v[a:b], params)
            ks, (w2, b2), (xx, ik), (pp,) = sharding.place(
                seed_keys[a:b],
                (sw2, sb2),
                (x, input_key),
                shard=self.meta["shard"],
                seed_args=(pp,),
            )
            out = _run_jit(self.config, ks, w2, b2, xx, ik, pp)
            parts.append(sharding.gather(out))
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
        arrays = {k: np.concatenate([p[k] for p in parts], axis=1) for k in parts[0]}
        meta = dict(self.meta)
        fallback = arrays.pop("preact_weight_layers", None)
        if fallback is not None:  # networks per layer drawn through weights (preact path)
            meta["preact_weight_layers"] = fallback.sum(axis=(0, 1)).tolist()
        # Host-side steps of metrics that need them (jac_sv: a float64 SVD of its factor).
        arrays = M.finish(arrays, self.config.metrics)
        if not self.meta["is_grid"]:
            arrays = {k: v[0] for k, v in arrays.items()}
        arrays, underflow, nonfinite, diverged = M.flags(arrays, self.config.metrics)
        arrays.update(underflow=underflow, nonfinite=nonfinite, diverged=diverged)
        meta["wall_time_s"] = time.perf_counter() - t0
        meta["traces"] = _TRACES - before
        return PropagationResult(
            arrays=arrays,
            diverged=diverged,
            sigma_w2=meta.pop("sigma_w2"),
            sigma_b2=meta.pop("sigma_b2"),
            metrics=self.config.metrics,
            meta=meta,
        )


def _shard(seed_keys: jax.Array, shard: bool | None) -> jax.Array:
    """The seed keys as :func:`initjax.measure.sharding.place` lays them out (one cell)."""
    return sharding.place(seed_keys, (), (), shard=shard)[0]


# Per-call overhead: validating a model traces its initializers (check_init_shape) and the
# input projection (eval_shape), and seed keys are built by an eager vmap; together ~7 ms of a
# ~8 ms call on a small network (BENCHMARKS.md, case 4 at 1 seed). Both depend only on hashable
# static values, so they are cached; failures raise and are never cached.


def _static_info_uncached(st: Stack, in_shape: tuple[int, ...]) -> tuple[tuple[int, ...], int]:
    st.check(in_shape)
    feat = jax.eval_shape(
        lambda: st.input_apply(
            st.input_init(jax.random.key(0), in_shape, None, 0.0),
            jnp.zeros((1, *in_shape), st.dtype),
        )
    ).shape[1:]
    layer = jax.eval_shape(lambda: st.layer_init(jax.random.key(0), None, 0.0))
    return tuple(feat), sum(math.prod(a.shape) for a in jax.tree.leaves(layer))


_static_info_cached = functools.lru_cache(maxsize=128)(_static_info_uncached)


def _static_info(st: Stack, in_shape: tuple[int, ...]) -> tuple[tuple[int, ...], int]:
    """``st.check(in_shape)`` (raises ValueError); the per-example pre-activation shape and the
    number of parameters of one hidden layer."""
    try:
        hash((st, in_shape))
    except TypeError:  # e.g. an unhashable custom initializer
        return _static_info_uncached(st, in_shape)
    return _static_info_cached(st, in_shape)


# Seeds per compiled call on a single CPU device. Each layer step touches one layer's weights
# and the activations of every seed in the call; past a few MiB they fall out of cache and the
# throughput per network drops. Measured on 2 cores (tanh MLPs, batch 128, interleaved medians,
# chunked vs all at once): width 128, depth 20, 256 seeds in chunks of 64: 0.367 vs 0.478 s;
# width 64, depth 10, 1024 seeds, chunks of 128: 0.244 vs 0.327 s; width 512, depth 100,
# 32 seeds, chunks of 8: 2.51 vs 2.92 s. Several CPU devices (sharded) take all seeds at once;
# seed_chunk= overrides.
_CPU_STEP_BYTES = 16 * 2**20
_MIN_AUTO_CHUNK = 8
# On an accelerator a call holds at most this fraction of the device memory free now (its
# memory_stats bytes_limit - bytes_in_use) by the per-network estimate of _device_words: the
# estimate counts live arrays, not XLA's temporaries (a factor of up to ~2, device_memory.py).
ACCEL_MEMORY_FRACTION = 0.5


def _auto_chunk(n_seeds: int, n_cells: int, per_seed_bytes: int, net_bytes: float) -> int:
    """Seeds per compiled call when ``seed_chunk`` is not given.

    CPU: the cache rule above (one device), all seeds (several devices). Accelerators: all
    seeds if ``n_cells`` x seeds networks of ``net_bytes`` each fit in ACCEL_MEMORY_FRACTION of
    the free device memory summed over the devices, else the largest divisor of ``n_seeds``
    that does (1 at least: a single network that does not fit is refused by _check_memory).
    """
    if jax.default_backend() != "cpu":
        free = device_memory.available()[0] * jax.device_count()
        fit = int(ACCEL_MEMORY_FRACTION * free // max(1.0, n_cells * net_bytes))
        return n_seeds if n_seeds <= fit else _largest_divisor(n_seeds, max(1, fit))
    if jax.device_count() > 1:
        return n_seeds
    limit = max(_MIN_AUTO_CHUNK, _CPU_STEP_BYTES // max(1, n_cells * per_seed_bytes))
    if n_seeds <= limit:
        return n_seeds
    k = _largest_divisor(n_seeds, limit)
    # Equal chunks only (one compilation); a seed count without a divisor near the limit
    # (e.g. a large prime) runs at once rather than in many tiny calls.
    return k if k >= max(_MIN_AUTO_CHUNK, limit // 2) else n_seeds


def _largest_divisor(n: int, at_most: int) -> int:
    """The largest divisor of ``n`` that is <= ``at_most`` (O(sqrt(n)))."""
    best = 1
    for d in range(1, math.isqrt(n) + 1):
        if n % d == 0:
            for e in (d, n // d):
                if best < e <= at_most:
                    best = e
    return best


def _n_seeds(seeds) -> int:
    """The number of seeds (validated like ``keys.seed_keys``) without building the keys."""
    if isinstance(seeds, jax.Array) and jnp.issubdtype(seeds.dtype, jax.dtypes.prng_key):
        return int(seed_keys_arg(seeds, 0).shape[0])
    if isinstance(seeds, bool) or not isinstance(seeds, int | np.integer) or seeds < 1:
        seed_keys_arg(seeds, 0)  # raises the ValueError naming seeds
    return int(seeds)


def _device_words(st, ms, path, in_shape, feat, layer_params, batch) -> tuple[float, int]:
    """(device words per network, host words per seed and cell): see :func:`_check_memory`."""
    n_f, n_in = math.prod(feat), math.prod(in_shape)
    k = min(n_in, n_f)
    specs = [M.get(m) for m in ms]
    cols = 2 + sum(len(m.columns) for m in specs if m.per_layer)
    dev = 2 * layer_params + layer_params * n_in / max(n_f, 1) + 4 * batch * n_f
    if path == "materialized":
        dev += st.depth * layer_params
    if any(m.engine_pass == "backward" for m in specs):
        dev += (st.depth + 3) * batch * n_f
    if any("params" in m.needs for m in specs):
        dev += layer_params + 2 * batch * n_f
    host = (st.depth + 1) * cols * 4 + 8
    if any(m.engine_pass == "jacobian" for m in specs):
        dev += 3 * k * n_f + 3 * k * n_in
        host += (k * n_in + k) * 4
    return dev, host


def _check_memory(st, ms, path, in_shape, feat, layer_params, batch, seeds, cells, chunk):
    """Refuse (ValueError with the estimate) a call whose arrays cannot fit, before compiling.

    Per network on the device: two layers' params (the scan carries one, fetches the next), the
    input projection's (~ layer_params * n_in / N), four batches of pre-activations; plus all
    layers' params (materialized path), the stored pre-activations (backward pass), the
    Jacobian's tangents and factor (Jacobian pass), Gram matrices (metrics reading params).
    ``chunk`` x ``cells`` networks at once. On the host: every result value (float32 per layer
    and column, two flag inputs, the Jacobian factor per network).
    """
    item = jnp.dtype(st.dtype).itemsize
    dev, host = _device_words(st, ms, path, in_shape, feat, layer_params, batch)
    device_memory.check(
        "propagate",
        dev * item * chunk * cells,
        host * seeds * cells,
        f"{chunk * cells} network(s) at once of {device_memory.gib(dev * item)} each, results "
        f"{device_memory.gib(host * seeds * cells)} for {seeds} seed(s) x {cells} cell(s)",
        "lower seeds, width, batch or depth (or seed_chunk)",
    )


@functools.lru_cache(maxsize=32)
def _int_keys(seeds: int, root_seed: int) -> tuple[jax.Array, jax.Array]:
    k = seed_keys_arg(seeds, root_seed)
    return k, keys.role(k[0], keys.INPUTS)


def _keys(seeds, root_seed) -> tuple[jax.Array, jax.Array]:
    """(seed keys, shared-input key); cached for plain int arguments."""
    if type(seeds) is int and type(root_seed) is int:
        return _int_keys(seeds, root_seed)
    k = seed_keys_arg(seeds, root_seed)
    return k, keys.role(k[0], keys.INPUTS)


def _resolve_path(path: str, st: Stack, ms: tuple[str, ...], uses_params: bool, batch: int):
    """ "auto" -> "preact" where it applies and is faster (:mod:`initjax.measure.preact`), else
    "fused"; an explicit "preact" that cannot apply is a ValueError saying why."""
    why = preact.reason_not_applicable(st, ms, uses_params)
    if path == "preact" and why is not None:
        raise ValueError(f"path='preact' cannot measure this call: {why}")
    if path == "auto":
        fast = why is None and preact.is_faster(st.width, batch)
        return "preact" if fast else "fused"
    return path


def prepare(
    model: Any,
    x: Any = None,
    *,
    seeds: int | jax.Array = 16,
    metrics: str | Sequence[str] = ("q", "c"),
    sigma_w2: Any = None,
    sigma_b2: Any = None,
    c0: float | None = None,
    q0: float = 1.0,
    batch: int | None = None,
    input_shape: Sequence[int] | None = None,
    inputs: str = "shared",
    root_seed: int = 0,
    path: str = "auto",
    params: Any = None,
    loss: Callable[[jax.Array], jax.Array] | None = None,
    jac_input: int = 0,
    shard: bool | None = None,
    seed_chunk: int | None = None,
    keep_prob: float | None = None,
) -> Prepared:
    """Validate every argument of :func:`propagate` (no tracing) and package the call."""
    if isinstance(model, Mapping):  # a spec {"arch": "mlp", "width": ..., ...}
        spec = dict(model)
        if "arch" not in spec:
            raise ValueError(
                f"a model spec needs an 'arch' key, one of {', '.join(models.names())}"
            )
        model = models.build(spec.pop("arch"), **spec)
    st = stack_of(model)
    ms = metrics_arg(metrics)
    if keep_prob is not None:
        kp = check_keep_prob(keep_prob, arg="keep_prob")
        if kp != st.keep_prob:
            if not st.SUPPORTS_DROPOUT:
                raise ValueError(
                    f"keep_prob: {type(st).__name__} has no dropout; keep_prob must be 1 or None"
                )
            st = dataclasses.replace(st, keep_prob=kp)
    jac = [m for m in ms if M.get(m).engine_pass == "jacobian"]
    if st.keep_prob < 1.0 and jac:
        raise ValueError(
            f"metric {jac[0]!r} with keep_prob < 1: the Jacobian of a network with dropout "
            "depends on the mask of its one example; measure it without dropout"
        )
    if params is not None:
        if sigma_w2 is not None or sigma_b2 is not None:
            raise ValueError("sigma_w2/sigma_b2 cannot be combined with params= (already drawn)")
        if not isinstance(params, dict) or "params" not in params:
            raise TypeError("params must be variables {'params': ...} with a leading seed axis")
        leaves = jax.tree.leaves(params)
        n = {np.shape(v)[0] if np.ndim(v) else None for v in leaves}
        if len(n) != 1 or None in n:
            raise ValueError("params: every leaf needs the same leading seed axis")
        (n_seeds,) = n
        if not isinstance(seeds, jax.Array):
            seeds = n_seeds
    n_seeds = _n_seeds(seeds)  # the keys are built after the memory check
    if params is not None and jax.tree.leaves(params)[0].shape[0] != n_seeds:
        raise ValueError("params: leading axis must equal the number of seeds")
    sw2, sb2, rescale, is_grid = sigma_grid(sigma_w2, sigma_b2, model)
    if rescale:
        check_rescale(st)
    if sigma_b2 is not None and getattr(st, "bias_init", None) is not None:
        raise ValueError(
            "sigma_b2 has no effect on a model with an explicit bias_init; remove one of them"
        )
    if inputs not in INPUT_MODES:
        allowed = ", ".join(map(repr, INPUT_MODES))
        raise ValueError(f"inputs must be one of {allowed}, got {inputs!r}")
    if path not in PATHS:
        raise ValueError(f"path must be one of {', '.join(map(repr, PATHS))}, got {path!r}")
    if isinstance(q0, bool) or not isinstance(q0, int | float) or not (0 < q0 < math.inf):
        raise ValueError(f"q0 must be a finite number > 0, got {q0!r}")
    if loss is not None and not callable(loss):
        raise TypeError(f"loss must be a callable loss(output) -> scalar or None, got {loss!r}")
    if x is not None:
        if isinstance(x, jax.core.Tracer):
            raise TypeError("x must be concrete (propagate jits and vmaps internally)")
        x = jnp.asarray(x)
        if x.ndim < 2:
            raise ValueError(f"x must be a batch (B, *input_shape), got shape {x.shape}")
        if not jnp.issubdtype(x.dtype, jnp.floating):
            x = x.astype(jnp.float32)
        if x.shape[0] < 1:
            raise ValueError(f"x must hold at least one example, got shape {x.shape}")
        bad = int(x.size - np.count_nonzero(np.isfinite(np.asarray(x))))
        if bad:
            raise ValueError(f"x holds {bad} non-finite value(s) (NaN or inf)")
        if c0 is not None or batch is not None or input_shape is not None or inputs != "shared":
            raise ValueError(
                "c0, batch, input_shape and inputs describe generated inputs; "
                "they cannot be combined with a given x"
            )
        in_shape = tuple(int(d) for d in x.shape[1:])
        n_batch = int(x.shape[0])
        mode = "given"
    else:
        in_shape = tuple(input_shape) if input_shape is not None else st.default_input_shape()
        if batch is None:
            batch = 8
        if isinstance(batch, bool) or not isinstance(batch, int | np.integer) or batch < 1:
            raise ValueError(f"batch must be a positive integer, got {batch!r}")
        n_batch = int(batch)
        check_c0(c0, n_batch, math.prod(in_shape) if in_shape else 0)
        mode = inputs
    feat, layer_params = _static_info(st, in_shape)  # runs st.check(in_shape)
    method = data_method(st) if params is None else None
    if method is not None:
        # Refined on the measured batch after a materialized draw (no fused path: the
        # refinement needs every layer's params at once).
        method.check(labels=False)
        if path == "preact":
            raise ValueError(
                f"path='preact' cannot measure a data-dependent kernel_init ({method.name!r}): "
                "it refines drawn weights; use path='auto' or 'materialized'"
            )
        path = "materialized"
    info = M.CallInfo(st, in_shape, feat, n_batch, jac_input)
    for name in ms:
        reason = M.support(name, st)
        if reason is not None:
            raise ValueError(f"metric {name!r}: {reason}")
        check = M.get(name).check
        if check is not None:
            check(info)
    path = _resolve_path(path, st, ms, params is not None, n_batch)
    if seed_chunk is None:
        item = jnp.dtype(st.dtype).itemsize
        per_seed = item * (layer_params + 2 * n_batch * math.prod(feat))
        words, _ = _device_words(st, ms, path, in_shape, feat, layer_params, n_batch)
        chunk = _auto_chunk(n_seeds, int(np.size(sb2)), per_seed, words * item)
    else:
        if isinstance(seed_chunk, bool) or not isinstance(seed_chunk, int) or seed_chunk < 1:
            raise ValueError(f"seed_chunk must be a positive integer, got {seed_chunk!r}")
        chunk = _largest_divisor(n_seeds, min(seed_chunk, n_seeds))
    _check_memory(st, ms, path, in_shape, feat, layer_params, n_batch, n_seeds, np.size(sb2), chunk)
    seed_keys, input_key = _keys(seeds, root_seed)
    cfg = _Config(
        stack=st,
        metrics=ms,
        specs=tuple(M.get(m) for m in ms),
        in_shape=in_shape,
        batch=n_batch,
        rescale=rescale,
        inputs=mode,
        q0=float(q0),
        c0=None if c0 is None else float(c0),
        path="params" if params is not None else path,
        loss=loss,
        jac_input=int(jac_input),
        feat_shape=feat,
    )
    sw2_arg = jnp.asarray(sw2 if rescale else np.zeros_like(sb2))
    args = (seed_keys, sw2_arg, jnp.asarray(sb2), x, input_key, params)
    meta = {
        "is_grid": is_grid,
        "shard": shard,
        "sigma_w2": sw2 if rescale else None,
        "sigma_b2": sb2,
        "depth": st.depth,
        "batch": n_batch,
        "input_shape": in_shape,
        "inputs": mode,
        "c0": cfg.c0,
        "q0": cfg.q0,
        "path": cfg.path,
        "keep_prob": float(st.keep_prob),
        "data_init": None if method is None else repr(st.kernel_init),
        "root_seed": int(root_seed),
        "seeds": n_seeds,
        "model": repr(model),
        "arch": models.name_of(model) or type(model).__name__,
    }
    chunks = [(a, a + chunk) for a in range(0, n_seeds, chunk)]
    return Prepared(cfg, args, meta, chunks)


def propagate(
    model: Any,
    x: Any = None,
    *,
    seeds: int | jax.Array = 16,
    metrics: str | Sequence[str] = ("q", "c"),
    sigma_w2: Any = None,
    sigma_b2: Any = None,
    c0: float | None = None,
    q0: float = 1.0,
    batch: int | None = None,
    input_shape: Sequence[int] | None = None,
    inputs: str = "shared",
    root_seed: int = 0,
    path: str = "auto",
    params: Any = None,
    loss: Callable[[jax.Array], jax.Array] | None = None,
    jac_input: int = 0,
    shard: bool | None = None,
    seed_chunk: int | None = None,
    keep_prob: float | None = None,
    progress: bool = False,
) -> PropagationResult:
    """Measure signal propagation through ``seeds`` random initializations of ``model``.

    Args:
      model: an ``initjax.models`` module (a registered family: ``initjax.models.names()``), or
        a spec dict ``{"arch": name, **fields}`` (``initjax.models.build``); its fields give the
        architecture, initializers and default sigma_w2 / sigma_b2.
      x: a data batch ``(B, *input_shape)`` shared by all seeds, or None for Gaussian inputs
        (:func:`initjax.measure.inputs.gaussian_inputs`: mean square ``q0`` per example, pairwise
        cosine ``c0`` or independent directions when ``c0`` is None).
      seeds: number of independent networks, or a 1-D array of typed keys (``keys.seed_keys``).
      metrics: registered metric names (``initjax.measure.metrics.names()``: q, c, grad_sq,
        act_std, act_saturation, unit_symmetry, jac_sv and plugin metrics), a sequence or a
        comma-separated string.
      sigma_w2, sigma_b2: override the model's variances; scalars or 1-D arrays broadcast to H
        grid cells, evaluated in one compiled call (a leading H axis on every array).
      c0, q0, batch (default 8), input_shape (default per model), inputs ("shared" | "per_seed"):
        generated inputs (see the module docstring for their keys).
      root_seed: root of ``keys.seed_keys`` when ``seeds`` is an int.
      path: "fused" (weights drawn inside the scan, memory independent of depth) or
        "materialized" (stacked params drawn first, like ``model.init``): identical results,
        bit for bit. "preact": draw each layer's pre-activations from their exact Gaussian law
        given the layer input instead of drawing weights (:mod:`initjax.measure.preact`): the
        same law, not the same values as ``model.init``; only for float32 MLPs with i.i.d.
        Gaussian kernels and the metrics q, c, act_std, act_saturation. "auto" (default):
        "preact" where it applies and is faster (width >= max(4 x batch, 256)), else "fused";
        ``result.meta["path"]`` says which ran.
        A data-dependent ``kernel_init`` (LSUV, MetaInit; :mod:`initjax.initializers.
        data_dependent`) always takes the materialized path: its base initializer draws each
        seed's params, which are then refined on the batch being measured (the given ``x``, or
        the generated inputs of that seed), so q^l is measured on the refinement's own batch.
      params: variables ``{"params": ...}`` with a leading seed axis (e.g. after training) to
        measure instead of drawing; sigma overrides are then not allowed.
      loss: for ``grad_sq``, ``loss(output) -> scalar`` on the model's output (readout logits or
        phi(z^depth)); default a random standard-normal cotangent on the output.
      jac_input: which example of the batch the Jacobian is taken at.
      shard: shard the seed axis over all devices (None: when more than one is visible).
      seed_chunk: run seeds in chunks of (at most) this size, e.g. for a progress bar or memory.
        None: on a single CPU device, chunks that keep one layer step's weights and
        activations within ~16 MiB of cache (faster per network; same values up to float32
        rounding of the input projection's matmul); on several CPU devices all at once; on an
        accelerator all at once if the networks fit in half of the free device memory
        (``memory_stats()`` bytes_limit - bytes_in_use, summed over devices), else the largest
        equal chunk that does.
      keep_prob: dropout keep probability rho in (0, 1] on the activations feeding every hidden
        layer (and the readout), overriding the model's ``keep_prob`` field; None: the model's
        (1 = no dropout, the default). Inverted dropout, masks from the dropout key role
        (module docstring); the mean-field maps with the same rho are
        ``initjax.theory.q_map(..., keep_prob=rho)`` (Schoenholz et al. 2017, Sec. 4). Only
        families with dropout (mlp, conv); not with the ``jac_sv`` metric.
      progress: show a progress bar over seed chunks.

    Returns:
      :class:`PropagationResult`: ``arrays[m]`` shaped ``(seeds, depth + 1)`` per layer, layer 0
      the input projection's pre-activation and 1..depth the hidden layers'; ``jac_sv``
      ``(seeds, n)`` float64 (descending), with ``jac_sv_floor`` ``(seeds,)`` (values below it
      are not resolved) and ``jac_sv_rtol`` ``(seeds,)`` (their estimated relative error; see
      :mod:`initjax.measure.jacobian`); all with a leading ``(H,)`` axis for a grid.
      ``unit_symmetry`` fills ``unit_dist`` and ``act_rank``. ``grad_sq[l]`` = mean over the
      batch of |d loss / d z^l|^2 (Schoenholz et al. 2017, backward q~^l; Glorot & Bengio 2010,
      Fig. 7). ``jac_sv``: singular values of d phi(z^depth) / d x at one input (Pennington et
      al. 2017).
      Flags (bool): ``arrays["underflow"]`` ``(seeds, depth + 1)``: q^l (or one example's mean
      square q^l_aa) < 1.18e-38, float32's smallest normal number (an all-zero layer included),
      where ratios such as c^l are undefined and recorded as NaN; ``arrays["nonfinite"]``
      ``(seeds, depth + 1)``: some metric value of the row (or z^l) is NaN or +-inf;
      ``arrays["diverged"]`` (also ``.diverged``) ``(seeds,)``: the network overflowed, i.e.
      some value is +-inf or NaN not explained by underflow. A vanishing signal is
      ``underflow``, not ``diverged``.

    Raises:
      ValueError / TypeError: any bad argument (non-positive seeds or batch, unknown metric,
        negative variance, incompatible initializer and kernel shape, a given ``x`` with
        non-finite values, a size whose arrays cannot fit in the available memory, with the
        estimate, ...) before compiling.
        Exploding or vanishing signals are never an error: they come back as values with the
        ``diverged`` / ``underflow`` flags.
    """
    prep = prepare(
        model,
        x,
        seeds=seeds,
        metrics=metrics,
        sigma_w2=sigma_w2,
        sigma_b2=sigma_b2,
        c0=c0,
        q0=q0,
        batch=batch,
        input_shape=input_shape,
        inputs=inputs,
        root_seed=root_seed,
        path=path,
        params=params,
        loss=loss,
        jac_input=jac_input,
        shard=shard,
        seed_chunk=seed_chunk,
        keep_prob=keep_prob,
    )
    return prep.run(progress=progress)
