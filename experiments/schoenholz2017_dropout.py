"""Schoenholz, Gilmer, Ganguli & Sohl-Dickstein 2017 (arXiv:1611.01232), Sec. 4: dropout destroys
the order-to-chaos critical point, so the correlation depth scale xi_c stays finite.

A tanh MLP with dropout on every hidden layer's activations,

    z^l = (phi(z^{l-1}) * m^l / rho) W^l + b^l,    m^l_i ~ Bernoulli(rho) per input and unit,

(W ~ N(0, sigma_w2 / N), b ~ N(0, sigma_b2)) has the mean-field maps of initjax.theory with
``keep_prob=rho``: the diagonal of the q-map carries sigma_w2 / rho, the off-diagonal does not (the
two inputs' masks are independent), so the c-map has c^l(1) < 1, its fixed point c* < 1 for every
sigma_w2 and chi_c = dc^l/dc^{l-1} at c* < 1: xi_c = -1 / log chi_c is finite everywhere.

Measured: q^l and c^l of ``seeds`` networks for each (rho, sigma_w2), from two batches of inputs
with exact initial cosines c0 in {0.1, 0.9} (per cell the batch starting farther from c* is fitted).
xi_c is fitted from |c^l - c*| with ``initjax.measure.fits.fit_depth_scale`` exactly as the main job
(experiments/depth_sweep.py): c* from theory, a floor of 3 standard errors over seeds, and the
theory curve c^l (maps iterated from each seed's measured layer 0) fitted over the same layers for
a like-for-like comparison, beside the asymptotic -1 / log chi_c.

Weights and biases come from the model's own layer functions and key scheme
(``MLP(...).stack().layer_init`` at unit variances, then scaled by sqrt(sigma_w2), sqrt(sigma_b2):
the same draws as ``init_stack`` at those variances, shared across the sigma grid as common random
numbers); dropout masks from ``keys.role(seed_key, keys.DROPOUT)`` folded with the layer index,
shared across rho (m = [U < rho] for one uniform U). initjax.measure.propagate has no dropout, so
the forward scan is written here.
"""

from __future__ import annotations

import functools
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

import ml_collections
import numpy as np

if TYPE_CHECKING:
    import pandas as pd

DESCRIPTION = "xi_c of tanh MLPs with dropout (keep prob 0.9-1) vs theory: no critical point"

TITLE = "dropout removes the order-to-chaos critical point (correlation depth scale xi_c)"

PRESETS = {
    # Accelerator: the paper's width, deeper, many seeds, a fine sigma_w2 grid.
    "full": {
        "width": 1000,
        "depth": 300,
        "seeds": 64,
        "n_inputs": 8,
        "sigma_w2": [float(v) for v in np.round(np.linspace(1.0, 4.0, 31), 3)],
        "keep_probs": [1.0, 0.999, 0.99, 0.98, 0.95, 0.9],
    },
    # Seconds, for the test suite.
    "tiny": {
        "width": 128,
        "depth": 30,
        "seeds": 8,
        "n_inputs": 8,
        "sigma_w2": [1.0, 1.76, 3.0],
        "keep_probs": [1.0, 0.9],
    },
}


def get_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.preset = "default"
    c.root_seed = 0
    c.seeds = 16
    c.width = 1000  # the paper's width
    c.depth = 80
    c.input_dim = 64
    c.n_inputs = 4  # per batch: 6 pairs
    c.c0s = [0.1, 0.9]
    c.q0 = 1.0
    c.sigma_b2 = 0.05
    c.sigma_w2 = [1.0, 1.25, 1.5, 1.65, 1.76, 1.9, 2.1, 2.5, 3.0, 3.5, 4.0]
    c.keep_probs = [1.0, 0.99, 0.98, 0.95, 0.9]
    # criteria
    c.track_tol = 0.2  # median |xi_measured / xi_theory(same layers) - 1| per rho
    c.peak_tol = 0.3  # |measured peak / theory peak - 1| for rho < 1
    return c


# ----------------------------------------------------------------------------------- forward
def _stack(config):
    from initjax import initializers, models

    mlp = models.MLP(
        width=int(config.width),
        depth=int(config.depth),
        activation="tanh",
        kernel_init=initializers.get("variance_scaling", distribution="normal"),
    )
    return mlp.stack()


