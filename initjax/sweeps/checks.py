"""Check builders shared by experiments' verdicts: the seed count behind a verdict, whether one
predictor of a binary outcome beats a rival on the same cells (exact McNemar test), whether one
init trains worse than another paired by seed (exact sign test), and an infinite-width claim
judged from one quantity measured at two widths.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from initjax.sweeps.stats import deviation, finite_width, sign_check, sign_test
from initjax.sweeps.summary import Check

__all__ = ["agreement_gain", "finite_width_checks", "paired_worse_check", "seeds_check"]


def seeds_check(counts: Iterable[int], minimum: int, *, what: str = "arm") -> Check:
    """Check "seeds per <what> (min)": the smallest of ``counts`` (distinct seeds of each arm or
    cell) is at least ``minimum``; no counts at all give 0 (a failed check).

    Args:
      counts: seeds per group (e.g. ``frame.groupby(keys)["seed"].nunique()``).
      minimum: the pre-registered least number of seeds (e.g. 4 for a binary outcome's test).
      what: the group's name in the check's name ("arm", "cell").
    """
    values = [int(v) for v in counts]
    n = min(values) if values else 0
    return Check(
        f"seeds per {what} (min)", n, minimum, tolerance=f">= {minimum}", passed=n >= minimum
    )


def agreement_gain(
    name: str,
    right: np.ndarray,
    rival: np.ndarray,
    *,
    margin: float,
    alpha: float,
    tested: bool = True,
    labels: tuple[str, str] = ("theory", "rival"),
) -> Check:
    """Check "a predictor agrees with the measured outcome on a larger share of cells than a
    rival, by >= ``margin``, with an exact one-sided McNemar p <= ``alpha``".

    McNemar (1947) on the discordant cells: b = cells where only the predictor is right, c =
    cells where only the rival is; p = P(X >= b), X ~ Binomial(b + c, 1/2) (1 without
    discordant cells). ``tested=False`` prints p without judging it (e.g. a rival chosen on the
    same cells, whose p would be biased).

    Args:
      name: the check's name.
      right, rival: ``(cells,)`` booleans, per judged cell whether the predictor / the rival
        agrees with the measurement.
      labels: the two predictors' names in the note.

    Returns:
      a Check with ``measured`` = share(right) - share(rival), passed when that gain is >=
      ``margin`` (and p <= ``alpha`` when ``tested``); the note gives the rival's share, b, c, p.

    Raises:
      ValueError: ``right`` and ``rival`` differ in shape or are empty.
    """
    right, rival = np.asarray(right, bool), np.asarray(rival, bool)
    if right.shape != rival.shape or right.size == 0:
        raise ValueError(
            f"right and rival must be non-empty, same shape: {right.shape}, {rival.shape}"
        )
    gain = float(right.mean() - rival.mean())
    b, c = int(np.sum(right & ~rival)), int(np.sum(~right & rival))
    p = sign_test(b, b + c) if b + c else 1.0
    rule = f">= {margin:g}" + (f" and McNemar p <= {alpha:g}" if tested else "")
    note = (
        f"{labels[1]} agrees on {rival.mean():.0%}; discordant cells: {labels[0]} right {b}, "
        f"{labels[1]} right {c}; exact one-sided McNemar p = {p:.3g}"
    )
    ok = gain >= margin and (p <= alpha or not tested)
    return Check(name, gain, None, tolerance=rule, passed=bool(ok), note=note)


def finite_width_checks(
    small: tuple[float, float, int],
    big: tuple[float, float, int],
    expected: float,
    *,
    z_max: float,
) -> tuple[list[Check], dict[str, float]]:
    """The width -> infinity value of m(N) = m_inf + b / N through two widths against theory.

    Args:
      small, big: ``(value, SE, width)`` of the quantity at the narrower and the wider width
        (independent measurements; :func:`initjax.sweeps.stats.finite_width` fits them).
      expected: the infinite-width theory value.
      z_max: |m_inf - expected| <= z_max SE_inf passes.

    Returns:
      ``(checks, fit)``: the judged Check "width -> infinity (1/N fit, widths n1, n2)"
      (:func:`~initjax.sweeps.stats.deviation`) and the reported Check "finite-width term b/N at
      width n2" (expected 0, SE se_b / n2, the term at n1 in the note); ``fit`` is the dict of
      :func:`~initjax.sweeps.stats.finite_width`.

    Raises:
      ValueError: equal widths.
    """
    (m1, se1, n1), (m2, se2, n2) = small, big
    fit = finite_width(m1, se1, n1, m2, se2, n2)
    name = f"width -> infinity (1/N fit, widths {n1}, {n2})"
    checks = [
        deviation(name, fit["m_inf"], expected, fit["se_inf"], z_max),
        Check(
            f"finite-width term b/N at width {n2}",
            fit["term2"],
            0.0,
            se=fit["se_b"] / n2,
            passed=None,
            note=f"at width {n1}: {fit['term1']:.4f}",
        ),
    ]
    return checks, fit


def paired_worse_check(
    name: str,
    ref: pd.DataFrame,
    other: pd.DataFrame,
    *,
    margin: float,
    alpha: float,
    labels: tuple[str, str] = ("ref", "other"),
) -> Check:
    """Check "paired by seed, ``other`` ends worse than ``ref``" (exact one-sided sign test).

    A seed present in both counts as worse when ``other``'s final ``train_loss`` is >= ``ref``'s +
    ``margin`` (nats) or ``other`` diverged, and ``ref`` did not diverge; passes when k worse of
    n paired seeds give P(X >= k) <= ``alpha``, X ~ Binomial(n, 1/2)
    (:func:`~initjax.sweeps.stats.sign_check`).

    Args:
      ref, other: one final row per seed, columns ``seed``, ``train_loss``, ``diverged``.
      labels: the two arms' names in the note.

    Returns:
      the Check (measured "k of n"); the note gives both mean final losses (``other``'s over
      its finite seeds; nan when all diverged), its diverged seeds and p.
    """
    r, o = ref.set_index("seed"), other.set_index("seed")
    seeds = r.index.intersection(o.index)
    r, o = r.loc[seeds], o.loc[seeds]
    diverged = o["diverged"].astype(bool)
    worse = (diverged | (o["train_loss"] >= r["train_loss"] + margin)) & ~r["diverged"].astype(bool)
    finite = o.loc[~diverged, "train_loss"].mean()
    return sign_check(
        name,
        int(worse.sum()),
        len(seeds),
        alpha=alpha,
        tolerance=f"loss +{margin:g} nats or diverged; sign p <= {alpha:g}",
        note=f"final train loss {labels[0]} {r['train_loss'].mean():.3g}, {labels[1]} "
        f"{finite:.3g} ({int(o['diverged'].sum())} diverged)",
    )
