"""Data-dependent initialization: LSUV, MetaInit and GradInit from badly scaled and standard inits.

Claims (each method's paper): LSUV (Mishkin & Matas 2016, Alg. 1) leaves every affine map's
output variance within Tol_var of 1 on its batch; MetaInit (Dauphin & Schoenholz 2019, eq. 4-5)
lowers the gradient quotient GQ; GradInit (Zhu et al. 2021, eq. 2) lowers the loss after the
target optimizer's first step; and all three let networks that start from a bad scale train as
well as the standard inits (He, orthogonal).

Arms: the base draw is He-normal times 0.1, 1 or 10 in variance (``sigma_w2`` = 0.2, 2, 20;
ReLU's He value is 2) on a deep tanh MLP, a deep ReLU MLP and a 1-D ReLU ConvNet on MNIST-1D.
"q" pieces refine ``seeds`` networks per arm with ``initjax.measure.initial_params`` and measure,
independently of the methods' own bookkeeping: per-layer z statistics by
``initjax.measure.propagate`` (metric ``z_moments``, on LSUV's batch), GQ on a fresh Gaussian
batch with random labels (MetaInit's data), and GradInit's one-step loss on held-out test
examples, before and after refinement (paired by seed). "train" pieces train He / orthogonal /
each method from the bad scales with ``initjax.measure.train`` (the refinement runs on the
training set inside ``train``).
"""

from __future__ import annotations

import functools

import ml_collections
import numpy as np
import pandas as pd

from initjax.sweeps import stats
from initjax.sweeps.runtime import Piece
from initjax.sweeps.summary import Check, Verdict

DESCRIPTION = "LSUV / MetaInit / GradInit from x0.1 and x10 He scales: per-layer q, GQ, training"
TITLE = "data-dependent initialization repairs badly scaled inits"
PAPER = (
    "Mishkin & Matas 2016 (arXiv:1511.06422); Dauphin & Schoenholz 2019 (NeurIPS, MetaInit); "
    "Zhu et al. 2021 (arXiv:2102.08098, GradInit)"
)

PRESETS = {
    "full": {"width": 256, "depth": 50, "conv_depth": 20, "seeds": 8, "steps": 5000,
             "eval_every": 250},
    "tiny": {"width": 16, "depth": 4, "conv_depth": 3, "channels": 4, "seeds": 4, "steps": 20,
             "eval_every": 10, "archs": ["mlp-tanh"], "methods": ["lsuv"], "probe_batch": 32,
             "n_train": 512},
}  # fmt: skip

METHODS = ("lsuv", "metainit", "gradinit")


def get_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.preset = "default"
    # fmt: off
    c.compute = dict(
        archs=["mlp-tanh", "mlp-relu", "conv-relu"], methods=list(METHODS),
        width=64, depth=20, channels=16,
        conv_depth=8, sigma_w2s=[0.2, 2.0, 20.0],  # x0.1, x1, x10 the He variance
        seeds=4, root_seed=0, dataset="mnist1d", n_train=None,
        probe_batch=256,  # LSUV's batch in q pieces; the z statistics are measured on it
        score_batch=128,  # GQ / one-step loss batch (GradInit's paper batch size)
        # MetaInit: its registry defaults; GradInit: iterations = one epoch of MNIST-1D's 4000
        # training examples at batch 128 (the paper runs one CIFAR-10 epoch: 390 iterations).
        metainit_steps=50, gradinit_iters=31,
        optimizer="momentum", momentum=0.9, learning_rate=0.01, steps=1000, batch_size=64,
        eval_every=100, eval_size=1000,
    )
    # fmt: on
    # Fixed before any run, from the papers and the sample size:
    c.analysis = dict(
        lsuv_tol=0.1,  # the paper's Tol_var: every map, layer and seed, |Var - 1| < tol
        z_min=3.0,  # paired (GQ, one-step loss) and Welch (training) thresholds, in SE units
        # Training: a method started from a bad scale is "as good as He" when He's seed-mean
        # final test accuracy exceeds it by < max_gap AND by < z_min SE (one-sided Welch). 0.05
        # is a practical margin ("comparable") on MNIST-1D's 0..1 accuracy.
        max_gap=0.05,
        min_seeds=4,
    )
    return c


def _arch(compute, name: str):
    from initjax import models

    fam, act = name.split("-")
    if fam == "mlp":
        return functools.partial(models.MLP, width=int(compute.width), depth=int(compute.depth),
                                 activation=act, readout=10)  # fmt: skip
    if fam == "conv":
        return functools.partial(models.ConvNet, channels=int(compute.channels),
                                 depth=int(compute.conv_depth), activation=act, readout=10,
                                 kernel_size=3)  # fmt: skip
    raise ValueError(f"config key 'archs': {name!r} is not one of mlp-<act>, conv-<act>")


