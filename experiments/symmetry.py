"""Symmetry breaking: zero, constant, small random, large random and He init, after training.

The textbook claims (e.g. Goodfellow et al. 2016, §8.4; the deeplearning.ai note "Initializing
neural networks"): with zero or constant weights every hidden unit of a layer computes the same
function and receives the same gradient, so training never makes them differ -- the network behaves
as if each layer had one unit; random init breaks the symmetry, but too small weights make the
signal vanish and too large ones make it explode (ReLU) or saturate (tanh), so deep nets train
slowly or not at all. This experiment makes each claim a number.

For each activation (ReLU, tanh), depth (a shallow and a deeper MLP) and init arm, ``seeds``
networks are trained with ``initjax.measure.train`` (SGD with momentum, MNIST-1D by default), the
final params are kept, and per hidden layer (layer 0 = input projection, 1..depth) we record:

- ``distinct_units``: number of groups of units whose incoming vectors v_j = (W[:, j], b_j) lie
  within ``rel_tol`` x RMS_j |v_j| of each other (connected components of the "closer than the
  tolerance" graph). Why 1e-4 relative: independent random vectors are about sqrt(2) x their norm
  apart (in the default run the closest pair of any trained random layer is still 0.2 x the RMS
  norm; summary.md lists it), while units kept equal by symmetry differ only by float32 rounding,
  ~1e-7 per operation, so the two populations are separated by three or more orders of magnitude
  on either side of the tolerance. Symmetric units are not bit-identical in general: XLA may
  round a matmul's output columns differently (vectorized body vs remainder, thread partitions,
  vmapped batched dots; on CPU as on accelerators), so a unit can drift from the others by about
  one float32 rounding of the weights' scale per step (observed ~1e-8 after 50-100 vmapped steps
  on a CPU); ``initjax.measure.train`` states and tests the worst-case bound steps x eps(float32)
  relative, which exceeds rel_tol past ~840 steps (the observed drift is ~10x below it).
- ``rank``: numerical rank of the layer's kernel, singular values above
  s_max x max(fan_in, fan_out) x eps(float32) (numpy's ``matrix_rank`` default for float32 data,
  the same rule as ``initjax.measure`` ``act_rank``).
- loss / accuracy curves and final accuracy (``diverged`` for NaN losses).

Biases start at 0 (``sigma_b2 = 0``): random biases alone would break the symmetry. The arm's
initializer is also the readout's. The constant arm's value is 1 / width by default, so each unit
(which sums ``width`` identical inputs) passes the symmetric signal on at unchanged scale.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ml_collections
import numpy as np

if TYPE_CHECKING:
    import pandas as pd

DESCRIPTION = "zero/constant/small/large/He init: distinct hidden units, weight rank, loss curves"

PRESETS = {
    # One accelerator: wider, deeper, longer, more seeds.
    "full": {
        "width": 256,
        "depths": [3, 20],
        "seeds": 8,
        "steps": 10000,
        "eval_every": 250,
        "batch_size": 128,
    },
    # Seconds, for the test suite.
    "tiny": {
        "width": 8,
        "depths": [2],
        "activations": ["tanh"],
        "seeds": 2,
        "steps": 20,
        "eval_every": 10,
    },
}

ACTIVATIONS = ("relu", "tanh")
# Columns of a "layer" record (one row per group x seed x hidden layer).
LAYER_COLUMNS = (
    "layer",
    "fan_in",
    "units",
    "distinct_units",
    "rank",
    "min_rel_dist",
    "max_rel_dist",
    "rms_norm",
)


def get_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.preset = "default"
    c.width = 64
    c.depths = [3, 10]
    c.activations = list(ACTIVATIONS)
    c.arms = [
        dict(name="zero", init="zeros", init_hparams={}),
        # value None: 1 / width (see module docstring)
        dict(name="constant", init="constant", init_hparams={"value": None}),
        dict(name="small random", init="normal", init_hparams={"stddev": 0.01}),
        dict(name="large random", init="normal", init_hparams={"stddev": 1.0}),
        dict(name="He", init="he_normal", init_hparams={}),
    ]
    c.symmetric_arms = ["zero", "constant"]  # criterion (a): one distinct unit per layer
    c.large_arm = "large random"  # criterion (c): compared with reference_arm on the deepest net
    c.reference_arm = "He"
    c.sigma_b2 = 0.0
    c.seeds = 2
    c.root_seed = 0
    c.dataset = "mnist1d"
    c.n_train = None
    c.optimizer = "momentum"
    c.momentum = 0.9
    c.learning_rate = 0.01
    c.steps = 1500
    c.batch_size = 64
    c.eval_every = 100
    c.eval_size = 1000
    c.rel_tol = 1e-4
    c.fail_margin = 0.2  # criterion (c): large random's train accuracy <= He's - fail_margin
    return c


# ------------------------------------------------------------------------------ measurements
def unit_vectors(kernel: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
    """Incoming vectors of a dense layer's units, one row per unit: ``(fan_out, fan_in [+ 1])``.

    Args:
      kernel: ``(fan_in, fan_out)`` (Flax layout: unit j's incoming weights are column j).
      bias: ``(fan_out,)`` or None; appended as a last coordinate (units with equal weights but
        different biases compute different functions).

    Raises:
      ValueError: kernel not 2-D, or a bias whose length is not fan_out.
    """
    k = np.asarray(kernel, np.float64)
    if k.ndim != 2:
        raise ValueError(f"kernel must be 2-D (fan_in, fan_out), got shape {k.shape}")
    v = k.T
    if bias is not None:
        b = np.asarray(bias, np.float64)
        if b.shape != (k.shape[1],):
            raise ValueError(f"bias must have shape ({k.shape[1]},), got {b.shape}")
        v = np.concatenate([v, b[:, None]], axis=1)
    return v


def _pairwise(v: np.ndarray) -> np.ndarray:
    from scipy.spatial.distance import pdist

    # Direct differences (not a Gram matrix): identical rows give exactly 0.
    return pdist(v, "euclidean")


def distinct_units(v: np.ndarray, rel_tol: float = 1e-4) -> float:
    """Number of distinct units among the rows of ``v`` ``(units, dim)`` (float; NaN if not finite).

    Two units are linked when |v_i - v_j| <= rel_tol x RMS_i |v_i|; the count is the number of
    connected components (single linkage), so a chain of near-copies counts once. All-zero rows are
    one unit (the threshold is 0 and every distance is 0).

    Raises:
      ValueError: rel_tol < 0 or v not 2-D.
    """
    if rel_tol < 0:
        raise ValueError(f"rel_tol must be >= 0, got {rel_tol}")
    v = np.asarray(v, np.float64)
    if v.ndim != 2:
        raise ValueError(f"v must be 2-D (units, dim), got shape {v.shape}")
    if not np.all(np.isfinite(v)):
        return float("nan")
    n = v.shape[0]
    if n < 2:
        return float(n)
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial.distance import squareform

    tol = rel_tol * np.sqrt(np.mean(np.sum(v * v, axis=1)))
    adj = squareform(_pairwise(v)) <= tol
    n_comp, _ = connected_components(csr_matrix(adj), directed=False)
    return float(n_comp)


def relative_distances(v: np.ndarray) -> tuple[float, float]:
    """(min, max) pairwise distance between rows of ``v``, in units of RMS row norm.

    (0, 0) for all-zero rows; NaN if not finite or fewer than 2 rows.
    """
    v = np.asarray(v, np.float64)
    if v.shape[0] < 2 or not np.all(np.isfinite(v)):
        return float("nan"), float("nan")
    d = _pairwise(v)
    scale = np.sqrt(np.mean(np.sum(v * v, axis=1)))
    if scale == 0:
        return 0.0, 0.0
    return float(d.min() / scale), float(d.max() / scale)


def weight_rank(kernel: np.ndarray, eps: float = float(np.finfo(np.float32).eps)) -> float:
    """Numerical rank of ``kernel`` ``(fan_in, fan_out)``: singular values > s_max max(shape) eps.

    0 for an all-zero kernel; NaN if not finite. ``eps`` defaults to float32's (the weights' dtype).
    """
    k = np.asarray(kernel, np.float64)
    if k.ndim != 2:
        raise ValueError(f"kernel must be 2-D (fan_in, fan_out), got shape {k.shape}")
    if not np.all(np.isfinite(k)):
        return float("nan")
    s = np.linalg.svd(k, compute_uv=False)
    if s.size == 0 or s[0] == 0:
        return 0.0
    return float(np.sum(s > s[0] * max(k.shape) * eps))


def layer_records(params: dict[str, Any], rel_tol: float) -> list[dict[str, float]]:
    """Per hidden layer of one MLP's params (``{"input", "hidden", ...}``, no seed axis)."""
    layers = [(np.asarray(params["input"]["kernel"]), np.asarray(params["input"]["bias"]))]
    hk, hb = np.asarray(params["hidden"]["kernel"]), np.asarray(params["hidden"]["bias"])
    layers += [(hk[i], hb[i]) for i in range(hk.shape[0])]
    out = []
    for layer, (k, b) in enumerate(layers):
        v = unit_vectors(k, b)
        lo, hi = relative_distances(v)
        finite = bool(np.all(np.isfinite(v)))
        out.append(
            {
                "layer": layer,
                "fan_in": k.shape[0],
                "units": k.shape[1],
                "distinct_units": distinct_units(v, rel_tol),
                "rank": weight_rank(k),
                "min_rel_dist": lo,
                "max_rel_dist": hi,
                "rms_norm": float(np.sqrt(np.mean(np.sum(v * v, axis=1))))
                if finite
                else float("nan"),
            }
        )
    return out


