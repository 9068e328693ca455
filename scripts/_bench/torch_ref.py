"""PyTorch doing the benchmark's work as well as it can (CPU): references for cases 1, 1b, PRNG.

The network is the one initjax measures: z^0 = x W_0 + b_0, z^l = tanh(z^{l-1}) W_l + b_l
(l = 1..depth), W ~ N(0, sigma_w2 / fan_in), b ~ N(0, sigma_b2), q^l = mean((z^l)^2) over the batch
and units, for ``seeds`` independent networks on the same inputs. Every variant runs under
``torch.inference_mode()`` (no autograd bookkeeping), draws each layer with
``torch.nn.init.normal_`` into a preallocated buffer (the same "draw, use, drop" memory pattern as
initjax's fused path), and uses all cores (``torch.set_num_threads``).

Variants:
  - ``stacked``: weights of all seeds as one ``(seeds, fan_in, width)`` tensor per layer,
    ``torch.baddbmm`` forward.
  - ``vmap``: the same stacked draws, the forward of one network ``torch.func.vmap``-ed over seeds.
  - ``loop``: one network after another (how most research code runs seeds).
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

try:
    import torch
    import torch.func
except ImportError:  # the `compare` extra is not installed
    torch = None

NOT_INSTALLED = "not installed"
VARIANTS = ("stacked", "vmap", "loop")


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
) -> np.ndarray:
    """Per-layer q of ``seeds`` tanh MLPs on the batch ``x`` ``(B, d_in)``: ``(seeds, depth+1)``."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    xt = torch.from_numpy(np.ascontiguousarray(x, np.float32))
    g = torch.Generator().manual_seed(seed)
    sd_b = math.sqrt(sigma_b2)
    with torch.inference_mode():
        if variant == "loop":
            return _loop(xt, width, depth, seeds, sigma_w2, sd_b, g)
        return _stacked(xt, width, depth, seeds, sigma_w2, sd_b, g, use_vmap=variant == "vmap")


def _stacked(xt, width, depth, seeds, sigma_w2, sd_b, g, *, use_vmap: bool) -> np.ndarray:
    b_sz, d_in = xt.shape
    q = torch.empty(seeds, depth + 1)
    w0 = torch.empty(seeds, d_in, width)
    w = torch.empty(seeds, width, width)
    b = torch.empty(seeds, 1, width)

    def net_layer(wi, bi, zi):  # one network's layer, vmapped over seeds
        z = torch.addmm(bi, torch.tanh(zi), wi)
        return z, z.square().mean()

    vlayer = torch.func.vmap(net_layer)
    torch.nn.init.normal_(w0, 0.0, math.sqrt(sigma_w2 / d_in), generator=g)
    torch.nn.init.normal_(b, 0.0, sd_b, generator=g)
    z = torch.baddbmm(b, xt.expand(seeds, b_sz, d_in), w0)
    q[:, 0] = z.square().mean(dim=(1, 2))
    sd_w = math.sqrt(sigma_w2 / width)
    for layer in range(1, depth + 1):
        torch.nn.init.normal_(w, 0.0, sd_w, generator=g)
        torch.nn.init.normal_(b, 0.0, sd_b, generator=g)
        if use_vmap:
            z, q[:, layer] = vlayer(w, b[:, 0], z)
        else:
            z = torch.baddbmm(b, torch.tanh(z), w)
            q[:, layer] = z.square().mean(dim=(1, 2))
    return q.numpy()


def _loop(xt, width, depth, seeds, sigma_w2, sd_b, g) -> np.ndarray:
    d_in = xt.shape[1]
    q = torch.empty(seeds, depth + 1)
    w0 = torch.empty(d_in, width)
    w = torch.empty(width, width)
    b = torch.empty(width)
    sd_w0, sd_w = math.sqrt(sigma_w2 / d_in), math.sqrt(sigma_w2 / width)
    for s in range(seeds):
        torch.nn.init.normal_(w0, 0.0, sd_w0, generator=g)
        torch.nn.init.normal_(b, 0.0, sd_b, generator=g)
        z = torch.addmm(b, xt, w0)
        q[s, 0] = z.square().mean()
        for layer in range(1, depth + 1):
            torch.nn.init.normal_(w, 0.0, sd_w, generator=g)
            torch.nn.init.normal_(b, 0.0, sd_b, generator=g)
            z = torch.addmm(b, torch.tanh(z), w)
            q[s, layer] = z.square().mean()
    return q.numpy()


def draws_only(d_in: int, width: int, depth: int, seeds: int, seed: int = 0) -> Any:
    """The stacked variant's weight and bias draws alone (no forward): torch's PRNG share."""

    def run():
        g = torch.Generator().manual_seed(seed)
        w0 = torch.empty(seeds, d_in, width)
        w = torch.empty(seeds, width, width)
        b = torch.empty(seeds, 1, width)
        with torch.inference_mode():
            torch.nn.init.normal_(w0, generator=g)
            torch.nn.init.normal_(b, generator=g)
            for _ in range(depth):
                torch.nn.init.normal_(w, generator=g)
                torch.nn.init.normal_(b, generator=g)
        return w

    return run


def normal_sampler(n: int, batch: int = 1) -> Any:
    """A callable drawing ``n`` standard normals (float32) in place, as ``batch`` equal rows."""
    buf = torch.empty(batch, n // batch)
    g = torch.Generator().manual_seed(0)

    def draw():
        torch.nn.init.normal_(buf, generator=g)
        return buf

    return draw
