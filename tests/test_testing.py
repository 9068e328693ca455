"""The conformance kit (initjax.testing): correct initializers pass, and each kind of defect fails
the check that names it (negative controls)."""

from __future__ import annotations

import itertools
import json
import math

import jax
import jax.numpy as jnp
import pytest

from initjax import initializers, plugins, testing
from initjax.cli import main

SMALL = 2**16  # values per kernel kind for the negative controls: SE(s^2) = 0.55 % (Gaussian)


def _he(key, shape, dtype=jnp.float32):
    fan_in = initializers.fans(shape)[0] if len(shape) >= 2 else shape[0]
    # Drawn flat and reshaped: the same values as jax.random.normal(key, shape) (threefry
    # counters run over the flat index), and XLA:CPU compiles the flat draw several times faster
    # (a (3, 3, 4, 8) draw: ~2.4 s vs ~0.3 s; every new shape compiles once).
    z = jax.random.normal(key, (math.prod(shape),)).reshape(shape)
    return (z * math.sqrt(2.0 / fan_in)).astype(dtype)


_he.variance = lambda fan_in, fan_out: 2.0 / fan_in


@pytest.mark.parametrize(
    "name,kw",
    [
        ("he_normal", {"distribution": "truncated_normal"}),  # jax's He: truncated at 2 sd
        ("glorot_uniform", {"distribution": "uniform"}),
        ("zeros", {}),
        ("delta_orthogonal", {}),
        ("torch_kaiming_normal", {"distribution": "normal"}),
    ],
)
def test_registered_entries_pass(name, kw):
    r = testing.check_initializer(name, **kw)
    assert r.passed, str(r)
    by = {c.name: c for c in r.checks}
    e = initializers.entry(name)
    assert by["distinct_keys"].status == ("SKIP" if e.deterministic else "PASS")
    if "distribution" in kw:
        assert by["distribution"].status == "PASS"
    if e.variance is not None and not e.deterministic:
        assert by["variance"].status == "PASS" and "promised" in by["variance"].detail


@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    [n for n in initializers.names() if initializers.entry(n).family != "data_dependent"],
)
def test_every_registered_entry_passes(name):
    assert testing.check_initializer(name).passed


def test_data_dependent_entries_are_refused_with_their_base():
    with pytest.raises(ValueError, match="data-dependent.*'orthogonal'"):
        testing.check_initializer("lsuv")
    with pytest.raises(ValueError, match="data-dependent.*'he_normal'"):
        testing.check_initializer(initializers.get("gradinit"))


def test_plain_callable_with_a_promise_passes_and_its_report_reads_well():
    r = testing.check_initializer(_he, distribution="normal")
    assert r.passed, str(r)
    text = str(r)
    assert text.startswith("check_initializer(_he): PASS (7 passed, 0 failed, 0 skipped)")
    for name in ("shape_dtype", "determinism", "jit_eager", "vmap_keys", "distinct_keys"):
        assert f"PASS  {name}" in text
    assert "dense (16, 32) (fan_in=16, fan_out=32): empirical Var[w]" in text
    assert json.loads(json.dumps(r.to_dict()))["passed"] is True


def test_a_ten_percent_variance_error_fails_naming_the_variance():
    def wide(key, shape, dtype=jnp.float32):
        return (_he(key, shape) * math.sqrt(1.1)).astype(dtype)

    r = testing.check_initializer(
        wide, variance=lambda fi, fo: 2.0 / fi, samples=SMALL, kinds=["dense"]
    )
    assert not r.passed and [c.name for c in r.failures] == ["variance"]
    detail = r.failures[0].detail
    assert "empirical Var[w]" in detail and "promised 0.125" in detail and "<-- FAIL" in detail

    # Heavy tails (Student-t, 5 dof, kurtosis 9) are caught at 10 % too.
    def t5(key, shape, dtype=jnp.float32):
        # z0 / sqrt(chi2_5 / 5), chi2_5 a sum of 5 squared normals: Student-t with 5 dof (it
        # compiles faster than jax.random.t's gamma sampler, once per kernel shape).
        z = jax.random.normal(key, (6 * math.prod(shape),)).reshape(6, *shape)  # flat: see _he
        t = z[0] / jnp.sqrt(jnp.mean(jnp.square(z[1:]), axis=0)) * math.sqrt(3.0 / 5.0)
        return (t * math.sqrt(1.1 / initializers.fans(shape)[0])).astype(dtype)

    # 2^17 values: SE = sqrt(8 / 2^17) = 0.78 % of the variance, so 10 % is 12.8 SE.
    r = testing.check_initializer(
        t5, variance=lambda fi, fo: 1.0 / fi, samples=2**17, kinds=["dense"]
    )
    assert [c.name for c in r.failures] == ["variance"], str(r)
    # Without a promise the variance is not checked (and the report says so): _he's draw in a
    # callable without a variance attribute (the same compiled draws as `wide` above).
    r = testing.check_initializer(
        lambda k, s, d=jnp.float32: _he(k, s, d),
        samples=SMALL,
        kinds=["dense"],
    )
    assert r.passed and "no promised variance" in {c.name: c for c in r.checks}["variance"].detail


