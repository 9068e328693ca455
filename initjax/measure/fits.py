"""Quantities fitted from measured per-layer statistics: depth scales (Schoenholz et al. 2017,
Fig. 2), the per-layer gradient growth chi_1 and where it crosses 1 (the critical point), and
the standard errors over seeds of such estimators: the mean's, the leave-one-out jackknife's, and
the 1/N finite-width term fitted at two widths."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "chi1_crossing",
    "depth_scale_fits",
    "finite_width",
    "fit_depth_scale",
    "fit_depth_scale_seeds",
    "gradient_growth",
    "jackknife",
    "mean_se",
    "unit_crossing",
]


def mean_se(values: Sequence[float] | np.ndarray) -> tuple[float, float]:
    """(mean, standard error) of finite values; SE is NaN with fewer than 2 values."""
    v = np.asarray(values, np.float64).ravel()
    v = v[np.isfinite(v)]
    if v.size == 0:
        return float("nan"), float("nan")
    se = float(v.std(ddof=1) / math.sqrt(v.size)) if v.size > 1 else float("nan")
    return float(v.mean()), se


def jackknife(
    statistic: Callable[[np.ndarray], Any], samples: np.ndarray, axis: int = 0
) -> tuple[Any, Any]:
    """(statistic of all samples, leave-one-out jackknife standard error).

    Efron & Tibshirani 1993, ch. 11: for any statistic of independent replicates (seeds) that is
    not a plain mean (a root, a slope, a ratio of means), scalar or one value per layer.

    Args:
      statistic: maps an array of samples (``samples`` with some entries of ``axis`` removed)
        to a float, or to an array of floats (e.g. one value per layer).
      samples: array whose ``axis`` indexes independent replicates (seeds).
      axis: the replicate axis.

    Returns:
      (theta, se) with se = sqrt((n-1)/n * sum_i (theta_(i) - mean theta_(.))^2); NaN with n < 2.
      Floats for a scalar statistic; float64 arrays of the statistic's shape otherwise.
    """
    samples = np.asarray(samples)
    n = samples.shape[axis]
    theta = np.asarray(statistic(samples), np.float64)
    if n < 2:
        se = np.full(theta.shape, np.nan)
    else:
        loo = np.array([statistic(np.delete(samples, i, axis=axis)) for i in range(n)], np.float64)
        se = np.sqrt((n - 1) / n * np.sum((loo - loo.mean(axis=0)) ** 2, axis=0))
    if theta.ndim == 0:
        return float(theta), float(se)
    return theta, se


def finite_width(
    m1: float, se1: float, n1: int, m2: float, se2: float, n2: int
) -> dict[str, float]:
    """Fit m(N) = m_inf + b / N through two widths (independent measurements).

    Returns:
      dict with ``m_inf``, ``se_inf`` (propagated), ``b``, ``se_b``, and ``term1`` / ``term2``:
      the finite-width term b / N at each width (the part of m(N) that 1/N scaling removes).

    Raises:
      ValueError: equal widths.
    """
    if n1 == n2:
        raise ValueError(f"finite_width needs two different widths, got {n1} twice")
    # m_inf = (n2 m2 - n1 m1) / (n2 - n1);  b = (m1 - m2) / (1/n1 - 1/n2)
    w1, w2 = -n1 / (n2 - n1), n2 / (n2 - n1)
    m_inf = w1 * m1 + w2 * m2
    se_inf = math.sqrt((w1 * se1) ** 2 + (w2 * se2) ** 2)
    d = 1.0 / n1 - 1.0 / n2
    b = (m1 - m2) / d
    se_b = math.sqrt(se1**2 + se2**2) / abs(d)
    return dict(m_inf=m_inf, se_inf=se_inf, b=b, se_b=se_b, term1=b / n1, term2=b / n2)


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


def fit_depth_scale_seeds(
    deviations: np.ndarray,
    *,
    layers: np.ndarray | None = None,
    n_sigma: float = 3.0,
    min_points: int = 4,
    linear_below: float = 0.5,
) -> tuple[float, float, int, tuple[int, int]]:
    """:func:`fit_depth_scale` of the seed mean, with its standard error over seeds.

    The fit runs on the seed mean of ``deviations`` (floor: ``n_sigma`` standard errors of that
    mean); its standard error is the leave-one-seed-out jackknife (Efron & Tibshirani 1993,
    ch. 11) with the window fixed to the full sample's, so the SE measures the seed noise of the
    decay rate, not the jitter of the window choice.

    Args:
      deviations: ``(S, L)`` per-seed signed deviations c^l - c* (S >= 2 seeds, L layers).
      layers, n_sigma, min_points, linear_below: as in :func:`fit_depth_scale`.

    Returns:
      ``(xi, se, n_points, window)``: ``se`` is NaN when xi is not finite or a leave-one-out
      fit is not finite.

    Raises:
      ValueError: ``deviations`` not 2-D or fewer than 2 seeds.
    """
    d = np.asarray(deviations, np.float64)
    if d.ndim != 2 or d.shape[0] < 2:
        raise ValueError(f"deviations must be (seeds >= 2, layers), got shape {d.shape}")
    s = d.shape[0]
    mean = d.mean(axis=0)
    se = d.std(axis=0, ddof=1) / np.sqrt(s)
    xi, n, win = fit_depth_scale(
        mean, se, layers=layers, n_sigma=n_sigma, min_points=min_points, linear_below=linear_below
    )
    if not np.isfinite(xi):
        return xi, float("nan"), n, win
    loo = np.array(
        [
            fit_depth_scale(
                (mean * s - d[i]) / (s - 1), layers=layers, min_points=min_points, window=win
            )[0]
            for i in range(s)
        ]
    )
    if not np.all(np.isfinite(loo)):
        return xi, float("nan"), n, win
    return xi, float(np.sqrt((s - 1) / s * np.sum((loo - loo.mean()) ** 2))), n, win


def gradient_growth(grad_sq: np.ndarray, skip_first: int, skip_last: int) -> np.ndarray:
    """Mean per-layer growth of the back-propagated gradient, grad_sq^l / grad_sq^(l+1).

    In the mean-field limit, at the fixed point q*, this ratio is chi_1 = sigma_w2 E[phi'(z)^2]
    (Schoenholz et al. 2017, eq. 9; the gradient-independence assumption). The mean of the
    ratios, not of their logarithms, is used: E[log r] is biased low by ~Var(r)/2 = O(1/width).

    Args:
      grad_sq: ``(..., L + 1)`` mean squared gradient w.r.t. the pre-activations of layers
        0..L (``initjax.measure.propagate(..., metrics=("grad_sq",))``).
      skip_first, skip_last: layers left out at the input side (before q^l settles at q*) and
        at the output side (next to the output's cotangent); ratios for l in
        [skip_first, L - skip_last).

    Returns:
      ``(...)`` float64 mean ratio (NaN when the window is empty).
    """
    g = np.asarray(grad_sq, np.float64)
    depth = g.shape[-1] - 1
    lo, hi = int(skip_first), depth - int(skip_last)
    if hi - lo < 1:
        return np.full(g.shape[:-1], np.nan)
    return (g[..., lo:hi] / g[..., lo + 1 : hi + 1]).mean(axis=-1)


def unit_crossing(x: np.ndarray, log_y: np.ndarray) -> float:
    """Where log y(x) crosses 0, from a polynomial through the points (degree min(2, n - 1),
    least squares above 3 points); the real root inside [min x, max x] closest to their centre.

    Returns NaN with fewer than 2 finite points or no root inside the range.
    """
    x = np.asarray(x, np.float64)
    log_y = np.asarray(log_y, np.float64)
    ok = np.isfinite(log_y)
    if ok.sum() < 2:
        return float("nan")
    x, y = x[ok], log_y[ok]
    centre = x.mean()
    roots = np.roots(np.polyfit(x - centre, y, min(2, len(x) - 1)))
    roots = roots[np.isreal(roots)].real + centre
    inside = roots[(roots >= x.min()) & (roots <= x.max())]
    return float(inside[np.argmin(np.abs(inside - centre))]) if inside.size else float("nan")


def chi1_crossing(frame: pd.DataFrame, skip_first: int, skip_last: int) -> dict:
    """The measured critical sigma_w2: where chi_1 crosses 1 over a few cells of sigma_w2.

    Per cell, chi_1 is :func:`gradient_growth` (mean grad_sq^l / grad_sq^(l+1) over layers
    [skip_first, L - skip_last)) averaged over seeds; the crossing is :func:`unit_crossing` of
    log chi_1 over the cells (Schoenholz et al. 2017, eq. 9 and Fig. 1: chi_1 = 1 at the
    order-chaos transition). Both get leave-one-seed-out :func:`jackknife` standard errors.

    Args:
      frame: per-layer rows with columns ``sigma_w2``, ``seed``, ``layer`` (0..L) and
        ``grad_sq`` (``initjax.measure.propagate(..., metrics=("grad_sq",))``), every cell with
        the same seeds and layers.
      skip_first, skip_last: as in :func:`gradient_growth`.

    Returns:
      dict with ``value`` and ``se`` (the crossing and its SE; NaN when not estimable),
      ``cells`` (sorted sigma_w2, float64), ``chi1`` (per cell, (mean, jackknife SE)), ``seeds``
      and ``why``: "" when value and SE are finite, else why they are not (also for a frame
      without rows or without ``grad_sq``: no cells, 0 seeds).
    """
    if frame.empty or "grad_sq" not in frame:
        nan = float("nan")
        why = "no cells with grad_sq"
        return dict(value=nan, se=nan, cells=np.array([]), chi1=[], seeds=0, why=why)
    g = frame.pivot_table(index=["sigma_w2", "seed"], columns="layer", values="grad_sq")
    cells = np.array(sorted(g.index.get_level_values(0).unique()), np.float64)
    arr = g.to_numpy(np.float64).reshape(len(cells), -1, g.shape[1])  # (cells, seeds, L + 1)
    r = gradient_growth(arr, skip_first, skip_last).T  # (seeds, cells)
    value, se = jackknife(lambda rr: unit_crossing(cells, np.log(rr.mean(axis=0))), r)
    chi1 = [jackknife(lambda rr, h=h: rr[:, h].mean(), r) for h in range(len(cells))]
    why = ""
    if not np.isfinite(value):
        why = (
            f"chi_1 does not cross 1 between sigma_w2 = {cells.min():g} and {cells.max():g} "
            f"(layers {skip_first}..L-{skip_last})"
        )
    elif not np.isfinite(se):
        why = (
            f"the jackknife over {r.shape[0]} seeds moves the crossing out of the cells for "
            "some left-out seed"
        )
    return dict(value=value, se=se, cells=cells, chi1=chi1, seeds=r.shape[0], why=why)


def depth_scale_fits(frame: pd.DataFrame, activation: str = "tanh") -> pd.DataFrame:
    """Per sigma_w2: the correlation depth scale xi_c fitted to |c^l - c*| and its theory.

    The seed mean of c^l (non-finite values left out) minus the mean-field c* is fitted by
    :func:`fit_depth_scale` (floor: 3 SE of that mean); the theory's c^l curve (``c_theory``,
    e.g. from ``initjax.theory.compare``) is fitted over the same layers, since near the critical
    point a finite window also sees the transient; the asymptotic theory is xi_c = -1 / log chi_c
    (Schoenholz et al. 2017, eq. 8; ``initjax.theory.analyse``).

    Args:
      frame: propagation rows of one width and one sigma_b2: columns ``sigma_w2``, ``sigma_b2``,
        ``seed``, ``layer``, ``c`` and ``c_theory``.
      activation: the networks' activation (for the theory).

    Returns:
      One row per sigma_w2 (ascending): ``sigma_w2``, ``chi_1``, ``c*``, ``xi_c theory``,
      ``xi_c theory, same layers``, ``xi_c measured`` (layers; inf: no decay resolved) and
      ``layers`` ("first+count" of the fitted window). Empty for an empty frame.
    """
    from initjax import theory

    if frame.empty:
        return pd.DataFrame()
    sw_all = sorted(frame["sigma_w2"].unique())
    sb2 = float(frame["sigma_b2"].iloc[0])
    mf = theory.analyse(activation, np.asarray(sw_all, np.float32), sb2)
    rows = []
    for i, sw in enumerate(sw_all):
        cell = frame[frame["sigma_w2"] == sw]
        v = cell["c"].astype(float)
        g = cell.assign(_v=v.where(np.isfinite(v))).groupby("layer", sort=True)["_v"]
        mean, se = g.mean(), g.std() / np.sqrt(g.count().clip(lower=1))
        c_star, layers = float(mf.c_star[i]), mean.index.to_numpy()
        xi, n, win = fit_depth_scale(mean.to_numpy() - c_star, se.to_numpy(), layers=layers)
        c_th = cell.groupby("layer")["c_theory"].mean().to_numpy()
        xi_w = fit_depth_scale(c_th - c_star, layers=layers, window=win)[0]
        rows.append({"sigma_w2": sw, "chi_1": float(mf.chi_1[i]), "c*": c_star,
                     "xi_c theory": float(mf.xi_c[i]), "xi_c theory, same layers": xi_w,
                     "xi_c measured": xi, "layers": f"{layers[win[0]]}+{n}"})  # fmt: skip
    return pd.DataFrame(rows)