# ------------------------------------------------------------------------------------- running
def _validate(config) -> None:
    from initjax import activations, initializers

    def pos_int(key):
        v = config[key]
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"config key {key!r} must be a positive integer, got {v!r}")

    for key in ("width", "seeds", "steps", "batch_size", "eval_every", "eval_size"):
        pos_int(key)
    depths = list(config.depths)
    if not depths or any(isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in depths):
        raise ValueError(f"config key 'depths' must be a non-empty list of ints >= 1, got {depths}")
    if not list(config.activations):
        raise ValueError("config key 'activations' must be a non-empty list")
    for a in config.activations:
        try:
            activations.get(a)
        except (ValueError, TypeError) as err:
            raise ValueError(f"config key 'activations': {err}") from None
    names = [arm["name"] for arm in config.arms]
    if not names or len(set(names)) != len(names):
        raise ValueError(f"config key 'arms' must be non-empty with unique names, got {names}")
    for i, arm in enumerate(config.arms):
        try:
            initializers.get(arm["init"], **_hparams(arm, int(config.width)))
        except (ValueError, TypeError, KeyError) as err:
            raise ValueError(f"config key 'arms[{i}]': {err}") from None
    for key in ("symmetric_arms",):
        bad = [a for a in config[key] if a not in names]
        if bad:
            raise ValueError(f"config key {key!r}: {bad} are not arm names {names}")
    for key in ("large_arm", "reference_arm"):
        if config[key] not in names:
            raise ValueError(f"config key {key!r}: {config[key]!r} is not an arm name {names}")
    if not float(config.learning_rate) > 0:
        raise ValueError(f"config key 'learning_rate' must be > 0, got {config.learning_rate}")
    if float(config.rel_tol) < 0 or float(config.sigma_b2) < 0:
        raise ValueError("config keys 'rel_tol' and 'sigma_b2' must be >= 0")