def _inputs(config):
    """``(G, B, input_dim)``: one batch per c0, each with exact q0 and pairwise cosine c0."""
    import jax
    import jax.numpy as jnp

    from initjax import keys
    from initjax.measure import gaussian_inputs

    base = keys.role(keys.seed_keys(1, int(config.root_seed))[0], keys.INPUTS)
    return jnp.stack(
        [
            gaussian_inputs(
                jax.random.fold_in(base, g),
                int(config.n_inputs),
                (int(config.input_dim),),
                q0=float(config.q0),
                c0=float(c0),
            )
            for g, c0 in enumerate(config.c0s)
        ]
    )


def _forward(stack, seed_key, x, sw2, sb2, rho):
    """q^l, c^l (l = 0..depth) of one seed for H sigma_w2 values and G input batches.

    x: (G, B, n); sw2: (H,); sb2, rho: scalars (traced). Returns two (H, G, depth + 1) arrays.
    """
    import jax
    import jax.numpy as jnp

    from initjax import keys
    from initjax.measure import metrics

    root = keys.role(seed_key, keys.PARAMS)
    drop = keys.role(seed_key, keys.DROPOUT)
    w = jnp.sqrt(sw2)[:, None, None, None]  # (H, 1, 1, 1)
    b = jnp.sqrt(sb2)

    def stats(z):  # z: (H, G, B, N)
        q = jax.vmap(jax.vmap(metrics.second_moment))(z)
        c = jax.vmap(jax.vmap(metrics.correlation))(z)
        return q, c

    # Unit-variance draws from the model's layer functions, scaled per grid cell (draw_kernel
    # multiplies the same draw by sqrt(sigma_w2) for a fan_in variance-scaling initializer).
    p0 = stack.input_init(keys.layer(root, 0), x.shape[-1:], 1.0, 1.0)
    z0 = w * jnp.matmul(x, p0["kernel"], precision="highest")[None] + b * p0["bias"]

    def body(z, i):
        p = stack.layer_init(keys.layer(root, i), 1.0, 1.0)
        u = jax.random.uniform(jax.random.fold_in(drop, i), z.shape[1:])  # shared across H, rho
        a = jnp.tanh(z) * (u < rho) / rho
        z = w * jnp.matmul(a, p["kernel"], precision="highest") + b * p["bias"]
        return z, stats(z)

    layers = jnp.arange(1, stack.depth + 1, dtype=jnp.int32)
    _, (qs, cs) = jax.lax.scan(body, z0, layers)
    q0, c0 = stats(z0)
    q = jnp.concatenate([q0[None], qs])  # (L + 1, H, G)
    c = jnp.concatenate([c0[None], cs])
    return jnp.moveaxis(q, 0, -1), jnp.moveaxis(c, 0, -1)


@functools.cache
def _compiled(stack):
    import jax

    over_seeds = jax.vmap(
        lambda k, x, w, b, r: _forward(stack, k, x, w, b, r), (0, None, None, None, None)
    )
    return jax.jit(over_seeds)