def _init(compute, method: str):
    from initjax import initializers

    hp = {"lsuv": {}, "metainit": {"steps": int(compute.metainit_steps)},
          "gradinit": {"iters": int(compute.gradinit_iters)}}  # fmt: skip
    if method in hp:
        return initializers.get(method, base="he_normal", **hp[method])
    return initializers.get(method)


def pieces(compute):
    """q pieces per (arch, method); train pieces per (arch, init)."""
    for a in compute.archs:
        _arch(compute, a)

    @functools.cache
    def data():
        from initjax.data.training import training_data

        flat = training_data(str(compute.dataset), n_train=compute.n_train, flatten=True)
        return flat, tuple(v[..., None] if v.ndim == 2 and v.dtype.kind == "f" else v for v in flat)

    out = []
    for a in compute.archs:
        for m in compute.methods:
            out.append(Piece(f"q {a} {m}", functools.partial(q_piece, a, m, data, compute),
                             {"kind": "q", "arch": a, "method": m}))  # fmt: skip
        for m in ("he_normal", "orthogonal", *compute.methods):
            out.append(Piece(f"train {a} {m}", functools.partial(train_piece, a, m, data, compute),
                             {"kind": "train", "arch": a, "method": m}))  # fmt: skip
    return out


def _pick(data, arch):
    return data()[1] if arch.startswith("conv") else data()[0]


