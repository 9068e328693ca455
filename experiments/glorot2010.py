"""Glorot & Bengio 2010, "Understanding the difficulty of training deep feedforward neural
networks" (AISTATS), section 4.2, Figs. 6-7: activation and back-propagated gradient distributions
per layer at initialization, standard vs normalized init, and the mean singular value of the
layer Jacobians.

Network: 5 hidden layers (tanh; also softsign), zero biases, softmax readout with the
cross-entropy cost on MNIST-1D (Shapeset-3x2 in the paper). Standard init: registry
``torch_default_linear`` (n Var[W] = 1/3, eq. 1); normalized: ``glorot_uniform`` (eq. 16).
Per hidden layer k: activations phi(s^k) (Fig. 6: histograms, std, saturation |phi| > 0.9) and
back-propagated gradients d Cost / d s^k (Fig. 7) from ``initjax.measure.propagate``; the layer
Jacobian J^k = d z^{k+1} / d z^k = W diag(phi'(s^{k+1})) at one input, exact SVD.

Verdict: each per-layer factor vs the mean field (:mod:`initjax.theory.layer_factors`: the q-map
iterated per input from q^1_x = Var[W^1] |x|^2) in SEs over seeds at two widths, the 1/N term
removed (m(N) = m_inf + b / N); the mean singular value (no closed form) vs the published values
at their printed precision (one decimal).
"""

from __future__ import annotations

import ml_collections
import numpy as np
import pandas as pd

from initjax.sweeps import stats as st
from initjax.sweeps.config import config_ints, config_pair, experiment_config
from initjax.sweeps.runtime import Piece
from initjax.sweeps.summary import Check, Verdict
from initjax.sweeps.tables import lead_columns

DESCRIPTION = (
    "Glorot & Bengio 2010: per-layer activation / gradient histograms and layer-Jacobian "
    "singular values, standard vs normalized init"
)
TITLE = "activations, back-propagated gradients and layer Jacobians at init: standard vs normalized"
PAPER = "Glorot & Bengio 2010, Understanding the difficulty of training deep feedforward neural networks (AISTATS), Sec. 4.2, Figs. 6-7"  # noqa: E501
INITS = {"standard": "torch_default_linear", "normalized": "glorot_uniform"}
PUBLISHED_SV = {"standard": 0.5, "normalized": 0.8}  # Glorot & Bengio 2010, section 4.2.1

PRESETS = {
    # Accelerator (~0.4 GiB, scripts/preset_memory.py): more networks, inputs, all Jacobians.
    "full": dict(seeds=32, batch=1024, jac_seeds=16, activations=["tanh", "softsign"]),
    # Seconds, for the test suite: narrow layers (the Jacobian SVD is 1000^3 at full width).
    "tiny": dict(widths=[32, 64], activations=["tanh"], seeds=4, batch=32, jac_seeds=4, bins=21),
}


def get_config() -> ml_collections.ConfigDict:
    c = experiment_config()
    c.compute = dict(
        widths=[1000, 250],  # the paper's width and a 4x narrower one (finite-width term)
        hidden_layers=5,
        # tanh only by default (the judged unit; softsign, reported not judged, is in "full"):
        # it halves the default's cost on a shared 2-core CPU
        activations=["tanh"],
        seeds=8,  # networks per arm: SEs over seeds (t with 7 dof)
        root_seed=0,
        dataset="mnist1d",
        batch=256,  # inputs per network (histograms pool inputs, units and networks)
        jac_seeds=4,  # networks whose layer Jacobians are decomposed (one input each)
        bins=81,
    )  # fmt: skip
    c.analysis = dict(
        z_max=3.0,
        judged_activation="tanh",  # the paper shows the init-time pattern for tanh only
        # A deviation resolved in SE units but below this relative size makes the verdict
        # PARTIAL, not FAIL (a systematic of this size does not change the paper's claims)
        negligible=0.02,
        sv_precision=0.05,  # published mean singular values are printed to one decimal
        contrast_alpha=0.01,  # Welch: normalized per-layer factors exceed standard ones
    )
    return c


def _model(config, width: int, activation: str, init: str):
    from initjax import models

    config_ints([config.hidden_layers], "hidden_layers", minimum=2)
    depth = int(config.hidden_layers) - 1
    return models.MLP(width=int(width), depth=depth, activation=activation, kernel_init=INITS[init],
                      sigma_b2=0.0, readout=10)  # fmt: skip