def measure(config, rho: float) -> pd.DataFrame:
    """One keep probability: q^l, c^l of every seed, sigma_w2 and input batch, with theory.

    Returns a tidy frame: keep_prob, sigma_w2, sigma_b2, c0 (the batch's input cosine), seed,
    layer, q, c, q_theory, c_theory (maps iterated from the seed's measured layer 0), diverged.
    """
    import pandas as pd

    from initjax import keys, theory

    stack = _stack(config)
    x = _inputs(config)
    sw2 = np.asarray(config.sigma_w2, np.float32)
    sb2 = np.float32(config.sigma_b2)
    seed_keys = keys.seed_keys(int(config.seeds), int(config.root_seed))
    run = _compiled(stack)  # keep_prob, sigma_w2, sigma_b2 are traced: one compilation per run
    q, c = (np.asarray(a, np.float64) for a in run(seed_keys, x, sw2, sb2, np.float32(rho)))
    n_seeds, n_h, n_g, n_l = q.shape
    idx = np.indices(q.shape).reshape(4, -1)
    c0s = np.asarray(config.c0s, np.float64)
    frame = pd.DataFrame(
        {
            "keep_prob": float(rho),
            "sigma_w2": sw2.astype(np.float64)[idx[1]],
            "sigma_b2": float(sb2),
            "c0": c0s[idx[2]],
            "seed": idx[0],
            "layer": idx[3],
            "q": q.reshape(-1),
            "c": c.reshape(-1),
        }
    )
    # Theory from each (seed, cell, batch)'s own layer 0, with the same keep probability.
    q_start, c_start = q[..., 0].reshape(-1), c[..., 0].reshape(-1)
    start = np.indices((n_seeds, n_h, n_g)).reshape(3, -1)
    qt, ct = theory.trajectories(
        "tanh",
        sw2.astype(np.float64)[start[1]],
        float(sb2),
        q_start,
        np.clip(c_start, -1.0, 1.0),
        n_l - 1,
        keep_prob=float(rho),
    )
    frame["q_theory"] = np.asarray(qt, np.float64).reshape(-1)
    frame["c_theory"] = np.asarray(ct, np.float64).reshape(-1)
    bad = ~(np.isfinite(q).all(-1) & np.isfinite(c).all(-1))  # (S, H, G)
    frame["diverged"] = bad[idx[0], idx[1], idx[2]]
    return frame


# ------------------------------------------------------------------------------------ groups
_KEYS = (
    "root_seed",
    "seeds",
    "width",
    "depth",
    "input_dim",
    "n_inputs",
    "c0s",
    "q0",
    "sigma_b2",
    "sigma_w2",
)


def _validate(config) -> None:
    for rho in config.keep_probs:
        if not 0.0 < float(rho) <= 1.0:
            raise ValueError(f"config key 'keep_probs': each must lie in (0, 1], got {rho!r}")
    for sw in config.sigma_w2:
        if not float(sw) > 0:
            raise ValueError(f"config key 'sigma_w2': variances must be > 0, got {sw!r}")
    if float(config.sigma_b2) < 0:
        raise ValueError(f"config key 'sigma_b2' must be >= 0, got {config.sigma_b2!r}")
    if len(config.c0s) < 1 or not all(0.0 <= float(c) < 1.0 for c in config.c0s):
        raise ValueError(f"config key 'c0s': cosines in [0, 1), got {list(config.c0s)!r}")
    if int(config.n_inputs) < 2:
        raise ValueError(
            f"config key 'n_inputs' must be >= 2 (c needs pairs), got {config.n_inputs}"
        )


def _group_id(config, rho: float) -> str:
    import hashlib

    blob = json.dumps({k: config[k] for k in _KEYS}, sort_keys=True, default=str)
    return f"rho-{float(rho):g}-{hashlib.sha1(blob.encode()).hexdigest()[:10]}"


def run(config, out, *, progress: bool = True, analyze_results: bool = True):
    """Run (or resume) one group per keep probability into ``out``; then figures + summary.md.

    Returns the results table. Raises ValueError for a bad config value (named), before any work.
    """
    from tqdm.auto import tqdm

    from initjax.sweeps.store import RunStore, environment, now

    _validate(config)
    out = Path(out)
    store = RunStore(out)
    groups = [(_group_id(config, rho), float(rho)) for rho in config.keep_probs]
    manifest = {
        "experiment": "schoenholz2017-dropout",
        "experiment_path": str(Path(__file__).resolve()),
        "status": "running",
        "started": now(),
        "config": config.to_dict(),
        "environment": environment(),
        "groups": [{"id": g, "label": f"keep_prob={rho:g}"} for g, rho in groups],
    }
    store.write_manifest(manifest)
    t_start = time.perf_counter()
    todo = [g for g in groups if not store.is_done(g[0])]
    with tqdm(total=len(groups), initial=len(groups) - len(todo), disable=not progress) as bar:
        for gid, rho in todo:
            bar.set_description(f"keep_prob={rho:g}")
            t0 = time.perf_counter()
            frame = measure(config, rho)
            store.write_group(gid, frame, {"keep_prob": rho, "wall_s": time.perf_counter() - t0})
            bar.update(1)
    table = store.assemble([g for g, _ in groups])
    manifest.update(
        status="complete",
        finished=now(),
        wall_s=time.perf_counter() - t_start,
        group_wall_s={g: store.group_meta(g).get("wall_s") for g, _ in groups},
    )
    store.write_manifest(manifest)
    if analyze_results:
        analyze(out, table, config)
    return table


