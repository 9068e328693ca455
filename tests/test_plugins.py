"""Plugins end to end: a throwaway package defining an initializer, a model family and a metric,
loaded with ``--plugin``, ``$INITJAX_PLUGINS``, an installed entry point, or named as
``module:function``; every registry restored afterwards (``initjax.plugins.isolated``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from initjax import initializers, models, plugins, theory
from initjax.cli import main, split_plugins
from initjax.measure import propagate

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PLUGIN = '''
"""A throwaway initjax plugin: student_t initializer, beta_res model family, kurtosis metric."""
import dataclasses
import math

import jax
import jax.numpy as jnp

from initjax import initializers, models
from initjax.measure import metrics


@initializers.register(
    "student_t", family="random", defaults={"df": 5.0, "scale": 1.0},
    reference="Student-t with (integer) df degrees of freedom scaled to Var[w] = scale / fan_in",
    variance=lambda fan_in, fan_out, df, scale: scale / fan_in, formula="scale / fan_in",
)
def student_t(df, scale):
    n = int(df)
    if n != df or n < 3:
        raise ValueError(f"df must be an integer >= 3, got {df!r}")

    def init(key, shape, dtype=jnp.float32):
        fan_in, _ = initializers.fans(shape)
        # z0 / sqrt(chi2_df / df) with chi2_df a sum of df squared normals: Student-t with df
        # degrees of freedom, Var[t] = df / (df - 2). (jax.random.t's gamma sampler compiles
        # ~2.5x slower, once per shape.) Drawn flat, then reshaped: XLA:CPU compiles a
        # multi-axis draw several times slower (a (6, 3, 3, 4, 8) one: seconds).
        z = jax.random.normal(key, ((n + 1) * math.prod(shape),), jnp.float32)
        z = z.reshape(n + 1, *shape)
        t = z[0] / jnp.sqrt(jnp.mean(jnp.square(z[1:]), axis=0))
        return (t * jnp.sqrt(scale / fan_in * (df - 2) / df)).astype(dtype)
    return init


def too_wide(key, shape, dtype=jnp.float32):
    """Promises 1 / fan_in but draws 1.1 / fan_in: a 10 % variance error."""
    fan_in, _ = initializers.fans(shape)
    z = jax.random.normal(key, (math.prod(shape),)).reshape(shape)  # flat: compiles faster
    return (z * math.sqrt(1.1 / fan_in)).astype(dtype)


too_wide.variance = lambda fan_in, fan_out: 1.0 / fan_in


@dataclasses.dataclass(frozen=True)
class BetaResStack(models.MLPStack):
    beta: float = 0.5

    def layer_apply(self, p, z):
        return z + self.beta * super().layer_apply(p, z)


@models.register("beta_res", example={"width": 8, "depth": 3, "readout": 2})
class BetaRes(models.MLP):
    """MLP with identity skips and a fixed branch multiplier beta."""
    beta: float = 0.5

    def stack(self):
        s = super().stack()
        fields = {f.name: getattr(s, f.name) for f in dataclasses.fields(s)}
        return BetaResStack(**fields, beta=self.beta)


def kurtosis(ctx):
    """E[z^4] / E[z^2]^2 of one layer's pre-activations (3 for a Gaussian)."""
    z2 = jnp.square(ctx.z.astype(jnp.float32))
    return jnp.mean(z2**2) / jnp.mean(z2) ** 2


metrics.register("kurtosis", kurtosis, nonfinite_policy="undefined_on_underflow")
'''


@pytest.fixture
def plugin_dir(tmp_path, monkeypatch):
    """A package ``myinitplug`` on sys.path (not installed); registries restored after."""
    pkg = tmp_path / "myinitplug"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    with plugins.isolated():
        yield tmp_path
    sys.modules.pop("myinitplug", None)
    assert "student_t" not in initializers.names() and "beta_res" not in models.names()


def _run(capsys, *argv) -> tuple[int, str]:
    rc = main(list(argv))
    cap = capsys.readouterr()
    return rc, cap.out + cap.err


def test_done_when_plugin_package_works_everywhere(plugin_dir, capsys):
    P = ("--plugin", "myinitplug")
    rc, out = _run(capsys, *P, "list", "--width", "120")
    assert rc == 0
    assert any(line.startswith("student_t") for line in out.splitlines())
    assert "student_t (from myinitplug)" in out
    assert "beta_res: BetaRes" in out and "kurtosis:" in out and "from myinitplug" in out
    run = plugin_dir / "run"
    rc, out = _run(capsys, "propagate", *P, "--init", "student_t", "--arch", "beta_res",
                   "--metrics", "q,kurtosis", "--depth", "6", "--width", "32", "--seeds", "4",
                   "--model-arg", "beta=0.5", "--out", str(run), "--no-progress")  # fmt: skip
    assert rc == 0, out
    df = pd.read_parquet(run / "propagate.parquet")
    assert list(df.columns) == [
        "seed", "layer", "q", "kurtosis", "underflow", "nonfinite", "diverged"
    ]  # fmt: skip
    assert len(df) == 4 * 7 and np.isfinite(df[["q", "kurtosis"]].to_numpy()).all()
    assert (df["kurtosis"] > 1.0).all()  # E[z^4] >= E[z^2]^2, with equality only for +-const
    manifest = json.loads((run / "manifest.json").read_text())
    assert "BetaRes" in manifest["model"] and manifest["metrics"] == ["q", "kurtosis"]
    assert (run / "propagate.png").stat().st_size > 1000
    rc, out = _run(capsys, *P, "check-init", "student_t")
    assert rc == 0 and "check_initializer('student_t'): PASS" in out, out
    rc, out = _run(capsys, *P, "check-init", "myinitplug:too_wide")
    assert rc == 1 and "FAIL  variance" in out and "empirical Var[w]" in out, out
    assert "+10" in out or "+9" in out  # the 10 % error, measured


SWEEP = '''
"""A user's sweep config: the plugin's model, initializer and metric in a grid."""
import ml_collections

