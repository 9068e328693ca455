"""Symmetry breaking: zero, constant, small random, large random and He init, judged by training.

The textbook claims (Goodfellow, Bengio, Courville 2016, Deep Learning, Sec. 8.4; the
deeplearning.ai note "Initializing neural networks"): (a) with zero or constant weights every
hidden unit of a layer computes the same function and receives the same gradient, so training
never makes them differ: the network behaves as if each layer had one unit; (b) random init
breaks the symmetry, so a randomly initialized network learns what the symmetric ones cannot;
(c) too small random weights make the signal and its gradient vanish, too large ones make it
explode (ReLU) or saturate (tanh), so deep networks train slowly or not at all.

Per activation (ReLU, tanh), depth (a shallow and a deeper MLP) and init arm, ``seeds`` networks
train with ``initjax.measure.train`` (SGD with momentum, MNIST-1D); ``initjax.measure.propagate``
measures their final params per layer (0 = input projection) with the registered metrics
``distinct_units`` (incoming vectors (weights, bias) within 1e-4 x their RMS norm are one unit;
``initjax.measure.units``) and ``weight_rank``. Biases start at 0 (random biases alone would
break the symmetry); the arm's initializer is also the readout's; the constant arm's value is
1 / width, so each unit (summing ``width`` identical inputs) passes the symmetric signal on at
unchanged scale. Symmetric units of a vmapped ``train`` are equal to float32 rounding (a drift of
up to ~1e-8 absolute is possible), not necessarily bit-identical: the tolerance is 1e-4 relative.
"""

from __future__ import annotations

import functools
from typing import Any

import ml_collections
import numpy as np
import pandas as pd

from initjax.sweeps import stats
from initjax.sweeps.checks import paired_worse_check, seeds_check
from initjax.sweeps.config import config_ints, experiment_config
from initjax.sweeps.runtime import Piece
from initjax.sweeps.summary import Check, Verdict, failed_reason
from initjax.sweeps.tables import last_step, lead_columns

DESCRIPTION = "zero/constant/small/large/He init: distinct units, and which inits train (seeds)"
TITLE = "random init breaks the symmetry of hidden units; too small or too large weights stall"
PAPER = (
    "Goodfellow, Bengio, Courville 2016, Deep Learning, Sec. 8.4 (symmetry breaking); "
    "He et al. 2015 (arXiv:1502.01852) for the reference init"
)

PRESETS = {
    # One accelerator (~0.24 GiB, scripts/preset_memory.py): wider, deeper, longer, more seeds.
    "full": {"width": 256, "depths": [3, 20], "seeds": 8, "steps": 10000, "eval_every": 250,
             "batch_size": 128},
    # Seconds, for the test suite.
    "tiny": {"width": 8, "depths": [2], "activations": ["tanh"], "seeds": 4, "steps": 20,
             "eval_every": 10},
}  # fmt: skip

METRICS = ("distinct_units", "weight_rank")
KEYS = ["activation", "depth", "arm"]  # one trained arm


def get_config() -> ml_collections.ConfigDict:
    c = experiment_config()
    # fmt: off
    c.compute = dict(
        width=64, depths=[3, 10], activations=["relu", "tanh"],
        arms=[
            dict(name="zero", init="zeros", init_hparams={}),
            dict(name="constant", init="constant", init_hparams={"value": None}),  # 1 / width
            dict(name="small random", init="normal", init_hparams={"stddev": 0.01}),
            dict(name="large random", init="normal", init_hparams={"stddev": 1.0}),
            dict(name="He", init="he_normal", init_hparams={}),
        ],
        sigma_b2=0.0,
        # 6 seeds: an exact sign test over 6 paired seeds reaches p = 0.016 <= alpha only when
        # every pair agrees; 5 of 6 gives p = 0.11 (a FAIL, as it should).
        seeds=6,
        root_seed=0, dataset="mnist1d", n_train=None, optimizer="momentum", momentum=0.9,
        learning_rate=0.01, steps=1500, batch_size=64, eval_every=100, eval_size=1000,
        probe_batch=8,  # inputs fed to propagate with the trained params (unit metrics ignore them)
    )
    # fmt: on
    c.analysis = dict(
        symmetric_arms=["zero", "constant"],  # (a): one distinct unit, rank <= 1, every layer
        reference_arm="He",  # the random init at the right scale
        small_arm="small random",  # (c): Var = 1e-4, sigma_w2 = fan_in * 1e-4
        large_arm="large random",  # (c): Var = 1, sigma_w2 = fan_in
        # (b) at the shallowest depth: He's seed-mean final train accuracy exceeds each
        # symmetric arm's by >= min_acc_gain (a tenth of the 0..1 range) with a one-sided Welch
        # p <= alpha.
        min_acc_gain=0.1,
        # (c) at the deepest depth: paired by seed, the arm's final train loss exceeds He's by
        # >= loss_margin nats (or the arm diverged) with an exact one-sided sign test p <= alpha.
        loss_margin=0.1,
        alpha=0.05,  # per test; PASS needs every test, so a false PASS has rate <= alpha
        min_seeds=4,
    )
    return c