# ----------------------------------------------------------------------------------- analysis
def fit_cells(table) -> pd.DataFrame:
    """Per (keep_prob, sigma_w2): theory c*, xi_c and the fitted xi_c, as in the main job.

    Of the input batches (c0) the one whose seed-mean c^0 lies farther from c* is fitted.
    Columns: keep_prob, sigma_w2, c0, c_star, c_end (mean measured c over the last 5 layers),
    chi_c, xi_c_theory (asymptotic), xi_c_theory_window (theory curve fitted over the measured
    fit's layers), xi_c_measured, window, layers_fitted.
    """
    import pandas as pd

    from initjax.measure.fits import fit_depth_scale
    from initjax.plots import layer_summary

    rows = []
    for rho, tr in table.groupby("keep_prob", sort=False):
        sws = np.sort(tr["sigma_w2"].unique())
        sb2 = float(tr["sigma_b2"].iloc[0])
        mf, _ = mean_field(float(rho), sb2, sws)
        for i, sw in enumerate(sws):
            c_star = float(mf.c_star[i])
            best = None
            for c0, cell in tr[tr["sigma_w2"] == sw].groupby("c0"):
                st = layer_summary(cell, "c")
                dev = st["mean"].to_numpy() - c_star
                if best is None or abs(dev[0]) > abs(best[0][0]):
                    best = (dev, st, cell, c0)
            dev, st, cell, c0 = best
            layers = st["layer"].to_numpy()
            xi, n_used, win = fit_depth_scale(dev, st["se"].to_numpy(), layers=layers)
            c_th = cell.groupby("layer")["c_theory"].mean().to_numpy()
            xi_win = fit_depth_scale(c_th - c_star, layers=layers, window=win)[0]
            rows.append(
                dict(
                    keep_prob=float(rho),
                    sigma_w2=float(sw),
                    c0=float(c0),
                    c_star=c_star,
                    c_end=float(st["mean"].to_numpy()[-5:].mean()),
                    c_end_se=float(st["se"].to_numpy()[-5:].mean()),
                    chi_c=float(mf.chi_c[i]),
                    xi_c_theory=float(mf.xi_c[i]),
                    xi_c_theory_window=float(xi_win),
                    xi_c_measured=float(xi),
                    window=f"{layers[win[0]]}-{layers[win[0]] + max(win[1] - 1, 0)}",
                    layers_fitted=int(n_used),
                )
            )
    return pd.DataFrame(rows)


GRID_POINTS = 600


def mean_field(rho: float, sigma_b2: float, sigma_w2s) -> tuple:
    """initjax.theory.analyse at the measured sigma_w2 values and on a dense grid spanning them.

    Returns ``(at_cells, (grid, xi_c on the grid))``. One call (one compilation for every rho:
    keep_prob is traced) evaluates both.
    """
    from initjax import theory

    sws = np.asarray(sigma_w2s, np.float32)
    grid = np.linspace(sws.min(), sws.max(), GRID_POINTS, dtype=np.float32)
    mf = theory.analyse("tanh", np.concatenate([sws, grid]), sigma_b2, keep_prob=rho)
    n = len(sws)
    cells = type(mf)(*(np.asarray(f)[:n] for f in mf))
    return cells, (grid, np.asarray(mf.xi_c, np.float64)[n:])


def theory_peak(rho: float, sigma_b2: float, sigma_w2s) -> tuple[float, float]:
    """(max xi_c, its sigma_w2) over the dense grid; inf where chi_c reaches 1 (criticality)."""
    _, (grid, xi) = mean_field(rho, sigma_b2, sigma_w2s)
    i = int(np.nanargmax(np.where(np.isnan(xi), -np.inf, xi)))
    return float(xi[i]), float(grid[i])


