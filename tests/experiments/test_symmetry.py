"""Symmetry experiment: the unit-counting measurements, and the tiny preset end to end."""

import json

import numpy as np
import pytest

from initjax.sweeps import load_experiment, resolve_config


@pytest.fixture(scope="module")
def exp():
    return load_experiment("symmetry")


@pytest.fixture(scope="module")
def tiny_run(exp, tmp_path_factory):
    out = tmp_path_factory.mktemp("symmetry")
    cfg = resolve_config(exp, ["preset=tiny"])
    table = exp.module.run(cfg, out, progress=False)
    return cfg, out, table


# ------------------------------------------------------------------------------ measurements
def test_distinct_units_counts_clusters(exp):
    m = exp.module
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((3, 20))
    # 3 clusters of 4 near-copies: offsets 1e-7 x the norm (float32 rounding scale) stay below
    # the 1e-4 relative tolerance; independent Gaussian centres are ~sqrt(2) norms apart.
    v = np.repeat(centres, 4, axis=0) * (1 + 1e-7 * rng.standard_normal((12, 1)))
    assert m.distinct_units(v, 1e-4) == 3
    assert m.distinct_units(np.tile(centres[:1], (7, 1)), 0.0) == 1  # bit-identical: tol 0 works
    assert m.distinct_units(rng.standard_normal((16, 20)), 1e-4) == 16
    assert m.distinct_units(np.zeros((5, 3)), 1e-4) == 1  # zero init: one (silent) unit
    assert m.distinct_units(np.ones((1, 3))) == 1
    bad = np.ones((4, 3))
    bad[0, 0] = np.nan
    assert np.isnan(m.distinct_units(bad))


def test_distinct_units_single_linkage(exp):
    # A chain 0 - 1 - 2 with steps just under the tolerance is one unit even though its ends are
    # farther apart than the tolerance; a fourth point far away is another.
    v = np.array([[1.0, 0.0], [1.0, 0.9e-4], [1.0, 1.8e-4], [0.0, 1.0]])
    scale = np.sqrt(np.mean(np.sum(v * v, axis=1)))  # = 1
    assert scale == pytest.approx(1.0)
    assert exp.module.distinct_units(v, 1e-4) == 2
    assert exp.module.distinct_units(v, 0.5e-4) == 4


def test_relative_distances(exp):
    v = np.array([[3.0, 0.0], [0.0, 4.0], [3.0, 0.0]])
    rms = np.sqrt((9 + 16 + 9) / 3)
    lo, hi = exp.module.relative_distances(v)
    assert lo == 0.0
    assert hi == pytest.approx(5.0 / rms)
    assert exp.module.relative_distances(np.zeros((3, 2))) == (0.0, 0.0)


def test_weight_rank(exp):
    rng = np.random.default_rng(1)
    m = exp.module
    for k in (1, 3, 8):
        w = (rng.standard_normal((12, k)) @ rng.standard_normal((k, 10))).astype(np.float32)
        assert m.weight_rank(w) == k
    assert m.weight_rank(np.zeros((4, 5))) == 0
    assert m.weight_rank(np.full((6, 6), 0.25, np.float32)) == 1  # constant init: rank 1
    assert np.isnan(m.weight_rank(np.array([[np.inf, 0.0], [0.0, 1.0]])))


def test_unit_vectors_layout_and_errors(exp):
    k = np.arange(6.0).reshape(2, 3)  # (fan_in 2, fan_out 3): unit j's weights are column j
    v = exp.module.unit_vectors(k, np.array([10.0, 11.0, 12.0]))
    np.testing.assert_array_equal(v, [[0, 3, 10], [1, 4, 11], [2, 5, 12]])
    with pytest.raises(ValueError, match="bias must have shape"):
        exp.module.unit_vectors(k, np.zeros(2))
    with pytest.raises(ValueError, match="kernel must be 2-D"):
        exp.module.unit_vectors(np.zeros(3))
    with pytest.raises(ValueError, match="rel_tol"):
        exp.module.distinct_units(k.T, -1.0)