def _hparams(arm, width: int) -> dict[str, Any]:
    hp = dict(arm.get("init_hparams") or {})
    if arm["init"] == "constant" and hp.get("value") is None:
        hp["value"] = 1.0 / width
    return hp


# Config keys that change a group's numbers (part of its id, so a rerun resumes correctly).
_CONTEXT = (
    "width",
    "sigma_b2",
    "seeds",
    "root_seed",
    "dataset",
    "n_train",
    "optimizer",
    "momentum",
    "learning_rate",
    "steps",
    "batch_size",
    "eval_every",
    "eval_size",
    "rel_tol",
)


def _groups(config) -> list[dict[str, Any]]:
    """One group per (activation, depth, arm), in table order, with a stable content id."""
    context = {k: config[k] for k in _CONTEXT}
    out = []
    for act in config.activations:
        for depth in config.depths:
            for arm in config.arms:
                spec = {
                    "activation": str(act),
                    "depth": int(depth),
                    "arm": str(arm["name"]),
                    "init": str(arm["init"]),
                    "init_hparams": _hparams(arm, int(config.width)),
                    "context": context,
                }
                blob = json.dumps(spec, sort_keys=True, default=str)
                spec["id"] = hashlib.sha1(blob.encode()).hexdigest()[:12]
                spec["label"] = f"{act} L={depth} {arm['name']}"
                out.append(spec)
    return out


