"""Statistics for verdicts: deviations in standard errors, one-sided tests, finite-width terms.

Every verdict of the suite compares a measurement with an expected value in units of the
measurement's standard error over seeds (independent networks), with the tolerance fixed in the
experiment's config before the run. These helpers compute the numbers those criteria need.

- :func:`mean_se` (from :mod:`initjax.measure.fits`): mean and standard error of the mean.
- :func:`jackknife` (from :mod:`initjax.measure.fits`): standard error of any statistic of seeds
  (leave-one-out; Efron & Tibshirani 1993, ch. 11), for estimators that are not plain means.
- :func:`loglog_slopes`: per seed, the least-squares slope of log y on log x (a power law);
  :func:`per_doubling_check`: the Check "growth per doubling below / above a limit" of such slopes.
- :func:`deviation`: a :class:`~initjax.sweeps.summary.Check` "|measured - expected| <= z_max SE".
- :func:`welch_one_sided`: Welch's t test that mean(a) > mean(b) (Welch 1947), p from Student's t;
  :func:`welch_gain`: the Check "mean(a) - mean(b) >= min_gain with one-sided Welch p <= alpha".
- :func:`variance_ratio_one_sided`: F test that var(a) > var(b) (normal samples);
  :func:`variance_ratio_check`: the Check "var(a) > var(b), F test p < alpha".
- :func:`sign_test`: exact one-sided binomial test of k successes in n trials; :func:`sign_check`:
  the Check "k of n paired seeds went the claimed way, sign test p <= alpha".
- :func:`excuse_negligible`: a failed deviation too small to matter is reported, not judged.
- :func:`finite_width` (from :mod:`initjax.measure.fits`): the 1/N term from one quantity
  measured at two widths:
  m(N) = m_inf + b / N, so m_inf and b follow from m(N1), m(N2) with propagated standard errors.
- :func:`finite_width_fit`: :func:`finite_width` per group of a table of (group, width, mean, SE).
- :func:`layer_deviation`: per-layer deviations of a measured column from its theory column in
  SE units over seeds, summarized per cell; :func:`flag_counts`: the float32 flags per arm
  (:func:`flag_checks`: the same as reported Checks).
- :func:`growth_per_layer`: geometric-mean growth of a per-layer signal before any underflow.
- :func:`seed_means`: per group, seed means of columns, the SE of one, diverged seeds, seeds.
- :func:`paired_reduction`: the Check "paired over seeds, before - after >= z_min SE";
  :func:`welch_not_worse`: the Check "mean(ref) - mean(other) < max_gap and < z_min SE".
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from initjax.measure.fits import finite_width, jackknife, mean_se
from initjax.sweeps.summary import Check

__all__ = [
    "deviation",
    "excuse_negligible",
    "finite_width",
    "finite_width_fit",
    "flag_checks",
    "flag_counts",
    "growth_per_layer",
    "layer_deviation",
    "jackknife",
    "loglog_slopes",
    "mean_se",
    "paired_reduction",
    "per_doubling_check",
    "seed_means",
    "sign_check",
    "sign_test",
    "student_t_sf",
    "variance_ratio_check",
    "variance_ratio_one_sided",
    "welch_gain",
    "welch_not_worse",
    "welch_one_sided",
]


def loglog_slopes(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per row (seed): least-squares slope of log y on log x over the columns where both are
    finite and > 0 (NaN for a row with fewer than 2 such columns).

    Args:
      x, y: arrays ``(seeds, points)``.

    Returns:
      float64 ``(seeds,)``.
    """
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if x.shape != y.shape or x.ndim != 2:
        raise ValueError(f"x and y must be 2-D of the same shape, got {x.shape} and {y.shape}")
    out = np.full(x.shape[0], np.nan)
    for i, (a, b) in enumerate(zip(x, y, strict=True)):
        ok = np.isfinite(a) & np.isfinite(b) & (a > 0) & (b > 0)
        if ok.sum() >= 2 and np.ptp(np.log(a[ok])) > 0:
            out[i] = np.polyfit(np.log(a[ok]), np.log(b[ok]), 1)[0]
    return out


