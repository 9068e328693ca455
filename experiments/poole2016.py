"""Poole, Lahiri, Raghu, Sohl-Dickstein & Ganguli 2016, "Exponential expressivity in deep neural
networks through transient chaos" (arXiv:1606.05340), Figs. 1-2: the length (q) and correlation
(c) maps of random tanh networks, measured at width 1000 against mean-field theory, and the
order-chaos phase diagram.

Poole et al. quote standard deviations: sigma_b = 0.3 and sigma_w in {1.3, 2.5, 4.0}. Here they
are converted explicitly to the variances initjax uses: sigma_b2 = 0.09, sigma_w2 = sigma_w**2 in
{1.69, 6.25, 16.0}. Weights are Gaussian, W ~ N(0, sigma_w2 / N), b ~ N(0, sigma_b2).

Panels:
A. single-layer q-map: pre-activations u ~ N(0, q^{l-1}) (N = width i.i.d. units) through one
   layer z = phi(u) W + b; measured q^l = mean(z^2) vs q_map (eq. 3).
B. q^l over layers of a deep net (``initjax.measure.propagate``) vs the q-map iterated from each
   network's own layer 0 (``initjax.theory.compare``).
C. single-layer c-map at q*: two pre-activation vectors with correlation c^{l-1}; measured
   c^l = <z_1, z_2> / (|z_1| |z_2|) vs c_map (eq. 5).
D. c^l over layers (same deep nets as B) vs the iterated maps.
E. phase diagram: chi_1 over (sigma_w, sigma_b) with the order-chaos line chi_1 = 1
   (``initjax.theory.phase_diagram``); the three example points and their measured phase.

Standard errors come from the spread over independent networks (seeds); for B and D the
difference measured - theory is taken per network (its theory starts from its own layer 0).
"""

from __future__ import annotations

from pathlib import Path

import ml_collections
import numpy as np

DESCRIPTION = "Poole et al. 2016: q-map, c-map, q^l/c^l dynamics at width 1000 vs theory; phases"
TITLE = "q-map and c-map of random tanh nets at width 1000 vs mean-field theory"

PRESETS = {
    # Accelerator: more networks per point, deeper dynamics, a finer map grid.
    "full": {
        "map_seeds": 1024,
        "dyn_seeds": 256,
        "depth": 30,
        "q_in": [float(v) for v in np.round(np.linspace(0.1, 15.0, 31), 3)],
        "c_in": [float(v) for v in np.round(np.linspace(0.0, 0.99, 34), 3)],
        "phase_grid": 200,
    },
    # Seconds, for the test suite (width 256 is still large enough for 4-SE agreement).
    "tiny": {
        "width": 256,
        "map_seeds": 16,
        "dyn_seeds": 8,
        "depth": 5,
        "batch": 3,
        "q_in": [0.5, 4.0, 12.0],
        "c_in": [0.2, 0.8],
        "dyn_inputs": [[0.2, 0.5]],
        "phase_grid": 12,
    },
}

Z_MAX = 4.0  # a point passes when |measured - theory| <= Z_MAX SE + tolerance
# Tolerance: float32 sums over N units and quadrature error (ATOL), plus an allowance of
# FINITE_WIDTH / N for the O(1/N) finite-width corrections to the N -> infinity theory (at
# N = 1000, c^l in the ordered phase drifts ~0.003 above the iterated maps after 10+ layers;
# relative for q, absolute for c).
ATOL = {"q": 1e-4, "c": 2e-4}
FINITE_WIDTH = 5.0
PUBLISHED_PHASE = {1.3: "ordered", 2.5: "chaotic", 4.0: "chaotic"}  # Poole et al., Fig. 2


def get_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.preset = "default"
    c.width = 1000
    c.sigma_b = 0.3  # standard deviation, as in the paper
    c.sigma_w = [1.3, 2.5, 4.0]  # standard deviations, as in the paper
    c.map_seeds = 64
    c.dyn_seeds = 16
    c.root_seed = 0
    c.depth = 15
    c.batch = 4  # inputs per network in the deep dynamics (all of one length, pairwise c_x)
    c.q_in = [0.1, 0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 10.0, 12.0, 15.0]
    c.c_in = [0.0, 0.2, 0.4, 0.6, 0.8, 0.9, 0.95, 0.99]
    # Deep-net inputs: (q_x, c_x) = per-unit mean square and pairwise cosine of the raw inputs;
    # layer 0's q^0 = sigma_w2 q_x + sigma_b2 then differs per sigma_w.
    c.dyn_inputs = [[0.02, 0.2], [0.2, 0.6], [1.0, 0.95], [4.0, 0.0]]
    c.phase_grid = 60
    return c