def run_group(spec: dict[str, Any], data, config) -> pd.DataFrame:
    """Train ``seeds`` networks of one (activation, depth, arm); curves + per-layer records."""
    import jax
    import pandas as pd

    from initjax import initializers, models
    from initjax.measure.train import TrainSpec, train

    init = initializers.get(spec["init"], **spec["init_hparams"])
    n_classes = int(np.max(data[1])) + 1
    model = models.MLP(
        width=int(config.width),
        depth=spec["depth"],
        activation=spec["activation"],
        kernel_init=init,
        sigma_b2=float(config.sigma_b2),
        readout=n_classes,
    )
    res = train(
        model,
        data,
        seeds=int(config.seeds),
        learning_rate=float(config.learning_rate),
        spec=TrainSpec.from_config(config, keep_params=True),
        root_seed=int(config.root_seed),
    )
    diverged = res.arrays["diverged"][0]  # (seeds,): one cell
    curves = res.curves_frame().drop(columns=["cell", "sigma_w2", "sigma_b2", "learning_rate"])
    curves.insert(0, "record", "curve")
    curves["diverged"] = diverged[curves["seed"].to_numpy()]
    params = jax.tree.map(lambda a: np.asarray(a)[0], res.params)  # drop the cell axis
    rows = []
    for s in range(int(config.seeds)):
        p = jax.tree.map(lambda a, s=s: a[s], params)
        for rec in layer_records(p, float(config.rel_tol)):
            rows.append({"record": "layer", "seed": s, **rec, "diverged": bool(diverged[s])})
    frame = pd.concat([curves, pd.DataFrame(rows)], ignore_index=True)
    meta = {
        "activation": spec["activation"],
        "depth": spec["depth"],
        "width": int(config.width),
        "arm": spec["arm"],
        "init": spec["init"],
        "init_hparams": json.dumps(spec["init_hparams"], sort_keys=True),
    }
    for i, (k, v) in enumerate(meta.items()):
        frame.insert(i, k, v)
    return frame