def criteria(table, config) -> dict:
    """Per keep probability: tracking error, peaks; and the overall pass flags."""
    cells = fit_cells(table)
    sb2 = float(config.sigma_b2)
    per = {}
    for rho, g in cells.groupby("keep_prob", sort=False):
        ok = g[np.isfinite(g["xi_c_measured"]) & np.isfinite(g["xi_c_theory_window"])]
        err = np.abs(ok["xi_c_measured"] / ok["xi_c_theory_window"] - 1.0)
        peak_th, at = theory_peak(float(rho), sb2, g["sigma_w2"].to_numpy())
        fitted = g[np.isfinite(g["xi_c_measured"])]
        j = int(np.argmax(fitted["xi_c_measured"].to_numpy())) if len(fitted) else None
        per[float(rho)] = dict(
            n_fitted=len(ok),
            n_cells=len(g),
            median_err=float(np.median(err)) if len(err) else float("nan"),
            max_err=float(np.max(err)) if len(err) else float("nan"),
            peak_theory=peak_th,
            peak_theory_at=at,
            peak_theory_grid=float(g["xi_c_theory_window"].max()),
            peak_measured=float(fitted["xi_c_measured"].iloc[j]) if j is not None else np.nan,
            peak_measured_at=float(fitted["sigma_w2"].iloc[j]) if j is not None else np.nan,
        )
    track = all(
        np.isfinite(v["median_err"]) and v["median_err"] <= float(config.track_tol)
        for v in per.values()
    )
    dropped = {r: v for r, v in per.items() if r < 1.0}
    bounded = bool(dropped) and all(
        np.isfinite(v["peak_theory"])
        and abs(v["peak_measured"] / v["peak_theory"] - 1.0) <= float(config.peak_tol)
        for v in dropped.values()
    )
    res = dict(per=per, cells=cells, track_pass=track, bounded_pass=bounded)
    if 1.0 in per and dropped:
        # Without dropout the fitted xi_c at the critical point exceeds every dropout peak.
        res["critical_pass"] = per[1.0]["peak_measured"] > max(
            v["peak_measured"] for v in dropped.values()
        )
    return res


def analyze(run_dir, table, config) -> None:
    """figure_xi.png (xi_c vs sigma_w2 per keep_prob), figure_c.png (c^l) and summary.md."""
    run_dir = Path(run_dir)
    res = criteria(table, config)
    _plot_xi(run_dir, res, config)
    _plot_c(run_dir, table, res, config)
    _write_summary(run_dir, res, config)


def _colors(rhos):
    import matplotlib.pyplot as plt

    cmap = plt.get_cmap("plasma")
    return {
        r: ("k" if r == 1.0 else cmap(0.15 + 0.7 * i / max(len(rhos) - 1, 1)))
        for i, r in enumerate(rhos)
    }


def _plot_xi(run_dir: Path, res: dict, config) -> None:
    import matplotlib.pyplot as plt

    from initjax import theory
    from initjax.plots import savefig

    cells = res["cells"]
    rhos = sorted(cells["keep_prob"].unique(), reverse=True)
    colors = _colors(rhos)
    fig, ax = plt.subplots(figsize=(7, 4.5), constrained_layout=True)
    for rho in rhos:
        _, (grid, xi) = mean_field(float(rho), float(config.sigma_b2), cells["sigma_w2"].unique())
        ax.plot(
            grid,
            np.where(np.isfinite(xi), xi, np.nan),
            color=colors[rho],
            lw=1.3,
            label=f"rho={rho:g}: theory -1/log chi_c",
        )
        g = cells[cells["keep_prob"] == rho]
        ax.plot(
            g["sigma_w2"],
            g["xi_c_measured"],
            "o",
            color=colors[rho],
            ms=5,
            label=f"rho={rho:g}: measured",
        )
        ax.plot(g["sigma_w2"], g["xi_c_theory_window"], "x", color=colors[rho], ms=5, alpha=0.6)
    crit = float(theory.critical_sigma_w2("tanh", float(config.sigma_b2)))
    ax.axvline(crit, color="gray", ls=":", lw=1, label=f"critical sigma_w2 (rho=1) = {crit:.2f}")
    ax.set_yscale("log")
    ax.set_ylim(1, max(200.0, 2 * np.nanmax(cells["xi_c_measured"].to_numpy())))
    ax.set_xlabel("sigma_w2")
    ax.set_ylabel("xi_c (layers)")
    ax.set_title(
        f"tanh + dropout, sigma_b2 = {config.sigma_b2:g}, width {config.width} "
        "(x: theory fitted over the same layers)"
    )
    ax.legend(fontsize=7, ncol=2)
    savefig(fig, run_dir / "figure_xi.png")


