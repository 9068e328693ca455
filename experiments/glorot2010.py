"""Glorot & Bengio 2010, "Understanding the difficulty of training deep feedforward neural
networks" (AISTATS), section 4.2, Figs. 6-7: activation and back-propagated gradient distributions
per layer at initialization, standard vs normalized init, and the mean singular value of the
layer Jacobians.

Network: 5 hidden layers of 1000 units (tanh; also softsign), zero biases, a 10-way softmax
readout with the cross-entropy cost on real labels (MNIST-1D here; Shapeset-3x2 in the paper).

Inits (registry entries):
- standard: ``torch_default_linear``, W ~ U[-1/sqrt(n), 1/sqrt(n)] with n = fan_in, so
  n Var[W] = 1/3 (Glorot & Bengio eq. 1; it is also torch.nn.Linear's default);
- normalized: ``glorot_uniform``, W ~ U[+-sqrt(6 / (n_in + n_out))], Var[W] = 2 / (n_in + n_out)
  (eq. 16).

Quantities, per hidden layer k = 1..5 (initjax layer l = k - 1 of an MLP with depth 4):
- activations phi(s^k) over a batch of inputs: histograms (Fig. 6), standard deviation and the
  saturated fraction |phi| > 0.9 (``initjax.measure.propagate``: act_std, act_saturation);
- back-propagated gradients d Cost / d s^k (pre-activations, Glorot's notation): histograms
  (Fig. 7) and mean square (propagate: grad_sq with the cross-entropy loss);
- the layer Jacobian in Glorot's definition J^k = d z^{k+1} / d z^k of the activation vectors
  (z^{k+1} = phi(z^k W + b)), i.e. J^k = W diag(phi'(s^{k+1})), a 1000 x 1000 matrix for
  k = 1..4, taken at one input; its singular values are computed exactly (SVD).

Theory: initjax.theory's q-map gives q^k from the measured q^1; the mean squared singular value of
J^k is exactly sigma_w2 E[phi'(s^{k+1})^2] = chi_1 at q^{k+1} (the trace of J^T J / n), and the
per-layer factor of the back-propagated gradients' mean square is the same chi_1 (Schoenholz et
al. 2017, backward pass). The mean singular value itself has no closed form here; the quarter-
circle law of a square i.i.d. matrix gives mean = (8 / 3 pi) sqrt(mean squared singular value)
when phi' is constant (quoted as an approximation).
"""

from __future__ import annotations

import functools
from pathlib import Path

import ml_collections
import numpy as np

DESCRIPTION = (
    "Glorot & Bengio 2010: per-layer activation / gradient histograms and layer-Jacobian "
    "singular values, standard vs normalized init"
)
TITLE = "activations, back-propagated gradients and layer Jacobians at init: standard vs normalized"

INITS = {"standard": "torch_default_linear", "normalized": "glorot_uniform"}
PUBLISHED_SV = {"standard": 0.5, "normalized": 0.8}  # Glorot & Bengio 2010, section 4.2.1
SV_TOL = 0.1  # the published values are given to one decimal
SHRINK_MAX = 0.8  # "shrinks": per-layer factor of the spread below this
LEVEL = (0.85, 1.15)  # "stays level": per-layer factor within this band

PRESETS = {
    # Accelerator: more networks and inputs, Jacobians of every network.
    "full": {"seeds": 32, "batch": 1024, "jac_seeds": 16},
    # Seconds, for the test suite: narrow layers (the Jacobian SVD is 1000^3 at full width).
    "tiny": {
        "width": 128,
        "activations": ["tanh"],
        "seeds": 2,
        "batch": 64,
        "jac_seeds": 2,
        "bins": 41,
    },
}


def get_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.preset = "default"
    c.width = 1000
    c.hidden_layers = 5
    c.activations = ["tanh", "softsign"]
    c.seeds = 4
    c.root_seed = 0
    c.dataset = "mnist1d"
    c.batch = 256  # inputs per network (histograms pool inputs, units and networks)
    c.jac_seeds = 2  # networks whose layer Jacobians are decomposed (one input each)
    c.bins = 81
    return c


# --- measurements -----------------------------------------------------------------------------