def measure_arm(config, width: int, activation: str, init: str):
    """One (width, activation, init) arm: per-layer statistics, histograms, Jacobian spectra, and
    each input's expected first-layer length q^1_x = Var[W^1] |x|^2 (the theory's start)."""
    import jax.numpy as jnp

    from initjax import data, initializers, keys, measure
    from initjax.measure import layer_signals as ls
    from initjax.models import stack_of

    x, y = data.load(str(config.dataset), "train", limit=int(config.batch))
    x, y = np.asarray(x, np.float32).reshape(len(x), -1), np.asarray(y, np.int32)
    model, seeds, n = _model(config, width, activation, init), int(config.seeds), int(width)
    xj, yj = jnp.asarray(x), jnp.asarray(y)
    res = measure.propagate(model, xj, seeds=seeds, root_seed=int(config.root_seed),
                            metrics=("q", "act_std", "act_saturation", "grad_sq"),
                            loss=ls.softmax_xent_sum(yj))  # fmt: skip
    stats = lead_columns(res.to_frame(), kind="layer")
    stats["layer"] = stats["layer"] + 1  # Glorot's numbering: hidden layers 1..5
    stats["grad_rms"] = np.sqrt(stats["grad_sq"] / n)  # per unit, per input
    stats["diverged"] = np.repeat(res.diverged, int(config.hidden_layers))
    var_in = initializers.get(INITS[init]).promised_variance(x.shape[1], n)
    q1 = var_in * np.sum(np.float64(x) ** 2, 1)
    inputs = pd.DataFrame(dict(kind="input", seed=-1, input=np.arange(len(x)), q1_expected=q1))
    f = ls.layer_signals(stack_of(model), x.shape[1])
    out = [f(k, xj, yj) for k in keys.seed_keys(seeds, int(config.root_seed))]
    acts, grads = (np.stack([np.asarray(o[i]) for o in out], 1) for i in (0, 1))  # (K, S, B, N)
    jac = ls.jacobian_sv_frame([o[2] for o in out[: int(config.jac_seeds)]])
    hist = lead_columns(ls.signal_histograms(acts, grads, int(config.bins)), kind="hist")
    rows = [stats, inputs, hist] + ([lead_columns(jac, kind="jac")] if len(jac) else [])
    t = pd.concat(rows, ignore_index=True)
    return lead_columns(t.drop(columns="kind"), kind=t["kind"], activation=activation, init=init,
                        width=n)  # fmt: skip


def pieces(compute):
    """One piece per (width, activation, init); validated before any work."""
    from initjax import activations

    for a in compute.activations:
        if activations.get(a).saturation != "abs_gt_0.9":
            raise ValueError(f"config key 'activations': {a!r} is not a bounded (tanh-like) unit; "
                             "use tanh, softsign, erf or hard_tanh")  # fmt: skip
    for w in config_pair(compute.widths, "widths"):
        _model(compute, w, "tanh", "standard")
    return [Piece(f"w{w}-{a}-{i}", lambda w=int(w), a=a, i=i: measure_arm(compute, w, a, i),
                  spec=[int(w), a, i]) for w in compute.widths for a in compute.activations
            for i in INITS]  # fmt: skip


def per_seed(table, config) -> pd.DataFrame:
    """Per (activation, init, width, seed): measured factors and their mean-field values (the
    q-map iterated from each input's expected q^1_x)."""
    from initjax import initializers
    from initjax.theory.layer_factors import geometric_factor as gf
    from initjax.theory.layer_factors import layer_factors

    rows, L = [], int(config.compute.hidden_layers)
    for (act, init, w), g in table.groupby(["activation", "init", "width"], sort=False):
        sw2 = float(initializers.get(INITS[init]).promised_variance(int(w), int(w))) * int(w)
        q1 = g[g["kind"] == "input"].sort_values("input")["q1_expected"].to_numpy(np.float64)
        lay, th = g[g["kind"] == "layer"], layer_factors(act, sw2, q1, L, jac_input=0)
        q1_theory = float(g.loc[g["kind"] == "input", "q1_expected"].mean())
        jac = g[g["kind"] == "jac"].groupby("seed")[["mean_sv", "mean_sv2"]].mean()
        for seed, s in lay.sort_values("layer").groupby("seed"):
            j = jac.loc[seed] if seed in jac.index else {"mean_sv": np.nan, "mean_sv2": np.nan}
            rows.append(dict(activation=act, init=init, width=int(w), seed=int(seed),
                             q1=float(s["q"].iloc[0]), q1_theory=q1_theory,
                             act=gf(s["act_std"]), act_theory=th["act"],
                             grad=gf(s["grad_rms"].to_numpy()[::-1]), grad_theory=th["grad"],
                             sv=j["mean_sv"], sv2=j["mean_sv2"], sv2_theory=th["sv2"]))  # fmt: skip
    return pd.DataFrame(rows)


