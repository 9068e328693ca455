"""The sweep engine end to end on a tiny grid: table, manifest, compilations, resume, NaN."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pandas as pd
import pytest

from initjax import measure
from initjax.sweeps import load_experiment, resolve_config, run_sweep
from initjax.sweeps.store import RunStore

ROOT = Path(__file__).resolve().parents[2]


def _run(out, overrides=(), **kw):
    exp = load_experiment("tiny-sweep")  # a grid study of the protocol
    return run_sweep(
        exp, resolve_config(exp, list(overrides)), out, progress=False, log=lambda *_: None, **kw
    )


def test_tiny_sweep_table_manifest_and_one_compile_per_group(tiny_experiments, tmp_path):
    # No executable cached yet (whatever ran before); the groups compiled here are the ones the
    # tests below run (width 8, depths [3, 5] by default and [3, 5, 7] when a depth is added),
    # so they reuse them.
    jax.clear_caches()
    depths = ["depths=[3,5,7]"]
    before = measure.trace_count()
    res = _run(tmp_path / "a", depths)
    # 1 width x 3 depths x 1 arm = 3 groups; each evaluates its 3 sigma_w2 cells in one call.
    assert measure.trace_count() - before == 3
    t = res.table
    # rows: per group 3 cells x 4 seeds x (depth + 1) layers, for each of the 3 depths
    assert len(t) == 3 * 4 * (4 + 6 + 8)
    for col in (
        "model",
        "width",
        "depth",
        "arm",
        "activation",
        "init",
        "sigma_w2",
        "sigma_b2",
        "seed",
        "layer",
        "q",
        "c",
        "diverged",
        "q_theory",
        "c_theory",
    ):
        assert col in t.columns, col
    assert sorted(t["sigma_w2"].unique()) == [0.5, 1.0, 2.5]
    assert not t["diverged"].any()
    m = RunStore(tmp_path / "a").read_manifest()
    assert m["status"] == "complete" and m["experiment"] == "tiny-sweep"
    assert m["config"]["compute"]["depths"] == [3, 5, 7] and len(m["pieces"]) == 3
    assert all(p["compute_s"] > 0 for p in m["pieces"])
    # contract: float32 flags on every row
    assert not t["underflow"].any() and not t["nonfinite"].any()
    for key in ("jax", "flax", "initjax", "device_kind", "device_count"):
        assert key in m["environment"]
    # A change of scalars only (sigma_w2 values, same count) compiles nothing new.
    before = measure.trace_count()
    exp = load_experiment("tiny-sweep")
    cfg = resolve_config(exp, depths)
    cfg.compute.arms[0]["sigma_w2"] = [0.7, 1.3, 3.1]
    run_sweep(exp, cfg, tmp_path / "b", progress=False, log=lambda *_: None)
    assert measure.trace_count() == before


def test_resume_recomputes_only_missing_group(tiny_experiments, tmp_path):
    out = tmp_path / "r"
    first = _run(out)
    assert len(first.pieces) == len(first.groups) == 2
    store = RunStore(out)
    victim = first.pieces[1]
    store.piece_path(victim).unlink()
    again = _run(out)
    assert again.computed == [victim]
    pd.testing.assert_frame_equal(again.table, first.table)
    assert _run(out).computed == []


def test_adding_a_depth_recomputes_only_the_new_groups(tiny_experiments, tmp_path):
    out = tmp_path / "r"
    first = _run(out)
    # depth 7's group: compiled by the first test, run again by the SIGKILL test's in-process
    # runs (this module's cache)
    res = _run(out, ["depths=[3,5,7]"], overwrite=True)
    assert res.pieces[:2] == first.pieces and res.computed == res.pieces[2:]
    res = _run(out, ["root_seed=1"], overwrite=True)  # same shapes: no new compilation
    assert res.computed == res.pieces  # a shared value changes every group


def test_sigkill_midway_then_resume_equals_uninterrupted(tiny_experiments, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT), INITJAX_EXPERIMENTS=str(tiny_experiments))
    cmd = [
        sys.executable,
        "-m",
        "initjax.cli",
        "run",
        "tiny-sweep",
        "--no-progress",
        "--set",
        "depths=[3,5,7]",
        "--out",
        str(tmp_path / "killed"),
    ]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    groups = tmp_path / "killed" / "pieces"
    deadline = time.time() + 120
    # A piece is complete once its checksum record (written after its Parquet file) exists; a
    # Parquet file alone is a piece killed before its record and is recomputed on resume.
    while time.time() < deadline and not list(groups.glob("*.json")) and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    n_done = len(list(groups.glob("*.json")))
    assert n_done >= 1, proc.stderr.read().decode()[-2000:]
    assert not (tmp_path / "killed" / "results.parquet").exists() or n_done == 3
    resumed = _run(tmp_path / "killed", ["depths=[3,5,7]"])
    assert len(resumed.computed) == 3 - n_done
    clean = _run(tmp_path / "clean", ["depths=[3,5,7]"])
    pd.testing.assert_frame_equal(resumed.table, clean.table)


def test_exploding_cell_is_a_value_with_diverged_flag(tiny_experiments, tmp_path):
    exp = load_experiment("tiny-sweep")
    # Same program as the underflow test below (ReLU, width 8, depth 8, 2 cells).
    cfg = resolve_config(exp, ["widths=[8]", "depths=[8]"])
    # ReLU with sigma_w2 = 1e12: q^l grows by 5e11 per layer and overflows float32 (3.4e38).
    cfg.compute.arms = [
        dict(
            name="relu",
            activation="relu",
            init="variance_scaling",
            init_hparams={"distribution": "normal"},
            sigma_w2=[2.0, 1e12],
            sigma_b2=[0.0],
        )
    ]
    t = run_sweep(exp, cfg, tmp_path / "r", progress=False, log=lambda *_: None).table
    big, ok = t[t["sigma_w2"] > 1e6], t[t["sigma_w2"] == 2.0]
    assert len(big) == len(ok) == 4 * 9
    assert big["diverged"].all() and not ok["diverged"].any()
    assert not np.isfinite(big["q"]).all() and big["nonfinite"].any()
    assert not ok["nonfinite"].any() and not t["underflow"].any()


def test_vanishing_signal_is_underflow_not_divergence(tiny_experiments, tmp_path):
    """ReLU at sigma_w2 = 1e-8: q^l shrinks 2e8 x per layer and leaves float32's normal range
    (1.18e-38) by layer 5; c^l is then undefined (NaN), and the network has not diverged."""
    exp = load_experiment("tiny-sweep")
    cfg = resolve_config(exp, ["widths=[8]", "depths=[8]"])
    cfg.compute.arms = [
        dict(
            name="relu",
            activation="relu",
            init="variance_scaling",
            init_hparams={"distribution": "normal"},
            sigma_w2=[1e-8, 2.0],  # 2.0: a second cell, so the program is the test above's
            sigma_b2=[0.0],
        )
    ]
    t = run_sweep(exp, cfg, tmp_path / "r", progress=False, log=lambda *_: None).table
    assert not t.loc[t["sigma_w2"] == 2.0, "underflow"].any()
    t = t[t["sigma_w2"] < 1e-6]
    assert len(t) == 4 * 9
    assert t.loc[t["layer"] <= 2, "underflow"].eq(False).all()
    assert t.loc[t["layer"] >= 6, "underflow"].all()
    assert t.loc[t["underflow"], "c"].isna().all() and t.loc[t["underflow"], "nonfinite"].all()
    assert not t["diverged"].any()


@pytest.mark.parametrize(
    "override,match",
    [
        ("widths=[0]", "'widths'"),
        ("depths=[]", "'depths'"),
        ("metrics=['q','nope']", "'metrics'"),
        ("model=cnn", "'model'"),
    ],
)
def test_bad_config_fails_before_any_computation(tiny_experiments, tmp_path, override, match):
    before = measure.trace_count()
    with pytest.raises(ValueError, match=match):
        _run(tmp_path / "x", [override])
    assert measure.trace_count() == before
    assert not (tmp_path / "x").exists()


def test_data_dependent_arm_has_no_single_sigma_w2():
    # LSUV rescales each layer on data: no (sigma_w2, sigma_b2) describes the network, so the
    # table gets NaN, never the base initializer's sigma_w2 (and no mean-field theory columns).
    import math

    from initjax.sweeps.grid import Group
    from initjax.sweeps.runner import effective_sigma_w2

    g = Group(
        index=0, model="mlp", width=16, depth=3, arm="lsuv", activation="tanh",
        activation_hparams=(), init="lsuv", init_hparams=(("base", "orthogonal"),),
        sigma_w2=(None,), sigma_b2=(0.0,), learning_rate=(),
    )  # fmt: skip
    assert math.isnan(effective_sigma_w2(g))


@pytest.mark.parametrize("optimizer,slots", [("sgd", 0), ("momentum", 1), ("adam", 2)])
def test_training_memory_estimate_counts_what_train_keeps(optimizer, slots):
    from initjax.sweeps.grid import expand
    from initjax.sweeps.runner import estimate_bytes

    compute = {
        "kind": "training", "model": "mlp", "widths": [32], "depths": [5], "seeds": 3,
        "dataset": "gaussian_mixture", "optimizer": optimizer, "learning_rate": [0.1, 0.01],
        "steps": 4, "batch_size": 16,
        "arms": [{"name": "tanh", "activation": "tanh", "init": "variance_scaling",
                  "sigma_w2": [1.0, 2.0, 3.0], "sigma_b2": [0.0]}],
    }  # fmt: skip
    (group,) = expand(compute)
    n = 3 * 2 * 3  # sigma_w2 x learning_rate cells x seeds, all at once
    p_layer = 32 * 32 + 32  # one hidden layer: kernel and bias
    per_net = (3 + slots) * p_layer * 5 + 3 * 16 * 32 * 6  # (params, grads, updates, slots) + z
    assert estimate_bytes(group, compute) == 4 * n * per_net


def test_model_args_arm_runs_with_the_recipe_inits_and_becomes_columns():
    # A Transformer arm without activation / init: the recipe's own per-role inits. GPT-2's
    # token and position tables are N(0, 0.02^2) each, so E[q^0] = 2 x 0.02^2 = 8e-4.
    from initjax.sweeps.grid import expand
    from initjax.sweeps.runner import run_group

    c = dict(kind="propagation", model="transformer", widths=[16], depths=[2], seeds=32,
             inputs="gaussian", n_inputs=2, input_dim=16, c0=0.2, metrics=["q", "token_cos"],
             arms=[dict(name="gpt2-post", model_args=dict(recipe="gpt2", norm="post", patch=4,
                                                          heads=2, positions="none"))])  # fmt: skip
    (g,) = expand(c)
    x = np.ones((2, 16), np.float32)
    f = run_group(g, x, c)
    assert {"recipe", "norm", "patch", "heads"} <= set(f.columns)
    assert set(f.recipe) == {"gpt2"} and set(f.norm) == {"post"}
    assert f.init.isna().all() and f.sigma_w2.isna().all() and "q_theory" not in f.columns
    # Layer 0: the patch embedding of an all-ones input, 4 x 0.02^2 chi^2_16 / 16 per seed; the
    # mean of 32 seeds has relative SE sqrt(2 / 512) = 0.0625: 5 SE.
    q0 = f[f.layer == 0].q.mean()
    assert q0 == pytest.approx(4 * 0.02**2, rel=5 * 0.0625)
    # Post-LN: unit second moment up to LayerNorm's eps (1e-5 against a variance ~1e-3).
    assert np.allclose(f[f.layer >= 1].q, 1.0, atol=0.05)


def test_recipe_with_its_own_bias_init_runs_at_the_default_sigma_b2_and_refuses_another():
    # PyTorch's recipe draws biases U(+-1/sqrt(fan_in)) (its own bias_init): an arm that leaves
    # sigma_b2 at its default runs with those biases (sigma_b2 NaN in the table); an explicit
    # nonzero sigma_b2 cannot apply and is refused with the reason.
    from initjax.sweeps.grid import expand
    from initjax.sweeps.runner import run_group

    arm = dict(name="torch-pre", model_args=dict(recipe="torch", norm="pre", patch=4, heads=2))
    c = dict(kind="propagation", model="transformer", widths=[8], depths=[2], seeds=2,
             inputs="gaussian", n_inputs=2, input_dim=16, c0=0.2, metrics=["q"],
             arms=[arm])  # fmt: skip
    x = np.ones((2, 16), np.float32)
    f = run_group(expand(c)[0], x, c)
    assert f.sigma_b2.isna().all() and np.isfinite(f.q).all()
    c["arms"] = [dict(arm, sigma_b2=[0.1])]
    with pytest.raises(ValueError, match="sigma_b2 has no effect"):
        run_group(expand(c)[0], x, c)
