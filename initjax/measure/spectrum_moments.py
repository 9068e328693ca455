"""First two moments of measured Jacobian spectra, per network and over networks.

Free probability (Pennington, Schoenholz & Ganguli 2017, eqs. 12-14;
``initjax.theory.jacobian_spectrum_moments``) predicts the mean and variance of the squared
singular values lambda of J in the N -> infinity limit, where the random overall gain of a
finite network (which multiplies every lambda alike) is 1. The normalized variance
Var[lambda] / mean[lambda]^2 of each network's own spectrum removes that gain; the spread of
this per-network number over independent networks gives the standard error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

__all__ = ["network_moments", "spectrum_moments", "spectrum_rows"]


def spectrum_rows(result) -> pd.DataFrame:
    """Each network's squared Jacobian singular values lambda as long rows.

    Args:
      result: an :class:`initjax.measure.PropagationResult` of one cell measured with the
        metrics ``q`` and ``jac_sv`` (``arrays["jac_sv"]`` (seeds, K), ``arrays["q"]`` (seeds,
        layers), ``diverged`` (seeds,)).

    Returns:
      One row per (network, singular value), networks in seed order: ``seed``, ``index`` (0..K-1),
      ``lam`` = jac_sv^2 (float64), ``q_last`` (the network's q at its last layer) and
      ``diverged`` (its flag): the rows :func:`spectrum_moments` reads.
    """
    lam = np.asarray(result.arrays["jac_sv"], np.float64) ** 2
    s, k = lam.shape
    q_last = np.asarray(result.arrays["q"], np.float64)[:, -1]
    return pd.DataFrame(
        dict(
            seed=np.repeat(np.arange(s), k),
            index=np.tile(np.arange(k), s),
            lam=lam.reshape(-1),
            q_last=np.repeat(q_last, k),
            diverged=np.repeat(np.asarray(result.diverged), k),
        )
    )


def network_moments(
    frame: pd.DataFrame, by: Sequence[str], *, value: str = "lam", seed: str = "seed"
) -> pd.DataFrame:
    """Moments of each network's spectrum.

    Args:
      frame: one row per eigenvalue: the columns ``by``..., ``seed`` (one network per level of
        (by..., seed)) and ``value`` (a squared singular value lambda).
      by: grouping columns (e.g. ``("arm", "width", "depth")``).
      value, seed: column names.

    Returns:
      Indexed by (by..., seed), in order of appearance: ``mean``, ``var`` (sample variance,
      ddof 1), ``max`` of lambda, and ``normalized_var`` = var / mean^2.

    Raises:
      KeyError: a named column is missing.
    """
    missing = [c for c in (*by, seed, value) if c not in frame.columns]
    if missing:
        raise KeyError(f"network_moments: columns {missing} not in the table")
    g = frame.groupby([*by, seed], sort=False)[value]
    net = g.agg(mean="mean", var="var", max="max")
    net["normalized_var"] = net["var"] / net["mean"] ** 2
    return net


def spectrum_moments(
    frame: pd.DataFrame,
    by: Sequence[str],
    *,
    value: str = "lam",
    seed: str = "seed",
    per_network: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Per level of ``by``: the normalized Var[lambda] averaged over networks, with its SE.

    Args:
      frame, by, value, seed: as in :func:`network_moments`.
      per_network: column -> pandas aggregation ("mean", "sum", "first", ...) for columns that
        hold one value per network (repeated on its rows, e.g. the network's last-layer q or a
        diverged flag): each network's first value, aggregated over the level's networks.

    Returns:
      One row per level (order of appearance): ``by``..., ``var`` (mean normalized variance),
      ``raw_var`` (mean variance without the gain normalization), ``mean`` (mean of the
      networks' mean lambda), ``lam_max`` (largest lambda of any network), ``networks``,
      ``var_se`` = sd(normalized variances, ddof 1) / sqrt(networks) (NaN for one network), and
      the ``per_network`` columns.

    Raises:
      KeyError: a named column is missing.
    """
    net = network_moments(frame, by, value=value, seed=seed)
    g = net.groupby(level=list(by), sort=False)
    out = g.agg(var=("normalized_var", "mean"), raw_var=("var", "mean"), mean=("mean", "mean"),
                lam_max=("max", "max"), networks=("normalized_var", "size"))  # fmt: skip
    out["var_se"] = g["normalized_var"].std(ddof=1) / np.sqrt(out["networks"])
    if per_network:
        missing = [c for c in per_network if c not in frame.columns]
        if missing:
            raise KeyError(f"spectrum_moments: columns {missing} not in the table")
        first = frame.groupby([*by, seed], sort=False)[list(per_network)].first()
        out = out.join(first.groupby(level=list(by), sort=False).agg(dict(per_network)))
    return out.reset_index()