def run(config, out, *, progress: bool = True):
    """Run (or resume) every group into ``out``; then results.parquet, figure and summary.md.

    Each finished group is written at once (atomically) by ``RunStore``; a rerun skips it.

    Raises:
      ValueError: an invalid config (before any training), naming the key.
    """
    from tqdm.auto import tqdm

    from initjax.data import training_data
    from initjax.sweeps.store import RunStore, environment, now

    _validate(config)
    out = Path(out)
    store = RunStore(out)
    groups = _groups(config)
    try:
        data = training_data(str(config.dataset), n_train=config.n_train, flatten=True)
    except ValueError as err:
        raise ValueError(f"config key 'dataset' / 'n_train': {err}") from None
    manifest = {
        "experiment": "symmetry",
        "experiment_path": str(Path(__file__).resolve()),
        "status": "running",
        "started": now(),
        "config": config.to_dict(),
        "environment": environment(),
        "groups": [{"id": g["id"], "label": g["label"]} for g in groups],
    }
    store.write_manifest(manifest)
    t_start = time.perf_counter()
    todo = [g for g in groups if not store.is_done(g["id"])]
    with tqdm(
        total=len(groups), initial=len(groups) - len(todo), desc="symmetry", disable=not progress
    ) as bar:
        for g in todo:
            bar.set_description(g["label"])
            t0 = time.perf_counter()
            frame = run_group(g, data, config)
            meta = {"label": g["label"], "wall_s": time.perf_counter() - t0, "done": now()}
            store.write_group(g["id"], frame, meta)
            bar.update(1)
    table = store.assemble([g["id"] for g in groups])
    manifest.update(
        status="complete",
        finished=now(),
        wall_s=time.perf_counter() - t_start,
        group_wall_s={g["id"]: store.group_meta(g["id"]).get("wall_s") for g in groups},
    )
    store.write_manifest(manifest)
    analyze(out, table, config)
    return table


# ------------------------------------------------------------------------------------ analysis
def outcomes(table: pd.DataFrame) -> pd.DataFrame:
    """Per (activation, depth, arm): distinct units and rank ranges, final accuracies, divergence.

    Distinct units / rank are min and max over hidden layers and seeds of finite networks; the
    accuracies are seed means of the last recorded point (NaN losses count as diverged).
    """
    import pandas as pd

    keys = ["activation", "depth", "arm"]
    lay = table[table["record"] == "layer"]
    cur = table[table["record"] == "curve"]
    final = cur[cur["step"] == cur.groupby(keys)["step"].transform("max")]
    fin = {k: f for k, f in final.groupby(keys, sort=False)}
    rows = []
    for k, g in lay.groupby(keys, sort=False):
        f = fin.get(k)
        ok = g[np.isfinite(g["distinct_units"])]
        rows.append(
            {
                **dict(zip(keys, k, strict=True)),
                "width": int(g["units"].iloc[0]),
                "seeds": g["seed"].nunique(),
                "diverged": int(g.groupby("seed")["diverged"].first().sum()),
                "distinct_min": ok["distinct_units"].min() if len(ok) else np.nan,
                "distinct_max": ok["distinct_units"].max() if len(ok) else np.nan,
                "hidden_distinct_min": ok.loc[ok["layer"] >= 1, "distinct_units"].min()
                if len(ok)
                else np.nan,
                "input_rank_min": ok.loc[ok["layer"] == 0, "rank"].min() if len(ok) else np.nan,
                "input_rank_max": ok.loc[ok["layer"] == 0, "rank"].max() if len(ok) else np.nan,
                "rank_min": ok.loc[ok["layer"] >= 1, "rank"].min() if len(ok) else np.nan,
                "rank_max": ok.loc[ok["layer"] >= 1, "rank"].max() if len(ok) else np.nan,
                "min_rel_dist": ok["min_rel_dist"].min() if len(ok) else np.nan,
                "max_rel_dist": ok["max_rel_dist"].max() if len(ok) else np.nan,
                "train_acc": float(f["train_acc"].mean()) if f is not None else np.nan,
                "test_acc": float(f["test_acc"].mean()) if f is not None else np.nan,
                "train_loss": float(f["train_loss"].mean()) if f is not None else np.nan,
            }
        )
    return pd.DataFrame(rows)


