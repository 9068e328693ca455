"""pennington2017: the tiny preset end to end, closed-form theory values, and evaluate on
synthetic spectra (a table that follows free probability with an exact 1/N term PASSes; a wrong
theory constant, an orthogonal arm without isometry, or a 1/N-violating arm do not)."""

import numpy as np
import pandas as pd
import pytest

from initjax.sweeps import load_experiment, resolve_config
from initjax.sweeps.runtime import run_experiment
from initjax.sweeps.summary import Summary


@pytest.fixture(scope="module")
def exp():
    return load_experiment("pennington2017")


@pytest.fixture(scope="module")
def tiny_run(exp, tmp_path_factory):
    cfg = resolve_config(exp, ["preset=tiny"])
    out = tmp_path_factory.mktemp("pennington2017")
    return cfg, out, run_experiment(exp, cfg, out, progress=False, log=lambda *_: None)


@pytest.mark.slow  # end to end; evaluate() is tested on synthetic tables in the default run
def test_pennington2017_tiny(exp, tiny_run):
    cfg, out, res = tiny_run
    s = Summary.read(out)
    assert s.verdict.status in ("PASS", "PARTIAL", "FAIL")
    assert {"figure_spectra.png", "figure_variance.png"} <= set(s.figures)
    assert any("CIFAR-10" in c for c in s.verdict.not_reproduced)
    md = (out / "summary.md").read_text()
    assert md.index("## Criterion") < md.index("**Verdict: ")
    mom = exp.module.moments(res.table).set_index(["arm", "width"])
    # Closed forms at L = 3 (independent of initjax.theory): Gaussian ReLU at (2, 0) has
    # Var[lambda] = 2 L = 6 (mu_1 = mu_2 = 1/2, s_1 = -1).
    assert mom.loc[("relu-gaussian", 32), "var_theory"] == pytest.approx(6.0, rel=1e-5)
    # both widths and both arms are measured, 4 networks each
    assert sorted(mom.index) == [(a, w) for a in ("relu-gaussian", "tanh-orthogonal")
                                 for w in (16, 32)]  # fmt: skip
    assert (mom["networks"] == 4).all()
    # orthogonal tanh at q* = 1/64 is near-isometric: mean lambda 1 (chi_1 = 1) and every
    # lambda within [0.6, 1.4] (theory std 0.07 at L = 3; the smallest is the input's length
    # direction, ~ (q-map slope)^(2 (L - 1)) = 0.89)
    sp = res.table[(res.table["kind"] == "spectrum") & (res.table["arm"] == "tanh-orthogonal")]
    assert sp["lam"].between(0.6, 1.4).all()
    # inputs are scaled so the first pre-activation starts at q*; critical: q^L stays there
    assert sp["q_last"].mean() == pytest.approx(cfg.compute.q_star, rel=0.1)
    tr = res.table[res.table["kind"] == "train"]
    assert len(tr) and tr["test_acc"].between(0, 1).all()


def _spectra(var, theory, widths=(128, 256), depths=(2, 32), seeds=8, n=64):
    """Synthetic spectrum rows: network s of (arm, width, depth) has mean-1 lambdas whose
    normalized variance is var(arm, N, L) * (1 + 0.005 * (s - mean s)) exactly (SE of v_inf ~1%)."""
    e = np.linspace(-1.0, 1.0, n)
    e = (e - e.mean()) / e.std(ddof=1)
    rows = []
    for arm in theory:
        for w in widths:
            for d in depths:
                for s in range(seeds):
                    v = var(arm, w, d) * (1 + 0.005 * (s - (seeds - 1) / 2))
                    rows.append(pd.DataFrame(dict(
                        kind="spectrum", arm=arm, width=w, depth=d, seed=s, index=np.arange(n),
                        lam=1 + np.sqrt(v) * e, q_last=1 / 64, diverged=False,
                        var_theory=theory[arm](d),
                    )))  # fmt: skip
    return pd.concat(rows, ignore_index=True)


# free probability's Var[lambda] per arm (slopes as at q* = 1/64 and for Gaussian ReLU)
THEORY = {"tanh-orthogonal": lambda d: 0.0017 * d, "relu-gaussian": lambda d: 2.0 * d}


def _finite_n(arm, w, d):
    # a finite-width term b / N with b = 3 v_inf: exactly removed by the two-width fit
    return THEORY[arm](d) * (1 + 3.0 / w)


def test_spectra_that_follow_theory_pass(exp):
    v = exp.module.evaluate(_spectra(_finite_n, THEORY), exp.get_config())
    assert v.status == "PASS", v.reason
    assert len(v.checks) == 4 + 1  # 2 arms x 2 depths, one isometry test
    fit = [c for c in v.checks if c.name.startswith("Var")]
    assert all(abs(c.z) < 1e-3 for c in fit)
    assert "b/N" in fit[0].note


def test_negative_control_wrong_theory_constant_fails(exp):
    # Gaussian ReLU judged against the orthogonal-weights slope (s_1 = 0 instead of -1): Var / L
    # 1 instead of 2, and orthogonal tanh against a slope 10% too high
    wrong = {"tanh-orthogonal": lambda d: 0.00187 * d, "relu-gaussian": lambda d: 1.0 * d}
    table = _spectra(_finite_n, THEORY)
    for arm, th in wrong.items():
        table.loc[table["arm"] == arm, "var_theory"] = table["depth"].map(th)
    assert exp.module.evaluate(table, exp.get_config()).status == "FAIL"


def test_negative_control_no_isometry_fails(exp):
    # the orthogonal-tanh arm spreads like the ReLU arm: its theory rows fail and the isometry
    # test cannot pass
    spread = {"tanh-orthogonal": lambda d: 2.0 * d, "relu-gaussian": lambda d: 2.0 * d}
    table = _spectra(lambda a, w, d: spread[a](d), THEORY)
    v = exp.module.evaluate(table, exp.get_config())
    assert v.status == "FAIL"
    assert [c.passed for c in v.checks if c.name.startswith("isometry")] == [False]


def test_one_arm_off_theory_is_partial(exp):
    # Gaussian ReLU at L = 32 10% below theory at both widths (no 1/N law removes it):
    # isometry and orthogonal tanh hold -> PARTIAL, never PASS
    def var(arm, w, d):
        off = 0.9 if (arm, d) == ("relu-gaussian", 32) else 1.0
        return _finite_n(arm, w, d) * off

    v = exp.module.evaluate(_spectra(var, THEORY), exp.get_config())
    assert v.status == "PARTIAL"
    bad = [c.name for c in v.checks if c.passed is False]
    assert bad == ["Var[lambda] at N -> inf, relu-gaussian, L = 32"]
