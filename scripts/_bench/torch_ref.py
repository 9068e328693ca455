"""PyTorch doing the benchmark's work as well as a competent user would (CPU).

Propagation (cases 1, 1b): the network is the one initjax measures: z^0 = x W_0 + b_0,
z^l = tanh(z^{l-1}) W_l + b_l (l = 1..depth), W ~ N(0, sigma_w2 / fan_in), b ~ N(0, sigma_b2),
q^l = mean((z^l)^2) over the batch and units, for ``seeds`` independent networks on the same
inputs. Every variant runs under ``torch.inference_mode()`` and draws each layer with
``Tensor.normal_`` into a preallocated buffer ("draw, use, drop", like initjax's fused path).

Propagation variants (:data:`VARIANTS`):
  - ``stacked``: all seeds' weights as one ``(seeds, fan_in, width)`` tensor per layer,
    ``torch.baddbmm`` forward, all cores as intra-op threads.
  - ``vmap``: the same stacked draws, one network's layer ``torch.func.vmap``-ed over seeds.
  - ``loop``: one network after another (how most research code runs seeds), all cores.
  - ``threads``: seed-parallel: one Python thread per core, each with a single intra-op thread,
    its own generator and its share of the seeds, running stacked ``baddbmm`` on chunks of
    ``chunk`` seeds. torch's CPU ``normal_`` is single-threaded, so the intra-op variants leave
    cores idle while drawing; this one keeps every core drawing and multiplying.
  - ``threads-loop``: seed-parallel threads, each looping over its networks one by one.
  - ``compiled``: ``stacked`` with the layer step (tanh, baddbmm, q) under ``torch.compile``
    (inductor; compiled once per shape before timing). The draws stay ``normal_``: inductor's
    in-graph random numbers measured no faster on this CPU.

Training (case 8): ``seeds`` tanh MLPs with readout trained with SGD and softmax cross-entropy,
each with its own init, learning rate and minibatch stream (sampled with replacement), the curves
evaluated every ``eval_every`` steps on the test set and the first ``eval_size`` training
examples (the same work as ``initjax.measure.train.train``). Variants (:data:`TRAIN_VARIANTS`):
stacked ``bmm`` with autograd (all cores), the same under ``torch.compile`` (forward and backward
compiled by AOTAutograd), and seed-parallel threads of single-threaded stacked autograd.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

try:
    import torch
    import torch.func
except ImportError:  # the `compare` extra is not installed
    torch = None

NOT_INSTALLED = "not installed"
VARIANTS = ("stacked", "vmap", "loop", "threads", "threads-loop", "compiled")
TRAIN_VARIANTS = ("autograd", "compiled", "threads")
DEFAULT_CHUNK = 4  # seeds per baddbmm in the threaded variant (measured best of 1-16 at 256-512)


def available() -> bool:
    return torch is not None


def version() -> str:
    return torch.__version__ if torch is not None else NOT_INSTALLED


def set_threads(n: int | None = None) -> int:
    """Use ``n`` intra-op threads (default: every visible core); returns the count."""
    n = n or os.cpu_count() or 1
    torch.set_num_threads(n)
    return n


def threads() -> int:
    """torch's current intra-op thread count (0 without torch)."""
    return torch.get_num_threads() if torch is not None else 0


@contextlib.contextmanager
def _single_threaded_workers(n_workers: int) -> Iterator[ThreadPoolExecutor]:
    """A pool of ``n_workers`` threads, each running torch with one intra-op thread; the
    caller's thread count is restored afterwards (MKL's setting is process-wide)."""
    before = torch.get_num_threads()

    def init():
        torch.set_num_threads(1)

    torch.set_num_threads(1)
    try:
        with ThreadPoolExecutor(n_workers, initializer=init) as pool:
            yield pool
    finally:
        torch.set_num_threads(before)


def _shares(n: int, parts: int) -> list[tuple[int, int]]:
    """Split range(n) into ``parts`` contiguous near-equal (start, stop) pieces."""
    edges = np.linspace(0, n, parts + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:], strict=True) if b > a]