def _plot_c(run_dir: Path, table, res: dict, config) -> None:
    import matplotlib.pyplot as plt

    from initjax.plots import layer_summary, savefig

    cells = res["cells"]
    rhos = sorted(cells["keep_prob"].unique(), reverse=True)
    colors = _colors(rhos)
    sws = np.sort(table["sigma_w2"].unique())
    show = [sws[0], sws[int(np.argmin(np.abs(sws - 1.76)))]]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
    for ax, sw in zip(axes, show, strict=True):
        for rho in rhos:
            fit = cells[(cells["keep_prob"] == rho) & (cells["sigma_w2"] == sw)].iloc[0]
            cell = table[
                (table["keep_prob"] == rho) & (table["sigma_w2"] == sw) & (table["c0"] == fit["c0"])
            ]
            st = layer_summary(cell, "c")
            ax.plot(st["layer"], st["mean"], color=colors[rho], lw=1.4, label=f"rho={rho:g}")
            ax.fill_between(
                st["layer"],
                st["mean"] - st["std"],
                st["mean"] + st["std"],
                color=colors[rho],
                alpha=0.15,
                lw=0,
            )
            th = cell.groupby("layer")["c_theory"].mean()
            ax.plot(th.index, th.to_numpy(), color=colors[rho], lw=0.9, ls="--")
            ax.axhline(fit["c_star"], color=colors[rho], lw=0.6, ls=":")
        ax.set_title(f"sigma_w2 = {sw:g}: c^l measured (band +-1 sd), theory --, c* :")
        ax.set_xlabel("layer l")
        ax.set_ylabel("c^l")
        ax.legend(fontsize=8)
    savefig(fig, run_dir / "figure_c.png")


def _f(v: float, fmt: str = "{:.2f}") -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "n/a"
    return "inf" if np.isinf(v) else fmt.format(v)