def _data(config):
    from initjax import data

    x, y = data.load(str(config.dataset), "train", limit=int(config.batch))
    x = np.asarray(x, np.float32).reshape(len(x), -1)
    return x, np.asarray(y, np.int32)


def _model(config, activation: str, init: str):
    from initjax import models

    if int(config.hidden_layers) < 2:
        raise ValueError(f"config key 'hidden_layers' must be >= 2, got {config.hidden_layers}")
    return models.MLP(
        width=int(config.width),
        depth=int(config.hidden_layers) - 1,
        activation=activation,
        kernel_init=INITS[init],
        sigma_b2=0.0,
        readout=10,
    )


def _xent(labels):
    """Summed softmax cross-entropy on fixed labels (per-example gradients, not / batch)."""
    import optax

    def loss(logits):
        return optax.softmax_cross_entropy_with_integer_labels(logits, labels).sum()

    return loss


@functools.lru_cache(maxsize=8)
def _per_network(stack, in_dim: int):
    """Jitted ``(seed_key, x, y) -> (activations (K, B, N), grads (K, B, N), J^k (K-1, N, N))``.

    Params follow the key scheme of ``initjax.models`` (``init_stack`` from ``role(seed,
    PARAMS)``), so these are the networks ``propagate`` measures.
    """
    import jax
    import jax.numpy as jnp
    import optax

    from initjax import keys
    from initjax.models import init_stack

    def one(seed_key, x, y):
        p = init_stack(stack, keys.role(seed_key, keys.PARAMS), (in_dim,), None, 0.0)
        hidden = [jax.tree.map(lambda a, i=i: a[i], p["hidden"]) for i in range(stack.depth)]

        def cost(eps):
            z = stack.input_apply(p["input"], x) + eps[0]
            zs = [z]
            for i, hp in enumerate(hidden):
                z = stack.layer_apply(hp, z) + eps[i + 1]
                zs.append(z)
            logits = stack.readout_apply(p["readout"], z)
            return optax.softmax_cross_entropy_with_integer_labels(logits, y).sum(), zs

        eps = [jnp.zeros((x.shape[0], stack.width), jnp.float32)] * (stack.depth + 1)
        grads, zs = jax.grad(cost, has_aux=True)(eps)
        zs, grads = jnp.stack(zs), jnp.stack(grads)
        act = stack.activation(zs)
        # J^k = W_{k+1} diag(phi'(s^{k+1})) at input 0: d z^{k+1} / d z^k (row-vector layout).
        dphi = stack.activation.derivative(zs[1:, 0, :])
        jac = jnp.stack([hp["kernel"] for hp in hidden]) * dphi[:, None, :]
        return act, grads, jac

    return jax.jit(one)


@functools.lru_cache(maxsize=1)
def _singular_values():
    # Its own jitted function: one compilation shared by every arm (same shapes).
    import jax
    import jax.numpy as jnp

    return jax.jit(jax.vmap(lambda m: jnp.linalg.svd(m, compute_uv=False)))