def per_doubling_check(
    name: str, slopes: Sequence[float], limit: float, z_max: float, *, upper: bool
) -> Check:
    """A growth factor per doubling, judged by a one-sided bound over seeds.

    ``slopes`` are per-seed slopes of log2 y on log2 x (y ~ x^slope grows by 2**slope per
    doubling of x, e.g. a learning time against depth). With m, SE the mean and standard error
    of the finite slopes, the bound m + z_max SE (``upper``: y grows by less than ``limit`` per
    doubling) or m - z_max SE (lower: by more than ``limit``) is compared with log2(limit).
    ``measured`` is 2**m, ``expected`` ``limit``, the note the bound as a factor; a non-finite
    bound (fewer than 2 finite slopes) fails.
    """
    m, se = mean_se(slopes)
    bound = m + (z_max if upper else -z_max) * se
    ok = bound <= np.log2(limit) if upper else bound >= np.log2(limit)
    side, rule = ("upper", "<=") if upper else ("lower", ">=")
    return Check(
        name,
        float(2**m),
        float(limit),
        se=se,
        tolerance=f"{side} {z_max:g}-SE bound {rule} {limit:g}",
        passed=bool(np.isfinite(bound) and ok),
        note=f"bound x{2**bound:.2f}",
    )


def deviation(
    name: str,
    measured: float,
    expected: float,
    se: float,
    z_max: float,
    *,
    note: str = "",
) -> Check:
    """``|measured - expected| <= z_max * se`` as a :class:`Check` (fails on a NaN or se <= 0)."""
    z = (measured - expected) / se if se > 0 else float("nan")
    ok = bool(np.isfinite(z) and abs(z) <= z_max)
    return Check(
        name=name,
        measured=float(measured),
        expected=float(expected),
        se=float(se),
        z=float(z),
        tolerance=f"|z| <= {z_max:g}",
        passed=ok,
        note=note,
    )


def student_t_sf(t: float, dof: float) -> float:
    """P(T > t) for Student's t with ``dof`` (> 0, may be fractional) degrees of freedom.

    Uses the regularized incomplete beta function: for t >= 0, P(T > t) = I_x(dof/2, 1/2) / 2
    with x = dof / (dof + t^2) (Abramowitz & Stegun 26.5.27); evaluated by
    ``jax.scipy.special.betainc`` in float32 (absolute error ~1e-7, enough for printed p-values).
    """
    from jax.scipy.special import betainc

    if not (dof > 0) or not np.isfinite(t):
        return float("nan") if not np.isfinite(t) or not dof > 0 else (0.0 if t > 0 else 1.0)
    x = dof / (dof + t * t)
    half = 0.5 * float(betainc(dof / 2.0, 0.5, x))
    return half if t >= 0 else 1.0 - half


def welch_one_sided(a: Sequence[float], b: Sequence[float]) -> tuple[float, float, float]:
    """Welch's t test of H1: mean(a) > mean(b). Returns (t, dof, one-sided p).

    Raises:
      ValueError: fewer than 2 finite values in a sample.
    """
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if a.size < 2 or b.size < 2:
        raise ValueError(f"welch_one_sided needs >= 2 values per sample, got {a.size} and {b.size}")
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    diff = a.mean() - b.mean()
    if va + vb == 0:
        return (
            (math.copysign(math.inf, diff) if diff else 0.0),
            float("nan"),
            (0.0 if diff > 0 else 1.0),
        )
    t = diff / math.sqrt(va + vb)
    dof = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))
    return float(t), float(dof), student_t_sf(float(t), float(dof))