def evaluate(table, config) -> Verdict:
    """Factors vs theory at N -> inf, sv vs published, normalized > standard (criterion)."""
    a, ps = config.analysis, per_seed(table, config)
    z, checks, partial, parts = float(a.z_max), [], False, []
    for (act, init), g in ps.groupby(["activation", "init"], sort=False):
        judged = act == a.judged_activation
        (n1, g1), (n2, g2) = sorted(g.groupby("width"))[:2]
        for q in ("q1", "act", "grad", "sv2"):
            (m1, e1), (m2, e2) = (st.mean_se(x[q] - x[f"{q}_theory"]) for x in (g1, g2))
            fw = st.finite_width(m1, e1, int(n1), m2, e2, int(n2))
            ch = st.deviation(f"{act} {init}: {q} - theory, N -> inf", fw["m_inf"], 0.0,
                           fw["se_inf"], z, note=f"N={n2}: {m2:+.4f} (SE {e2:.2g}); theory "
                           f"{g2[f'{q}_theory'].iloc[0]:.4f}")  # fmt: skip
            ch.passed = ch.passed if judged else None  # other activations: reported only
            small = float(a.negligible) * g2[q].mean()
            partial |= st.excuse_negligible(ch, fw["m_inf"], small, "resolved but negligible")
            checks.append(ch)
        big = g2  # the wider net (widths sorted)
        m, se = st.mean_se(big["sv"])
        ok = bool(abs(m - PUBLISHED_SV[init]) <= float(a.sv_precision) + z * se) if judged else None
        tol = f"+-{a.sv_precision:g} + {z:g} SE"
        checks.append(Check(f"{act} {init}: mean singular value of J^k, N={big['width'].iloc[0]}",
                            m, PUBLISHED_SV[init], se=se, tolerance=tol, passed=ok,
                            note="published to one decimal"))  # fmt: skip
        if judged:
            parts.append(f"{init}: act x{big['act'].mean():.3f}, grad x{big['grad'].mean():.3f}, "
                         f"mean sv {m:.3f}")  # fmt: skip
    big = ps[(ps["activation"] == a.judged_activation) & (ps["width"] == ps["width"].max())]
    for q in ("act", "grad"):
        sd, nm = (big[big["init"] == i][q] for i in ("standard", "normalized"))
        checks.append(st.welch_gain(f"{q} factor: normalized > standard (Welch one-sided)", nm, sd,
                                    min_gain=0.0, alpha=float(a.contrast_alpha),
                                    labels=("normalized", "standard")))  # fmt: skip
    crit = (
        f"On {a.judged_activation}, per init: the batch-mean first-layer length q^1 (expected: "
        "Var[W^1] mean |x|^2), the per-layer factors of the activation std and of the RMS "
        "back-propagated gradient, and the mean squared singular value of J^k, minus their "
        "mean-field theory (q-map iterated per input), extrapolated to infinite width from two "
        "widths, are within "
        f"{z:g} SE of 0 (a resolved deviation below {float(a.negligible):.0%} of the value: "
        f"PARTIAL); the mean singular value at the wider net is within {a.sv_precision:g} + {z:g} "
        f"SE of the published 0.5 / 0.8; the normalized factors exceed the standard ones "
        f"(Welch p <= {a.contrast_alpha:g}). Other activations are reported, not judged."
    )
    return Verdict.from_checks(crit, checks, reason="; ".join(parts) or "judged activation missing",
        partial=partial, not_reproduced=[
            "training results: test errors of Table 1 and the learning curves of Figs. 11-12 "
            "(Shapeset-3x2, MNIST, CIFAR-10, ImageNet subsets) are not run",
            "the activation-saturation dynamics during training (Figs. 2-4)",
            "Shapeset-3x2 inputs: MNIST-1D (40 features) replaces them"])  # fmt: skip


def report(table, config, ctx):
    """figure_hist_<activation>.png (Figs. 6-7 style, wider net) and the per-arm table."""
    import matplotlib.pyplot as plt

    from initjax.plots import hist_lines, legends, savefig

    c, wide = config.compute, int(max(config.compute.widths))
    t = table[table["width"] == wide]
    s = ctx.summary(
        f"{c.hidden_layers} hidden layers of {list(c.widths)} units ({', '.join(c.activations)}), "
        f"zero biases, softmax readout, summed cross-entropy on {c.batch} {c.dataset} examples; "
        f"{c.seeds} networks per arm, Jacobians (exact SVD, one input) of {c.jac_seeds}. Standard "
        "= torch_default_linear (n Var W = 1/3), normalized = glorot_uniform."
    )
    for act in c.activations:
        fig, axes = plt.subplots(2, 2, figsize=(11, 6.5), constrained_layout=True)
        for r, init in enumerate(INITS):
            for col, qty in enumerate(("activation", "gradient")):
                sel = (t["activation"] == act) & (t["init"] == init) & (t["quantity"] == qty)
                for k, g in t[(t["kind"] == "hist") & sel].groupby("layer"):
                    hist_lines(axes[r, col], g, label=f"Layer {int(k)}")
                axes[r, col].set(title=f"{act}, {init}: {qty}s", ylabel="normalized histogram")
        legends(axes)
        s.figure(savefig(fig, ctx.path(f"figure_hist_{act}.png")), f"{act}, width {wide}")
    g = per_seed(table, config).groupby(["activation", "init", "width"], as_index=False).mean()
    s.table(g.drop(columns="seed"), "Seed means: per-layer factors (geometric mean of v^{k+1}/v^k;"
            " gradients downwards), Jacobian singular values, and their theory:")  # fmt: skip
    return s
