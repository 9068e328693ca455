"""He vs Xavier (Glorot) init on deep ReLU MLPs (He, Zhang, Ren, Sun 2015, arXiv:1502.01852, Fig. 3,
scaled down to MNIST-1D).

He init (Var = 2 / fan_in, eq. 10) keeps the second moment of a ReLU network's signal level with
depth; Glorot init (Var = 2 / (fan_in + fan_out) = 1 / fan_in on square layers) halves it at every
layer (ReLU zeroes half of a symmetric input: chi_1 = sigma_w2 E[phi'(z)^2] = sigma_w2 / 2), and the
back-propagated gradient shrinks by the same factor. Published: a 30-layer ReLU net converges with
He init and stalls with Xavier init; at 22 layers both converge (Xavier more slowly).

Each (depth, init) trains ``seeds`` networks with SGD + momentum (as He et al.; an adaptive
optimizer would rescale the vanishing gradients and hide the effect). Biases start at 0. Both arms
use their initializer exactly as registered (``sigma_w2 = None``), with the same keys: he_normal
and glorot_normal draw the same truncated-normal samples, so the two networks of a seed differ
only in each layer's scale. summary.md gives final accuracies per depth and the verdict.
"""

from __future__ import annotations

import ml_collections

DESCRIPTION = "deep ReLU MLPs, He vs Glorot init: accuracy curves by depth (He et al. 2015)"

PRESETS = {
    # One accelerator: wider, the published depths and beyond, longer, more seeds. Not yet run on
    # an accelerator; lr 0.001 because a 400-step CPU probe of He at depth 100, width 256 was
    # finite at 0.003 and 0.001 but noisier at 0.003.
    "full": {
        "learning_rate": [0.001],
        "widths": [256],
        "depths": [10, 22, 30, 50, 100],
        "seeds": 8,
        "steps": 20000,
        "eval_every": 500,
        "batch_size": 128,
    },
    # Seconds, for the test suite.
    "tiny": {"widths": [16], "depths": [3, 30], "seeds": 2, "steps": 40, "eval_every": 20},
}


def get_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.kind = "training"
    c.preset = "default"
    c.model = "mlp"
    c.widths = [64]
    c.depths = [10, 20, 30, 50]
    c.seeds = 2
    c.root_seed = 0
    c.dataset = "mnist1d"
    c.n_train = None
    c.optimizer = "momentum"  # SGD with momentum 0.9 (He et al. 2015, Sec. 4)
    # Largest of {0.01, 0.003} at which every He network up to depth 50 stays finite at width 64
    # (0.01 diverged one of two depth-30 seeds).
    c.learning_rate = [0.003]
    c.steps = 2000
    c.batch_size = 64
    c.eval_every = 100
    c.eval_size = 1000
    c.arms = [
        dict(name="He", activation="relu", init="he_normal", sigma_w2=None, sigma_b2=[0.0]),
        dict(name="Glorot", activation="relu", init="glorot_normal", sigma_w2=None, sigma_b2=[0.0]),
    ]
    # Criterion: at every depth >= criterion_depth, He's seed-mean final train accuracy is at
    # least train_threshold (4x chance on 10 classes) and Glorot's at most stall_threshold
    # (chance 0.10 + 0.05: five binomial standard deviations of an accuracy measured on 1000
    # examples, sqrt(0.1 * 0.9 / 1000) = 0.0095, above chance).
    c.criterion_depth = 30
    c.train_threshold = 0.4
    c.stall_threshold = 0.15
    return c


def signal_ratio(sigma_w2: float, depth: int) -> float:
    """Mean-field q^depth / q^0 of a bias-free ReLU MLP with ``depth`` square hidden layers.

    The ReLU q-map is q' = sigma_w2 q / 2 (``initjax.theory.q_map``, closed form: Cho & Saul 2009),
    so the ratio is (sigma_w2 / 2)^depth; the back-propagated squared gradient shrinks by the
    same factor chi_1 = sigma_w2 / 2 per layer. He: sigma_w2 = 2 -> 1; Glorot: 1 -> 2^-depth.
    """
    from initjax import theory

    per_layer = float(theory.q_map("relu", sigma_w2, 0.0, 1.0))
    return per_layer ** int(depth)


def outcomes(table):
    """Per (depth, arm): seed-mean final train/test accuracy and loss, diverged seeds, sigma_w2."""
    final = table[table["final"]]
    g = final.groupby(["depth", "arm"], sort=False)
    out = g[["train_acc", "test_acc", "train_loss"]].mean()
    out["diverged"] = g["diverged"].sum()
    out["seeds"] = g["seed"].nunique()
    out["sigma_w2"] = g["sigma_w2"].first()
    return out.reset_index().sort_values("depth", kind="stable", ignore_index=True)


