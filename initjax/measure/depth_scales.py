"""Correlation depth scales xi_c measured per cell of a propagation table, with their SE.

Schoenholz et al. 2017 (arXiv:1611.01232), eq. 8 and Sec. 4: c^l approaches its fixed point c*
as |c^l - c*| ~ exp(-l / xi_c), xi_c = -1 / log chi_c; with dropout (keep probability rho < 1)
c* < 1 and xi_c stays finite at every sigma_w2. Per cell, :func:`xi_c_cells` fits xi_c to the
seed mean of c^l - c* (:func:`initjax.measure.fits.fit_depth_scale_seeds`: jackknife SE over
seeds), fits the mean-field c^l (iterated from each seed's own layer 0,
``initjax.theory.compare``) over the same layers, and measures the end-point deviation
c^L - c^L_theory at two widths with its 1/N extrapolation
(:func:`initjax.measure.fits.finite_width`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from initjax.measure.fits import finite_width, fit_depth_scale, fit_depth_scale_seeds, mean_se

__all__ = ["xi_c_cells"]


def xi_c_cells(
    table: pd.DataFrame,
    *,
    activation: str,
    sigma_b2: float,
    widths: tuple[int, int],
    n_sigma: float,
    tail: int,
) -> pd.DataFrame:
    """Per (keep_prob, sigma_w2): xi_c measured (+- jackknife SE) vs theory, and c^L - theory.

    Each cell may hold several input batches (column ``c0``, the inputs' cosine); the batch
    whose seed-mean c^0 is farthest from c* is fitted (the longest decay).

    Args:
      table: propagation rows with columns ``keep_prob``, ``width``, ``c0``, ``sigma_w2``,
        ``seed``, ``layer``, ``q``, ``c``, ``diverged`` (one sigma_b2 for all).
      activation: the networks' activation.
      sigma_b2: the bias variance.
      widths: (n1, n2): xi_c is fitted at n1; c^L - c^L_theory at both (NaN terms without n2).
      n_sigma: the fit's noise floor in SE of the seed mean.
      tail: the end-point deviation is the mean over the last ``tail`` layers, per seed.

    Returns:
      One row per cell: ``keep_prob``, ``sigma_w2``, ``c0``, ``c_star``, ``c_end`` (mean c over
      the tail at n1) and ``c_end_se``, ``chi_c``, ``xi_c_theory`` (asymptotic),
      ``xi_c_theory_window`` (theory curve fitted over the measured window),
      ``xi_c_measured``, ``xi_c_se``, ``z_xi`` = (measured - window theory) / SE, ``window``
      ("first-last" layer), ``dc_inf`` and ``dc_inf_se`` (1/N extrapolation of c^L - theory),
      ``dc_n1``, ``dc_n2`` and ``diverged`` (rows of the cell flagged diverged).
    """
    from initjax import theory

    (n1, n2), sb2 = (int(w) for w in widths), float(sigma_b2)
    rows = []
    for rho, tr in table.groupby("keep_prob", sort=False):
        tr = theory.compare(tr, activation, keep_prob=float(rho), by=("width", "c0"))
        sws = np.sort(tr["sigma_w2"].unique())
        mf = theory.analyse(activation, sws, sb2, keep_prob=float(rho))
        for i, sw in enumerate(sws):
            c_star = float(mf.c_star[i])
            cell = tr[tr["sigma_w2"] == sw]

            def curves(w, c0, col, cell=cell):
                sel = cell[(cell["width"] == w) & (cell["c0"] == c0)]
                return sel.pivot(index="seed", columns="layer", values=col)

            first = {c0: curves(n1, c0, "c")[0].mean() for c0 in cell["c0"].unique()}
            c0 = max(first, key=lambda k: abs(first[k] - c_star))  # one batch per cell
            c_meas = curves(n1, c0, "c")
            layers = c_meas.columns.to_numpy()
            xi, se, _, win = fit_depth_scale_seeds(c_meas.to_numpy() - c_star, layers=layers,
                                                   n_sigma=float(n_sigma))  # fmt: skip
            c_th = curves(n1, c0, "c_theory").mean().to_numpy()
            xi_th = fit_depth_scale(c_th - c_star, layers=layers, window=win)[0]
            ends = {}
            for w in (n1, n2):  # c^L - theory, mean of the last `tail` layers, per seed
                d = curves(w, c0, "c") - curves(w, c0, "c_theory")
                ends[w] = mean_se(d.iloc[:, -int(tail) :].mean(axis=1))
            fw = finite_width(*ends[n1], n1, *ends[n2], n2)  # NaN without the second width
            end = mean_se(c_meas.iloc[:, -int(tail) :].mean(axis=1))
            rows.append(dict(
                keep_prob=float(rho), sigma_w2=float(sw), c0=float(c0), c_star=c_star,
                c_end=end[0], c_end_se=end[1], chi_c=float(mf.chi_c[i]),
                xi_c_theory=float(mf.xi_c[i]), xi_c_theory_window=float(xi_th),
                xi_c_measured=float(xi), xi_c_se=se, z_xi=(xi - xi_th) / se if se > 0 else np.nan,
                window=f"{layers[win[0]]}-{layers[win[0]] + max(win[1] - 1, 0)}",
                dc_inf=fw["m_inf"], dc_inf_se=fw["se_inf"], dc_n1=ends[n1][0],
                dc_n2=ends[n2][0], diverged=int(cell["diverged"].sum()),
            ))  # fmt: skip
    return pd.DataFrame(rows)