def _write_summary(run_dir: Path, res: dict, config) -> None:
    from initjax import theory

    cells, per = res["cells"], res["per"]
    crit = float(theory.critical_sigma_w2("tanh", float(config.sigma_b2)))
    lines = [f"# schoenholz2017_dropout: {TITLE}", ""]
    manifest = run_dir / "manifest.json"
    if manifest.is_file():
        m = json.loads(manifest.read_text())
        env = m.get("environment", {})
        wall = m.get("wall_s")
        lines += [
            f"Run: preset `{config.preset}`, {m.get('started')} -> {m.get('finished')}"
            + (f", wall {wall:.0f} s" if wall else "")
            + f" on {env.get('device_count')} x {env.get('device_kind')} (jax {env.get('jax')}).",
            "",
        ]
    lines += [
        "Paper: Schoenholz, Gilmer, Ganguli & Sohl-Dickstein 2017, *Deep Information "
        "Propagation* (arXiv:1611.01232), Sec. 4 (dropout).",
        "",
        f"Setup: tanh MLP, sigma_b2 = {config.sigma_b2:g}, dropout (keep probability rho) on every "
        f"hidden layer's activations; width {config.width}, depth {config.depth}, "
        f"{config.seeds} seeds, {config.n_inputs} Gaussian inputs per batch with exact cosines "
        f"{list(config.c0s)}; sigma_w2 in {list(config.sigma_w2)}; rho in "
        f"{list(config.keep_probs)}. Scaled down from the paper in depth, seeds and grid (the "
        "`full` preset: width 1000, depth 300, 64 seeds, 31 sigma_w2 values, 6 keep "
        "probabilities).",
        "",
        "xi_c fitted from |c^l - c*| (c* from initjax.theory with keep_prob = rho) with "
        "initjax.measure.fits.fit_depth_scale as in the main job; 'theory (same layers)' fits the "
        "mean-field c^l iterated from each seed's measured layer 0 over the same layers; "
        "'theory' is the asymptotic -1 / log chi_c.",
        "",
        "## Peak of xi_c over sigma_w2, per keep probability",
        "",
        "| rho | xi_c peak, theory (fine grid) | at sigma_w2 | peak, theory (same layers, grid) "
        "| peak, measured | at sigma_w2 | median abs(measured / theory(same layers) - 1) | "
        "cells fitted | published |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|:---|",
    ]
    for rho, v in per.items():
        pub = (
            f"diverges at the critical point (sigma_w2 ~ 1.76; initjax: {crit:.3f})"
            if rho == 1.0
            else "finite for every sigma_w2: the critical point is gone"
        )
        lines.append(
            f"| {rho:g} | {_f(v['peak_theory'])} | {v['peak_theory_at']:.3f} | "
            f"{_f(v['peak_theory_grid'])} | {_f(v['peak_measured'])} | "
            f"{_f(v['peak_measured_at'], '{:g}')} | {_f(v['median_err'], '{:.1%}')} | "
            f"{v['n_fitted']} / {v['n_cells']} | {pub} |"
        )
    lines += [
        "",
        "## Per cell",
        "",
        "| rho | sigma_w2 | c* theory | c^L measured (last 5 layers) | chi_c | xi_c theory | "
        "xi_c theory (same layers) | xi_c measured | layers fitted |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in cells.itertuples():
        lines.append(
            f"| {r.keep_prob:g} | {r.sigma_w2:g} | {r.c_star:.3f} | {r.c_end:.3f} +- "
            f"{r.c_end_se:.3f} | {r.chi_c:.3f} | {_f(r.xi_c_theory)} | "
            f"{_f(r.xi_c_theory_window)} | {_f(r.xi_c_measured)} | {r.window} |"
        )
    tol, ptol = float(config.track_tol), float(config.peak_tol)
    lines += [
        "",
        f"Criterion: (1) for every rho the median abs(measured xi_c / theory xi_c over the same "
        f"layers - 1) <= {tol:.0%} (tracks theory); (2) for every rho < 1 the measured peak of "
        f"xi_c over sigma_w2 lies within {ptol:.0%} of the finite theory peak (bounded: no "
        "critical point); (3) without dropout the measured xi_c near the critical point exceeds "
        "every dropout peak.",
        f"Measured: (1) {'pass' if res['track_pass'] else 'fail'}; (2) "
        f"{'pass' if res['bounded_pass'] else 'fail'}"
        + (
            f"; (3) {'pass' if res['critical_pass'] else 'fail'}."
            if "critical_pass" in res
            else "."
        ),
        "",
        "Figures: figure_xi.png (xi_c vs sigma_w2: theory lines, measured dots), figure_c.png "
        "(c^l at the smallest sigma_w2 and near the critical point).",
        "",
    ]
    flags = [res["track_pass"], res["bounded_pass"], res.get("critical_pass", True)]
    verdict = "PASS" if all(flags) else ("PARTIAL" if any(flags) else "FAIL")
    worst = max((v["median_err"] for v in per.values()), default=float("nan"))
    peaks = ", ".join(
        f"rho={r:g}: {_f(v['peak_measured'], '{:.1f}')} (theory {_f(v['peak_theory'], '{:.1f}')})"
        for r, v in per.items()
        if r < 1.0
    )
    head = f"xi_c peak, measured: {peaks}" if peaks else "no rho < 1"
    if 1.0 in per:
        head += (
            f"; rho=1: {_f(per[1.0]['peak_measured'], '{:.1f}')} (theory diverges: "
            f"{_f(per[1.0]['peak_theory'], '{:.0f}')} at the grid point nearest the critical line)"
        )
    lines.append(f"**Verdict: {verdict}** — {head}; median tracking error <= {worst:.0%}")
    (run_dir / "summary.md").write_text("\n".join(lines) + "\n")