from initjax.sweeps.study import default_analysis, evaluate, pieces, report  # noqa: F401

DESCRIPTION = "student_t vs lecun_normal on beta_res nets"


def get_config():
    compute = dict(
        model="beta_res", widths=[16], depths=[4], seeds=4, inputs="gaussian", n_inputs=4,
        input_dim=8, c0=0.5, metrics=["q", "c", "kurtosis"],
        arms=[dict(name="t", activation="tanh", init="student_t", init_hparams={"df": 6.0},
                   sigma_w2=[1.0, 2.0], sigma_b2=[0.0]),
              dict(name="gauss", activation="tanh", init="lecun_normal", sigma_w2=[1.0],
                   sigma_b2=[0.0])],
    )
    return ml_collections.ConfigDict(
        dict(compute=compute, analysis=default_analysis(), preset="default")
    )
'''


def test_sweep_config_with_plugin_entries_is_validated_and_planned(plugin_dir, capsys):
    # The config names the plugin's model, initializer and metric: with the plugin loaded it
    # passes the grid's checks and is planned piece by piece (--dry-run: nothing computed);
    # without it the same file is refused, naming the unknown entry.
    cfg = plugin_dir / "plug_sweep.py"
    cfg.write_text(SWEEP)
    out = plugin_dir / "sweep"
    rc, text = _run(capsys, "run", str(cfg), "--out", str(out), "--dry-run")
    assert rc == 2 and "beta_res" in text, text
    rc, text = _run(capsys, "--plugin", "myinitplug", "run", str(cfg), "--out", str(out),
                    "--dry-run")  # fmt: skip
    assert rc == 0, text
    assert "2 pieces, 0 done, 2 to do" in text
    assert "beta_res w=16 L=4 t " in text and "beta_res w=16 L=4 gauss " in text
    assert not out.exists()


# slow: covered by test_sweep_config_with_plugin_entries_is_validated_and_planned (the config
# with plugin entries checked and planned) and
# tests/sweeps/test_run_cli.py::test_run_then_plot_redraws_without_recomputing (a grid study
# run: table, one figure per metric, summary, redrawn by `initjax plot`); the plugin's
# initializer, model and metric inside the engine: test_done_when_plugin_package_works_everywhere.
@pytest.mark.slow
def test_sweep_config_with_plugin_entries_gets_figures(plugin_dir, capsys):
    cfg = plugin_dir / "plug_sweep.py"
    cfg.write_text(SWEEP)
    out = plugin_dir / "sweep"
    rc, text = _run(capsys, "--plugin", "myinitplug", "run", str(cfg), "--out", str(out),
                    "--no-progress")  # fmt: skip
    assert rc == 0, text
    df = pd.read_parquet(out / "results.parquet")
    assert set(df["init"]) == {"student_t", "lecun_normal"} and "kurtosis" in df.columns
    assert len(df) == (2 + 1) * 4 * (4 + 1)  # cells x seeds x layers 0..depth
    for col in ("q", "c", "kurtosis"):
        assert (out / f"figure_{col}.png").stat().st_size > 1000
    summary = (out / "summary.md").read_text()
    assert "Verdict: PASS" in summary and "figure_kurtosis.png" in summary
    # Redrawn from the stored table alone (`initjax plot`).
    (out / "figure_kurtosis.png").unlink()
    rc, text = _run(capsys, "--plugin", "myinitplug", "plot", str(out))
    assert rc == 0 and (out / "figure_kurtosis.png").is_file(), text


def test_plugin_initializer_in_theory_comparison(plugin_dir):
    # Theory reads sigma_w2 from the promised variance (what sweeps do for an initializer used
    # as registered): Var = scale / fan_in, so sigma_w2 = 1. Criterion fixed beforehand: the
    # seed-mean q^l within 4 SE of the mean-field q^l plus 2 % for the O(1/width) finite-width
    # terms at width 256 (Poole et al. 2016).
    plugins.load(["myinitplug"])
    width, seeds = 256, 16
    init = initializers.get("student_t")
    sw2 = init.promised_variance(width, width) * width
    assert sw2 == pytest.approx(1.0)
    net = models.MLP(width=width, depth=8, activation="tanh", kernel_init="student_t",
                     sigma_b2=0.05)  # fmt: skip
    frame = propagate(net, seeds=seeds, batch=8).to_frame().assign(sigma_w2=sw2, sigma_b2=0.05)
    out = theory.compare(frame, "tanh")
    g = out.groupby("layer")
    mean, se = g["q"].mean(), g["q"].std() / np.sqrt(seeds)
    th = g["q_theory"].mean()
    assert np.all(np.abs(mean - th) <= 4 * se + 0.02 * th), (mean - th) / se


def test_plugin_families_pass_the_registry_contracts(plugin_dir):
    # What tests/models and tests/measure check for every registered entry, on the plugin's.
    plugins.load(["myinitplug"])
    m = models.example("beta_res")
    assert models.name_of(m) == "beta_res"
    fused = propagate(m, seeds=2, metrics="q,grad_sq,kurtosis", batch=4)
    mat = propagate(m, seeds=2, metrics="q,grad_sq,kurtosis", batch=4, path="materialized")
    for k in fused.arrays:
        assert np.array_equal(fused.arrays[k], mat.arrays[k], equal_nan=True), k
    assert np.isfinite(fused.arrays["kurtosis"]).all() and not fused.diverged.any()


def test_one_off_callable_and_file_plugins(tmp_path, capsys):
    f = tmp_path / "my_inits.py"
    f.write_text(textwrap.dedent('''
        import jax, jax.numpy as jnp
        def half_he(key, shape, dtype=jnp.float32):
            """He normal at half the variance."""
            return jax.random.normal(key, shape, dtype) * jnp.sqrt(1.0 / shape[0]).astype(dtype)
        half_he.variance = lambda fan_in, fan_out: 1.0 / fan_in
        half_he.formula = "1 / fan_in"
    '''))  # fmt: skip
    with plugins.isolated():
        spec = f"{f}:half_he"
        e = initializers.entry(spec)
        assert e.family == "user" and e.formula == "1 / fan_in"
        assert e.reference == "He normal at half the variance."
        assert initializers.get(spec).promised_variance(64, 8) == pytest.approx(1 / 64)
        assert spec in initializers.names()  # registered under its spec
        out = tmp_path / "run"
        rc = main(["propagate", "--init", spec, "--depth", "3", "--width", "8", "--seeds", "2",
                   "--out", str(out), "--no-plot", "--no-progress"])  # fmt: skip
        assert rc == 0 and (out / "propagate.parquet").exists()
    assert f"{f}:half_he" not in initializers.names()
    capsys.readouterr()


def test_env_var_and_entry_point_plugins_in_a_fresh_process(tmp_path):
    # An "installed" package: a module plus a dist-info whose entry_points.txt declares it in
    # the group initjax.plugins (what pip writes); and a plain file named in $INITJAX_PLUGINS.
    site = tmp_path / "site"
    site.mkdir()
    (site / "epplug.py").write_text(
        "from initjax import initializers\n"
        "initializers.register_callable(lambda k, s, d=None: None, name='from_entry_point')\n"
    )
    dist = site / "epplug-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: epplug\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[initjax.plugins]\nepplug = epplug\n")
    envfile = tmp_path / "env_plug.py"
    envfile.write_text(
        "from initjax.measure import metrics\n"
        "metrics.register('from_env', lambda ctx: ctx.z.max())\n"
    )
    broken = tmp_path / "broken_plug.py"
    broken.write_text("raise RuntimeError('boom')\n")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([ROOT, str(site)])
    env["INITJAX_PLUGINS"] = f"{envfile},{broken}"
    proc = subprocess.run(
        [sys.executable, "-m", "initjax.cli", "list", "--json", "--kind", "all"],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    listing = json.loads(proc.stdout)
    assert "from_entry_point" in [r["name"] for r in listing["initializers"]]
    assert "from_env" in [r["name"] for r in listing["metrics"]]
    # A broken plugin is named in a warning; the rest still loads.
    assert "broken_plug.py" in proc.stderr and "RuntimeError: boom" in proc.stderr


def test_plugin_flag_parsing_and_errors(capsys):
    assert split_plugins(["--plugin", "a", "list", "--plugin=b.py", "--json"]) == (
        ["a", "b.py"],
        ["list", "--json"],
    )
    for argv in (["list", "--plugin"], ["--plugin", "--json", "list"], ["--plugin=", "list"]):
        assert main(argv) == 2
        assert "--plugin needs a module name" in capsys.readouterr().err
    assert main(["--plugin", "no_such_plugin_module", "list"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--plugin no_such_plugin_module: cannot import" in err[0]
    assert main(["propagate", "--init", "no_such_mod_xyz:f", "--no-progress"]) == 2
    assert "cannot import 'no_such_mod_xyz'" in capsys.readouterr().err