def measure_arm(config, activation: str, init: str):
    """One (activation, init) arm: per-layer statistics, histograms and Jacobian spectra rows."""
    import jax.numpy as jnp
    import pandas as pd

    from initjax import keys, measure
    from initjax.models import stack_of

    x, y = _data(config)
    model = _model(config, activation, init)
    seeds = int(config.seeds)
    res = measure.propagate(
        model,
        jnp.asarray(x),
        seeds=seeds,
        metrics=("q", "act_std", "act_saturation", "grad_sq"),
        loss=_xent(jnp.asarray(y)),
        root_seed=int(config.root_seed),
    )
    stats = res.to_frame()
    stats.insert(0, "kind", "layer")
    stats["layer"] = stats["layer"] + 1  # Glorot's numbering: hidden layers 1..5
    stats["grad_rms"] = np.sqrt(stats["grad_sq"] / int(config.width))  # per unit, per input
    stats["diverged"] = np.repeat(res.diverged, int(config.hidden_layers))

    stack = stack_of(model)
    seed_keys = keys.seed_keys(seeds, int(config.root_seed))
    acts, grads, svs, own = [], [], [], []
    f = _per_network(stack, x.shape[1])
    for s in range(seeds):
        a, g, jac = f(seed_keys[s], jnp.asarray(x), jnp.asarray(y))
        acts.append(np.asarray(a))
        grads.append(np.asarray(g))
        if s < int(config.jac_seeds):
            svs.append(np.asarray(_singular_values()(jac), np.float64))
        own.append(np.asarray(a).reshape(a.shape[0], -1).std(axis=1))
    acts, grads = np.stack(acts, 1), np.stack(grads, 1)  # (K, S, B, N)
    stats["act_std_check"] = np.stack(own, 0).reshape(-1)  # same networks: equals act_std
    rows = [stats]
    bins = int(config.bins)
    g_range = 4.0 * float(max(grads[k].std() for k in range(grads.shape[0])))
    for quantity, vals, lim in (("activation", acts, 1.0), ("gradient", grads, g_range)):
        for k in range(vals.shape[0]):
            counts, edges = np.histogram(vals[k].ravel(), bins=bins, range=(-lim, lim))
            rows.append(
                pd.DataFrame(
                    {
                        "kind": "hist",
                        "quantity": quantity,
                        "layer": k + 1,
                        "bin_lo": edges[:-1],
                        "bin_hi": edges[1:],
                        "count": counts,
                        "outside": int(np.sum(np.abs(vals[k]) > lim)),
                    }
                )
            )
    for s, sv in enumerate(svs):
        rows.append(
            pd.DataFrame(
                {
                    "kind": "jac",
                    "seed": s,
                    "layer": np.arange(1, sv.shape[0] + 1),  # J^k: layer k -> k + 1
                    "mean_sv": sv.mean(1),
                    "mean_sv2": (sv**2).mean(1),
                    "min_sv": sv.min(1),
                    "max_sv": sv.max(1),
                }
            )
        )
    out = pd.concat(rows, ignore_index=True)
    out.insert(1, "activation", activation)
    out.insert(2, "init", init)
    return out


def run(config, out, *, progress: bool = True):
    """One resumable piece per (activation, init); then analyze."""
    from initjax import activations
    from initjax.report import Piece, run_pieces

    for a in config.activations:
        if activations.get(a).saturation != "abs_gt_0.9":
            raise ValueError(
                f"config key 'activations': {a!r} is not a bounded (tanh-like) unit; Glorot & "
                "Bengio's saturation and histograms need one of tanh, softsign, erf, hard_tanh"
            )
    _model(config, "tanh", "standard")  # validates width / hidden_layers before any work
    pieces = [
        Piece(f"{a}-{i}", lambda a=a, i=i: measure_arm(config, a, i))
        for a in config.activations
        for i in INITS
    ]
    return run_pieces(
        "glorot2010", __file__, config, out, pieces, analyze=analyze, progress=progress
    )


# --- analysis ---------------------------------------------------------------------------------


def _factor(v: np.ndarray) -> float:
    """Geometric mean of the per-layer ratio v[k+1] / v[k]."""
    v = np.asarray(v, np.float64)
    return float((v[-1] / v[0]) ** (1.0 / (len(v) - 1)))


def _theory(activation: str, init: str, config, q1: float, width: int) -> dict:
    """q^k from the measured q^1 (q-map), chi_1 at each q^k, for the hidden layers."""
    from initjax import initializers, theory

    init_fn = initializers.get(INITS[init])
    sw2 = float(init_fn.promised_variance(width, width)) * width  # hidden layers
    qs = [q1]
    for _ in range(int(config.hidden_layers) - 1):
        qs.append(float(theory.q_map(activation, sw2, 0.0, qs[-1])))
    chi = [float(theory.chi_1(activation, sw2, 0.0, q=q)) for q in qs]
    # std of phi(s) for s ~ N(0, q): sqrt(E[phi^2]) = sqrt(q_map with sigma_w2 = 1, sigma_b2 = 0).
    act_std = [float(np.sqrt(theory.q_map(activation, 1.0, 0.0, q))) for q in qs]
    return dict(sigma_w2=sw2, q=np.array(qs), chi=np.array(chi), act_std=np.array(act_std))