def _hparams(arm, width: int) -> dict[str, Any]:
    hp = dict(arm.get("init_hparams") or {})
    if arm["init"] == "constant" and hp.get("value") is None:
        hp["value"] = 1.0 / width
    return hp


def pieces(compute):
    """One piece per (activation, depth, arm); a bad key is refused here, before training."""
    from initjax import activations, initializers

    names = [arm["name"] for arm in compute.arms]
    if not names or len(set(names)) != len(names):
        raise ValueError(f"config key 'arms' must be non-empty with unique names, got {names}")
    for i, arm in enumerate(compute.arms):
        try:
            initializers.get(arm["init"], **_hparams(arm, int(compute.width)))
        except (ValueError, TypeError, KeyError) as err:
            raise ValueError(f"config key 'arms[{i}]': {err}") from None
    for a in compute.activations:
        activations.get(a)
    config_ints(compute.depths, "depths")
    return [
        Piece(f"{act} L={depth} {arm['name']}",
              functools.partial(run_piece, act, int(depth), arm, compute),
              {"activation": act, "depth": int(depth), "arm": dict(arm)})
        for act in compute.activations for depth in compute.depths for arm in compute.arms
    ]  # fmt: skip


def run_piece(activation: str, depth: int, arm, compute) -> pd.DataFrame:
    """Train ``seeds`` networks of one (activation, depth, arm); curves + per-layer records."""
    import jax

    from initjax import initializers, models
    from initjax.data.training import training_data
    from initjax.measure import propagate
    from initjax.measure.train import TrainSpec, train

    data = training_data(str(compute.dataset), n_train=compute.n_train, flatten=True)
    x, y = data[:2]
    hp = _hparams(arm, int(compute.width))
    model = models.MLP(width=int(compute.width), depth=depth, activation=activation,
                       kernel_init=initializers.get(arm["init"], **hp),
                       sigma_b2=float(compute.sigma_b2), readout=int(np.max(y)) + 1)  # fmt: skip
    res = train(model, data, seeds=int(compute.seeds),
                learning_rate=float(compute.learning_rate),
                spec=TrainSpec.from_config(compute, keep_params=True),
                root_seed=int(compute.root_seed))  # fmt: skip
    diverged = res.arrays["diverged"][0]  # (seeds,): one cell
    curves = res.curves_frame().drop(columns=["cell", "sigma_w2", "sigma_b2", "learning_rate"])
    curves.insert(0, "record", "curve")
    params = {"params": jax.tree.map(lambda a: np.asarray(a)[0], res.params)}  # drop the cell axis
    lay = propagate(model, x[: int(compute.probe_batch)], params=params, metrics=METRICS)
    lay = lay.to_frame().drop(columns=["underflow", "nonfinite", "diverged"])
    lay.insert(0, "record", "layer")
    frame = pd.concat([curves, lay], ignore_index=True)
    frame["diverged"] = diverged[frame["seed"].to_numpy()]
    return lead_columns(frame, activation=activation, depth=depth, width=int(compute.width),
                        arm=arm["name"])  # fmt: skip


def finals(table: pd.DataFrame) -> pd.DataFrame:
    """One row per (activation, depth, arm, seed): final train loss / accuracy, diverged."""
    cur = table[table["record"] == "curve"]
    return last_step(cur, KEYS)[[*KEYS, "seed", "train_loss", "train_acc", "test_acc", "diverged"]]


def outcomes(table: pd.DataFrame) -> pd.DataFrame:
    """Per (activation, depth, arm): distinct units / rank ranges and seed-mean final values."""
    g = table[table["record"] == "layer"].groupby(KEYS, sort=False)
    out = g.agg(distinct_min=("distinct_units", "min"), distinct_max=("distinct_units", "max"),
                rank_min=("weight_rank", "min"), rank_max=("weight_rank", "max"),
                rel_dist_min=("unit_rel_dist_min", "min"),
                rel_dist_max=("unit_rel_dist_max", "max"))  # fmt: skip
    fin = stats.seed_means(finals(table), KEYS, ["train_acc", "test_acc", "train_loss"], sort=False)
    return out.join(fin.set_index(KEYS)).reset_index()


def _symmetric_check(lay: pd.DataFrame, fin: pd.DataFrame, act: str, arm: str) -> Check:
    sel = lay[(lay["activation"] == act) & (lay["arm"] == arm)]
    div = int(fin[(fin["activation"] == act) & (fin["arm"] == arm)]["diverged"].sum())
    top, rank = sel["distinct_units"].max(), sel["weight_rank"].max()
    ok = len(sel) > 0 and top == 1 and rank <= 1 and div == 0
    return Check(f"(a) {act}, {arm}: distinct units in any layer, any depth and seed",
                 float(top) if len(sel) else "none", 1, tolerance="== 1, rank <= 1, none diverged",
                 passed=bool(ok), note=f"max weight rank {rank:g}; {div} diverged")  # fmt: skip