# --------------------------------------------------------------------------------- tiny run
def test_symmetric_inits_keep_one_unit_per_layer(tiny_run):
    cfg, _, table = tiny_run
    lay = table[table["record"] == "layer"]
    depth = int(cfg.depths[0])
    # every arm x seed has the input projection and `depth` hidden layers
    assert len(lay) == len(cfg.arms) * cfg.seeds * (depth + 1)
    sym = lay[lay["arm"].isin(["zero", "constant"])]
    # Exact claim (identical units get identical gradients): one distinct unit in every layer.
    assert (sym["distinct_units"] == 1).all()
    assert (sym["max_rel_dist"] < cfg.rel_tol).all()
    # Zero weights stay exactly zero under backprop (phi(0) = 0 and relu'(0) = tanh(0) = 0 in every
    # product), so rank 0; constant init keeps every kernel a constant matrix: rank 1.
    assert (lay.loc[lay["arm"] == "zero", "rank"] == 0).all()
    assert (lay.loc[lay["arm"] == "constant", "rank"] == 1).all()


def test_random_inits_break_symmetry(tiny_run):
    cfg, _, table = tiny_run
    lay = table[(table["record"] == "layer") & ~table["arm"].isin(["zero", "constant"])]
    # Independent Gaussian incoming vectors are distinct (relative distance ~sqrt(2) >> 1e-4),
    # and a few SGD steps cannot merge them.
    assert (lay["distinct_units"] == cfg.width).all()
    hidden = lay[lay["layer"] >= 1]
    assert (hidden["rank"] == cfg.width).all()


def test_curves_outputs_and_resume(tiny_run, exp, monkeypatch):
    cfg, out, table = tiny_run
    cur = table[table["record"] == "curve"]
    # steps / eval_every recorded points per network
    assert (
        cur.groupby(["activation", "depth", "arm", "seed"])
        .size()
        .eq(cfg.steps // cfg.eval_every)
        .all()
    )
    # Zero init: only the readout bias learns, so the net predicts one class for every input.
    zero = cur[(cur["arm"] == "zero") & (cur["step"] == cur["step"].max())]
    assert (zero["train_acc"] < 0.2).all()
    for name in ("results.parquet", "manifest.json", "summary.md", "symmetry.png"):
        assert (out / name).is_file(), name
    summary = (out / "summary.md").read_text()
    assert "**Verdict: " in summary and "distinct units" in summary
    assert json.loads((out / "manifest.json").read_text())["status"] == "complete"
    # Resume: a rerun finds every group on disk and trains nothing.
    monkeypatch.setattr(exp.module, "run_group", lambda *a, **k: pytest.fail("recomputed"))
    again = exp.module.run(cfg, out, progress=False)
    assert len(again) == len(table)


def test_plot_redraws_from_run_dir(tiny_run):
    from initjax.cli import main

    _, out, _ = tiny_run
    (out / "summary.md").unlink()
    assert main(["plot", str(out)]) == 0
    assert (out / "summary.md").is_file()


def test_bad_config_names_the_key(exp, tmp_path):
    cfg = resolve_config(exp, ["preset=tiny", "large_arm=huge"])
    with pytest.raises(ValueError, match="large_arm"):
        exp.module.run(cfg, tmp_path, progress=False)
    cfg = resolve_config(exp, ["preset=tiny", "depths=[0]"])
    with pytest.raises(ValueError, match="depths"):
        exp.module.run(cfg, tmp_path, progress=False)
    cfg = resolve_config(exp, ["preset=tiny"])
    cfg.arms[0]["init"] = "zeroes_typo"
    with pytest.raises(ValueError, match=r"arms\[0\]"):
        exp.module.run(cfg, tmp_path, progress=False)
