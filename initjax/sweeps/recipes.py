"""Named Transformer init recipes side by side: arms, their block variances, measurements.

An *arm* is a recipe of :mod:`initjax.models.transformer_recipes` at a norm placement, written
``"<recipe>"`` (the recipe's own placement) or ``"<recipe>-<norm>"`` (e.g. ``"flax-post"``:
Flax's default initializers in a post-LN stack, github.com/google/flax/issues/4027).

:func:`block_variances` turns a recipe's per-role draws into the per-block variances of
:mod:`initjax.theory.transformer` (kernel Var = sigma2 / fan_in, so sigma2 = fan_in x the
initializer's promised variance x the recipe's multiplier squared; bias variances as drawn).
:func:`measure_arm` measures the residual stream at initialization (per layer: q, token_cross,
token_cos, erank, attn_entropy, attn_logit_std) and :func:`train_arm` trains the arm on
token-id inputs (e.g. the associative-recall task), seeds x learning rates in one compile.
:func:`growth` and :func:`growth_slopes` give the residual-stream growth q^L / q^0 and its
log-log slope in the depth L per seed (0: bounded in L; 1: linear, as unscaled pre-LN stacks
grow, Xiong et al. 2020, arXiv:2002.04745, §3; :func:`initjax.theory.transformer.pre_ln_q_bounds`).
:func:`uniform_cosine` gives the token cosine rho^l that
:func:`initjax.theory.transformer.residual_moments` predicts for a recipe's blocks under uniform
attention (the regime of near-uniform attention at init: std-0.02 query / key kernels).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from initjax.sweeps import stats
from initjax.sweeps.summary import Check

__all__ = [
    "ARM_COLUMNS",
    "BlockVariances",
    "block_variances",
    "claim_checks",
    "cosine_checks",
    "cosine_theory_column",
    "growth",
    "growth_slopes",
    "init_outcomes",
    "train_outcomes",
    "value_guess",
    "final_accuracy",
    "measure_arm",
    "parse_arm",
    "plot_training",
    "pre_ln_growth_bounds",
    "recipe_model",
    "recall_data",
    "run_piece",
    "train_arm",
    "uniform_cosine",
]

ARM_COLUMNS = ("arm", "recipe", "norm", "depth")


def parse_arm(arm: str) -> tuple[str, str]:
    """``"flax-post"`` -> ("flax", "post"); ``"gpt2"`` -> ("gpt2", the recipe's norm).

    Raises:
      ValueError: an unknown recipe or norm placement (listing the allowed ones).
    """
    from initjax.models import transformer_recipes as R
    from initjax.models.transformer import NORMS

    if not isinstance(arm, str):
        raise TypeError(f"arm must be a string '<recipe>[-<norm>]', got {arm!r}")
    name, _, norm = arm.partition("-")
    rec = R.get(name)
    norm = norm or rec.norm
    if norm not in NORMS:
        raise ValueError(f"arm {arm!r}: norm must be one of {', '.join(NORMS)}, got {norm!r}")
    return rec.name, norm


def recipe_model(arm: str, *, width: int, depth: int, heads: int, vocab: int, seq_len: int,
                 readout: int | None = None):  # fmt: skip
    """The :class:`~initjax.models.Transformer` of an arm: token ids ``(B, seq_len)`` over
    ``vocab``, learned positions, MLP width 4 x width, bidirectional attention, last-token
    readout (``readout`` classes, or None for the features only)."""
    from initjax.models import Transformer

    recipe, norm = parse_arm(arm)
    return Transformer(width=width, depth=depth, heads=heads, recipe=recipe, norm=norm,
                       vocab=vocab, seq_len=seq_len, pool="last", readout=readout)  # fmt: skip


@dataclasses.dataclass(frozen=True)
class BlockVariances:
    """Per-block variances of a recipe (attributes are floats unless stated).

    Attributes:
      attention: :class:`~initjax.theory.transformer.AttentionVariances` (value / out).
      mlp: :class:`~initjax.theory.transformer.MLPVariances` (activation name, in / out).
      sigma_q2, sigma_k2: query / key kernel variances times fan_in.
      skip: the skip-path multiplier (DeepNorm's alpha; 1 otherwise).
      q0: E[q^0] of the embedding (token table + position table variances).
    """

    attention: Any
    mlp: Any
    sigma_q2: float
    sigma_k2: float
    skip: float
    q0: float


def block_variances(recipe: str, *, depth: int, width: int, mlp_width: int,
                    vocab: int = 16) -> BlockVariances:  # fmt: skip
    """A recipe's block variances for a model of this size (see the module docstring).

    Raises:
      ValueError: an unknown recipe, or an initializer that promises no variance.
    """
    from initjax.models import transformer_recipes as R
    from initjax.theory.transformer import AttentionVariances, MLPVariances

    rec = R.get(recipe)
    inits = rec.role_inits(depth=depth, width=width, mlp_width=mlp_width)
    fans = {"query": (width, width), "key": (width, width), "value": (width, width),
            "out": (width, width), "mlp_in": (width, mlp_width), "mlp_out": (mlp_width, width),
            "embed": (vocab, width), "pos": (vocab, width)}  # fmt: skip

    def var(role: str) -> float:
        ri = inits[role]
        v = ri.init.promised_variance(*fans[role])
        if v is None:
            raise ValueError(f"recipe {recipe!r}: the {role} initializer promises no variance")
        return float(v) * (1.0 if ri.multiplier is None else float(ri.multiplier) ** 2)

    def s2(role: str) -> float:  # variance times fan_in
        return var(role) * fans[role][0]

    def b2(role: str) -> float:
        init = inits[role].bias_for(fans[role][0])
        return 0.0 if init is None else float(init.promised_variance_for((fans[role][1],)))

    att = AttentionVariances(s2("value"), s2("out"), b2("value"), b2("out"))
    mlp = MLPVariances(rec.activation, s2("mlp_in"), s2("mlp_out"), b2("mlp_in"), b2("mlp_out"))
    return BlockVariances(att, mlp, s2("query"), s2("key"), rec.skip_scale(depth),
                          var("embed") + var("pos"))  # fmt: skip


def pre_ln_growth_bounds(recipe: str, *, depth: int, width: int, tokens: int,
                         q0: float) -> tuple[float, float]:  # fmt: skip
    """Bounds on q^L / q^0 of a pre-LN stack of this recipe (attention + MLP blocks, skip 1):
    :func:`~initjax.theory.transformer.pre_ln_q_bounds` at its last layer, divided by ``q0``.
    Orthogonal LayerNorm outputs give the lower bound, collapsed ones the upper."""
    from initjax.theory.transformer import pre_ln_q_bounds

    v = block_variances(recipe, depth=depth, width=width, mlp_width=4 * width)
    lo, hi = pre_ln_q_bounds(depth, tokens=tokens, q0=q0, attention=v.attention, mlp=v.mlp)
    return float(lo[-1] / q0), float(hi[-1] / q0)


def uniform_cosine(recipe: str, norm: str, *, depth: int, width: int, tokens: int, q0: float,
                   p0: float) -> np.ndarray:  # fmt: skip
    """Token cosine rho^l = p^l / q^l, l = 0..depth, of a stack of this recipe's blocks
    (attention + MLP of width 4 x width, its skip scale) at norm placement ``norm``, predicted
    by :func:`~initjax.theory.transformer.residual_moments` under uniform attention (Noci et al.
    2022, arXiv:2206.03126, §4) from the input stream's moments ``(q0, p0)`` (per-token second
    moment and mean cross moment of two tokens, layer 0). Float64 ``(depth + 1,)``.

    Raises:
      ValueError: an unknown recipe or norm, q0 <= 0 or |p0| > q0.
    """
    return np.array(_rho(recipe, norm, int(depth), int(width), int(tokens), float(q0), float(p0)))


@functools.lru_cache(maxsize=256)
def _rho(recipe: str, norm: str, depth: int, width: int, tokens: int, q0: float,
         p0: float) -> tuple[float, ...]:  # fmt: skip
    from initjax.theory.transformer import residual_moments

    v = block_variances(recipe, depth=depth, width=width, mlp_width=4 * width)
    m = residual_moments(depth, norm=norm, tokens=tokens, q0=q0, p0=p0, skip=v.skip,
                         attention=v.attention, mlp=v.mlp)  # fmt: skip
    return tuple(m.rho.tolist())


def cosine_theory_column(frame: pd.DataFrame, arms: Sequence[str], *, width: int) -> pd.Series:
    """Per-layer rows of :func:`measure_arm` (several arms and depths): :func:`uniform_cosine`
    for each (arm in ``arms``, depth) from its seed-mean layer-0 q and token_cross, aligned to
    ``frame``'s index; NaN for the other arms."""
    f = frame.reset_index(drop=True)
    out = np.full(len(f), np.nan)
    for (_, depth), g in f[f.arm.isin(list(arms))].groupby(["arm", "depth"]):
        z0 = g[g.layer == 0]
        rho = uniform_cosine(str(g.recipe.iloc[0]), str(g.norm.iloc[0]), depth=int(depth),
                             width=width, tokens=int(g.tokens.iloc[0]), q0=float(z0.q.mean()),
                             p0=float(z0.token_cross.mean()))  # fmt: skip
        out[g.index.to_numpy()] = rho[g.layer.to_numpy(int)]
    return pd.Series(out, index=frame.index)


def measure_arm(arm: str, x: np.ndarray, *, width: int, heads: int, depth: int, vocab: int,
                seeds: int, root_seed: int = 0) -> pd.DataFrame:  # fmt: skip
    """Per-layer rows of ``seeds`` initializations of an arm on token ids ``x`` ``(B, T)``.

    Metrics q, token_cross, token_cos, erank and attn (attn_entropy, attn_logit_std: NaN at
    layer 0); plus ``entropy_frac`` = attn_entropy / log T, ``tokens`` (T) and the
    :data:`ARM_COLUMNS`.
    """
    from initjax.measure import propagate

    recipe, norm = parse_arm(arm)
    t = int(x.shape[1])
    model = recipe_model(arm, width=width, depth=depth, heads=heads, vocab=vocab, seq_len=t)
    res = propagate(model, np.asarray(x, np.float32), seeds=seeds, root_seed=root_seed,
                    metrics="q,token_cross,token_cos,erank,attn")  # fmt: skip
    f = res.to_frame()
    f["entropy_frac"] = f["attn_entropy"] / np.log(t)
    return f.assign(arm=arm, recipe=recipe, norm=norm, depth=depth, tokens=t)


def train_arm(arm: str, data: Sequence[np.ndarray], *, width: int, heads: int, depth: int,
              vocab: int, classes: int, seeds: int, learning_rates: Sequence[float], spec: Any,
              root_seed: int = 0) -> pd.DataFrame:  # fmt: skip
    """Train ``seeds`` networks of an arm per learning rate, in one compiled call.

    ``data``: ``(x_train, y_train, x_test, y_test)``, token ids in 0..vocab - 1 ``(n, T)`` and
    labels in 0..classes - 1 (``spec``: :class:`~initjax.measure.train.TrainSpec`). Returns
    :meth:`~initjax.measure.train.TrainResult.curves_frame` rows (with ``diverged``), ``final``
    marking the last recorded step, and the :data:`ARM_COLUMNS`.
    """
    from initjax.measure.train import train

    recipe, norm = parse_arm(arm)
    model = recipe_model(arm, width=width, depth=depth, heads=heads, vocab=vocab,
                         seq_len=int(data[0].shape[1]), readout=classes)  # fmt: skip
    res = train(model, data, seeds=seeds, learning_rate=np.asarray(learning_rates, np.float32),
                spec=spec, root_seed=root_seed)  # fmt: skip
    f = res.curves_frame(diverged=True)
    f["final"] = f["step"] == f["step"].max()
    return f.assign(arm=arm, recipe=recipe, norm=norm, depth=depth)


def recall_data(compute: Any, n_train: int, n_test: int,
                n_pairs: int | None = None) -> tuple[np.ndarray, ...]:  # fmt: skip
    """``(x_train, y_train, x_test, y_test)`` of the associative-recall task
    (:func:`initjax.data.sequence.associative_recall`) set by ``compute``'s n_pairs (unless
    ``n_pairs`` is given), n_keys, n_values and root_seed."""
    from initjax.data.sequence import associative_recall

    pairs = int(compute.n_pairs if n_pairs is None else n_pairs)
    kw = dict(n_pairs=pairs, n_keys=int(compute.n_keys),
              n_values=int(compute.n_values), seed=int(compute.root_seed))  # fmt: skip
    train = associative_recall("train", n_train=n_train, **kw)
    return (*train, *associative_recall("test", n_test=n_test, **kw))


def run_piece(compute: Any, part: str, arm: str, depth: int) -> pd.DataFrame:
    """One piece of the recipes comparison: ``part`` "init" (:func:`measure_arm` on the task's
    first ``batch`` test sequences, shared by all seeds) or "train" (:func:`train_arm` on the
    task), with a ``part`` column. ``compute``: the experiment's compute config (width, heads,
    seeds, batch; train_width, train_seeds, learning_rate, train_pairs (the training task's
    n_pairs; default n_pairs) and the TrainSpec keys)."""
    from initjax.measure.train import TrainSpec

    kw = dict(depth=depth, heads=int(compute.heads), root_seed=int(compute.root_seed),
              vocab=int(compute.n_keys) + int(compute.n_values))  # fmt: skip
    if part == "init":
        x = recall_data(compute, 1, int(compute.batch))[2]
        f = measure_arm(arm, x, width=int(compute.width), seeds=int(compute.seeds), **kw)
        return f.assign(part=part)
    data = recall_data(compute, int(compute.n_train), int(compute.n_test), _train_pairs(compute))
    f = train_arm(arm, data, width=int(compute.train_width), seeds=int(compute.train_seeds),
                  spec=TrainSpec.from_config(compute), learning_rates=list(compute.learning_rate),
                  classes=int(compute.n_values), **kw)  # fmt: skip
    return f.assign(part=part)


def growth(frame: pd.DataFrame) -> pd.DataFrame:
    """Per (arm, depth, seed) of per-layer rows: ``growth`` = q at the last layer / q at layer
    0, with ``q0`` and ``qL``."""
    keys = [*[c for c in ("arm", "depth") if c in frame.columns], "seed"]
    g = frame.sort_values("layer").groupby(keys, sort=False)["q"]
    out = pd.DataFrame({"q0": g.first(), "qL": g.last()}).reset_index()
    out["growth"] = out["qL"] / out["q0"]
    return out


def growth_slopes(frame: pd.DataFrame) -> np.ndarray:
    """Per seed of one arm (rows at several depths): least-squares slope of log(q^L / q^0) on
    log L over the depths. Returns float64 ``(seeds,)`` (NaN for fewer than two depths)."""
    from initjax.sweeps.stats import loglog_slopes

    g = growth(frame).pivot_table(index="seed", columns="depth", values="growth")
    depths = np.broadcast_to(g.columns.to_numpy(np.float64), g.shape)
    return loglog_slopes(depths, g.to_numpy(np.float64))


def init_outcomes(table: pd.DataFrame, *, width: int,
                  cosine_arms: Sequence[str] = ()) -> pd.DataFrame:  # fmt: skip
    """Per (arm, depth) of per-layer init rows (:func:`measure_arm`): seed means and SEs.

    Columns: ``arm``, ``recipe``, ``norm``, ``depth``, ``seeds``, ``q0``, ``growth`` and
    ``growth_se`` (q^L / q^0), ``growth_lo`` / ``growth_hi`` (:func:`pre_ln_growth_bounds` from
    the seed-mean q^0; NaN unless pre-LN), ``token_cos`` (and its SE), ``token_cos_theory``
    (:func:`cosine_theory_column`; NaN unless the arm is in ``cosine_arms``) and ``erank`` at
    the last layer,
    ``entropy_min`` and its SE (per seed the lowest block's attn_entropy / log T), ``logit_std``
    and its SE (block 1), ``diverged`` (networks).
    """
    table = table.reset_index(drop=True)
    rows, theory = [], cosine_theory_column(table, cosine_arms, width=width)
    for (arm, depth), g in table.groupby(["arm", "depth"], sort=False):
        gr = growth(g)
        last, blocks = g[g.layer == g.layer.max()], g[g.layer >= 1]
        ent = blocks.groupby("seed")["entropy_frac"].min()
        lstd = g[g.layer == 1].groupby("seed")["attn_logit_std"].mean()
        norm, recipe, q0 = str(g.norm.iloc[0]), str(g.recipe.iloc[0]), float(gr.q0.mean())
        lo = hi = float("nan")
        if norm == "pre":
            lo, hi = pre_ln_growth_bounds(recipe, depth=int(depth), width=width,
                                          tokens=int(g.tokens.iloc[0]), q0=q0)  # fmt: skip
        rows.append({
            "arm": arm, "recipe": recipe, "norm": norm, "depth": int(depth),
            "seeds": int(g.seed.nunique()), "q0": q0, "growth": float(gr.growth.mean()),
            "growth_se": float(gr.growth.sem()), "growth_lo": lo, "growth_hi": hi,
            "token_cos": float(last.token_cos.mean()), "token_cos_se": float(last.token_cos.sem()),
            "token_cos_theory": float(theory[last.index].mean()),
            "erank": float(last.erank.mean()),
            "entropy_min": float(ent.mean()), "entropy_min_se": float(ent.sem()),
            "logit_std": float(lstd.mean()), "logit_std_se": float(lstd.sem()),
            "diverged": int(g.groupby("seed").diverged.any().sum()),
        })  # fmt: skip
    cols = ["arm", "recipe", "norm", "depth", "seeds", "q0", "growth", "growth_se", "growth_lo",
            "growth_hi", "token_cos", "token_cos_se", "token_cos_theory", "erank", "entropy_min",
            "entropy_min_se", "logit_std", "logit_std_se", "diverged"]  # fmt: skip
    return pd.DataFrame(rows, columns=cols)


def final_accuracy(table: pd.DataFrame, arm: str, depth: int) -> tuple[np.ndarray, float, int]:
    """Per seed, the final test accuracy of one arm and depth at its selected learning rate:
    the one with the lowest seed-mean final *training* loss (non-finite losses count as +inf).
    Returns ``(accuracies (seeds,), learning rate, diverged networks at it)``; an empty array
    and NaN when the arm and depth are not in the table."""
    f = table[(table.arm == arm) & (table.depth == depth) & table.final.astype(bool)]
    if f.empty:
        return np.zeros(0), float("nan"), 0
    loss = f.train_loss.where(np.isfinite(f.train_loss), np.inf).groupby(f.learning_rate).mean()
    lr = float(loss.idxmin())
    g = f[f.learning_rate == lr]
    return g.test_acc.to_numpy(np.float64), lr, int(g.diverged.astype(bool).sum())


def train_outcomes(table: pd.DataFrame) -> pd.DataFrame:
    """Per (arm, depth) of training rows: the selected learning rate (:func:`final_accuracy`),
    seed mean and SE of the final test accuracy, final train loss, diverged networks."""
    rows = []
    for (arm, depth), g in table.groupby(["arm", "depth"], sort=False):
        acc, lr, div = final_accuracy(g, arm, depth)
        fin = g[g.final.astype(bool) & (g.learning_rate == lr)]
        rows.append({"arm": arm, "depth": int(depth), "learning_rate": lr,
                     "test_acc": float(acc.mean()), "test_acc_se": float(stats.mean_se(acc)[1]),
                     "train_loss": float(fin.train_loss.mean()), "diverged": div,
                     "seeds": int(acc.size)})  # fmt: skip
    return pd.DataFrame(rows)


# --- checks (each decided in standard errors over seeds, thresholds from the caller) ----------
def _t(m: float, se: float) -> float:
    if np.isfinite(se) and se > 0:
        return float(m / se)
    return float("inf") if m > 0 else float("nan")


def welch_check(name: str, a: np.ndarray, b: np.ndarray, t_min: float, note: str = "") -> Check:
    """Check "mean(a) > mean(b) by one-sided Welch t >= t_min" (fails with < 2 values in a
    sample); measured mean(a), expected mean(b), the p-value in the note."""
    ok = min(np.isfinite(a).sum(), np.isfinite(b).sum()) > 1
    t, _, p = stats.welch_one_sided(a, b) if ok else (float("nan"),) * 3
    note = f"one-sided p = {p:.2g}" + (f"; {note}" if note else "")
    return Check(name, float(np.mean(a)) if a.size else float("nan"),
                 float(np.mean(b)) if b.size else None, None, t, f"Welch t >= {t_min:g}",
                 bool(t >= t_min), note)  # fmt: skip


def growth_checks(out: pd.DataFrame, arms: Sequence[str], *, t_min: float,
                  tol: float) -> list[Check]:  # fmt: skip
    """Per (arm in ``arms``, depth) of :func:`init_outcomes`: q^L / q^0 within
    [lo (1 - tol) - t_min SE, hi (1 + tol) + t_min SE] of the pre-LN bounds."""
    checks = []
    for r in out[out.arm.isin(list(arms))].itertuples():
        lo, hi = r.growth_lo * (1 - tol), r.growth_hi * (1 + tol)
        ok = lo - t_min * r.growth_se <= r.growth <= hi + t_min * r.growth_se
        checks.append(Check(f"q^L / q^0 within the pre-LN bounds, {r.arm}, L = {r.depth}",
                            r.growth, f"[{r.growth_lo:.4g}, {r.growth_hi:.4g}]", r.growth_se,
                            None, f"within -+ {tol:.2g} relative -+ {t_min:g} SE", bool(ok),
                            f"q^0 = {r.q0:.3g}"))  # fmt: skip
    return checks


def slope_check(init: pd.DataFrame, arm: str, *, split: float, bounded: bool,
                t_min: float) -> Check:  # fmt: skip
    """The log-log slope of q^L / q^0 on L (:func:`growth_slopes`, mean and SE over seeds) is
    below ``split`` (``bounded``) or above it by >= t_min SE; fails with fewer than 2 depths."""
    g = init[init.arm == arm]
    m, se = stats.mean_se(growth_slopes(g)) if g.depth.nunique() > 1 else (np.nan, np.nan)
    t = _t((split - m) if bounded else (m - split), se)
    what = "bounded" if bounded else "linear"
    return Check(f"{what} growth in L, {arm}: slope of log(q^L / q^0) on log L", m, split, se,
                 t, f"{'<' if bounded else '>'} {split:g} by >= {t_min:g} SE",
                 bool(t >= t_min), f"depths {sorted(g.depth.unique().tolist())}")  # fmt: skip


def entropy_checks(out: pd.DataFrame, arms: Sequence[str], *, entropy_min: float,
                   t_min: float) -> list[Check]:  # fmt: skip
    """Per (arm in ``arms``, depth): the lowest block's entropy / log T exceeds ``entropy_min``
    by >= t_min SE (near-uniform attention)."""
    checks = []
    for r in out[out.arm.isin(list(arms))].itertuples():
        t = _t(r.entropy_min - entropy_min, r.entropy_min_se)
        checks.append(Check(f"near-uniform attention, {r.arm}, L = {r.depth}: lowest block's "
                            "entropy / log T", r.entropy_min, entropy_min, r.entropy_min_se, t,
                            f"> {entropy_min:g} by >= {t_min:g} SE", bool(t >= t_min),
                            f"block-1 logit std {r.logit_std:.3g}"))  # fmt: skip
    return checks


def cosine_checks(out: pd.DataFrame, arms: Sequence[str], *, tol: float,
                  t_min: float) -> list[Check]:  # fmt: skip
    """Per (arm in ``arms``, depth) of :func:`init_outcomes`: the seed-mean token cosine at the
    last layer lies within the uniform-attention theory (``token_cos_theory``) -+ ``tol``
    (absolute: the finite-width allowance) -+ t_min SE; fails on a missing theory or SE."""
    checks = []
    for r in out[out.arm.isin(list(arms))].itertuples():
        dev = abs(r.token_cos - r.token_cos_theory)
        z = (r.token_cos - r.token_cos_theory) / r.token_cos_se if r.token_cos_se > 0 else np.nan
        ok = bool(np.isfinite(z) and dev <= tol + t_min * r.token_cos_se)
        checks.append(Check(f"token cosine at the last layer vs uniform-attention theory, "
                            f"{r.arm}, L = {r.depth}", r.token_cos, r.token_cos_theory,
                            r.token_cos_se, z, f"within -+ {tol:.2g} -+ {t_min:g} SE", ok,
                            f"layer-0 q {r.q0:.3g}; erank {r.erank:.3g}"))  # fmt: skip
    return checks


def logit_checks(init: pd.DataFrame, large: Sequence[str], small: Sequence[str], *,
                 t_min: float) -> list[Check]:  # fmt: skip
    """Per arm in ``large``: its block-1 attention-logit std (per seed) exceeds that of the
    ``small`` arms (pooled seeds) by Welch t >= t_min, at the smallest depth."""
    d = int(init.depth.min())
    first = init[(init.layer == 1) & (init.depth == d)]
    lo = first[first.arm.isin(list(small))].attn_logit_std.to_numpy(np.float64)
    return [welch_check(f"block-1 logit std, {arm} > {list(small)}, L = {d}",
                        first[first.arm == arm].attn_logit_std.to_numpy(np.float64), lo, t_min)
            for arm in large]  # fmt: skip


def trains_check(train: pd.DataFrame, arm: str, depth: int, *, baseline: float, gap: float,
                 t_min: float) -> Check:  # fmt: skip
    """The arm learns the task at ``depth``: its seed-mean final test accuracy
    (:func:`final_accuracy`) closes at least the fraction ``gap`` of the way from ``baseline``
    (the best accuracy without the skill being tested) to 1, i.e. is >= baseline + gap (1 -
    baseline), and exceeds ``baseline`` by >= t_min SE over seeds, with no diverged network."""
    acc, lr, div = final_accuracy(train, arm, depth)
    m, se = stats.mean_se(acc) if acc.size > 1 else (np.nan, np.nan)
    acc_min, t = baseline + gap * (1.0 - baseline), _t(m - baseline, se)
    return Check(f"{arm} trains at L = {depth}: final test accuracy", m, acc_min, se, t,
                 f">= {acc_min:.3g}, > baseline {baseline:.3g} by >= {t_min:g} SE, none "
                 "diverged", bool(m >= acc_min and t >= t_min and div == 0),
                 f"lr {lr:g}, {div} diverged")  # fmt: skip


def worse_checks(train: pd.DataFrame, bad: str, refs: Sequence[str], depth: int, *,
                 t_min: float, tag: str) -> tuple[list[Check], list[Check]]:  # fmt: skip
    """The claim "``bad`` trains worse than each of ``refs``" at ``depth`` (final test accuracy):
    ``(support, contradiction)``. support: ref > bad by Welch t >= t_min; contradiction (passes
    unless bad > ref by Welch t >= t_min): a result opposite to the claim."""
    a = final_accuracy(train, bad, depth)[0]
    support, contra = [], []
    for ref in refs:
        b = final_accuracy(train, ref, depth)[0]
        support.append(welch_check(f"{ref} trains better than {bad}, L = {depth} ({tag})", b, a,
                                   t_min, "final test accuracy"))  # fmt: skip
        c = welch_check(f"{bad} not better than {ref}, L = {depth} ({tag})", a, b, t_min)
        c.passed, c.tolerance = bool(not c.passed), f"Welch t < {t_min:g} (else contradicted)"
        contra.append(c)
    return support, contra


def plot_training(ax, train: pd.DataFrame, depth: int, *, chance: float,
                  guess: float | None = None) -> None:  # fmt: skip
    """Seed-mean test accuracy vs step of every arm at ``depth``, each at its selected learning
    rate (:func:`final_accuracy`); ``chance`` dotted, ``guess`` (:func:`value_guess`) dashed."""
    for i, arm in enumerate(dict.fromkeys(train.arm)):
        lr = final_accuracy(train, arm, depth)[1]
        g = train[(train.arm == arm) & (train.depth == depth) & (train.learning_rate == lr)]
        m = g.groupby("step").test_acc.mean()
        ax.plot(m.index, m.to_numpy(), color=f"C{i}", label=f"{arm} (lr {lr:g})")
    ax.axhline(chance, color="gray", ls=":", lw=1)
    if guess is not None:
        ax.axhline(guess, color="gray", ls="--", lw=1)
    ax.set(xlabel="step", ylabel="test accuracy (seed mean)", title=f"L = {depth}")
    ax.legend(fontsize=7)


def value_guess(compute: Any) -> float:
    """:func:`initjax.data.sequence.recall_value_guess_accuracy` of the training task
    (``compute``'s train_pairs, else n_pairs, and n_values)."""
    from initjax.data.sequence import recall_value_guess_accuracy

    return recall_value_guess_accuracy(_train_pairs(compute), int(compute.n_values))


def _train_pairs(compute: Any) -> int:
    """The training task's n_pairs: ``compute.train_pairs`` where set, else ``n_pairs``."""
    pairs = compute.get("train_pairs", None) if hasattr(compute, "get") else None
    return int(compute.n_pairs if pairs is None else pairs)


def claim_checks(table: pd.DataFrame, compute: Any,
                 analysis: Any) -> tuple[list[Check], list[Check], Check, str]:  # fmt: skip
    """The transformer-init-recipes claims on its table (part "init" rows of
    :func:`measure_arm`, part "train" rows of :func:`train_arm`), thresholds from ``analysis``
    (t_min, finite_width, slope_split, entropy_min, gap_trained and the arm lists growth_theory,
    bounded, linear, uniform, large_logits, trainable, post_ln_issue, control) and sizes from
    ``compute`` (width, n_values, train_depths). Training checks are reported, not judged,
    when the control does not train at the shallowest trained depth.

    Returns:
      ``(checks, secondary, control, criterion)``: every Check in order, the flax#4027 support
      checks (secondary: failing alone gives PARTIAL), the control's own check (as judged) and
      the criterion in words.
    """
    a, comp = analysis, compute
    init, train = table[table.part == "init"], table[table.part == "train"]
    out, t = init_outcomes(init, width=int(comp.width), cosine_arms=a.uniform), a.t_min
    named = {x for k in ("growth_theory", "bounded", "linear", "uniform", "large_logits",
                         "trainable", "post_ln_issue") for x in a[k]}  # fmt: skip
    checks = [Check(f"arm {x} in the run", "absent", tolerance="present", passed=False)
              for x in sorted(named - set(out.arm) - set(train.arm))]  # fmt: skip
    checks += growth_checks(out, a.growth_theory, t_min=t, tol=a.finite_width / comp.width)
    checks += [slope_check(init, x, split=a.slope_split, bounded=b, t_min=t)
               for b, xs in ((True, a.bounded), (False, a.linear)) for x in xs]  # fmt: skip
    checks += entropy_checks(out, a.uniform, entropy_min=a.entropy_min, t_min=t)
    checks += cosine_checks(out, a.uniform, tol=a.finite_width / comp.width, t_min=t)
    checks += logit_checks(init, a.large_logits, a.uniform, t_min=t)
    guess, deep = value_guess(comp), int(max(comp.train_depths))
    kw = dict(baseline=guess, gap=a.gap_trained, t_min=t)  # baseline: no key matching
    ctrl = trains_check(train, a.control, int(min(comp.train_depths)), **kw)
    trains = [trains_check(train, x, deep, **kw) for x in a.trainable]
    bad, *refs = a.post_ln_issue
    minor, contra = worse_checks(train, bad, refs, deep, t_min=t, tag="flax#4027")
    for c in trains + minor + contra if not ctrl.passed else []:  # budget too small to judge
        c.passed, c.note = None, f"{c.note}; not judged: the positive control did not train"
    checks += [Check(**{**vars(ctrl), "name": f"positive control: {ctrl.name}", "passed": None}),
               *trains, *minor, *contra]  # fmt: skip
    criterion = (
        f"Decided at {t:g} SE over seeds (one-sided; Welch for two arms). Pre-LN arms "
        f"{list(a.growth_theory)}: seed-mean q^L / q^0 within the bounds of pre_ln_q_bounds "
        f"(-+ {a.finite_width:g}/width relative, -+ {t:g} SE) at every depth; the slope of "
        f"log(q^L / q^0) on log L is below {a.slope_split:g} for {list(a.bounded)} (bounded) and "
        f"above it for {list(a.linear)} (linear). {list(a.uniform)}: the lowest block's "
        f"attention entropy exceeds {a.entropy_min:g} log T and their seed-mean last-layer "
        f"token cosine lies within residual_moments' uniform-attention rho^L (from the measured "
        f"layer-0 q, p) -+ {a.finite_width:g}/width -+ {t:g} SE at every depth; "
        f"{list(a.large_logits)} have a larger block-1 logit std. {list(a.trainable)} learn "
        f"recall at the deepest trained depth: final test accuracy closes >= {a.gap_trained:g} "
        f"of the gap from the best guess without key matching ({guess:.4g}) to 1, above that "
        f"guess by >= {t:g} SE, none diverged "
        f"(training checks judged only if {a.control} does so at the shallowest trained depth; "
        "else PARTIAL: budget too small). "
        f"flax#4027: {bad} below {refs} (failure alone: PARTIAL; {bad} significantly better: "
        "FAIL). Learning rate per arm: the lowest mean final train loss."
    )
    return checks, minor, ctrl, criterion