def _scores(model, method, variables, compute, test):
    """Per seed: GQ on a Gaussian batch with random labels (metainit) or the one-step loss on
    held-out examples (gradinit); NaN for lsuv."""
    import jax
    import optax

    from initjax import models
    from initjax.initializers import gradinit, metainit

    st, p = models.stack_of(model), variables["params"]
    n = int(compute.score_batch)
    ce = lambda q, x, y: optax.softmax_cross_entropy_with_integer_labels(  # noqa: E731
        models.apply_stack(st, q, x), y).mean()  # fmt: skip
    if method == "metainit":
        kx, ky = jax.random.split(jax.random.key(int(compute.root_seed) + 7))
        x = jax.random.normal(kx, (n, *test[0].shape[1:]))
        y = jax.random.randint(ky, (n,), 0, 10)
        f = lambda q: metainit.gradient_quotient(lambda r: ce(r, x, y), q, 1e-5)  # noqa: E731
    elif method == "gradinit":
        x, y = test[0][: n + n // 2], test[1][: n + n // 2]
        xs, ys, xt, yt = x[:n], y[:n], x[n // 2 :], y[n // 2 :]  # S~: half of S + a fresh half
        f = lambda q: gradinit.one_step_loss(ce, q, xs, ys, xt, yt, eta=0.1, alg="sgd",  # noqa: E731
                                             normalize_grad=True)  # fmt: skip
    else:
        return np.full(int(compute.seeds), np.nan)
    return np.asarray(jax.jit(jax.vmap(f))(p), np.float64)


def q_piece(arch, method, data, compute) -> pd.DataFrame:
    """Per sigma_w2 arm: per-layer z statistics and the method's score, base vs refined."""
    from initjax import initializers
    from initjax.measure import initial_params, propagate

    xtr, ytr, xte, yte = _pick(data, arch)
    xb, yb = xtr[: int(compute.probe_batch)], ytr[: int(compute.probe_batch)]
    frames = []
    for sw2 in compute.sigma_w2s:
        row = dict(record="layer", arch=arch, method=method, sigma_w2=float(sw2))
        for stage, init in (
            ("base", initializers.get("he_normal")),
            ("refined", _init(compute, method)),
        ):
            model = _arch(compute, arch)(kernel_init=init, sigma_w2=float(sw2))
            v, _ = initial_params(model, (xb, yb), seeds=int(compute.seeds),
                                  root_seed=int(compute.root_seed))  # fmt: skip
            lay = propagate(model, xb, params=v, metrics="q,z_moments").to_frame()
            lay = lay[["seed", "layer", "q", "z_var", "z_mean", "nonfinite"]].copy()
            score = _scores(model, method, v, compute, (xte, yte))
            lay["score"] = score[lay["seed"].to_numpy()]
            frames.append(lay.assign(**row, stage=stage))
    return pd.concat(frames, ignore_index=True)


def train_piece(arch, method, data, compute) -> pd.DataFrame:
    """Train curves; He at the three scales (x1 is the reference), orthogonal as drawn (gain
    1), each method from the bad scales (x0.1, x10)."""
    from initjax.measure.train import TrainSpec, train

    cells = {"he_normal": list(compute.sigma_w2s), "orthogonal": [None]}.get(
        method, [s for s in compute.sigma_w2s if s != 2.0])  # fmt: skip
    model = _arch(compute, arch)(kernel_init=_init(compute, method))
    frames = []
    for sw2 in cells:  # one train call per cell: orthogonal's None is not an array value
        res = train(model.clone(sigma_w2=sw2), _pick(data, arch), seeds=int(compute.seeds),
                    learning_rate=float(compute.learning_rate),
                    spec=TrainSpec.from_config(compute),
                    root_seed=int(compute.root_seed))  # fmt: skip
        cur = res.curves_frame().drop(columns=["cell", "sigma_w2", "sigma_b2", "learning_rate"])
        cur["diverged"] = res.arrays["diverged"][0][cur["seed"].to_numpy()]
        frames.append(cur.assign(sigma_w2=np.nan if sw2 is None else float(sw2)))
    return pd.concat(frames, ignore_index=True).assign(record="curve", arch=arch, method=method)


def finals(table: pd.DataFrame) -> pd.DataFrame:
    """One row per (arch, method, sigma_w2, seed): the last curve point."""
    cur = table[table["record"] == "curve"].copy()
    cur["sigma_w2"] = cur["sigma_w2"].fillna(-1.0)  # orthogonal as drawn
    k = ["arch", "method", "sigma_w2"]
    return cur[cur["step"] == cur.groupby(k)["step"].transform("max")]


def _paired(name, before, after, z_min, log=False) -> Check:
    d = np.log(before) - np.log(after) if log else before - after
    d = d[np.isfinite(d)]
    m, se = (
        (float(np.mean(d)), float(np.std(d, ddof=1) / np.sqrt(d.size)))
        if d.size > 1
        else (np.nan, None)
    )
    z = m / se if se else (np.inf if m > 0 else np.nan)
    return Check(name, m, 0.0, se, z, tolerance=f"> 0 by >= {z_min:g} SE (paired seeds)",
                 passed=bool(d.size > 1 and z >= z_min),
                 note=f"{d.size} seeds; mean before {np.mean(before):.4g}, "
                 f"after {np.mean(after):.4g}")  # fmt: skip


def evaluate(table, config) -> Verdict:
    """(A) LSUV's promise per layer and seed; (B) GQ / (C) one-step loss reduced, paired; (D)
    each method from a bad scale trains as well as He (Welch)."""
    a = config.analysis
    checks: list[Check] = []
    lay = table[(table["record"] == "layer") & (table["stage"] == "refined")]
    for (arch, sw2), g in lay[lay["method"] == "lsuv"].groupby(["arch", "sigma_w2"]):
        dev = (g["z_var"] - 1.0).abs()
        bad = int((~(dev < a.lsuv_tol)).sum())
        checks.append(Check(f"(A) LSUV {arch}, sigma_w2 {sw2:g}: maps with |Var(z) - 1| >= tol",
                            bad, 0, tolerance=f"== 0 of {len(g)} (layer x seed); tol "
                            f"{a.lsuv_tol:g}",
                            passed=bad == 0, note=f"max |Var - 1| {dev.max():.3g}; |mean| max "
                            f"{g['z_mean'].abs().max():.3g}"))  # fmt: skip
    sc = table[(table["record"] == "layer") & (table["layer"] == 0)]
    for m, tag, log in (("metainit", "(B) MetaInit GQ reduced", True),
                        ("gradinit", "(C) GradInit one-step loss reduced", False)):  # fmt: skip
        for (arch, sw2), g in sc[sc["method"] == m].groupby(["arch", "sigma_w2"]):
            b = g[g["stage"] == "base"].set_index("seed")["score"]
            r = g[g["stage"] == "refined"].set_index("seed")["score"].reindex(b.index)
            name = f"{tag} ({'log ' if log else ''}before - after), {arch}, sigma_w2 {sw2:g}"
            checks.append(_paired(name, b.to_numpy(), r.to_numpy(), a.z_min, log))
    fin = finals(table)
    seeds = (
        int(fin.groupby(["arch", "method", "sigma_w2"])["seed"].nunique().min()) if len(fin) else 0
    )
    checks.insert(0, Check("seeds per arm (min)", seeds, a.min_seeds, tolerance=f">= {a.min_seeds}",
                           passed=seeds >= a.min_seeds))  # fmt: skip
    for arch, g in fin.groupby("arch"):
        he = g[(g["method"] == "he_normal") & (g["sigma_w2"] == 2.0)]["test_acc"]
        for (m, sw2), o in g[g["method"].isin(METHODS)].groupby(["method", "sigma_w2"]):
            gap = float(he.mean() - o["test_acc"].mean())
            try:
                t, _, p = stats.welch_one_sided(he, o["test_acc"])
            except ValueError:
                t, p = np.nan, np.nan
            se = float(np.hypot(he.sem(), o["test_acc"].sem()))
            checks.append(Check(f"(D) {arch}: He x1 test acc - {m} from sigma_w2 {sw2:g}", gap, 0.0,
                                se, t, tolerance=f"< {a.max_gap:g} and < {a.z_min:g} SE (Welch)",
                                passed=bool(np.isfinite(t) and gap < a.max_gap and t < a.z_min),
                                note=f"He {he.mean():.3f}, {m} {o['test_acc'].mean():.3f}, "
                                f"p {p:.2g}; {int(o['diverged'].sum())} diverged"))  # fmt: skip
    bad = [c.name for c in checks if c.passed is False]
    criterion = (
        f"(A) after LSUV every affine map's output variance on LSUV's batch is within "
        f"{a.lsuv_tol:g} of 1, every layer, seed, arch and base scale (measured by propagate's "
        f"z_moments). (B) MetaInit lowers GQ on a fresh batch and (C) GradInit lowers the "
        f"one-step loss on held-out examples, paired over seeds by >= {a.z_min:g} SE. (D) Each "
        f"method started from x0.1 / x10 the He variance ends with a test accuracy below He's "
        f"(x1) by < {a.max_gap:g} and by < {a.z_min:g} SE (one-sided Welch). >= {a.min_seeds} "
        f"seeds."
    )
    return Verdict.from_checks(
        criterion, checks,
        reason="all judged checks pass" if not bad else f"failed: {'; '.join(bad[:6])}"
        + (f" (+{len(bad) - 6} more)" if len(bad) > 6 else ""),
        not_reproduced=[
            "LSUV's ImageNet / CIFAR results (maxout, residual and Inception networks)",
            "MetaInit's recovery of deep residual networks without normalization (CIFAR, ImageNet)",
            "GradInit's gains with Adam on Transformers and on large residual networks",
            "widths and depths beyond the default preset (width 64, depth 20) except in 'full'",
        ],
    )  # fmt: skip


def report(table, config, ctx):
    """per-layer Var(z) figure, training curves, and the tables behind the checks."""
    import matplotlib.pyplot as plt

    from initjax.plots import savefig

    comp = config.compute
    lay = table[table["record"] == "layer"]
    archs = list(dict.fromkeys(lay["arch"]))
    ms = list(dict.fromkeys(lay["method"]))
    fig, axes = plt.subplots(len(archs), len(ms), squeeze=False, constrained_layout=True,
                             figsize=(4 * len(ms), 3 * len(archs)))  # fmt: skip
    for (i, arch), (j, m) in ((x, y) for x in enumerate(archs) for y in enumerate(ms)):
        ax = axes[i, j]
        for k, sw2 in enumerate(comp.sigma_w2s):
            for stage, ls in (("base", ":"), ("refined", "-")):
                s = lay[(lay["arch"] == arch) & (lay["method"] == m) & (lay["sigma_w2"] == sw2)
                        & (lay["stage"] == stage)].groupby("layer")["z_var"].mean()  # fmt: skip
                ax.plot(s.index, s.to_numpy(), ls=ls, color=f"C{k}", label=f"{stage} {sw2:g}")
        ax.set(yscale="log", xlabel="layer", ylabel="Var(z) (seed mean)", title=f"{arch}, {m}")
        ax.legend(fontsize=6)
    s = ctx.summary(
        f"Base: He-normal with sigma_w2 in {list(comp.sigma_w2s)} (x0.1, x1, x10 He). MLPs width "
        f"{comp.width}, depth {comp.depth}; 1-D ConvNet {comp.channels} channels, depth "
        f"{comp.conv_depth}, kernel 3, circular padding; readout 10. {comp.seeds} seeds. "
        f"LSUV: registry defaults (tol 0.1, 10 iterations) on {comp.probe_batch} training "
        f"examples; MetaInit {comp.metainit_steps} steps; GradInit {comp.gradinit_iters} "
        f"iterations. Training: {comp.dataset}, {comp.optimizer} lr {comp.learning_rate:g}, "
        f"{comp.steps} steps, batch {comp.batch_size}. GQ: 1e-5 guard, Gaussian batch of "
        f"{comp.score_batch}; one-step loss: SGD eta 0.1 on normalized gradient (GradInit's "
        "launch setting), held-out test examples."
    )
    s.figure(savefig(fig, ctx.path("data_dependent_q.png")),
             "per-layer Var(z): dotted before, solid after refinement.")  # fmt: skip
    sc = lay[lay["layer"] == 0].groupby(["arch", "method", "sigma_w2", "stage"])["score"]
    s.table(sc.mean().unstack("stage").reset_index().dropna(),
            "Seed-mean GQ (metainit) / one-step loss (gradinit), before and after:")  # fmt: skip
    fin = finals(table)
    res = stats.seed_means(
        fin, ["arch", "method", "sigma_w2"], ["test_acc", "train_loss"], sort=False
    )
    s.table(res, "Final training outcomes (sigma_w2 -1: orthogonal as drawn):",
            formats={"test_acc": ".3f", "train_loss": ".3g"})  # fmt: skip
    return s