def variances(config) -> tuple[np.ndarray, float]:
    """(sigma_w2 (H,), sigma_b2): the paper's standard deviations squared."""
    sw = np.asarray(config.sigma_w, np.float64)
    if sw.ndim != 1 or sw.size == 0 or np.any(sw < 0) or float(config.sigma_b) < 0:
        raise ValueError(
            "config keys 'sigma_w' (a non-empty list) and 'sigma_b' must be standard "
            f"deviations >= 0, got {config.sigma_w!r}, {config.sigma_b!r}"
        )
    return sw**2, float(config.sigma_b) ** 2


def _gaussian_mlp(width: int, depth: int):
    from initjax import initializers, models

    init = initializers.get("variance_scaling", distribution="normal")
    return models.MLP(width=width, depth=depth, activation="tanh", kernel_init=init)


# --- measurements -----------------------------------------------------------------------------


def single_layer_maps(config):
    """Panels A and C: one row per (sigma_w, seed, input) with measured and theory values."""
    import jax
    import jax.numpy as jnp
    import pandas as pd

    from initjax import keys, theory
    from initjax.models import stack_of

    sw2, sb2 = variances(config)
    q_in = np.asarray(config.q_in, np.float32)
    c_in = np.asarray(config.c_in, np.float32)
    if np.any(q_in <= 0) or np.any(np.abs(c_in) > 1):
        raise ValueError("config keys 'q_in' must be > 0 and 'c_in' within [-1, 1]")
    n, k, m = int(config.width), len(q_in), len(c_in)
    stack = stack_of(_gaussian_mlp(n, 1))
    q_star = np.asarray(theory.q_star("tanh", sw2, sb2).value, np.float32)

    def per_seed(seed_key, w2, qs):
        p = stack.layer_init(keys.layer(keys.role(seed_key, keys.PARAMS), 1), w2, sb2)
        g = jax.random.normal(keys.role(seed_key, keys.INPUTS), (k + 2 * m, n), jnp.float32)
        u_q = jnp.sqrt(q_in)[:, None] * g[:k]
        g1, g2 = g[k : k + m], g[k + m :]
        u1 = jnp.sqrt(qs) * g1
        u2 = jnp.sqrt(qs) * (c_in[:, None] * g1 + jnp.sqrt(1.0 - c_in[:, None] ** 2) * g2)
        z = stack.layer_apply(p, jnp.concatenate([u_q, u1, u2]))
        zq, a, b = z[:k], z[k : k + m], z[k + m :]
        q_out = jnp.mean(zq * zq, axis=1)
        c_out = jnp.sum(a * b, 1) / jnp.sqrt(jnp.sum(a * a, 1) * jnp.sum(b * b, 1))
        return q_out, c_out

    seed_keys = keys.seed_keys(int(config.map_seeds), int(config.root_seed))
    f = jax.jit(jax.vmap(jax.vmap(per_seed, (0, None, None)), (None, 0, 0)))
    q_out, c_out = (np.asarray(a, np.float64) for a in f(seed_keys, sw2, q_star))
    q_th = np.asarray(theory.q_map("tanh", sw2[:, None], sb2, q_in[None, :]), np.float64)
    c_th = np.asarray(
        theory.c_map("tanh", sw2[:, None], sb2, q_star[:, None], q_star[:, None], c_in[None, :]),
        np.float64,
    )
    rows = []
    s = q_out.shape[1]
    for h, w in enumerate(config.sigma_w):
        for kind, x, meas, th in (("qmap", q_in, q_out, q_th), ("cmap", c_in, c_out, c_th)):
            rows.append(
                pd.DataFrame(
                    {
                        "kind": kind,
                        "sigma_w": float(w),
                        "sigma_w2": sw2[h],
                        "sigma_b2": sb2,
                        "q_star": float(q_star[h]),
                        "seed": np.repeat(np.arange(s), len(x)),
                        "x": np.tile(np.asarray(x, np.float64), s),
                        "measured": meas[h].reshape(-1),
                        "theory": np.tile(th[h], s),
                    }
                )
            )
    return pd.concat(rows, ignore_index=True)