# --- propagation ------------------------------------------------------------------------------


def propagate(
    variant: str,
    x: np.ndarray,
    *,
    width: int,
    depth: int,
    seeds: int,
    sigma_w2: float,
    sigma_b2: float,
    seed: int = 0,
    chunk: int = DEFAULT_CHUNK,
    workers: int | None = None,
) -> np.ndarray:
    """Per-layer q of ``seeds`` tanh MLPs on the batch ``x`` ``(B, d_in)``: ``(seeds, depth+1)``."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    xt = torch.from_numpy(np.ascontiguousarray(x, np.float32))
    sd_b = math.sqrt(sigma_b2)
    q = torch.empty(seeds, depth + 1)
    args = (xt, width, depth, sigma_w2, sd_b)
    if variant in ("threads", "threads-loop"):
        n_work = workers or os.cpu_count() or 1
        parts = _shares(seeds, n_work)
        with _single_threaded_workers(len(parts)) as pool:
            futs = [
                pool.submit(_part, variant, q[a:b], *args, seed + 1 + i, chunk)
                for i, (a, b) in enumerate(parts)
            ]
            for f in futs:
                f.result()
        return q.numpy()
    g = torch.Generator().manual_seed(seed)
    with torch.inference_mode():
        if variant == "loop":
            _loop(q, *args, g)
        else:
            _stacked(q, *args, g, step=variant)
    return q.numpy()


def _part(variant, q, xt, width, depth, sigma_w2, sd_b, seed, chunk):
    g = torch.Generator().manual_seed(seed)
    with torch.inference_mode():
        if variant == "threads-loop":
            _loop(q, xt, width, depth, sigma_w2, sd_b, g)
            return
        for a in range(0, q.shape[0], chunk):
            _stacked(q[a : a + chunk], xt, width, depth, sigma_w2, sd_b, g, step="stacked")


def _eager_step(z, w, b):
    z = torch.baddbmm(b, torch.tanh(z), w)
    return z, z.square().mean(dim=(1, 2))


def _vmap_step():
    def net_layer(wi, bi, zi):  # one network's layer, vmapped over seeds
        z = torch.addmm(bi, torch.tanh(zi), wi)
        return z, z.square().mean()

    v = torch.func.vmap(net_layer)
    return lambda z, w, b: v(w, b[:, 0], z)


_COMPILED: dict[str, Callable] = {}
_COMPILE_LOCK = threading.Lock()


def _compiled_step():
    with _COMPILE_LOCK:
        if "step" not in _COMPILED:
            _COMPILED["step"] = torch.compile(_eager_step, dynamic=False)
    return _COMPILED["step"]


def _stacked(q, xt, width, depth, sigma_w2, sd_b, g, *, step: str) -> None:
    seeds = q.shape[0]
    b_sz, d_in = xt.shape
    w0 = torch.empty(seeds, d_in, width)
    w = torch.empty(seeds, width, width)
    b = torch.empty(seeds, 1, width)
    layer = {"stacked": _eager_step, "vmap": _vmap_step, "compiled": _compiled_step}[step]
    if step in ("vmap", "compiled"):
        layer = layer()
    w0.normal_(0.0, math.sqrt(sigma_w2 / d_in), generator=g)
    b.normal_(0.0, sd_b, generator=g)
    z = torch.baddbmm(b, xt.expand(seeds, b_sz, d_in), w0)
    q[:, 0] = z.square().mean(dim=(1, 2))
    sd_w = math.sqrt(sigma_w2 / width)
    for i in range(1, depth + 1):
        w.normal_(0.0, sd_w, generator=g)
        b.normal_(0.0, sd_b, generator=g)
        z, q[:, i] = layer(z, w, b)


def _loop(q, xt, width, depth, sigma_w2, sd_b, g) -> None:
    d_in = xt.shape[1]
    w0 = torch.empty(d_in, width)
    w = torch.empty(width, width)
    b = torch.empty(width)
    sd_w0, sd_w = math.sqrt(sigma_w2 / d_in), math.sqrt(sigma_w2 / width)
    for s in range(q.shape[0]):
        w0.normal_(0.0, sd_w0, generator=g)
        b.normal_(0.0, sd_b, generator=g)
        z = torch.addmm(b, xt, w0)
        q[s, 0] = z.square().mean()
        for i in range(1, depth + 1):
            w.normal_(0.0, sd_w, generator=g)
            b.normal_(0.0, sd_b, generator=g)
            z = torch.addmm(b, torch.tanh(z), w)
            q[s, i] = z.square().mean()


def draws_only(d_in: int, width: int, depth: int, seeds: int, seed: int = 0) -> Any:
    """The stacked variant's weight and bias draws alone (no forward): torch's PRNG share."""

    def run():
        g = torch.Generator().manual_seed(seed)
        w0 = torch.empty(seeds, d_in, width)
        w = torch.empty(seeds, width, width)
        b = torch.empty(seeds, 1, width)
        with torch.inference_mode():
            w0.normal_(generator=g)
            b.normal_(generator=g)
            for _ in range(depth):
                w.normal_(generator=g)
                b.normal_(generator=g)
        return w

    return run


def normal_sampler(n: int, batch: int = 1, workers: int = 1) -> Any:
    """A callable drawing ``n`` standard normals (float32) in place, as ``batch`` equal rows;
    ``workers`` > 1 splits them over that many threads with their own generators."""
    buf = torch.empty(batch, n // batch)
    if workers <= 1:
        g = torch.Generator().manual_seed(0)

        def draw():
            buf.normal_(generator=g)
            return buf

        return draw
    flat = buf.view(-1)
    parts = _shares(flat.numel(), workers)
    gens = [torch.Generator().manual_seed(i) for i in range(len(parts))]

    def draw_mt():
        with _single_threaded_workers(len(parts)) as pool:
            futs = [
                pool.submit(lambda a=a, b=b, g=g: flat[a:b].normal_(generator=g))
                for (a, b), g in zip(parts, gens, strict=True)
            ]
            for f in futs:
                f.result()
        return buf

    return draw_mt


# --- training ---------------------------------------------------------------------------------


def _init_params(n, d_in, width, depth, n_out, sigma_w2, sigma_b2, g):
    """Stacked params of ``n`` networks: [(W (n, fan_in, fan_out), b (n, 1, fan_out)), ...];
    ``sigma_w2``, ``sigma_b2``: ``(n,)`` per-network variances (standard parameterization)."""
    sw = torch.as_tensor(sigma_w2, dtype=torch.float32).sqrt().view(n, 1, 1)
    sb = torch.as_tensor(sigma_b2, dtype=torch.float32).sqrt().view(n, 1, 1)
    shapes = [(d_in, width)] + [(width, width)] * depth + [(width, n_out)]
    params = []
    for fi, fo in shapes:
        w = torch.empty(n, fi, fo).normal_(generator=g) * (sw / math.sqrt(fi))
        b = torch.empty(n, 1, fo).normal_(generator=g) * sb
        params += [w.requires_grad_(), b.requires_grad_()]
    return params


def _logits(params, x):
    """Stacked forward: x ``(n, B, d_in)`` -> logits ``(n, B, n_out)``."""
    z = torch.baddbmm(params[1], x, params[0])
    for i in range(2, len(params), 2):
        z = torch.baddbmm(params[i + 1], torch.tanh(z), params[i])
    return z


def _loss(params, x, y):
    """Sum over networks of each network's mean cross-entropy (gradients stay per network)."""
    logits = _logits(params, x)
    n, b, c = logits.shape
    ce = torch.nn.functional.cross_entropy(logits.reshape(n * b, c), y.reshape(-1), reduction="sum")
    return ce / b