def _learns_check(fin, act, depth, ref, arm, a) -> Check:
    sel = fin[(fin["activation"] == act) & (fin["depth"] == depth)]
    r, o = sel[sel["arm"] == ref]["train_acc"], sel[sel["arm"] == arm]["train_acc"]
    return stats.welch_gain(f"(b) {act}, depth {depth}: train accuracy {ref} - {arm}", r, o,
                            min_gain=a.min_acc_gain, alpha=a.alpha, labels=(ref, arm))  # fmt: skip


def _hurts_check(fin, act, depth, ref, arm, a, judged: bool) -> Check:
    sel = fin[(fin["activation"] == act) & (fin["depth"] == depth)]
    name = f"(c) {act}, depth {depth}: {arm} worse than {ref} (paired seeds)"
    kw = dict(margin=a.loss_margin, alpha=a.alpha, labels=(ref, arm))
    c = paired_worse_check(name, sel[sel["arm"] == ref], sel[sel["arm"] == arm], **kw)
    c.passed = c.passed if judged else None
    return c


def evaluate(table, config) -> Verdict:
    """(a) symmetric arms keep one unit; (b) He outlearns them at the shallow depth; (c) small /
    large random lose to He at the deepest depth (reported at the shallower ones)."""
    a = config.analysis
    lay, fin = table[table["record"] == "layer"], finals(table)
    acts = list(dict.fromkeys(fin["activation"]))
    shallow, deep = int(fin["depth"].min()), int(fin["depth"].max())
    checks = [seeds_check(fin.groupby(KEYS)["seed"].nunique(), a.min_seeds)]
    for act in acts:
        for arm in a.symmetric_arms:
            checks.append(_symmetric_check(lay, fin, act, arm))
            checks.append(_learns_check(fin, act, shallow, a.reference_arm, arm, a))
        for depth in sorted(set(fin["depth"])):
            for arm in (a.small_arm, a.large_arm):
                checks.append(_hurts_check(fin, act, depth, a.reference_arm, arm, a, depth == deep))
    criterion = (
        f"(a) {', '.join(a.symmetric_arms)} init keep exactly one distinct unit (relative "
        f"tolerance 1e-4) and weight rank <= 1 in every layer, no network diverged. (b) At the "
        f"shallowest depth, {a.reference_arm}'s seed-mean final train accuracy exceeds each "
        f"symmetric arm's by >= {a.min_acc_gain:g}, one-sided Welch p <= {a.alpha:g}. (c) At the "
        f"deepest depth, paired by seed, {a.small_arm} and {a.large_arm} end with a final train "
        f"loss >= {a.reference_arm}'s + {a.loss_margin:g} nats (or diverge), exact one-sided "
        f"sign test p <= {a.alpha:g}; shallower depths are reported. Every activation; >= "
        f"{a.min_seeds} seeds per arm."
    )
    return Verdict.from_checks(
        criterion, checks,
        reason=failed_reason(checks),
        not_reproduced=[
            "convolutional and residual networks; optimizers other than momentum SGD",
            "the claim at widths and depths beyond 64 units and 10 layers (the full preset)",
        ],
    )  # fmt: skip


def report(table, config, ctx):
    """symmetry.png (train-loss curves per activation and depth) and the outcome table."""
    from initjax.plots import savefig
    from initjax.sweeps.panels import facets, mean_curves

    comp = config.compute
    res = outcomes(table)
    fig, panels = facets(table[table["record"] == "curve"], "activation", "depth", size=(4.2, 3.3))
    dashes = ["--", "-", ":", "-", "-."]  # zero and small random both sit at log 10
    style = lambda k, _: {"ls": dashes[k % 5]}

    def label(arm, rows):
        ndiv = rows.groupby("seed")["diverged"].first().sum()
        return arm + (f" ({ndiv} diverged)" if ndiv else "")

    for ax, (act, depth), sel in panels:
        mean_curves(ax, sel, "step", "train_loss", "arm", label=label, style=style)
        title = f"{act}, depth {depth}, width {comp.width}"
        ax.set(yscale="log", xlabel="step", ylabel="train loss (seed mean)", title=title)
        ax.legend(fontsize=7)
    s = ctx.summary(
        f"MLP width {comp.width}, depths {list(comp.depths)} (hidden layers after the input "
        f"projection), {comp.dataset}, {comp.optimizer} lr {comp.learning_rate:g} (momentum "
        f"{comp.momentum:g}), {comp.steps} steps, batch {comp.batch_size}, {comp.seeds} seeds; "
        "biases start at 0; the arm's init is also the readout's. Distinct units: incoming "
        "vectors (W[:, j], b_j) within 1e-4 x their RMS norm are one unit (metric "
        "distinct_units); rank: metric weight_rank. Symmetric units are equal up to float32 "
        "rounding of the vmapped training (not claimed bit-identical)."
    )
    s.figure(savefig(fig, ctx.path("symmetry.png")), "seed-mean train loss per arm.")
    s.table(res, "Per (activation, depth, arm): ranges over layers and seeds, seed means of the "
            "final values (chance accuracy 0.10):",
            formats={"rel_dist_min": ".2g", "rel_dist_max": ".2g", "train_acc": ".3f",
                     "test_acc": ".3f", "train_loss": ".3g", "train_acc_se": ".2g"})  # fmt: skip
    return s
