"""The result of :func:`initjax.measure.propagate`: arrays plus tidy tables."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from initjax.measure import metrics as M

__all__ = ["PropagationResult"]


@dataclasses.dataclass
class PropagationResult:
    """Per-layer statistics of ``seeds`` networks (and H grid cells).

    Attributes:
      arrays: column -> array. Per-layer metric columns (q, c, grad_sq, act_std,
        act_saturation, unit_dist, act_rank, plugin metrics' columns) are ``(seeds, depth + 1)``
        float32, or ``(H, seeds, depth + 1)`` for a grid; layer 0 is the input projection's
        pre-activation, 1..depth the hidden layers'. Whole-network metrics such as ``jac_sv``
        are ``(seeds, n)`` or ``(H, seeds, n)`` (``jac_sv``: float64, singular values in
        descending order, with ``jac_sv_floor`` and ``jac_sv_rtol`` ``(seeds,)`` / ``(H,
        seeds)``: values below the floor are not resolved, those above have an estimated
        relative error rtol; :mod:`initjax.measure.jacobian`). Flags,
        bool (definitions in :mod:`initjax.measure.metrics`): ``underflow`` ``(seeds, depth +
        1)``: q^l, or one example's mean square q^l_aa, < np.finfo(np.float32).tiny = 1.18e-38
        (the signal left float32's normal range from below; an all-zero layer included), where
        ratios built from q (c^l) are undefined and recorded as NaN; ``nonfinite``
        ``(seeds, depth + 1)``: some metric value of the row (or z^l itself) is NaN or +-inf;
        ``diverged`` ``(seeds,)``: the network overflowed, i.e. some value is +-inf or NaN
        that underflow does not explain.
      diverged: ``arrays["diverged"]``: bool ``(seeds,)`` or ``(H, seeds)``. Vanishing signals
        are ``underflow``, not ``diverged``; exploding ones are values, not errors.
      sigma_w2: ``(H,)`` float32 grid values (length 1 without a grid) or None when the
        initializers were used as given.
      sigma_b2: ``(H,)`` float32.
      metrics: the requested metric names.
      meta: configuration and timing (depth, batch, inputs, c0, q0, path, root_seed, seeds,
        model, wall_time_s, traces: compilations triggered by this call).
    """

    arrays: dict[str, np.ndarray]
    diverged: np.ndarray
    sigma_w2: np.ndarray | None
    sigma_b2: np.ndarray
    metrics: tuple[str, ...]
    meta: dict[str, Any]

    @property
    def is_grid(self) -> bool:
        return bool(self.meta["is_grid"])

    @property
    def depth(self) -> int:
        return int(self.meta["depth"])

    @property
    def layers(self) -> np.ndarray:
        """Layer indices 0..depth."""
        return np.arange(self.depth + 1)

    @property
    def columns(self) -> list[str]:
        """Per-layer metric columns present, in table order (flags not included)."""
        return M.columns(self.metrics, per_layer=True)

    def _flag(self, name: str) -> np.ndarray:
        return np.asarray(self.arrays[name], bool)

    def underflow_from(self) -> np.ndarray:
        """First underflowed layer per seed ``(seeds,)`` (or ``(H, seeds)``); -1 where none."""
        u = self._flag("underflow")
        return np.where(u.any(axis=-1), np.argmax(u, axis=-1), -1)

    def _grid_columns(self, h: int, inner: int) -> dict[str, np.ndarray]:
        w = self.sigma_w2 if self.sigma_w2 is not None else np.full(h, np.nan, np.float32)
        return {
            "sigma_w2": np.repeat(np.asarray(w, np.float64), inner),
            "sigma_b2": np.repeat(np.asarray(self.sigma_b2, np.float64), inner),
        }

    def to_frame(self) -> pd.DataFrame:
        """Tidy table, one row per ([grid cell,] seed, layer).

        Columns: [sigma_w2, sigma_b2 (grid only)], seed, layer, the per-layer metric columns,
        underflow and nonfinite (of the row), diverged (of the seed's whole network); see the
        class docstring for the flags.
        """
        cols = self.columns
        arrs = {c: np.asarray(self.arrays[c]) for c in cols}
        arrs.update({f: self._flag(f) for f in ("underflow", "nonfinite")})
        div = np.asarray(self.diverged)
        if not self.is_grid:
            arrs = {c: a[None] for c, a in arrs.items()}
            div = div[None]
        h, s = div.shape
        n_layers = self.depth + 1
        data: dict[str, np.ndarray] = {}
        if self.is_grid:
            data.update(self._grid_columns(h, s * n_layers))
        data["seed"] = np.tile(np.repeat(np.arange(s), n_layers), h)
        data["layer"] = np.tile(np.arange(n_layers), h * s)
        for c in (*cols, "underflow", "nonfinite"):
            data[c] = arrs[c].reshape(-1)
        data["diverged"] = np.repeat(div.reshape(-1), n_layers)
        return pd.DataFrame(data)

    def jacobian_frame(self) -> pd.DataFrame:
        """Jacobian spectra, one row per ([grid cell,] seed, index): columns [sigma_w2, sigma_b2,]
        seed, index (0 = largest), sv (float64), floor (the seed's ``jac_sv_floor``),
        below_floor (sv < floor: not resolved, see :mod:`initjax.measure.jacobian`), rtol (the
        seed's estimated relative error ``jac_sv_rtol``), diverged.

        Raises:
          ValueError: ``jac_sv`` was not measured.
        """
        if "jac_sv" not in self.arrays:
            raise ValueError("jac_sv was not measured; pass metrics=(..., 'jac_sv')")
        sv = np.asarray(self.arrays["jac_sv"])
        div = np.asarray(self.diverged)
        floor = np.asarray(self.arrays["jac_sv_floor"], np.float64)
        rtol = np.asarray(self.arrays["jac_sv_rtol"], np.float64)
        if not self.is_grid:
            sv, div, floor, rtol = sv[None], div[None], floor[None], rtol[None]
        h, s, n = sv.shape
        data: dict[str, np.ndarray] = {}
        if self.is_grid:
            data.update(self._grid_columns(h, s * n))
        data["seed"] = np.tile(np.repeat(np.arange(s), n), h)
        data["index"] = np.tile(np.arange(n), h * s)
        data["sv"] = sv.reshape(-1)
        data["floor"] = np.repeat(floor.reshape(-1), n)
        data["below_floor"] = data["sv"] < data["floor"]
        data["rtol"] = np.repeat(rtol.reshape(-1), n)
        data["diverged"] = np.repeat(div.reshape(-1), n)
        return pd.DataFrame(data)

    def summary(self, layers: Sequence[int] | None = None) -> pd.DataFrame:
        """Mean and standard deviation over seeds per ([grid cell,] layer), finite values only.

        Columns: [sigma_w2, sigma_b2,] layer, ``<m>_mean``, ``<m>_std`` for each per-layer
        metric, and the seed counts ``underflow``, ``nonfinite`` (at that layer) and
        ``diverged`` (seeds whose network diverged).
        """
        df = self.to_frame()
        if layers is not None:
            df = df[df["layer"].isin(list(layers))]
        keys = (["sigma_w2", "sigma_b2"] if self.is_grid else []) + ["layer"]
        vals = df[self.columns].replace([np.inf, -np.inf], np.nan)
        flags = ["underflow", "nonfinite", "diverged"]
        g = pd.concat([df[keys], vals, df[flags]], axis=1).groupby(keys, dropna=False)
        out = g[self.columns].agg(["mean", "std"])
        out.columns = [f"{m}_{stat}" for m, stat in out.columns]
        for f in flags:
            out[f] = g[f].sum().astype(int)
        return out.reset_index()

    def __repr__(self) -> str:
        shape = {k: v.shape for k, v in self.arrays.items() if k not in M.FLAGS}
        n_under = int(np.sum(self._flag("underflow").any(axis=-1)))
        return (
            f"PropagationResult(depth={self.depth}, seeds={self.meta['seeds']}, "
            f"grid={self.is_grid}, arrays={shape}, diverged={int(np.sum(self.diverged))}, "
            f"underflow={n_under})"
        )