_TRAIN_COMPILED: dict[str, Callable] = {}


def _compiled_loss():
    with _COMPILE_LOCK:
        if "loss" not in _TRAIN_COMPILED:
            _TRAIN_COMPILED["loss"] = torch.compile(_loss, dynamic=False)
    return _TRAIN_COMPILED["loss"]


def _evaluate(params, x, y) -> tuple[np.ndarray, np.ndarray]:
    """Per-network (mean cross-entropy, accuracy) on a shared set ``x`` ``(m, d_in)``."""
    with torch.no_grad():
        n = params[0].shape[0]
        logits = _logits(params, x.expand(n, *x.shape))
        ce = torch.nn.functional.cross_entropy(
            logits.transpose(1, 2), y.expand(n, -1), reduction="none"
        ).mean(1)
        acc = (logits.argmax(-1) == y).float().mean(1)
    return ce.numpy(), acc.numpy()


def _train_part(data, spec, sigma_w2, sigma_b2, lr, seed, loss_fn):
    x_tr, y_tr, x_te, y_te = data
    n = len(lr)
    g = torch.Generator().manual_seed(seed)
    params = _init_params(n, x_tr.shape[1], *spec["shape"], sigma_w2, sigma_b2, g)
    lr_t = torch.as_tensor(lr, dtype=torch.float32).view(n, 1, 1)
    x_ev, y_ev = x_tr[: spec["eval_size"]], y_tr[: spec["eval_size"]]
    curves = []
    for step in range(spec["steps"]):
        idx = torch.randint(0, x_tr.shape[0], (n, spec["batch"]), generator=g)
        loss = loss_fn(params, x_tr[idx], y_tr[idx])
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            for p, gr in zip(params, grads, strict=True):
                p.sub_(lr_t * gr)
        if (step + 1) % spec["eval_every"] == 0:
            curves.append(_evaluate(params, x_te, y_te) + _evaluate(params, x_ev, y_ev))
    return curves[-1]