def verdict(res: pd.DataFrame, config) -> dict[str, Any]:
    """The three criteria; each entry is (passed: bool, text)."""
    sym = res[res["arm"].isin(list(config.symmetric_arms))]
    a_ok = bool(
        len(sym)
        and (sym["distinct_min"] == 1).all()
        and (sym["distinct_max"] == 1).all()
        and (sym["diverged"] == 0).all()
    )
    rnd = res[~res["arm"].isin(list(config.symmetric_arms))]
    rnd_f = rnd[np.isfinite(rnd["distinct_min"])]
    b_ok = bool(len(rnd_f) and (rnd_f["distinct_min"] == rnd_f["width"]).all())
    deep = int(max(res["depth"]))
    c_parts, c_ok = [], True
    for act in dict.fromkeys(res["activation"]):
        sel = res[(res["activation"] == act) & (res["depth"] == deep)].set_index("arm")
        large, ref = sel.loc[config.large_arm], sel.loc[config.reference_arm]
        all_div = large["diverged"] == large["seeds"]
        ok = bool(all_div or large["train_acc"] <= ref["train_acc"] - float(config.fail_margin))
        c_ok &= ok
        how = "all seeds diverged" if all_div else f"train acc {large['train_acc']:.2f}"
        c_parts.append(f"{act}: {how} vs {config.reference_arm} {ref['train_acc']:.2f}")
    return {
        "a": (a_ok, "symmetric inits keep exactly 1 distinct unit in every hidden layer"),
        "b": (b_ok, "every random init that did not diverge ends with all units distinct"),
        "c": (
            c_ok,
            f"{config.large_arm} at depth {deep} diverges or ends >= {config.fail_margin:g} below "
            f"{config.reference_arm} in train accuracy ({'; '.join(c_parts)})",
        ),
    }