def welch_gain(
    name: str,
    a: pd.Series,
    b: pd.Series,
    *,
    min_gain: float,
    alpha: float,
    labels: tuple[str, str] = ("a", "b"),
) -> Check:
    """Check "mean(a) - mean(b) >= min_gain and one-sided Welch p <= alpha" (H1: mean(a) > mean(b)).

    ``se`` is sqrt(SE_a^2 + SE_b^2) (None with < 2 values in a sample); t and p are NaN (and the
    check fails) when :func:`welch_one_sided` refuses the samples. ``labels`` name a and b in the
    note.
    """
    gain = float(a.mean() - b.mean()) if len(a) and len(b) else float("nan")
    try:
        t, _, p = welch_one_sided(a, b)
    except ValueError:
        t, p = float("nan"), float("nan")
    ok = bool(np.isfinite(gain) and gain >= min_gain and p <= alpha)
    se = float(np.hypot(a.sem(), b.sem())) if len(a) > 1 and len(b) > 1 else None
    return Check(
        name,
        gain,
        se=se,
        tolerance=f">= {min_gain:g} and Welch p <= {alpha:g}",
        passed=ok,
        note=f"{labels[0]} {a.mean():.3f}, {labels[1]} {b.mean():.3f}, t {t:.2f}, p {p:.2g}",
    )