def train(
    variant: str,
    data: tuple[np.ndarray, ...],
    *,
    width: int,
    depth: int,
    n_out: int,
    sigma_w2: np.ndarray,
    sigma_b2: np.ndarray,
    learning_rate: np.ndarray,
    steps: int,
    batch: int,
    eval_every: int,
    eval_size: int,
    seed: int = 0,
    workers: int | None = None,
) -> dict[str, np.ndarray]:
    """Train ``len(learning_rate)`` networks (per-network sigma_w2, sigma_b2, learning rate).

    Returns the final ``test_loss``, ``test_acc``, ``train_loss``, ``train_acc`` per network.
    """
    if variant not in TRAIN_VARIANTS:
        raise ValueError(f"variant must be one of {TRAIN_VARIANTS}, got {variant!r}")
    tensors = tuple(
        torch.from_numpy(np.ascontiguousarray(a, np.int64 if i % 2 else np.float32))
        for i, a in enumerate(data)
    )
    spec = dict(
        shape=(width, depth, n_out), steps=steps, batch=batch, eval_every=eval_every,
        eval_size=eval_size,
    )  # fmt: skip
    sw, sb, lr = (np.asarray(a, np.float32) for a in (sigma_w2, sigma_b2, learning_rate))
    if variant == "threads":
        parts = _shares(len(lr), workers or os.cpu_count() or 1)
        with _single_threaded_workers(len(parts)) as pool:
            futs = [
                pool.submit(
                    _train_part, tensors, spec, sw[a:b], sb[a:b], lr[a:b], seed + 1 + i, _loss
                )
                for i, (a, b) in enumerate(parts)
            ]
            outs = [f.result() for f in futs]
        res = [np.concatenate(parts_) for parts_ in zip(*outs, strict=True)]
    else:
        loss_fn = _compiled_loss() if variant == "compiled" else _loss
        res = list(_train_part(tensors, spec, sw, sb, lr, seed, loss_fn))
    return dict(zip(("test_loss", "test_acc", "train_loss", "train_acc"), res, strict=True))