def analyze(run_dir, table, config) -> None:
    """symmetry.png (loss curves + distinct-unit bars) and summary.md (also `initjax plot`)."""
    import matplotlib.pyplot as plt

    from initjax.plots import savefig

    run_dir = Path(run_dir)
    res = outcomes(table)
    cur = table[table["record"] == "curve"]
    lay = table[table["record"] == "layer"]
    acts = list(dict.fromkeys(res["activation"]))
    depths = sorted(int(d) for d in res["depth"].unique())
    arms = list(dict.fromkeys(res["arm"]))
    width = int(res["width"].iloc[0])
    colors = {a: plt.get_cmap("tab10")(i) for i, a in enumerate(arms)}
    # distinct dash patterns: zero and small random both sit at log(10) and would hide each other
    dashes = ["--", "-", ":", "-", "-."]
    styles = {
        a: {"color": colors[a], "lw": 2.2 if i == 0 else 1.6, "ls": dashes[i % len(dashes)]}
        for i, a in enumerate(arms)
    }

    fig, axes = plt.subplots(
        len(acts),
        len(depths) + 1,
        figsize=(4.2 * (len(depths) + 1), 3.3 * len(acts)),
        squeeze=False,
        constrained_layout=True,
    )
    for i, act in enumerate(acts):
        for j, depth in enumerate(depths):
            ax = axes[i, j]
            sel = cur[(cur["activation"] == act) & (cur["depth"] == depth)]
            for arm in arms:
                s = sel[sel["arm"] == arm]
                for _, g in s.groupby("seed"):
                    ax.plot(g["step"], g["train_loss"], color=colors[arm], lw=0.6, alpha=0.4)
                m = s.groupby("step")["train_loss"].mean()
                ndiv = s.groupby("seed")["diverged"].first().sum()
                label = arm + (f" ({ndiv} diverged)" if ndiv else "")
                ax.plot(m.index, m.to_numpy(), label=label, **styles[arm])
            ax.set_yscale("log")
            ax.set_xlabel("step")
            ax.set_ylabel("train loss")
            ax.set_title(f"{act}, depth {depth}, width {width}")
            ax.legend(fontsize=7)
        ax = axes[i, -1]
        bw = 0.8 / len(depths)
        for j, depth in enumerate(depths):
            for k, arm in enumerate(arms):
                g = lay[(lay["activation"] == act) & (lay["depth"] == depth) & (lay["arm"] == arm)]
                d = g["distinct_units"].to_numpy(float)
                d = d[np.isfinite(d)]
                x = k + (j - (len(depths) - 1) / 2) * bw
                if not len(d):
                    ax.text(x, 1.0, "div", ha="center", va="bottom", fontsize=7, rotation=90)
                    continue
                med = float(np.median(d))
                ax.bar(
                    x,
                    med,
                    bw,
                    color=colors[arm],
                    alpha=0.5 + 0.5 * j / max(len(depths) - 1, 1),
                    yerr=[[med - d.min()], [d.max() - med]],
                    capsize=2,
                    label=f"depth {depth}" if k == 0 else None,
                )
        ax.axhline(width, color="k", ls=":", lw=1)
        ax.set_yscale("log")
        ax.set_ylim(0.7, width * 1.6)
        ax.set_xticks(range(len(arms)))
        ax.set_xticklabels(arms, rotation=30, ha="right", fontsize=8)
        ax.set_ylabel("distinct units per layer")
        ax.set_title(f"{act}: distinct units after training (dotted: width)")
        ax.legend(fontsize=7)
    savefig(fig, run_dir / "symmetry.png")

    v = verdict(res, config)
    passed = all(ok for ok, _ in v.values())
    crit = "; ".join(f"({k}) {'yes' if ok else 'NO'}: {text}" for k, (ok, text) in v.items())
    lines = [
        "# symmetry summary",
        "",
        f"MLP width {width}, depths {depths} (hidden layers after the input projection), "
        f"{config.dataset}, {config.optimizer} lr {config.learning_rate:g} "
        f"(momentum {config.momentum:g}), {config.steps} steps, batch {config.batch_size}, "
        f"{config.seeds} seeds; biases start at 0; the arm's init is also the readout's.",
        "",
        f"Distinct units: incoming vectors (W[:, j], b_j) within {config.rel_tol:g} x their RMS "
        "norm are the same unit (random vectors are ~sqrt(2) norms apart, symmetric ones differ "
        "only by rounding). Rank: singular values > s_max max(shape) eps(float32). Ranges are "
        "min-max over the input projection and hidden layers and over seeds (diverged networks "
        "excluded).",
        "",
        f"**Verdict: {'PASS' if passed else 'FAIL'}** — {crit}.",
        "",
        "| activation | depth | init | distinct units | weight rank: input; hidden | "
        "min / max pair distance "
        "(rel.) | final train acc | final test acc | final train loss | diverged |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for _, r in res.iterrows():
        dist = (
            "—"
            if not np.isfinite(r["min_rel_dist"])
            else f"{r['min_rel_dist']:.2g} / {r['max_rel_dist']:.2g}"
        )
        lines.append(
            f"| {r['activation']} | {r['depth']} | {r['arm']} | "
            f"{_span(r['distinct_min'], r['distinct_max'])} | "
            f"{_span(r['input_rank_min'], r['input_rank_max'])}; "
            f"{_span(r['rank_min'], r['rank_max'])} | {dist} | {r['train_acc']:.3f} | "
            f"{r['test_acc']:.3f} | {r['train_loss']:.3g} | "
            f"{r['diverged']}/{r['seeds']} |"
        )
    lines += [
        "",
        "Claims: (a) zero / constant init never break symmetry: one distinct unit per layer, "
        "weight rank <= 1: the network computes what a width-1 network computes (zero init: only "
        "the readout bias learns, so accuracy stays at the majority class). (b) Any random init "
        "breaks it. (c) Too large random weights (Var = 1, i.e. sigma_w2 = fan_in) explode the "
        "ReLU signal (NaN loss) and saturate tanh, so deep nets train slowly or not at all; too "
        "small ones (Var = 1e-4) make the signal vanish.",
        "",
        "Figure: symmetry.png (train-loss curves, thin: seeds; distinct units per layer: bar = "
        "median, whiskers = min-max over layers and seeds).",
    ]
    (run_dir / "summary.md").write_text("\n".join(lines) + "\n")


def _span(lo: float, hi: float) -> str:
    if not np.isfinite(lo):
        return "—"
    return f"{lo:.0f}" if lo == hi else f"{lo:.0f}–{hi:.0f}"