def deep_dynamics(config, q_x: float, c_x: float):
    """Panels B and D for one input setting: propagate rows with q_theory / c_theory."""
    import jax.numpy as jnp

    from initjax import keys, measure, theory
    from initjax.measure.inputs import gaussian_inputs

    sw2, sb2 = variances(config)
    if not (q_x > 0 and 0 <= c_x < 1):
        raise ValueError(f"config key 'dyn_inputs': need q_x > 0 and 0 <= c_x < 1, got {q_x, c_x}")
    n = int(config.width)
    # Exact mean square q_x per input and cosine c_x per pair (no input sampling noise).
    key = keys.role(keys.seed_keys(1, int(config.root_seed))[0], keys.INPUTS)
    x = gaussian_inputs(key, int(config.batch), (n,), q0=float(q_x), c0=float(c_x))
    res = measure.propagate(
        _gaussian_mlp(n, int(config.depth)),
        jnp.asarray(x, jnp.float32),
        seeds=int(config.dyn_seeds),
        metrics=("q", "c"),
        sigma_w2=jnp.asarray(sw2, jnp.float32),
        sigma_b2=jnp.full(len(sw2), sb2, jnp.float32),
        root_seed=int(config.root_seed),
    )
    frame = theory.compare(res.to_frame(), "tanh")
    frame.insert(0, "kind", "dyn")
    frame["q_x"], frame["c_x"] = float(q_x), float(c_x)
    frame["sigma_w"] = np.sqrt(frame["sigma_w2"].to_numpy()).round(6)
    frame["diverged"] = np.repeat(res.diverged.reshape(-1), int(config.depth) + 1)
    return frame


def run(config, out, *, progress: bool = True):
    """Single-layer maps (one piece) and one piece per deep-net input setting; then analyze."""
    from initjax.report import Piece, run_pieces

    variances(config)
    if any(float(q) <= 0 for q in config.q_in) or any(abs(float(c)) > 1 for c in config.c_in):
        raise ValueError("config keys 'q_in' must be > 0 and 'c_in' within [-1, 1]")
    for pair in config.dyn_inputs:
        if len(pair) != 2 or not (float(pair[0]) > 0 and 0 <= float(pair[1]) < 1):
            raise ValueError(
                f"config key 'dyn_inputs': each entry is [q_x > 0, 0 <= c_x < 1], got {pair!r}"
            )
    pieces = [Piece("maps", lambda: single_layer_maps(config))]
    for i, (q_x, c_x) in enumerate(config.dyn_inputs):
        pieces.append(
            Piece(f"dyn{i}", lambda q=float(q_x), c=float(c_x): deep_dynamics(config, q, c))
        )
    return run_pieces(
        "poole2016", __file__, config, out, pieces, analyze=analyze, progress=progress
    )


# --- analysis ---------------------------------------------------------------------------------


def phase(config):
    """``theory.phase_diagram`` on sigma_w in [1, 5] x sigma_b in [0, 4] (standard deviations,
    as Poole et al. plot it), with the config's sigma_w values and sigma_b on the grid.

    Returns (sigma_w grid, sigma_b grid, PhaseDiagram, indices of the config's points (H, 2)).
    One compiled call serves the figure and the fixed points of the table.
    """
    from initjax import theory

    n = int(config.phase_grid)
    sw = np.unique(np.concatenate([np.linspace(1.0, 5.0, n), np.asarray(config.sigma_w, float)]))
    sb = np.unique(np.concatenate([np.linspace(0.0, 4.0, n), [float(config.sigma_b)]]))
    pd_ = theory.phase_diagram("tanh", sw**2, sb**2)
    idx = np.array(
        [
            [int(np.argmin(abs(sw - w))), int(np.argmin(abs(sb - config.sigma_b)))]
            for w in config.sigma_w
        ]
    )
    return sw, sb, pd_, idx