def evaluate(table, config) -> dict:
    """Per-arm summaries (layer factors, singular values, theory) and the verdict."""
    arms = {}
    width = int(config.width)
    for (act, init), g in table.groupby(["activation", "init"], sort=False):
        lay = g[g["kind"] == "layer"].groupby("layer").mean(numeric_only=True)
        jac = g[g["kind"] == "jac"]
        th = _theory(act, init, config, float(lay["q"].iloc[0]), width)
        # Back-propagated gradients shrink towards the input: factor from layer k+1 down to k.
        grad_factor = _factor(lay["grad_rms"].to_numpy()[::-1])
        act_factor = _factor(lay["act_std"].to_numpy())
        sv = jac.groupby("layer")[["mean_sv", "mean_sv2"]].mean()
        arms[(act, init)] = dict(
            layers=lay,
            act_factor=act_factor,
            grad_factor=grad_factor,
            act_monotone=bool(np.all(np.diff(lay["act_std"].to_numpy()) < 0)),
            grad_monotone=bool(np.all(np.diff(lay["grad_rms"].to_numpy()) > 0)),
            sv=sv,
            mean_sv=float(jac["mean_sv"].mean()) if len(jac) else float("nan"),
            mean_sv2=float(jac["mean_sv2"].mean()) if len(jac) else float("nan"),
            theory=th,
            # Theory for the layer factors from the same q^k: q-map for q, chi_1 for gradients.
            act_factor_theory=_factor(th["act_std"]),
            grad_factor_theory=float(np.prod(th["chi"][:-1]) ** (0.5 / (len(th["chi"]) - 1))),
            sv2_theory=float(np.mean(th["chi"][1:])),
            saturation=float(lay["act_saturation"].max()),
        )
    checks = {}
    for act in dict.fromkeys(a for a, _ in arms):
        s, n = arms.get((act, "standard")), arms.get((act, "normalized"))
        if s is None or n is None:
            continue
        checks[act] = dict(
            standard_shrinks=s["act_factor"] < SHRINK_MAX
            and s["grad_factor"] < SHRINK_MAX
            and s["act_monotone"]
            and s["grad_monotone"],
            normalized_level=LEVEL[0] <= n["act_factor"] <= LEVEL[1]
            and LEVEL[0] <= n["grad_factor"] <= LEVEL[1],
            sv_standard=abs(s["mean_sv"] - PUBLISHED_SV["standard"]) <= SV_TOL,
            sv_normalized=abs(n["mean_sv"] - PUBLISHED_SV["normalized"]) <= SV_TOL,
        )
    t = checks.get("tanh")
    if t is None:
        status = "FAIL"
    else:
        n_ok = sum(t.values())
        status = "PASS" if n_ok == 4 else ("PARTIAL" if n_ok >= 2 else "FAIL")
    return dict(arms=arms, checks=checks, status=status)


def _hist_figure(table, activation: str, path: Path) -> None:
    import matplotlib.pyplot as plt

    from initjax.plots import savefig

    fig, axes = plt.subplots(2, 2, figsize=(11, 6.5), constrained_layout=True)
    for row, init in enumerate(INITS):
        for col, quantity in enumerate(("activation", "gradient")):
            ax = axes[row, col]
            h = table[
                (table["kind"] == "hist")
                & (table["activation"] == activation)
                & (table["init"] == init)
                & (table["quantity"] == quantity)
            ]
            for k, g in h.groupby("layer"):
                mid = (g["bin_lo"] + g["bin_hi"]) / 2
                ax.plot(mid, g["count"] / g["count"].sum(), lw=1.2, label=f"Layer {int(k)}")
            what = "activation value" if quantity == "activation" else "back-propagated gradient"
            ax.set_title(f"{activation}, {init} init: {what}s", fontsize=10)
            ax.set_xlabel(what)
            ax.set_ylabel("normalized histogram")
            if quantity == "gradient":
                ax.ticklabel_format(axis="x", style="sci", scilimits=(-2, 2))
            ax.legend(fontsize=7)
    savefig(fig, path)


