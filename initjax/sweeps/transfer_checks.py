"""Learning-rate transfer judged as verdict Checks (Yang et al. 2022, Tensor Programs V, Fig. 1).

:func:`initjax.measure.transfer.transfer_verdict` decides, per parametrization, whether the
slope of log2 lr* against log2 size (mean over seeds, Student-t interval) "stays" inside
+-stay_bound or "shifts" beyond +-shift_min. :func:`transfer_checks` turns its rows into the
Checks a verdict lists, with the slope in SE units, plus a secondary drift Check for every
"stays" arm: the slope within ``stay_z_max`` SE of 0, so a finite-size drift that the
equivalence margin hides is still reported.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from initjax.sweeps.summary import Check

__all__ = ["transfer_checks"]


def transfer_checks(
    verdict_rows: pd.DataFrame,
    *,
    over: str,
    level: float,
    stay_bound: float,
    shift_min: float,
    stay_z_max: float,
) -> tuple[list[Check], list[Check], list[str]]:
    """Checks of :func:`initjax.measure.transfer.transfer_verdict`'s rows.

    Args:
      verdict_rows: the frame ``transfer_verdict`` returns (columns ``parametrization``,
        ``expect``, ``passed`` and, when the arm was measured, ``slope``, ``se``, ``ci_lo``,
        ``ci_hi``, ``note``).
      over: the size swept ("width" or "depth"), used in the names.
      level: the interval's confidence level (e.g. 0.95), for the tolerance text.
      stay_bound, shift_min: the margins ``transfer_verdict`` used.
      stay_z_max: a "stays" slope must also be within this many SE of 0 (drift check).

    Returns:
      (checks, drift, parts): one Check per row (passed as ``transfer_verdict`` decided; z =
      slope / SE; expected 0 for "stays", None for "shifts"), one drift Check per "stays" row,
      and one reason fragment per row ("mup +0.05 +- 0.02 per doubling of width").
    """
    checks, drift, parts = [], [], []
    for _, r in verdict_rows.iterrows():
        se, slope, stays = r.get("se", np.nan), r.get("slope", np.nan), r["expect"] == "stays"
        bound = stay_bound if stays else shift_min
        tol = f"{level:.0%} interval {'inside' if stays else 'beyond'} +-{bound:g}"
        lo, hi = r.get("ci_lo", np.nan), r.get("ci_hi", np.nan)
        note = (
            f"interval [{lo:.2f}, {hi:.2f}]; " + ("contains 0" if lo <= 0 <= hi else "excludes 0")
            if np.isfinite(lo)
            else "no interval (< 2 seeds)"
        )
        note += f"; {r['note']}" if r.get("note") else ""
        name = f"slope of log2 lr* vs log2 {over}, {r['parametrization']}"
        z = slope / se if np.isfinite(se) and se > 0 else np.nan
        se_or_none = float(se) if np.isfinite(se) else None
        z_or_none = float(z) if np.isfinite(z) else None
        checks.append(
            Check(f"{name} ({r['expect']})", float(slope), 0.0 if stays else None,
                  se=se_or_none, z=z_or_none, tolerance=tol, passed=bool(r["passed"]), note=note)
        )  # fmt: skip
        parts.append(f"{r['parametrization']} {slope:+.2f} +- {se:.2f} per doubling of {over}")
        if stays:
            resolved = abs(z) > stay_z_max
            drift.append(
                Check(f"{name}: zero within SE", float(slope), 0.0, se=se_or_none, z=z_or_none,
                      tolerance=f"|z| <= {stay_z_max:g}", passed=bool(abs(z) <= stay_z_max),
                      note="a resolved finite-size drift: PARTIAL" if resolved else "")
            )  # fmt: skip
    return checks, drift, parts