def _points(table, width: int):
    """One row per compared point: panel, sigma_w, x, measured mean, theory, SE, z."""
    import pandas as pd

    out = []
    maps = table[table["kind"].isin(["qmap", "cmap"])]
    for (kind, sw, x), g in maps.groupby(["kind", "sigma_w", "x"]):
        d = g["measured"] - g["theory"]
        out.append(
            dict(
                panel=kind,
                sigma_w=sw,
                x=x,
                layer=1,
                measured=g["measured"].mean(),
                theory=g["theory"].mean(),
                se=d.std(ddof=1) / np.sqrt(len(d)),
                metric="q" if kind == "qmap" else "c",
            )
        )
    dyn = table[(table["kind"] == "dyn") & (table["layer"] >= 1)]
    for (piece, sw, layer), g in dyn.groupby(["piece", "sigma_w", "layer"]):
        for metric in ("q", "c"):
            d = g[metric] - g[f"{metric}_theory"]
            out.append(
                dict(
                    panel=f"{metric}-dynamics",
                    sigma_w=sw,
                    x=piece,
                    layer=layer,
                    measured=g[metric].mean(),
                    theory=g[f"{metric}_theory"].mean(),
                    se=d.std(ddof=1) / np.sqrt(len(d)),
                    metric=metric,
                )
            )
    pts = pd.DataFrame(out)
    err = (pts["measured"] - pts["theory"]).abs()
    scale = np.where(pts["metric"] == "q", pts["theory"].abs(), 1.0)
    tol = (pts["metric"].map(ATOL) + FINITE_WIDTH / int(width)) * scale
    pts["abs_err"] = err
    pts["rel_err"] = err / pts["theory"].abs().clip(lower=1e-12)
    pts["z"] = err / pts["se"].clip(lower=1e-30)
    pts["ok"] = err <= Z_MAX * pts["se"] + tol
    return pts


def evaluate(table, config) -> dict:
    """Per-point agreement, per-sigma phases and the verdict (used by analyze and the tests)."""

    pts = _points(table, config.width)
    sw2, sb2 = variances(config)
    _, _, pd_, idx = phase(config)
    cell = tuple(idx.T)
    mf = {k: np.asarray(getattr(pd_, k), np.float64)[cell] for k in ("q_star", "c_star", "chi_1")}
    dyn = table[table["kind"] == "dyn"]
    last = dyn[dyn["layer"] == dyn["layer"].max()]
    phases = []
    cmap = pts[pts["panel"] == "cmap"]
    for h, w in enumerate(config.sigma_w):
        g = last[np.isclose(last["sigma_w"], w)]
        chi = float(mf["chi_1"][h])
        c_meas = float(g["c"].mean()) if len(g) else float("nan")
        # Measured phase from the single-layer c-map at its largest c^{l-1} < 1: in the ordered
        # phase c = 1 is the only, attracting fixed point, so the map lies above the diagonal
        # (c^l > c^{l-1}); in the chaotic phase it crosses at c* < 1 and lies below beyond it.
        near = cmap[np.isclose(cmap["sigma_w"], w) & (cmap["x"] < 1)].sort_values("x").tail(1)
        ordered_meas = bool(len(near) and near["measured"].iloc[0] > near["x"].iloc[0])
        c_near = float(near["x"].iloc[0]) if len(near) else float("nan")
        c_near_out = float(near["measured"].iloc[0]) if len(near) else float("nan")
        phases.append(
            dict(
                sigma_w=float(w),
                sigma_w2=float(sw2[h]),
                q_star=float(mf["q_star"][h]),
                q_last=float(g["q"].mean()) if len(g) else float("nan"),
                q_last_se=float(g["q"].std(ddof=1) / np.sqrt(len(g))) if len(g) > 1 else np.nan,
                c_star=float(mf["c_star"][h]),
                c_last=c_meas,
                c_last_se=float(g["c"].std(ddof=1) / np.sqrt(len(g))) if len(g) > 1 else np.nan,
                chi_1=chi,
                phase_theory="ordered" if chi < 1 else "chaotic",
                phase_measured="ordered" if ordered_meas else "chaotic",
                c_near=c_near,
                c_near_out=c_near_out,
                published=PUBLISHED_PHASE.get(round(float(w), 2), "n/a"),
            )
        )
    all_ok = bool(pts["ok"].all())
    phases_ok = all(p["phase_theory"] == p["phase_measured"] for p in phases)
    frac2 = float((pts["abs_err"] <= 2 * pts["se"]).mean())
    status = "PASS" if all_ok and phases_ok else ("PARTIAL" if pts["ok"].mean() > 0.9 else "FAIL")
    return dict(
        points=pts,
        phases=phases,
        all_ok=all_ok,
        phases_ok=phases_ok,
        frac2=frac2,
        max_rel_q=float(pts.loc[pts["metric"] == "q", "rel_err"].max()),
        max_abs_c=float(pts.loc[pts["metric"] == "c", "abs_err"].max()),
        status=status,
        diverged=int(dyn["diverged"].sum()) if len(dyn) else 0,
    )