def variance_ratio_one_sided(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """F test of H1: var(a) > var(b) for independent normal samples. Returns (F, one-sided p).

    F = s_a^2 / s_b^2 with (n_a - 1, n_b - 1) degrees of freedom; P(F' > F) =
    I_x(d2 / 2, d1 / 2) with x = d2 / (d2 + d1 F) (Abramowitz & Stegun 26.6.2), evaluated by
    ``jax.scipy.special.betainc`` in float32 (absolute error ~1e-7).

    Raises:
      ValueError: fewer than 2 finite values in a sample.
    """
    from jax.scipy.special import betainc

    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if a.size < 2 or b.size < 2:
        raise ValueError(
            f"variance_ratio_one_sided needs >= 2 values per sample, got {a.size} and {b.size}"
        )
    va, vb = a.var(ddof=1), b.var(ddof=1)
    if vb == 0:
        return (math.inf, 0.0) if va > 0 else (float("nan"), 1.0)
    f = float(va / vb)
    d1, d2 = a.size - 1, b.size - 1
    return f, float(betainc(d2 / 2.0, d1 / 2.0, d2 / (d2 + d1 * f)))


def variance_ratio_check(
    name: str, a: Sequence[float], b: Sequence[float], *, alpha: float
) -> Check:
    """Check "var(a) > var(b)" by the one-sided F test (:func:`variance_ratio_one_sided`).

    ``measured`` and ``expected`` are the sample standard deviations (ddof 1) of the finite
    values of ``a`` and ``b``; passed when p < ``alpha``; the note gives F and p. Fails when the
    test refuses the samples (fewer than 2 finite values in one: F and p NaN).
    """
    fa, fb = (np.asarray(v, np.float64) for v in (a, b))
    fa, fb = fa[np.isfinite(fa)], fb[np.isfinite(fb)]
    try:
        f, p = variance_ratio_one_sided(fa, fb)
    except ValueError:
        f, p = float("nan"), float("nan")
    sd_a, sd_b = (float(np.std(v, ddof=1)) if v.size > 1 else float("nan") for v in (fa, fb))
    return Check(
        name,
        sd_a,
        sd_b,
        tolerance=f"F test p < {alpha:g}",
        passed=bool(p < alpha),
        note=f"F = {f:.3g}, p = {p:.2g}",
    )


def sign_test(successes: int, n: int, p: float = 0.5) -> float:
    """Exact one-sided binomial p-value P(X >= successes), X ~ Binomial(n, p).

    Raises:
      ValueError: successes outside 0..n, n < 1, or p outside (0, 1).
    """
    if n < 1 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n and n >= 1, got {successes} of {n}")
    if not 0 < p < 1:
        raise ValueError(f"p must lie in (0, 1), got {p}")
    return float(sum(math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(successes, n + 1)))


def sign_check(
    name: str, k: int, n: int, *, alpha: float, tolerance: str = "", note: str = ""
) -> Check:
    """The exact one-sided sign test of ``k`` successes in ``n`` paired seeds as a Check:
    measured ``"k of n"``, passed when p = P(X >= k), X ~ Binomial(n, 1/2), is <= ``alpha``
    (``n = 0``: p is NaN and the check fails); "p = ..." is appended to ``note``."""
    p = sign_test(k, n) if n else float("nan")
    return Check(
        name,
        f"{k} of {n}",
        tolerance=tolerance or f"sign test p <= {alpha:g}",
        passed=bool(n and p <= alpha),
        note=f"{note}; p = {p:.2g}" if note else f"p = {p:.2g}",
    )


def excuse_negligible(check: Check, size: float, limit: float, note: str) -> bool:
    """Turn a failed check whose ``|size|`` is below ``limit`` into a reported one.

    A deviation resolved in standard errors can still be too small to matter for the claim (a
    systematic far below the effect): then ``check.passed`` becomes None (shown, not judged) and
    ``note`` is appended to its note. Returns whether it did; the caller's verdict is then
    PARTIAL, never PASS (e.g. ``Verdict.from_checks(..., partial=True)``).
    """
    if check.passed is False and abs(size) < limit:
        check.passed, check.note = None, f"{check.note}; {note}" if check.note else note
        return True
    return False


def finite_width_fit(
    frame: pd.DataFrame,
    by: Sequence[str],
    *,
    value: str = "mean",
    se: str = "se",
    width: str = "width",
) -> pd.DataFrame:
    """:func:`finite_width` for every level of ``by`` in a table of per-width measurements.

    Args:
      frame: one row per (level of ``by``, width) with the measurement ``value`` and its
        standard error ``se``.
      by: the grouping columns (e.g. ``("arm", "depth")``).
      value, se, width: column names.

    Returns:
      One row per level with exactly two widths (other levels are left out): ``by``...,
      ``n1``, ``n2`` (n1 < n2), ``m1``, ``m2``, and ``m_inf``, ``se_inf``, ``b``, ``se_b``,
      ``term1``, ``term2`` of :func:`finite_width`.

    Raises:
      KeyError: a named column is missing.
    """
    missing = [c for c in (*by, value, se, width) if c not in frame.columns]
    if missing:
        raise KeyError(f"finite_width_fit: columns {missing} not in the table")
    rows = []
    for level, g in frame.groupby(list(by), sort=False):
        g = g.sort_values(width)
        if len(g) != 2 or g[width].nunique() != 2:
            continue
        a, b = g.iloc[0], g.iloc[1]
        n1, n2 = int(a[width]), int(b[width])
        fit = finite_width(float(a[value]), float(a[se]), n1, float(b[value]), float(b[se]), n2)
        level = level if isinstance(level, tuple) else (level,)
        rows.append(
            {**dict(zip(by, level, strict=True)), "n1": n1, "n2": n2,
             "m1": float(a[value]), "m2": float(b[value]), **fit}
        )  # fmt: skip
    cols = [*by, "n1", "n2", "m1", "m2", "m_inf", "se_inf", "b", "se_b", "term1", "term2"]
    return pd.DataFrame(rows, columns=cols)


def layer_deviation(
    frame: pd.DataFrame,
    metric: str,
    theory: str,
    by: Sequence[str] = ("sigma_w2",),
    *,
    min_se: float = 1e-6,
    z_max: float = 3.0,
) -> pd.DataFrame:
    """Per level of ``by``: how far ``metric`` is from ``theory`` per layer, in SE units.

    At each (level, layer) the seeds' differences metric - theory give z = mean / SE; layers
    whose SE is below ``min_se`` (e.g. c = 1 to float32 rounding) have no resolvable error and
    are left out. Columns: ``by``..., ``layers``, ``median |z|``, ``max |z|``, ``share |z| <=
    z_max``.
    """
    rows = []
    for level, cell in frame.groupby(list(by), sort=True):
        d = (cell[metric] - cell[theory]).groupby(cell["layer"])
        se = d.std(ddof=1) / np.sqrt(d.count())
        z = (d.mean() / se)[se > min_se].abs()
        level = level if isinstance(level, tuple) else (level,)
        rows.append(
            {
                **dict(zip(by, level, strict=True)),
                "layers": int(z.size),
                "median |z|": float(z.median()) if z.size else float("nan"),
                "max |z|": float(z.max()) if z.size else float("nan"),
                f"share |z| <= {z_max:g}": float((z <= z_max).mean()) if z.size else float("nan"),
            }
        )
    return pd.DataFrame(rows)


def flag_counts(frame: pd.DataFrame, by: Sequence[str] = ("arm", "width")) -> pd.DataFrame:
    """Per level of ``by``: rows with ``underflow`` / ``nonfinite`` set, diverged networks
    (distinct ``sigma_w2`` x ``seed`` with ``diverged``) and the first underflowed layer."""
    keys = list(by)
    cell = [c for c in ("sigma_w2", "sigma_b2", "seed") if c in frame.columns]
    out = frame.groupby(keys, sort=False).agg(
        underflow_rows=("underflow", "sum"), nonfinite_rows=("nonfinite", "sum")
    )
    div = frame[frame["diverged"].astype(bool)].drop_duplicates([*keys, *cell])
    out["diverged_networks"] = div.groupby(keys).size()
    out["first_underflow_layer"] = (
        frame[frame["underflow"].astype(bool)].groupby(keys)["layer"].min()
    )
    out["diverged_networks"] = out["diverged_networks"].fillna(0).astype(int)
    return out.reset_index()


def flag_checks(frame: pd.DataFrame, by: Sequence[str] = ("arm", "width")) -> list[Check]:
    """The float32 flags of :func:`flag_counts` as reported Checks (``passed`` None), one per
    level of ``by`` (arm and width) that has any underflowed or non-finite row or a diverged
    network; the note names the first underflowed layer (q^l below float32's smallest normal
    1.18e-38). Levels without a flag give no row."""
    out = []
    for r in flag_counts(frame, by).to_dict("records"):
        if r["underflow_rows"] or r["nonfinite_rows"] or r["diverged_networks"]:
            level = str(r[by[0]]) + "".join(f" ({k} {r[k]})" for k in by[1:])
            first = f"q < 1.18e-38 from layer {r['first_underflow_layer']:.0f}"
            measured = (
                f"{r['underflow_rows']} underflow rows, {r['nonfinite_rows']} non-finite, "
                f"{r['diverged_networks']} diverged networks"
            )
            note = first if r["underflow_rows"] else ""
            out.append(Check(f"float32 flags, {level}", measured, passed=None, note=note))
    return out


def seed_means(
    frame: pd.DataFrame,
    keys: Sequence[str],
    means: Sequence[str],
    *,
    se_of: str = "train_acc",
    se_name: str | None = None,
    sort: bool = True,
) -> pd.DataFrame:
    """Per group of ``keys`` (one row per seed, e.g. final training records): the mean of each
    column in ``means``, the standard error over rows of ``se_of`` (column ``se_name``, default
    ``<se_of>_se``; sample sd / sqrt(n)), ``diverged`` (sum of the flag; 0 without the column)
    and ``seeds`` (distinct ``seed``). Keys are columns of the result; ``sort`` as in groupby.
    """
    g = frame.groupby(list(keys), sort=sort)
    out = g[list(means)].mean()
    out[se_name or f"{se_of}_se"] = g[se_of].std(ddof=1) / np.sqrt(g[se_of].count())
    out["diverged"] = g["diverged"].sum().astype(int) if "diverged" in frame else 0
    out["seeds"] = g["seed"].nunique()
    return out.reset_index()


def growth_per_layer(
    frame: pd.DataFrame, metric: str = "q", theory: str = "q_theory"
) -> tuple[float, float, float, str]:
    """Geometric-mean growth per layer of ``metric`` over layers 1.. up to the last layer before
    the first ``underflow`` row: (measured, jackknife SE over seeds, the same ratio of the
    seed-mean ``theory`` column, layer range "1-L"). Measured: (mean over seeds of the metric at
    the last layer / mean at layer 1) ** (1 / (L - 1)). NaNs and "" when fewer than 2 layers.

    ``frame``: one propagation arm, columns seed, layer, underflow, ``metric``, ``theory``.
    """
    t = frame[frame["layer"] >= 1]
    under = t.loc[t["underflow"].astype(bool), "layer"]
    last = int(under.min()) - 1 if len(under) else int(t["layer"].max())
    kept = t[t["layer"] <= last]
    q = kept.pivot_table(index="seed", columns="layer", values=metric).to_numpy()
    n = q.shape[1] - 1
    if n < 1:
        return float("nan"), float("nan"), float("nan"), ""
    m, se = jackknife(lambda a: (a[:, -1].mean() / a[:, 0].mean()) ** (1 / n), q)
    th = kept.groupby("layer")[theory].mean().to_numpy()
    return m, se, (th[-1] / th[0]) ** (1 / n), f"1-{last}"


def paired_reduction(
    name: str, before: Sequence[float], after: Sequence[float], *, z_min: float, log: bool = False
) -> Check:
    """Check "paired over seeds, ``before`` exceeds ``after`` by >= z_min SE".

    The differences d_s = before_s - after_s (``log``: log before_s - log after_s, for positive
    quantities that vary over decades, e.g. a gradient quotient) are averaged over the seeds with
    finite d_s; ``se`` = sd(d) / sqrt(n), ``z`` = mean / se. Passes when n >= 2 and z >= z_min
    (all d_s equal and > 0: z = +inf). The note gives n, both means and the exact one-sided sign
    test p of "d_s > 0" (:func:`sign_test`).
    """
    b, a = np.asarray(before, np.float64), np.asarray(after, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.log(b) - np.log(a) if log else b - a
    d = d[np.isfinite(d)]
    m = float(np.mean(d)) if d.size else float("nan")
    se = float(np.std(d, ddof=1) / math.sqrt(d.size)) if d.size > 1 else None
    z = m / se if se else (math.inf if d.size > 1 and m > 0 else float("nan"))
    p = sign_test(int(np.sum(d > 0)), int(d.size)) if d.size else float("nan")
    return Check(
        name,
        m,
        0.0,
        se,
        z,
        tolerance=f"> 0 by >= {z_min:g} SE (paired seeds)",
        passed=bool(d.size > 1 and z >= z_min),
        note=f"{d.size} seeds; mean before {np.nanmean(b):.4g}, after {np.nanmean(a):.4g}; "
        f"sign test p {p:.2g}",
    )


def welch_not_worse(
    name: str,
    ref: pd.Series,
    other: pd.Series,
    *,
    max_gap: float,
    z_min: float,
    labels: tuple[str, str] = ("ref", "other"),
) -> Check:
    """Check "mean(ref) - mean(other) < max_gap and < z_min SE" (one-sided Welch t < z_min).

    ``measured`` is the gap mean(ref) - mean(other), ``se`` sqrt(SE_ref^2 + SE_other^2), ``z`` the
    Welch t. Fails when Welch's test refuses the samples (< 2 finite values in one).
    """
    gap = float(ref.mean() - other.mean()) if len(ref) and len(other) else float("nan")
    try:
        t, _, p = welch_one_sided(ref, other)
    except ValueError:
        t, p = float("nan"), float("nan")
    se = float(np.hypot(ref.sem(), other.sem())) if len(ref) > 1 and len(other) > 1 else None
    return Check(
        name,
        gap,
        0.0,
        se,
        t,
        tolerance=f"< {max_gap:g} and < {z_min:g} SE (one-sided Welch)",
        passed=bool(np.isfinite(t) and gap < max_gap and t < z_min),
        note=f"{labels[0]} {ref.mean():.3f}, {labels[1]} {other.mean():.3f}, p {p:.2g}",
    )