def analyze(run_dir, table, config) -> None:
    """figure_hist_<activation>.png (Figs. 6-7 style), figure_layers.png and summary.md."""
    import matplotlib.pyplot as plt

    from initjax.plots import savefig

    run_dir = Path(run_dir)
    ev = evaluate(table, config)
    for act in dict.fromkeys(table["activation"]):
        _hist_figure(table, act, run_dir / f"figure_hist_{act}.png")
    fig, axes = plt.subplots(1, 3, figsize=(15, 4), constrained_layout=True)
    for i, ((act, init), a) in enumerate(ev["arms"].items()):
        lay, col = a["layers"], f"C{i}"
        label = f"{act}, {init}"
        axes[0].plot(lay.index, lay["act_std"], "o-", color=col, label=label)
        axes[1].plot(lay.index, lay["grad_rms"], "o-", color=col, label=label)
        if len(a["sv"]):
            axes[2].plot(a["sv"].index, a["sv"]["mean_sv"], "o-", color=col, label=label)
    for init, v in PUBLISHED_SV.items():
        axes[2].axhline(v, color="gray", ls=":", lw=1)
        axes[2].text(1, v + 0.01, f"published {init} ~{v}", fontsize=7, color="gray")
    axes[0].set(title="std of activations per layer", xlabel="hidden layer k", yscale="log")
    axes[1].set(
        title="RMS back-propagated gradient d Cost / d s^k", xlabel="hidden layer k", yscale="log"
    )
    axes[2].set(title="mean singular value of J^k = d z^{k+1} / d z^k", xlabel="k (J^k: k -> k+1)")
    for ax in axes:
        ax.legend(fontsize=7)
        ax.xaxis.get_major_locator().set_params(integer=True)
    savefig(fig, run_dir / "figure_layers.png")
    _summary(run_dir, table, config, ev)