def _fails(fn, check, **kw) -> str:
    kw = {"kinds": ["dense"], **kw}
    r = testing.check_initializer(fn, variance=lambda fi, fo: 2.0 / fi, samples=SMALL, **kw)
    failed = [c.name for c in r.failures]
    assert check in failed, str(r)
    return {c.name: c for c in r.checks}[check].detail


def test_each_defect_fails_its_check():
    def f32_only(key, shape, dtype=jnp.float32):
        return _he(key, shape)  # ignores dtype

    assert "bfloat16: got shape (16, 32), dtype float32" in _fails(f32_only, "shape_dtype")

    def flat(key, shape, dtype=jnp.float32):
        return _he(key, (math.prod(shape),), dtype)

    assert "got shape (512,)" in _fails(flat, "shape_dtype")

    def dense_only(key, shape, dtype=jnp.float32):
        if len(shape) != 2:
            raise ValueError("2-D only")
        return _he(key, shape, dtype)

    assert "conv (3, 3, 4, 8) float32: raised ValueError: 2-D only" in _fails(
        dense_only, "shape_dtype", kinds=["dense", "conv"]
    )
    assert testing.check_initializer(
        dense_only, variance=lambda fi, fo: 2.0 / fi, kinds=["dense"], samples=SMALL
    ).passed

    counter = itertools.count()

    def stateful(key, shape, dtype=jnp.float32):
        return _he(jax.random.fold_in(key, next(counter)), shape, dtype)

    assert "values differ" in _fails(stateful, "determinism")

    def keyless(key, shape, dtype=jnp.float32):
        return _he(jax.random.key(0), shape, dtype)

    assert "identical" in _fails(keyless, "distinct_keys")

    def nans(key, shape, dtype=jnp.float32):
        return _he(key, shape, dtype).at[0, 0].set(jnp.nan)

    assert "non-finite" in _fails(nans, "shape_dtype")
    # The wrong law: a uniform draw is not Gaussian (KS test).
    detail = _fails(initializers.get("he_uniform"), "distribution", distribution="normal")
    assert "KS D =" in detail and "vs normal" in detail


def test_pytest_helper_and_argument_errors():
    t = testing.initializer_test("glorot_normal", distribution="truncated_normal")
    assert t.__name__ == "test_glorot_normal"
    t()  # passes
    bad = testing.initializer_test(_he, variance=lambda fi, fo: 1.0 / fi, samples=SMALL)
    with pytest.raises(AssertionError, match="FAIL  variance"):
        bad()
    with pytest.raises(ValueError, match="unknown initializer 'he_nrmal'"):
        testing.check_initializer("he_nrmal")
    with pytest.raises(ValueError, match="samples"):
        testing.check_initializer("he_normal", samples=10)
    with pytest.raises(ValueError, match="kinds"):
        testing.check_initializer("he_normal", kinds=["cube"])
    with pytest.raises(ValueError, match="hparams"):
        testing.check_initializer(_he, hparams={"scale": 1.0})
    with pytest.raises(TypeError, match="init must be"):
        testing.check_initializer(3)
    with pytest.raises(ValueError, match="distribution"):
        testing.check_initializer("he_normal", distribution="cauchy", samples=SMALL)


def test_check_init_command(tmp_path, capsys):
    assert main(["check-init", "glorot_uniform", "--distribution", "uniform", "--samples",
                 str(SMALL)]) == 0  # fmt: skip
    assert "check_initializer('glorot_uniform'): PASS" in capsys.readouterr().out
    f = tmp_path / "two_inits.py"
    f.write_text(
        "import jax, jax.numpy as jnp, math\n"
        "from initjax import initializers\n"
        "for name, v in (('good_one', 1.0), ('bad_one', 1.1)):\n"
        "    initializers.register(name, family='random', defaults={}, reference='test',\n"
        "        variance=lambda fi, fo: 1.0 / fi)(\n"
        "        lambda v=v: lambda k, s, d=jnp.float32: (jax.random.normal(k, (math.prod(s),))\n"
        "            .reshape(s)\n"
        "            * math.sqrt(v / initializers.fans(s)[0])).astype(d))\n"
    )
    with plugins.isolated():
        assert main(["check-init", str(f), "--samples", str(SMALL), "--json"]) == 1
        reports = json.loads(capsys.readouterr().out)
    assert [(r["initializer"], r["passed"]) for r in reports] == [
        ("'bad_one'", False),
        ("'good_one'", True),
    ]
    assert main(["check-init", "he_nrmal"]) == 2
    assert "Did you mean 'he_normal'" in capsys.readouterr().err