def analyze(run_dir, table, config) -> None:
    """figure_maps.png (panels A-D), figure_phase.png (E) and summary.md."""
    import matplotlib.pyplot as plt

    from initjax import theory
    from initjax.plots import savefig

    run_dir = Path(run_dir)
    ev = evaluate(table, config)
    sw2, sb2 = variances(config)
    colors = {float(w): f"C{i}" for i, w in enumerate(config.sigma_w)}
    fig, axes = plt.subplots(2, 2, figsize=(11, 8.5), constrained_layout=True)
    pts = ev["points"]

    ax = axes[0, 0]
    qq = np.linspace(1e-3, max(config.q_in) * 1.05, 200)
    for h, w in enumerate(config.sigma_w):
        col = colors[float(w)]
        ax.plot(qq, np.asarray(theory.q_map("tanh", sw2[h], sb2, qq)), "-", color=col, lw=1)
        p = pts[(pts["panel"] == "qmap") & np.isclose(pts["sigma_w"], w)]
        ax.errorbar(
            p["x"],
            p["measured"],
            yerr=2 * p["se"],
            fmt="o",
            ms=3,
            color=col,
            label=f"sigma_w = {w:g} (sigma_w2 = {sw2[h]:.2f})",
        )
    ax.plot(qq, qq, "k:", lw=0.8, label="q^l = q^{l-1}")
    ax.set(
        xlabel="q^{l-1}",
        ylabel="q^l",
        title=f"A. q-map: width {config.width} (o, +-2 SE) vs theory (-)",
    )
    ax.legend(fontsize=7)

    ax = axes[0, 1]
    dyn = table[table["kind"] == "dyn"]
    for (_, w), g in dyn.groupby(["piece", "sigma_w"]):
        col = colors.get(float(round(w, 4)), "k")
        m = g.groupby("layer")[["q", "q_theory"]].mean()
        ax.plot(m.index, m["q"], "o", ms=3, color=col)
        ax.plot(m.index, m["q_theory"], "-", color=col, lw=1)
    for h, w in enumerate(config.sigma_w):
        ax.axhline(ev["phases"][h]["q_star"], color=colors[float(w)], ls=":", lw=0.8)
    ax.set(
        xlabel="layer l",
        ylabel="q^l",
        yscale="log",
        title="B. q^l dynamics (o measured, - theory, : q*)",
    )

    ax = axes[1, 0]
    cc = np.linspace(0, 1, 101)
    for h, w in enumerate(config.sigma_w):
        col = colors[float(w)]
        qs = ev["phases"][h]["q_star"]
        ax.plot(cc, np.asarray(theory.c_map("tanh", sw2[h], sb2, qs, qs, cc)), "-", color=col, lw=1)
        p = pts[(pts["panel"] == "cmap") & np.isclose(pts["sigma_w"], w)]
        ax.errorbar(
            p["x"],
            p["measured"],
            yerr=2 * p["se"],
            fmt="o",
            ms=3,
            color=col,
            label=f"sigma_w = {w:g}",
        )
    ax.plot(cc, cc, "k:", lw=0.8)
    ax.set(xlabel="c^{l-1}", ylabel="c^l", title="C. c-map at q* (o measured +-2 SE, - theory)")
    ax.legend(fontsize=7)

    ax = axes[1, 1]
    for (_, w), g in dyn.groupby(["piece", "sigma_w"]):
        col = colors.get(float(round(w, 4)), "k")
        m = g.groupby("layer")[["c", "c_theory"]].mean()
        ax.plot(m.index, m["c"], "o", ms=3, color=col)
        ax.plot(m.index, m["c_theory"], "-", color=col, lw=1)
    ax.set(xlabel="layer l", ylabel="c^l", title="D. c^l dynamics (o measured, - theory)")
    savefig(fig, run_dir / "figure_maps.png")

    sw_grid, sb_grid, pd_, _ = phase(config)
    chi = np.asarray(pd_.chi_1, np.float64)
    fig, ax = plt.subplots(figsize=(6, 4.6), constrained_layout=True)
    im = ax.pcolormesh(
        sw_grid, sb_grid, np.log(chi).T, cmap="RdBu_r", vmin=-1.5, vmax=1.5, shading="auto"
    )
    fig.colorbar(im, ax=ax, label="log chi_1  (< 0 ordered, > 0 chaotic)")
    ax.contour(sw_grid, sb_grid, chi.T, levels=[1.0], colors="k", linewidths=1.5)
    for p in ev["phases"]:
        mk = "o" if p["phase_measured"] == "ordered" else "s"
        ax.plot(
            p["sigma_w"],
            np.sqrt(sb2),
            mk,
            color=colors[p["sigma_w"]],
            mec="k",
            ms=8,
            label=f"sigma_w={p['sigma_w']:g}: measured {p['phase_measured']}",
        )
    ax.set(
        xlabel="sigma_w (std)",
        ylabel="sigma_b (std)",
        title="E. order-chaos phase diagram (black: chi_1 = 1)",
    )
    ax.legend(fontsize=7, loc="upper left")
    savefig(fig, run_dir / "figure_phase.png")
    _summary(run_dir, config, ev)