def _summary(run_dir, table, config, ev) -> None:
    from initjax.report import run_line, verdict_line

    lines = [
        f"# glorot2010: {TITLE}",
        "",
        f"Glorot & Bengio 2010, section 4.2 (Figs. 6-7). {config.hidden_layers} hidden layers of "
        f"{config.width} units, zero biases, softmax readout, summed cross-entropy on "
        f"{config.batch} {config.dataset} training examples; {config.seeds} networks per arm. "
        "Standard init = `torch_default_linear` (U[+-1/sqrt(fan_in)], n Var W = 1/3); normalized "
        "= `glorot_uniform` (Var W = 2/(fan_in + fan_out)).",
        "",
        run_line(run_dir),
        "",
        "Layer Jacobian (Glorot's definition): J^k = d z^{k+1} / d z^k = W diag(phi'(s^{k+1})) "
        "between the activation vectors of consecutive hidden layers (k = 1..4, square), at one "
        f"input, for {config.jac_seeds} networks; exact SVD.",
        "",
        "## Side by side (per arm)",
        "",
        "| activation | init | std(act) per-layer factor | theory (q-map) | RMS grad per-layer "
        "factor (down) | theory (chi_1) | mean singular value of J^k | published | mean sq. sv | "
        "theory chi_1 | max saturation |",
        "|:---|:---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for (act, init), a in ev["arms"].items():
        pub = f"~{PUBLISHED_SV[init]}" if act == "tanh" else "n/a"
        lines.append(
            f"| {act} | {init} | {a['act_factor']:.3f} | {a['act_factor_theory']:.3f} | "
            f"{a['grad_factor']:.3f} | "
            f"{a['grad_factor_theory']:.3f} | {a['mean_sv']:.3f} | {pub} | {a['mean_sv2']:.3f} | "
            f"{a['sv2_theory']:.3f} | {a['saturation']:.2%} |"
        )
    lines += [
        "",
        "q^k theory: the q-map iterated from the batch-mean q^1; the inputs differ in length "
        "and the map is concave, so the measured batch mean sits a few percent below it.",
        "",
        "Per-layer factor: geometric mean of v^{k+1} / v^k over the 5 hidden layers (for the "
        "gradients from layer 5 down to layer 1, the direction of back-propagation). Theory: "
        "std(act) = sqrt(E[phi(s)^2]) at the q^k of the q-map started from the measured q^1; "
        "RMS-gradient factor = sqrt of the geometric mean of chi_1 = sigma_w2 E[phi'(s)^2] at the "
        "q^k of the q-map started from the measured q^1; mean squared singular value of J^k = "
        "chi_1 at q^{k+1} (exact in expectation at that q; J^k is taken at one input, whose "
        "length differs from the batch mean by a few percent, hence the small offsets).",
        "",
        "## Per layer",
        "",
        "| activation | init | layer k | q^k measured | q^k theory | std(act) | theory | "
        "saturation | RMS grad | mean sv of J^k | sv^2 | chi_1 theory |",
        "|:---|:---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for (act, init), a in ev["arms"].items():
        lay, th, sv = a["layers"], a["theory"], a["sv"]
        for i, k in enumerate(lay.index):
            svk = sv.loc[k] if k in sv.index else None
            lines.append(
                f"| {act} | {init} | {k} | {lay.loc[k, 'q']:.4g} | {th['q'][i]:.4g} | "
                f"{lay.loc[k, 'act_std']:.4f} | {th['act_std'][i]:.4f} | "
                f"{lay.loc[k, 'act_saturation']:.2%} | "
                f"{lay.loc[k, 'grad_rms']:.3e} | "
                + (
                    f"{svk['mean_sv']:.3f} | {svk['mean_sv2']:.3f} | "
                    if svk is not None
                    else "| | "
                )
                + (f"{th['chi'][i + 1]:.3f} |" if i + 1 < len(th["chi"]) else " |")
            )
    lines += [
        "",
        "## Criterion",
        "",
        "Glorot & Bengio's pattern, checked on tanh (their Figs. 6-7): (1) standard init: "
        f"activation std and RMS back-propagated gradient both shrink monotonically layer to "
        f"layer with a per-layer factor < {SHRINK_MAX} (activations going up, gradients going "
        f"down); (2) normalized init: both per-layer factors within [{LEVEL[0]}, {LEVEL[1]}] "
        f"(level); (3) mean singular value of J^k within +-{SV_TOL} of the published 0.5 "
        f"(standard) and (4) 0.8 (normalized). PASS: all four; PARTIAL: two or three; FAIL: "
        "fewer. softsign is measured the same way and reported, not judged (the paper shows "
        "its init-time pattern only for tanh).",
        "",
        "| activation | (1) standard shrinks | (2) normalized level | (3) sv standard ~0.5 "
        "| (4) sv normalized ~0.8 |",
        "|:---|:---|:---|:---|:---|",
    ]
    for act, c in ev["checks"].items():
        yn = ["yes" if c[k] else "no" for k in c]
        lines.append(f"| {act} | " + " | ".join(yn) + " |")
    lines += [
        "",
        "## Scale",
        "",
        f"This run (preset `{config.preset}`): width {config.width}, {config.seeds} networks x "
        f"{config.batch} inputs per arm, Jacobians of {config.jac_seeds} networks. The default "
        "preset keeps the paper's architecture (5 x 1000 tanh/softsign, its two inits); it "
        "replaces Shapeset-3x2 (1024-pixel images) by MNIST-1D (40 standardized features, "
        "offline), which changes the input layer's fan_in (so layer 1's scale), not the "
        "hidden-to-hidden layers the criterion looks at, and it uses 4 networks x 256 inputs "
        "(10^6 values per histogram) instead of the paper's single network on a larger sample. "
        "`--set preset=full`: 32 networks x 1024 inputs, 16 Jacobians per arm.",
        "",
        "Figures: "
        + ", ".join(f"figure_hist_{a}.png" for a in config.activations)
        + " (Figs. 6-7 style: normalized histograms per layer, standard init top, normalized "
        "bottom), figure_layers.png (per-layer spread and Jacobian singular values).",
        "",
    ]
    t = ev["arms"].get(("tanh", "standard")), ev["arms"].get(("tanh", "normalized"))
    if all(t):
        reason = (
            f"tanh standard: activations x{t[0]['act_factor']:.2f} and gradients "
            f"x{t[0]['grad_factor']:.2f} per layer, mean sv {t[0]['mean_sv']:.2f} (published "
            f"~0.5); normalized: x{t[1]['act_factor']:.2f} / x{t[1]['grad_factor']:.2f}, mean sv "
            f"{t[1]['mean_sv']:.2f} (published ~0.8)"
        )
    else:
        reason = "tanh arms missing from the run (set activations to include tanh)"
    lines.append(verdict_line(ev["status"], reason))
    (run_dir / "summary.md").write_text("\n".join(lines) + "\n")