def verdict(res, config) -> tuple[bool, str]:
    """(passed, text): He trains and Glorot stalls at every depth >= criterion_depth."""
    deep = res[res["depth"] >= int(config.criterion_depth)]
    if deep.empty:
        return False, f"no depth >= {config.criterion_depth} in the run"
    parts, ok = [], True
    for depth, g in deep.groupby("depth"):
        a = g.set_index("arm")
        he, gl = a.loc["He", "train_acc"], a.loc["Glorot", "train_acc"]
        he_ok = he >= float(config.train_threshold) and a.loc["He", "diverged"] == 0
        gl_ok = gl <= float(config.stall_threshold)
        ok &= bool(he_ok and gl_ok)
        parts.append(f"depth {depth}: He {he:.2f}, Glorot {gl:.2f}")
    text = (
        f"at depth >= {config.criterion_depth} He reaches train accuracy >= "
        f"{config.train_threshold:g} and Glorot stays <= {config.stall_threshold:g} "
        f"({'; '.join(parts)})"
    )
    return ok, text


def analyze(run_dir, table, config) -> None:
    """curves.png (accuracy curves per depth, both inits) and summary.md."""
    from pathlib import Path

    import matplotlib.pyplot as plt

    from initjax.plots import savefig

    run_dir = Path(run_dir)
    res = outcomes(table)
    depths = sorted(int(d) for d in res["depth"].unique())
    arms = list(dict.fromkeys(table["arm"]))
    colors = {a: plt.get_cmap("tab10")(i) for i, a in enumerate(arms)}
    width = int(table["width"].iloc[0])

    fig, axes = plt.subplots(
        1, len(depths), figsize=(3.6 * len(depths), 3.4), squeeze=False, constrained_layout=True
    )
    for ax, depth in zip(axes[0], depths, strict=True):
        for arm in arms:
            s = table[(table["depth"] == depth) & (table["arm"] == arm)]
            for _, g in s.groupby("seed"):
                ax.plot(g["step"], g["train_acc"], color=colors[arm], lw=0.6, alpha=0.4)
            m = s.groupby("step")[["train_acc", "test_acc"]].mean()
            ax.plot(m.index, m["train_acc"], color=colors[arm], lw=1.8, label=f"{arm} train")
            ax.plot(m.index, m["test_acc"], color=colors[arm], lw=1.2, ls="--", label=f"{arm} test")
        ax.axhline(float(config.stall_threshold), color="gray", ls=":", lw=1)
        ax.axhline(float(config.train_threshold), color="gray", ls="-.", lw=1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("step")
        ax.set_title(f"ReLU MLP, depth {depth}, width {width}")
        ax.legend(fontsize=7, loc="upper left")
    axes[0, 0].set_ylabel("accuracy (thin: seeds)")
    savefig(fig, run_dir / "curves.png")

    passed, text = verdict(res, config)
    lines = [
        "# He vs Xavier (Glorot) summary",
        "",
        f"ReLU MLP, width {list(config.widths)}, biases 0, {config.dataset}, {config.optimizer} "
        f"lr {list(config.learning_rate)}, {config.steps} steps, batch {config.batch_size}, "
        f"{config.seeds} seeds per cell. Published (He et al. 2015): at 30 layers He converges and "
        "Xavier stalls; at 22 layers both converge.",
        "",
        f"**Verdict: {'PASS' if passed else 'FAIL'}** — {text}.",
        "",
        "| depth | init | sigma_w2 (hidden) | theory q^L / q^0 | final train acc | "
        "final test acc | final train loss | diverged |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for _, r in res.iterrows():
        ratio = signal_ratio(float(r["sigma_w2"]), int(r["depth"]))
        lines.append(
            f"| {r['depth']} | {r['arm']} | {r['sigma_w2']:.3g} | {ratio:.3g} | "
            f"{r['train_acc']:.3f} | {r['test_acc']:.3f} | {r['train_loss']:.3g} | "
            f"{int(r['diverged'])}/{int(r['seeds'])} |"
        )
    shallow = res[res["depth"] < int(config.criterion_depth)]
    if not shallow.empty:
        both = [
            int(d)
            for d, g in shallow.groupby("depth")
            if (g["train_acc"] >= float(config.train_threshold)).all()
        ]
        lines += [
            "",
            f"Below depth {config.criterion_depth}, both inits reach train accuracy >= "
            f"{config.train_threshold:g} at depths {both or 'none'} (published: both converge at "
            "22 layers).",
        ]
    lines += [
        "",
        "Accuracies are seed means at the last recorded step; train accuracy on the first "
        f"{config.eval_size} training examples. Chance is 0.10. Thresholds: trains >= "
        f"{config.train_threshold:g}, stalls <= {config.stall_threshold:g}.",
        "",
        "Figure: curves.png (solid: train accuracy, dashed: test accuracy; dotted / dash-dotted "
        "lines: the stall / train thresholds).",
    ]
    (run_dir / "summary.md").write_text("\n".join(lines) + "\n")
