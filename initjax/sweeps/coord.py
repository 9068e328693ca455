"""A coordinate check run into a run folder: Parquet, figures and a summary with its verdict.

:func:`run_coord_check` runs :func:`initjax.measure.coord_check.coord_run` for every
parametrization x depth x width as one resumable piece each (the run loop of
:mod:`initjax.sweeps.runtime`: atomic, checksummed writes; a rerun skips finished pieces), then

- ``results.parquet``: the long table (per seed, step, layer / kernel, quantity);
- ``slopes.parquet``: :func:`~initjax.measure.coord_check.coord_slopes` (log-log slope against
  width or depth, SE over seeds, Student-t interval);
- ``coords_delta.png``, ``coords_coord.png`` (and ``spectral.png`` over width): the panels of
  :mod:`initjax.measure.coord_plot`;
- ``summary.md`` / ``summary.json``: the pre-registered criterion, the verdict (PASS / FAIL of
  :func:`~initjax.measure.coord_check.coord_verdict`) and one check per judged slope.

``initjax coord-check`` is its command line (:mod:`initjax.sweeps.coord_cli`).
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from initjax import models
from initjax import parametrizations as P
from initjax.measure import coord_check as C
from initjax.sweeps.runtime import Piece, provenance, run_loop
from initjax.sweeps.store import RunStore, atomic_write_bytes
from initjax.sweeps.summary import Check, Summary, Verdict

__all__ = ["ANALYSIS", "CoordRun", "run_coord_check", "coord_summary_verdict"]

NAME = "coord-check"
TITLE = "coordinate check: feature updates against width (or depth) after optimizer steps"
PAPER = (
    "Yang et al. 2022, Tensor Programs V (arXiv:2203.03466), Sec. D.1 (coordinate check); "
    "Yang, Simon & Bernstein 2023 (arXiv:2310.17813), spectral condition"
)
# Pre-registered thresholds of coord_verdict (see its docstring for why these values).
ANALYSIS: dict[str, Any] = dict(
    quantity="delta", flat_bound=0.2, finite_width_floor=-0.5, grow_min=0.3, level=0.95
)


@dataclasses.dataclass
class CoordRun:
    """What :func:`run_coord_check` returns: the tables, the verdict, the summary, the folder."""

    table: pd.DataFrame
    slopes: pd.DataFrame
    verdict: Verdict
    summary: Summary
    out: Path


def _describe(p: P.Parametrization) -> Any:
    """A parametrization in the config: its name, or its whole table when unregistered or
    changed (so a modified rule has its own piece identities)."""
    try:
        if P.get(p.name) == p:
            return p.name
    except ValueError:
        pass
    return {"name": p.name, "attention_logits": p.attention_logits, "rules": p.rows()}


def coord_summary_verdict(
    slopes: pd.DataFrame,
    analysis: Mapping[str, Any],
    over: str,
    expect: Mapping[str, str | None] | None = None,
) -> Verdict:
    """:func:`~initjax.measure.coord_check.coord_verdict` as a summary :class:`Verdict`: one
    :class:`Check` per judged (parametrization, layer, step) slope. ``expect``: name ->
    expectation (default: :func:`~initjax.measure.coord_check.default_expectation` of the
    registered parametrization of that name)."""
    a = {**ANALYSIS, **dict(analysis)}
    cv = C.coord_verdict(
        slopes,
        expect=expect,
        quantity=a["quantity"],
        flat_bound=a["flat_bound"],
        finite_width_floor=a["finite_width_floor"],
        grow_min=a["grow_min"],
        over=over,
    )
    checks = []
    for _, r in cv.checks.iterrows():
        flat = r["expect"] == "flat"
        tol = (
            f"interval in ({a['finite_width_floor']:g}, {a['flat_bound']:g}]"
            if flat
            else f"interval above {a['grow_min']:g}"
            if r["expect"] == "grows"
            else f"interval below -{a['grow_min']:g}"
        )
        checks.append(
            Check(
                f"{r['parametrization']} ({r['optimizer']}), {r['name']}, step {int(r['step'])}: "
                f"{r['expect']}",
                float(r["slope"]),
                0.0 if flat else None,
                se=float(r["se"]) if np.isfinite(r["se"]) else None,
                z=float(r["slope"] / r["se"]) if np.isfinite(r["se"]) and r["se"] > 0 else None,
                tolerance=tol,
                passed=bool(r["passed"]),
                note=f"interval [{r['ci_lo']:.2f}, {r['ci_hi']:.2f}]",
            )
        )
    failed = [c for c in checks if not c.passed]
    if not checks:
        reason = "no slope judged (no parametrization with an expectation)"
    else:
        reason = f"{len(checks) - len(failed)} of {len(checks)} slopes as expected"
        if failed:
            reason += f"; first failure: {failed[0].name} (slope {failed[0].measured:+.2f})"
    return Verdict.from_checks(
        cv.criterion,
        checks,
        reason=reason,
        not_reproduced=[
            "the coordinate check of the mup package on real data (a fixed Gaussian batch here)",
        ],
    )


def _sizes(v: int | Sequence[int], arg: str) -> list[int]:
    vals = [v] if isinstance(v, int | np.integer) else list(v)
    if not vals or any(
        isinstance(a, bool) or not isinstance(a, int | np.integer) or a < 1 for a in vals
    ):
        raise ValueError(f"{arg} must be positive integers, got {v!r}")
    return sorted({int(a) for a in vals})


def run_coord_check(
    out: str | Path,
    *,
    arch: str = "mlp",
    parametrizations: Sequence[str | P.Parametrization] = ("sp", "mup"),
    optimizer: str = "adam",
    widths: int | Sequence[int] = (64, 128, 256, 512, 1024),
    depths: int | Sequence[int] = 2,
    base_width: int | None = None,
    base_depth: int | None = None,
    seeds: int = 8,
    steps: int = 3,
    learning_rate: float = 1e-2,
    batch: int = 64,
    in_features: int = 32,
    model_fields: Mapping[str, Any] | None = None,
    spectral: bool = True,
    power_iters: int = 32,
    root_seed: int = 0,
    memory_gb: float = 4.0,
    analysis: Mapping[str, Any] | None = None,
    overwrite: bool = False,
    progress: bool = True,
    log: Callable[[str], Any] = print,
) -> CoordRun:
    """Run (or resume) a coordinate check into the folder ``out`` (see the module docstring).

    Args:
      out: run folder (it belongs to one configuration; ``overwrite`` replaces another's).
      arch: a registered family (``initjax.models.names()``); its model needs a readout
        (``model_fields["readout"]``, default 10).
      parametrizations: names or :class:`~initjax.parametrizations.Parametrization` objects.
      optimizer: ``initjax.parametrizations.OPTIMIZERS``.
      widths, depths: the sizes; the axis of the slopes is the one with >= 2 sizes (width if
        both have).
      base_width, base_depth: where the parametrizations equal SP (default the smallest).
      seeds, steps, learning_rate, batch, in_features, spectral, power_iters, root_seed,
        memory_gb: as in :func:`~initjax.measure.coord_check.coord_check`.
      model_fields: other fields of the model (activation, kernel_init, heads, ...).
      analysis: overrides of :data:`ANALYSIS` (thresholds of the verdict).

    Returns:
      :class:`CoordRun`.

    Raises:
      ValueError: unknown arch / parametrization / optimizer, fewer than two sizes on both axes,
        a base outside the sizes' family, a model that cannot be parametrized, sizes that cannot
        fit in ``memory_gb`` (all before anything is computed).
    """
    ws, ds = _sizes(widths, "widths"), _sizes(depths, "depths")
    if len(ws) < 2 and len(ds) < 2:
        raise ValueError(
            f"widths / depths: the slopes need >= 2 widths or >= 2 depths, got widths {ws} and "
            f"depths {ds}"
        )
    over = "width" if len(ws) >= 2 else "depth"
    models.get(arch)  # unknown family: ValueError listing the registered ones
    if optimizer not in P.OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {', '.join(P.OPTIMIZERS)}, got {optimizer!r}")
    params = [P.get(p) for p in parametrizations]
    if not params:
        raise ValueError("parametrizations: name at least one (e.g. sp,mup)")
    a = {**ANALYSIS, **dict(analysis or {})}
    unknown = set(a) - set(ANALYSIS)
    if unknown:
        raise ValueError(f"analysis: unknown key(s) {sorted(unknown)}; allowed: {list(ANALYSIS)}")
    bw = min(ws) if base_width is None else int(base_width)
    bd = min(ds) if base_depth is None else int(base_depth)
    fields = {"readout": 10, **dict(model_fields or {})}
    run_kw = dict(seeds=seeds, learning_rate=learning_rate, optimizer=optimizer, steps=steps,
                  spectral=spectral, power_iters=power_iters, root_seed=root_seed,
                  memory_gb=memory_gb)  # fmt: skip
    kw = dict(base_width=bw, base_depth=bd, in_features=in_features, batch=batch,
              model_fields=fields, **run_kw)  # fmt: skip
    # Validate every model and parametrization before any computation.
    wf = models.metadata(arch)["width_field"]
    for p in params:
        for d in ds:
            for w in ws:
                m = models.build(arch, **{**fields, wf: w, "depth": d})
                P.parametrize(m, p, base_width=bw if p.uses_width else None,
                              base_depth=bd if p.uses_depth else None,
                              in_shape=C.default_in_shape(m, in_features))  # fmt: skip
    compute = dict(arch=arch, parametrizations=[_describe(p) for p in params], widths=ws,
                   depths=ds, **{k: v for k, v in kw.items()})  # fmt: skip
    config = {"compute": compute, "analysis": a, "preset": "default"}

    def piece(p, d, w):
        return lambda: C.coord_check(arch, parametrizations=[p], widths=[w], depths=[d], **kw)

    pieces = [
        Piece(f"{p.name}-depth{d}-width{w}", piece(p, d, w), spec=[_describe(p), d, w])
        for p in params
        for d in ds
        for w in ws
    ]
    loop = run_loop(NAME, pieces, out, compute=compute, config=config, overwrite=overwrite,
                    progress=progress, log=log)  # fmt: skip
    out = Path(out)
    table = loop.table
    slopes = C.coord_slopes(table, over=over, level=a["level"])
    buf = io.BytesIO()
    slopes.to_parquet(buf, index=False)
    atomic_write_bytes(out / "slopes.parquet", buf.getvalue())
    # Expectations from the parametrization objects themselves: a modified muP (unregistered)
    # still claims muP's behaviour, so it is judged as muP is.
    expect = {p.name: C.default_expectation(p, optimizer, over) for p in params}
    verdict = coord_summary_verdict(slopes, a, over, expect)
    summary = _report(table, slopes, verdict, loop.manifest, out, over, compute)
    written = summary.write(out) + [out / f for f in summary.figures] + [out / "slopes.parquet"]
    loop.manifest.update(status="complete", verdict=verdict.status,
                         outputs=sorted({p.name for p in written}))  # fmt: skip
    RunStore(out).write_manifest(loop.manifest)
    log(f"{NAME}: {verdict.line()}")
    return CoordRun(table, slopes, verdict, summary, out)


def _report(table, slopes, verdict, manifest, out: Path, over: str, compute) -> Summary:
    from initjax.measure.coord_plot import plot_coords, plot_spectral

    c = compute
    names = ", ".join(p if isinstance(p, str) else p["name"] for p in c["parametrizations"])
    s = Summary(
        name=NAME,
        title=TITLE,
        paper=PAPER,
        provenance=provenance(manifest),
        setup=(
            f"{c['arch']} ({', '.join(f'{k}={v}' for k, v in c['model_fields'].items())}), "
            f"widths {c['widths']} (base {c['base_width']}), depths {c['depths']} (base "
            f"{c['base_depth']}); parametrizations {names}; {c['optimizer']} at base learning "
            f"rate {c['learning_rate']:g}, {c['steps']} full-batch steps on one batch of "
            f"{c['batch']} Gaussian inputs with random labels; {c['seeds']} seeds per size "
            f"(the interval is Student-t with {c['seeds'] - 1} degrees of freedom)."
        ),
        verdict=verdict,
    )
    for q in ("delta", "coord"):
        path = plot_coords(table, out / f"coords_{q}.png", quantity=q, over=over)
        s.figure(path, f"{C_LABEL[q]} per layer against {over} (mean over seeds, SE bars).")
    if over == "width" and (table["kind"] == "parameter").any():
        s.figure(plot_spectral(table, out / "spectral.png"),
                 "spectral view: ||W_0||_2 and ||W_T - W_0||_2 over sqrt(fan_out / fan_in) per "
                 "kernel (Theta(1) at every width under muP).")  # fmt: skip
    act = slopes[(slopes["kind"] == "activation") & (slopes["step"] >= 1)]
    cols = ["parametrization", "name", "quantity", "step", "slope", "se", "ci_lo", "ci_hi", "seeds"]
    s.table(act[cols], f"Log-log slopes against {over}, every activation quantity and step:",
            formats={"slope": "+.3f", "se": ".3f", "ci_lo": "+.3f", "ci_hi": "+.3f"})  # fmt: skip
    return s


C_LABEL = {"delta": "mean |z_t - z_0| (feature update)", "coord": "mean |z_t| (coordinate size)"}
