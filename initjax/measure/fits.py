"""Depth scales fitted from measured per-layer statistics (Schoenholz et al. 2017, Fig. 2)."""

from __future__ import annotations

import numpy as np

__all__ = ["fit_depth_scale"]


def fit_depth_scale(
    deviation: np.ndarray,
    stderr: np.ndarray | None = None,
    *,
    layers: np.ndarray | None = None,
    n_sigma: float = 3.0,
    min_points: int = 4,
    linear_below: float = 0.5,
    window: tuple[int, int] | None = None,
) -> tuple[float, int, tuple[int, int]]:
    """Fit xi in |c^l - c*| ~ A exp(-l / xi) on the layers where the signal is above noise.

    The exponential law is the linearization of the c-map at c*, so the fit starts at the first
    layer whose deviation is below ``linear_below`` times the initial one, and runs while the
    deviation stays above ``n_sigma`` standard errors (finite width and a finite seed count leave a
    noise floor around c*; below it the log-deviation is noise, not decay). Least squares of
    log(deviation) against l over those layers.

    Args:
      deviation: ``(L,)`` seed-averaged |c^l - c*| (dimensionless), layer order.
      stderr: ``(L,)`` standard error of that mean over seeds, or None (no floor).
      layers: ``(L,)`` layer indices (default 0..L-1).
      n_sigma: the floor in standard errors.
      min_points: fewer usable layers than this returns NaN.
      linear_below: where the linear regime starts, as a fraction of the initial deviation.
      window: ``(start, n)`` fit exactly these layers instead (e.g. a theory curve over the window
        chosen for the measured one, for a like-for-like comparison).

    Returns:
      ``(xi, n_points, (start, n))``: the depth scale in layers (``inf`` for no measurable decay,
      NaN if fewer than ``min_points`` layers are above the floor), the number of layers used and
      the fitted window (indices into ``deviation``).
    """
    dev = np.abs(np.asarray(deviation, np.float64))
    ls = np.arange(len(dev), dtype=np.float64) if layers is None else np.asarray(layers, float)
    floor = np.zeros_like(dev) if stderr is None else n_sigma * np.asarray(stderr, np.float64)
    ok = np.isfinite(dev) & (dev > floor) & (dev > 0)
    if window is not None:
        start, n = window
        n = min(n, int(np.argmin(ok[start : start + n])) if not ok[start : start + n].all() else n)
    else:
        below = dev <= linear_below * dev[0]
        start = int(np.argmax(below)) if np.any(below) else 0
        run = ok[start:]
        n = int(np.argmin(run)) if not run.all() else len(run)  # leading run above the floor
    if n < min_points:
        return float("nan"), n, (start, n)
    sel = slice(start, start + n)
    slope, _ = np.polyfit(ls[sel], np.log(dev[sel]), 1)
    if slope >= 0:
        return float("inf"), n, (start, n)
    return float(-1.0 / slope), n, (start, n)