def _summary(run_dir, config, ev) -> None:
    from initjax import theory
    from initjax.report import run_line, verdict_line

    sw2, sb2 = variances(config)
    pts = ev["points"]
    crit = float(np.sqrt(theory.critical_sigma_w2("tanh", sb2)))
    lines = [
        f"# poole2016: {TITLE}",
        "",
        "Poole et al. 2016 (arXiv:1606.05340), Figs. 1-2. tanh, Gaussian weights; the paper's "
        f"standard deviations sigma_b = {config.sigma_b:g}, sigma_w = {list(config.sigma_w)} are "
        f"variances sigma_b2 = {sb2:g}, sigma_w2 = {[round(float(v), 4) for v in sw2]}.",
        "",
        run_line(run_dir),
        "",
        "## Fixed points and phases",
        "",
        "| sigma_w (std) | sigma_w2 | q* theory | q^L measured | c* theory | c^L measured | "
        "chi_1 theory | c-map at c_max (c_max -> c^l) | phase theory | phase measured | "
        "phase published |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|:---|:---|:---|",
    ]
    for p in ev["phases"]:
        lines.append(
            f"| {p['sigma_w']:g} | {p['sigma_w2']:.4g} | {p['q_star']:.4f} | {p['q_last']:.4f} "
            f"+- {p['q_last_se']:.4f} | {p['c_star']:.4f} | {p['c_last']:.4f} +- "
            f"{p['c_last_se']:.4f} | {p['chi_1']:.4f} | {p['c_near']:g} -> {p['c_near_out']:.4f} | "
            f"{p['phase_theory']} | "
            f"{p['phase_measured']} | {p['published']} |"
        )
    lines += [
        "",
        f"q^L, c^L: layer {config.depth} of the deep nets, mean over networks and input settings "
        "(c^L from the settings' pairwise correlations; its theory fixed point is c*, reached "
        "only after a few xi_c). Measured phase: ordered when the measured single-layer c-map "
        "at its largest input c_max < 1 lies above the diagonal (c = 1 attracting), chaotic "
        "when below (a fixed point c* < c_max). "
        f"Critical sigma_w at sigma_b = {config.sigma_b:g} (chi_1 = 1, initjax.theory): "
        f"{crit:.4f}. Published: sigma_w = 1.3 lies in the ordered phase (c* = 1), 2.5 and 4.0 "
        "in the chaotic phase (c* < 1) (Fig. 2); the paper gives the curves, not tabulated "
        "values.",
        "",
        "## Measured vs theory, per panel",
        "",
        "| panel | points | max abs error | max rel error (q only) | max abs error / SE | "
        "within 2 SE | within 4 SE + tol |",
        "|:---|---:|---:|---:|---:|---:|---:|",
    ]
    for panel, g in pts.groupby("panel", sort=False):
        lines.append(
            f"| {panel} | {len(g)} | {g['abs_err'].max():.2e} | "
            + (f"{g['rel_err'].max():.2%}" if g["metric"].iloc[0] == "q" else "-")
            + " | "
            f"{g['z'].max():.2f} | {(g['abs_err'] <= 2 * g['se']).mean():.0%} | "
            f"{g['ok'].mean():.0%} |"
        )
    worst = pts.sort_values("z", ascending=False).head(8)
    lines += [
        "",
        "Largest deviations (in SE):",
        "",
        "| panel | sigma_w | input / setting | layer | measured | theory | SE | z |",
        "|:---|---:|:---|---:|---:|---:|---:|---:|",
    ]
    for _, r in worst.iterrows():
        x = f"{r['x']:g}" if isinstance(r["x"], float) else str(r["x"])
        lines.append(
            f"| {r['panel']} | {r['sigma_w']:g} | {x} | {int(r['layer'])} | {r['measured']:.5f} "
            f"| {r['theory']:.5f} | {r['se']:.1e} | {r['z']:.2f} |"
        )
    lines += [
        "",
        "## Criterion",
        "",
        f"PASS when every measured point lies within {Z_MAX:g} standard errors of theory plus a "
        f"tolerance ({ATOL['q']:g} relative for q, {ATOL['c']:g} absolute for c, for float32 "
        f"sums over the width and quadrature error; plus {FINITE_WIDTH:g}/N = "
        f"{FINITE_WIDTH / int(config.width):.4f}, relative for q and absolute for c, for the "
        "O(1/N) finite-width corrections to the infinite-width theory), over panels A-D, and "
        "the measured phase of "
        "each sigma_w (c-map above / below the diagonal near c = 1) matches chi_1. SE = std "
        "over networks / sqrt(networks) of measured - theory (panels B, D: per network, its "
        "theory starts from its own layer 0). PARTIAL when more than 90% of points pass.",
        "",
        f"Result: {int(pts['ok'].sum())} of {len(pts)} points pass, max |error| / SE "
        f"{pts['z'].max():.2f}, {ev['frac2']:.0%} within 2 SE (about 95% expected for "
        "independent points; these are correlated across layers and sigma_w), max relative "
        f"error of q {ev['max_rel_q']:.2%}, max absolute error of c {ev['max_abs_c']:.4f}; "
        "phases match theory: "
        f"{'yes' if ev['phases_ok'] else 'no'}; diverged networks: {ev['diverged']}.",
        "",
        "## Scale",
        "",
        f"This run (preset `{config.preset}`): width {config.width}, {config.map_seeds} networks "
        f"per single-layer point, {config.dyn_seeds} networks x {config.batch} inputs per deep "
        f"setting, depth {config.depth}. The paper's width (1000) and parameters are kept by the "
        "default preset; it is scaled down only in the number of networks averaged (the paper "
        "shows single draws and theory curves) and the depth of the dynamics (15 layers, "
        "where the paper's Fig. 1B/2B converge). `--set preset=full`: 1024 / 256 networks, "
        "depth 30, finer grids.",
        "",
        "Figures: figure_maps.png (A q-map, B q^l, C c-map, D c^l), figure_phase.png (E).",
        "",
    ]
    reason = (
        f"{int(pts['ok'].sum())}/{len(pts)} points within {Z_MAX:g} SE + tol. of theory (max "
        f"{pts['z'].max():.2f} SE; q within {ev['max_rel_q']:.2%}, c within "
        f"{ev['max_abs_c']:.4f}); phases "
        + ", ".join(f"{p['sigma_w']:g}: {p['phase_measured']}" for p in ev["phases"])
    )
    lines.append(verdict_line(ev["status"], reason))
    (run_dir / "summary.md").write_text("\n".join(lines) + "\n")
