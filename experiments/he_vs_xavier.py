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
only in each layer's scale. A grid experiment: its pieces are the grid's groups.
"""

from __future__ import annotations

import ml_collections
import numpy as np

from initjax.sweeps import stats
from initjax.sweeps.config import experiment_config
from initjax.sweeps.runner import grid_pieces
from initjax.sweeps.summary import Check, Verdict

pieces = grid_pieces  # the grid's groups (one compiled call each) are the pieces

DESCRIPTION = "deep ReLU MLPs, He vs Glorot init: accuracy curves by depth (He et al. 2015)"
TITLE = "He vs Xavier (Glorot) init: deep ReLU networks train or stall"
PAPER = (
    "He, Zhang, Ren, Sun 2015, Delving deep into rectifiers (arXiv:1502.01852), Sec. 2.2, Fig. 3"
)

# fmt: off
PRESETS = {
    # One accelerator (~1.1 GiB): wider, the published depths and beyond, longer, more seeds. Not
    # yet run on one; lr 0.001 because a 400-step CPU probe of He at depth 100, width 256 was
    # finite at 0.003 and 0.001 but noisier at 0.003.
    "full": {"learning_rate": [0.001], "widths": [256], "depths": [10, 22, 30, 50, 100],
             "seeds": 8, "steps": 20000, "eval_every": 500, "batch_size": 128},
    # Seconds, for the test suite.
    "tiny": {"widths": [16], "depths": [3, 30], "seeds": 2, "steps": 40, "eval_every": 20},
}
# fmt: on


def get_config() -> ml_collections.ConfigDict:
    c = experiment_config()
    # fmt: off
    c.compute = dict(
        kind="training", model="mlp", widths=[64], depths=[10, 20, 30, 50], seeds=2, root_seed=0,
        dataset="mnist1d",
        n_train=None,  # None: the whole training split
        optimizer="momentum",  # SGD with momentum 0.9 (He et al. 2015, Sec. 4)
        momentum=0.9,
        # Largest of {0.01, 0.003} at which every He network up to depth 50 stays finite at
        # width 64 (0.01 diverged one of two depth-30 seeds).
        learning_rate=[0.003],
        steps=2000, batch_size=64, eval_every=100, eval_size=1000,
        arms=[
            dict(name="He", activation="relu", init="he_normal", sigma_w2=None, sigma_b2=[0.0]),
            dict(name="Glorot", activation="relu", init="glorot_normal", sigma_w2=None,
                 sigma_b2=[0.0]),
        ],
    )
    # fmt: on
    # Criterion: at every depth >= criterion_depth, He's seed-mean final train accuracy is at
    # least train_threshold (4x chance on 10 classes) with no diverged seed, and Glorot's at
    # most stall_threshold (chance 0.10 + 0.05: five binomial standard deviations of an accuracy
    # measured on 1000 examples, sqrt(0.1 * 0.9 / 1000) = 0.0095, above chance).
    c.analysis = dict(criterion_depth=30, train_threshold=0.4, stall_threshold=0.15)
    return c


def signal_ratio(sigma_w2: float, depth: int) -> float:
    """Mean-field q^depth / q^0 of a bias-free ReLU MLP with ``depth`` square hidden layers:
    (sigma_w2 / 2)^depth, by the ReLU q-map q' = sigma_w2 q / 2 (``initjax.theory.q_map``, closed
    form: Cho & Saul 2009). He: sigma_w2 = 2 -> 1; Glorot: 1 -> 2^-depth."""
    from initjax import theory

    return float(theory.q_map("relu", sigma_w2, 0.0, 1.0)) ** int(depth)


def outcomes(table):
    """Per (depth, arm): seed-mean final train/test accuracy (and SE of the train accuracy over
    seeds), train loss, diverged seeds, sigma_w2."""
    final = table[table["final"]]
    means = ["train_acc", "test_acc", "train_loss"]
    out = stats.seed_means(final, ["depth", "arm"], means, sort=False)
    out["sigma_w2"] = final.groupby(["depth", "arm"], sort=False)["sigma_w2"].first().to_numpy()
    return out.sort_values("depth", kind="stable", ignore_index=True)


def evaluate(table, config) -> Verdict:
    """He trains (>= train_threshold, none diverged) and Glorot stalls (<= stall_threshold) at
    every depth >= criterion_depth; shallower depths are reported."""
    a = config.analysis
    res = outcomes(table) if "depth" in table else table
    checks, parts = [], []
    for _, r in res.iterrows():
        deep = r["depth"] >= a.criterion_depth
        he = r["arm"] == "He"
        trains = r["train_acc"] >= a.train_threshold and r.get("diverged", 0) == 0
        ok = trains if he else r["train_acc"] <= a.stall_threshold
        rule = f">= {a.train_threshold:g}" if he else f"<= {a.stall_threshold:g}"
        se = r.get("train_acc_se", np.nan)
        note = f"{int(r.get('diverged', 0))} diverged" if he else ""
        checks.append(Check(f"final train accuracy, {r['arm']}, depth {int(r['depth'])}",
                            float(r["train_acc"]), None,
                            se=None if not np.isfinite(se) else float(se), tolerance=rule,
                            passed=bool(ok) if deep else None, note=note))  # fmt: skip
        if deep:
            parts.append(f"depth {int(r['depth'])}: {r['arm']} {r['train_acc']:.2f}")
    if not parts:
        checks.append(Check(f"a depth >= {a.criterion_depth} in the run", "none",
                            tolerance="present", passed=False))  # fmt: skip
    criterion = (
        f"At every depth >= {a.criterion_depth}, He's seed-mean final train accuracy is >= "
        f"{a.train_threshold:g} with no diverged seed, and Glorot's is <= {a.stall_threshold:g} "
        "(chance 0.10). Shallower depths are reported, not judged."
    )
    return Verdict.from_checks(
        criterion,
        checks,
        reason="; ".join(parts) or f"no depth >= {a.criterion_depth} in the run",
        not_reproduced=[
            "ImageNet-scale 22- and 30-layer networks (He et al. 2015, Fig. 3): MNIST-1D MLPs",
            "the PReLU activation and its initialization (He et al. 2015, Sec. 2.1)",
            "seed counts for a significance test: 2 seeds per cell at the default preset",
        ],
    )


def report(table, config, ctx):
    """curves.png (accuracy curves per depth, both inits) and the outcome table."""
    from initjax.plots import savefig
    from initjax.sweeps.panels import facets, mean_curves

    a, comp = config.analysis, config.compute
    res = outcomes(table)
    pairs = zip(res["sigma_w2"], res["depth"], strict=True)
    res["theory q^L / q^0"] = [signal_ratio(float(w), int(d)) for w, d in pairs]
    fig, panels = facets(table, cols="depth", size=(3.6, 3.4), sort=True)
    for ax, (depth,), sel in panels:
        thin = dict(lw=0.6, alpha=0.4)
        mean_curves(ax, sel, "step", "train_acc", "arm", label="{} train", seeds=thin, lw=1.8)
        mean_curves(ax, sel, "step", "test_acc", "arm", label="{} test", lw=1.2, ls="--")
        ax.axhline(float(a.stall_threshold), color="gray", ls=":", lw=1)
        ax.axhline(float(a.train_threshold), color="gray", ls="-.", lw=1)
        ax.set(ylim=(0, 1), xlabel="step", title=f"ReLU MLP, depth {depth}")
        ax.legend(fontsize=7, loc="upper left")
    panels[0][0].set_ylabel("accuracy (thin: seeds)")
    s = ctx.summary(
        f"ReLU MLP, width {list(comp.widths)}, depths {list(comp.depths)}, biases 0, "
        f"{comp.dataset}, {comp.optimizer} (momentum {comp.momentum:g}) lr "
        f"{list(comp.learning_rate)}, {comp.steps} steps, batch {comp.batch_size}, {comp.seeds} "
        "seeds per cell. Published (He et al. 2015): at 30 layers He converges and Xavier "
        "stalls; at 22 layers both converge."
    )
    s.figure(savefig(fig, ctx.path("curves.png")), "solid: train accuracy, dashed: test "
             "accuracy; dotted / dash-dotted: the stall / train thresholds.")  # fmt: skip
    cols = ["depth", "arm", "sigma_w2", "theory q^L / q^0", "train_acc", "train_acc_se",
            "test_acc", "train_loss", "diverged", "seeds"]  # fmt: skip
    fmt = {"sigma_w2": ".3g", "theory q^L / q^0": ".3g", "train_acc": ".3f",
           "train_acc_se": ".2g", "test_acc": ".3f", "train_loss": ".3g"}  # fmt: skip
    s.table(res[cols], f"Seed means at the last recorded step (train accuracy on the first "
            f"{comp.eval_size} training examples; chance 0.10):", formats=fmt)  # fmt: skip
    return s
