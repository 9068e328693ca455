"""Bad input across the CLI and the Python API: a clear error naming the argument, or a result.

For every case: the CLI exits 2 with one line ``initjax <command>: error: ...`` naming the
argument (argparse's own errors: exit 2, usage plus that line), and no traceback; the API raises
the stated exception type with a message naming the argument, and the raising frame is initjax
code (not jax, pandas or pyarrow). Files already on disk are never lost or changed. Everything is
rejected before compiling, so the module runs in seconds.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from initjax import activations, data, initializers, keys, models
from initjax.cli import main
from initjax.measure import prepare
from initjax.measure.train import TrainSpec, train

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = str(ROOT / "initjax")
NAN, INF = float("nan"), float("inf")


# ------------------------------------------------------------------------------------ helpers
def _run_cli(argv: list[str]) -> tuple[int, str]:
    err, out = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            rc = main(argv)
    except SystemExit as e:  # argparse
        rc = e.code
    return rc, err.getvalue()


def _assert_api_error(fn, exc, match: str) -> None:
    with pytest.raises(exc, match=match) as info:
        fn()
    last = info.traceback[-1]
    assert str(last.path).startswith(PACKAGE), f"raised in {last.path}:{last.lineno}"


def _fingerprint(root: Path) -> dict[str, str]:
    return {
        str(f.relative_to(root)): hashlib.sha256(f.read_bytes()).hexdigest()
        for f in sorted(root.rglob("*"))
        if f.is_file()
    }


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A folder with files that must survive: a plain file, and a finished propagate run."""
    d = tmp_path_factory.mktemp("fuzz")
    (d / "afile").write_text("precious\n")
    argv = ["propagate", "--depth", "2", "--width", "4", "--seeds", "2", "--no-plot",
            "--no-progress", "--out", str(d / "prev")]  # fmt: skip
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(argv) == 0
    return d


# --------------------------------------------------------------------------------------- CLI
P = ["propagate", "--no-progress", "--no-plot"]
# (argv, words the error line must contain). Arguments that argparse rejects (types, choices)
# are marked with "argparse": the last line is then "initjax <cmd>: error: argument --x: ...".
CLI_CASES: list[tuple[list[str], tuple[str, ...]]] = [
    (P + ["--depth", "0"], ("depth",)),
    (P + ["--depth", "-3"], ("depth",)),
    (P + ["--width", "0"], ("width",)),
    (P + ["--width", "abc"], ("argparse", "--width")),
    (P + ["--width", "2.5"], ("argparse", "--width")),
    (P + ["--seeds", "0"], ("seeds",)),
    (P + ["--seeds", "-2"], ("seeds",)),
    (P + ["--seeds", "100000000"], ("propagate needs at least", "available")),
    (P + ["--width", "10000000"], ("propagate needs at least", "available")),
    (P + ["--metrics", "foo"], ("metric", "foo")),
    (P + ["--metrics", ","], ("metrics",)),
    (P + ["--sigma-w2", "-1"], ("sigma_w2",)),
    (P + ["--sigma-w2", "nan"], ("sigma_w2",)),
    (P + ["--sigma-w2", "inf"], ("sigma_w2",)),
    (P + ["--sigma-w2", "x"], ("argparse", "--sigma-w2")),
    (P + ["--sigma-b2", "inf"], ("sigma_b2",)),
    (P + ["--sigma-b2", "-0.5"], ("sigma_b2",)),
    (P + ["--c0", "2"], ("c0",)),
    (P + ["--c0", "nan"], ("c0",)),
    (P + ["--c0", "0.5", "--batch", "300", "--width", "16"], ("c0", "batch")),
    (P + ["--batch", "0"], ("batch",)),
    (P + ["--batch", "-1"], ("batch",)),
    (P + ["--arch", "resmlp", "--alpha", "nan"], ("alpha",)),
    (P + ["--arch", "resmlp", "--alpha", "inf"], ("alpha",)),
    (P + ["--arch", "nope"], ("model", "nope")),
    (P + ["--init", "nope"], ("kernel_init", "nope")),
    (P + ["--activation", "nope"], ("activation", "nope")),
    (P + ["--init", "identity", "--sigma-w2", "1"], ("kernel_init", "sigma_w2", "identity")),
    (P + ["--init", "delta_orthogonal"], ("kernel_init", "delta_orthogonal")),
    (P + ["--layers", "x"], ("--layers",)),
    (P + ["--layers", "999"], ("--layers",)),
    (P + ["--arch", "conv", "--kernel-size", "0"], ("kernel_size",)),
    (P + ["--arch", "conv", "--width", "0"], ("channels",)),
    (P + ["--arch", "conv", "--ndim", "3"], ("argparse", "--ndim")),
    (P + ["--metrics", "jac_sv", "--width", "2000"], ("jac_sv", "1024")),
    (P + ["--metrics", "act_saturation", "--activation", "sin"], ("act_saturation", "sin")),
    (P + ["--metrics", "c", "--batch", "1"], ("'c'", "batch")),
    (P + ["--root-seed", "99999999999999999999"], ("root_seed",)),
    (P + ["--root-seed", "x"], ("argparse", "--root-seed")),
    (
        P + ["--depth", "2", "--width", "4", "--out", "/proc/initjax"],
        ("--out", "cannot be created"),
    ),
    (["theory", "--sigma-w2", "nan"], ("--sigma-w2",)),
    (["theory", "--sigma-w2", "-1"], ("--sigma-w2",)),
    (["theory", "--sigma-w2", "1:0:0"], ("--sigma-w2",)),
    (["theory", "--sigma-b2", "-1"], ("--sigma-b2",)),
    (["theory", "--activation", "nope"], ("activation", "nope")),
    (["theory", "--activation", "elu", "--param", "alpha=nan"], ("alpha",)),
    (["theory", "--activation", "leaky_relu", "--param", "negative_slope=inf"], ("slope",)),
    (["theory", "--param", "foo"], ("--param",)),
    (["theory", "--keep-prob", "0"], ("--keep-prob",)),
    (["theory", "--keep-prob", "2"], ("--keep-prob",)),
    (["theory", "--q0", "-1"], ("--q0",)),
    (["theory", "--nodes", "0"], ("--nodes",)),
    (["theory", "--format", "xml"], ("argparse", "--format")),
    (["list", "--width", "0"], ("--width",)),
    (["list", "--width", "-5"], ("--width",)),
    (["data", "prepare", "nope"], ("dataset", "nope")),
    (["data", "nope"], ("argparse", "ACTION")),
    (["run", "nope"], ("experiment", "nope")),
    (["run", "depth-sweep", "--set", "foo=1", "--print-config"], ("config key", "foo")),
    (["run", "depth-sweep", "--set", "seeds=abc", "--print-config"], ("seeds", "abc")),
    (["run", "depth-sweep", "--set", "noequals"], ("--set",)),
    (["plot", "no_such_dir"], ("no_such_dir",)),
]


@pytest.mark.parametrize("argv,words", CLI_CASES, ids=lambda v: " ".join(v) if v else "")
def test_cli_bad_input_is_one_clear_line(argv, words, workdir, monkeypatch):
    monkeypatch.chdir(workdir)
    rc, err = _run_cli(argv)
    assert rc == 2, (rc, err)
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    cmd = argv[0]
    if words[0] == "argparse":
        words = words[1:]
    else:
        assert len(lines) == 1, err
    assert lines[-1].startswith(f"initjax {cmd}") and "error:" in lines[-1], err
    for w in words:
        assert w in lines[-1], (w, lines[-1])


def test_cli_out_that_is_a_file_is_refused_and_kept(workdir, monkeypatch):
    monkeypatch.chdir(workdir)
    before = _fingerprint(workdir)
    for argv in (P + ["--out", "afile"], ["run", "depth-sweep", "--out", "afile"]):
        rc, err = _run_cli(argv)
        assert rc == 2 and "--out 'afile' is an existing file" in err, err
    assert _fingerprint(workdir) == before


def test_cli_out_of_another_setting_is_refused_and_kept(workdir, monkeypatch):
    monkeypatch.chdir(workdir)
    before = _fingerprint(workdir)
    argv = ["propagate", "--depth", "2", "--width", "4", "--seeds", "2", "--no-plot",
            "--no-progress", "--sigma-w2", "1.5", "--out", "prev"]  # fmt: skip
    rc, err = _run_cli(argv)
    assert rc == 2 and "another setting" in err and "--sigma-w2" in err, err
    assert _fingerprint(workdir) == before


def test_cli_folders_of_other_commands_are_refused_and_kept(workdir, monkeypatch):
    # propagate never writes into a non-empty folder that is not its own (a home directory, an
    # experiment's run folder), and `initjax run` never into a propagate folder: both follow
    # the rule "a folder's manifest names its owner and setting".
    monkeypatch.chdir(workdir)
    (workdir / "stuff").mkdir(exist_ok=True)
    (workdir / "stuff" / "notes.txt").write_text("mine\n")
    (workdir / "exprun").mkdir(exist_ok=True)
    (workdir / "exprun" / "manifest.json").write_text('{"experiment": "depth-sweep"}')
    before = _fingerprint(workdir)
    small = ["--depth", "2", "--width", "4", "--seeds", "2"]
    for argv, words in (
        (P + small + ["--out", "stuff"], ("no readable manifest.json", "--overwrite")),
        (P + small + ["--out", "exprun"], ("'depth-sweep'", "not of propagate")),
        (
            ["run", "depth-sweep", "--set", "preset=tiny", "--no-progress", "--out", "prev"],
            ("another command",),
        ),  # fmt: skip
    ):
        rc, err = _run_cli(argv)
        assert rc == 2 and "Traceback" not in err, err
        for w in words:
            assert w in err, (w, err)
    assert _fingerprint(workdir) == before


def test_cli_defaults_never_share_a_folder_across_settings(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    base = ["propagate", "--depth", "2", "--width", "4", "--seeds", "2", "--no-plot",
            "--no-progress"]  # fmt: skip
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(base) == 0
        assert main(base + ["--sigma-b2", "0.1"]) == 0
        assert main(base) == 0  # the same setting: its own folder again
    folders = sorted(p.name for p in (tmp_path / "runs" / "propagate").iterdir())
    assert len(folders) == 2 and all(f.startswith("mlp-lecun_normal-tanh-d2-w4-") for f in folders)


def test_cli_broken_pipe_ends_quietly(monkeypatch):
    class Closed(io.StringIO):
        def write(self, s):
            raise BrokenPipeError(32, "Broken pipe")

    err = io.StringIO()
    monkeypatch.setattr(sys, "stdout", Closed())
    with contextlib.redirect_stderr(err):
        # Any command's first write to a closed stdout: main() catches it around every command
        # (`list` writes without compiling anything).
        rc = main(["list", "--kind", "initializers"])
    assert rc == 141 and err.getvalue() == ""


def test_cli_broken_pipe_through_a_real_pipe():
    # `initjax list | head -1`: the reader exits after one line; no traceback on stderr. `list`
    # writes ~13 KB (more than stdout's 8 KiB buffer: a first flush, then writes after the reader
    # went away) and compiles nothing; main() catches BrokenPipeError around every command alike.
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cmd = [sys.executable, "-m", "initjax.cli", "list"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    proc.stdout.readline()
    proc.stdout.close()  # the reader goes away
    _, err = proc.communicate(timeout=300)
    assert b"Traceback" not in err and b"BrokenPipe" not in err, err.decode()[-2000:]
    assert proc.returncode in (0, 141)


# --------------------------------------------------------------------------------------- API
def _he():
    return jax.nn.initializers.he_normal()


def _wrong_shape(key, shape, dtype=jnp.float32):
    return jnp.zeros((3, 3), dtype)


def _wrong_dtype(key, shape, dtype=jnp.float32):
    return jnp.zeros(shape, jnp.float16)


def _not_an_array(key, shape, dtype=jnp.float32):
    return 0.5


def _xy(n=64, d=8, classes=2):
    x = np.random.default_rng(0).standard_normal((n, d)).astype(np.float32)
    y = (np.arange(n) % classes).astype(np.int32)
    return x, y, x[:16], y[:16]


def _bad_xy(*, x=None, y=None, y_test=None, test_dim=None):
    """``_xy()`` with one entry spoiled: a value put into x_train / y_train / y_test (y as
    float when the value is fractional), or test inputs of another feature size."""
    x_tr, y_tr, x_te, y_te = _xy()
    if x is not None:
        x_tr = x_tr.copy()
        x_tr[3, 2] = x
    if y is not None:
        y_tr = y_tr + y if isinstance(y, float) else np.where(np.arange(len(y_tr)) == 5, y, y_tr)
    if y_test is not None:
        y_te = np.where(np.arange(len(y_te)) == 0, y_test, y_te).astype(np.int32)
    if test_dim is not None:
        x_te = x_te[:, :test_dim]
    return x_tr, y_tr, x_te, y_te


MLP = models.MLP
SMALL = dict(width=4, depth=2)
TS = TrainSpec(steps=10, eval_every=5, batch_size=8)
API_CASES = [
    # initializers: names, hyper-parameters, keys, shapes, dtypes, fans
    ("unknown initializer", lambda: initializers.get("nope"), ValueError, "nope"),
    ("unknown hparam", lambda: initializers.get("he_normal", foo=1), ValueError, "foo"),
    ("nan scale", lambda: initializers.get("he_normal", scale=NAN), ValueError, "scale"),
    ("inf scale", lambda: initializers.get("he_normal", scale=INF), ValueError, "scale"),
    ("str scale", lambda: initializers.get("he_normal", scale="2"), TypeError, "scale"),
    ("nan stddev", lambda: initializers.get("normal", stddev=NAN), ValueError, "stddev"),
    ("nan lower", lambda: initializers.get("truncated_normal", lower=NAN), ValueError, "lower"),
    ("bad mode", lambda: initializers.get("variance_scaling", mode="x"), ValueError, "mode"),
    ("int key", lambda: initializers.get("he_normal")(0, (3, 3)), TypeError, "key"),
    ("str key", lambda: initializers.get("orthogonal")("k", (3, 3)), TypeError, "key"),
    (
        "key array",
        lambda: initializers.get("he_normal")(jax.random.split(jax.random.key(0), 2), (3, 3)),
        ValueError,
        "single PRNG key",
    ),
    ("float array key", lambda: initializers.get("zeros")(np.zeros(2), (3,)), TypeError, "key"),
    (
        "1-D fan shape",
        lambda: initializers.get("he_normal")(jax.random.key(0), (3,)),
        ValueError,
        "shape",
    ),  # fmt: skip
    (
        "negative dim",
        lambda: initializers.get("zeros")(jax.random.key(0), (-1, 3)),
        ValueError,
        "-1",
    ),  # fmt: skip
    (
        "int dtype",
        lambda: initializers.get("he_normal")(jax.random.key(0), (3, 3), jnp.int32),
        TypeError,
        "dtype",
    ),  # fmt: skip
    (
        "fan -5",
        lambda: initializers.entry("he_normal").promised_variance(-5, 3),
        ValueError,
        "fan_in",
    ),  # fmt: skip
    (
        "fan 0",
        lambda: initializers.get("glorot_normal").promised_variance(3, 0),
        ValueError,
        "fan_out",
    ),  # fmt: skip
    (
        "fan float",
        lambda: initializers.get("he_normal").promised_variance(2.5, 3),
        TypeError,
        "fan_in",
    ),  # fmt: skip
    (
        "fan bool",
        lambda: initializers.get("he_normal").promised_variance(True, 3),
        TypeError,
        "fan_in",
    ),  # fmt: skip
    (
        "with_variance nan",
        lambda: initializers.with_variance(_he(), lambda fi, fo: NAN),
        ValueError,
        "variance",
    ),  # fmt: skip
    (
        "with_variance not callable",
        lambda: initializers.with_variance(_he(), 2.0),
        TypeError,
        "variance",
    ),  # fmt: skip
    # activations
    ("unknown activation", lambda: activations.get("nope"), ValueError, "nope"),
    ("elu nan", lambda: activations.get("elu", alpha=NAN), ValueError, "alpha"),
    ("elu inf", lambda: activations.get("elu", alpha=-INF), ValueError, "alpha"),
    ("elu str", lambda: activations.get("elu", alpha="1"), TypeError, "alpha"),
    ("leaky nan", lambda: activations.get("leaky_relu", negative_slope=NAN), ValueError, "slope"),
    ("unknown act param", lambda: activations.get("tanh", alpha=1.0), ValueError, "alpha"),
    ("activation type", lambda: activations.get(3), TypeError, "activation"),
    # models
    ("width 0", lambda: MLP(width=0, depth=2), ValueError, "width"),
    ("width float", lambda: MLP(width=2.5, depth=2), TypeError, "width"),
    ("depth -1", lambda: MLP(width=4, depth=-1), ValueError, "depth"),
    ("sigma_w2 -1", lambda: MLP(**SMALL, sigma_w2=-1.0), ValueError, "sigma_w2"),
    ("sigma_w2 nan", lambda: MLP(**SMALL, sigma_w2=NAN), ValueError, "sigma_w2"),
    ("sigma_b2 inf", lambda: MLP(**SMALL, sigma_b2=INF), ValueError, "sigma_b2"),
    ("sigma_b2 str", lambda: MLP(**SMALL, sigma_b2="0"), TypeError, "sigma_b2"),
    ("readout 0", lambda: MLP(**SMALL, readout=0), ValueError, "readout"),
    ("precision", lambda: MLP(**SMALL, precision="max"), ValueError, "precision"),
    ("int dtype model", lambda: MLP(**SMALL, dtype=jnp.int32), TypeError, "dtype"),
    ("kernel_init type", lambda: MLP(**SMALL, kernel_init=5), TypeError, "kernel_init"),
    ("kernel_init name", lambda: MLP(**SMALL, kernel_init="nope"), ValueError, "kernel_init"),
    (
        "he callable + sigma_w2",
        lambda: MLP(**SMALL, kernel_init=_he(), sigma_w2=1.0),
        ValueError,
        "kernel_init",
    ),  # fmt: skip
    (
        "identity + sigma_w2",
        lambda: MLP(**SMALL, kernel_init="identity", sigma_w2=1.0),
        ValueError,
        "kernel_init",
    ),  # fmt: skip
    (
        "readout callable + sigma_w2",
        lambda: MLP(**SMALL, readout=2, readout_init=_he(), sigma_w2=1.0),
        ValueError,
        "readout_init",
    ),  # fmt: skip
    ("resmlp alpha nan", lambda: models.ResMLP(**SMALL, alpha=NAN), ValueError, "alpha"),
    ("resmlp alpha inf", lambda: models.ResMLP(**SMALL, alpha=INF), ValueError, "alpha"),
    (
        "resmlp branch_scale",
        lambda: models.ResMLP(**SMALL, branch_scale=-1.0),
        ValueError,
        "branch_scale",
    ),  # fmt: skip
    (
        "resmlp branch_layers",
        lambda: models.ResMLP(**SMALL, branch_layers=0),
        ValueError,
        "branch_layers",
    ),  # fmt: skip
    ("conv channels", lambda: models.ConvNet(channels=0, depth=2), ValueError, "channels"),
    (
        "conv kernel_size",
        lambda: models.ConvNet(channels=2, depth=2, kernel_size=0),
        ValueError,
        "kernel_size",
    ),  # fmt: skip
    ("build unknown", lambda: models.build("nope", width=4), ValueError, "nope"),
    # user initializers checked at the boundary
    (
        "wrong shape",
        lambda: prepare(MLP(**SMALL, kernel_init=_wrong_shape)),
        ValueError,
        "_wrong_shape",
    ),  # fmt: skip
    (
        "wrong dtype",
        lambda: prepare(MLP(**SMALL, kernel_init=_wrong_dtype)),
        TypeError,
        "_wrong_dtype",
    ),  # fmt: skip
    (
        "not an array",
        lambda: prepare(MLP(**SMALL, kernel_init=_not_an_array)),
        ValueError,
        "_not_an_array",
    ),  # fmt: skip
    (
        "wrong bias shape",
        lambda: prepare(MLP(**SMALL, bias_init=_wrong_shape)),
        ValueError,
        "bias_init",
    ),  # fmt: skip
    # propagate
    ("seeds 0", lambda: prepare(MLP(**SMALL), seeds=0), ValueError, "seeds"),
    ("seeds float", lambda: prepare(MLP(**SMALL), seeds=1.5), ValueError, "seeds"),
    ("seeds huge", lambda: prepare(MLP(**SMALL), seeds=10**9), ValueError, "propagate needs"),
    (
        "width huge",
        lambda: prepare(MLP(width=10**7, depth=2), seeds=2),
        ValueError,
        "propagate needs",
    ),  # fmt: skip
    ("batch 0", lambda: prepare(MLP(**SMALL), batch=0), ValueError, "batch"),
    ("metrics foo", lambda: prepare(MLP(**SMALL), metrics="foo"), ValueError, "foo"),
    ("metrics empty", lambda: prepare(MLP(**SMALL), metrics=[]), ValueError, "metrics"),
    ("metrics type", lambda: prepare(MLP(**SMALL), metrics=5), TypeError, "metrics"),
    ("c0 2", lambda: prepare(MLP(**SMALL), c0=2.0), ValueError, "c0"),
    ("q0 -1", lambda: prepare(MLP(**SMALL), q0=-1.0), ValueError, "q0"),
    ("q0 nan", lambda: prepare(MLP(**SMALL), q0=NAN), ValueError, "q0"),
    (
        "sigma_w2 grid nan",
        lambda: prepare(MLP(**SMALL), sigma_w2=np.array([1.0, NAN])),
        ValueError,
        "sigma_w2",
    ),  # fmt: skip
    (
        "sigma_w2 2-D",
        lambda: prepare(MLP(**SMALL), sigma_w2=np.ones((2, 2))),
        ValueError,
        "sigma_w2",
    ),  # fmt: skip
    (
        "sigma_w2 override callable",
        lambda: prepare(MLP(**SMALL, kernel_init=_he()), sigma_w2=2.0),
        ValueError,
        "kernel_init",
    ),  # fmt: skip
    ("path", lambda: prepare(MLP(**SMALL), path="lazy"), ValueError, "path"),
    ("inputs", lambda: prepare(MLP(**SMALL), inputs="mine"), ValueError, "inputs"),
    (
        "jac_input",
        lambda: prepare(MLP(**SMALL), metrics="jac_sv", jac_input=99),
        ValueError,
        "jac_input",
    ),  # fmt: skip
    ("seed_chunk 0", lambda: prepare(MLP(**SMALL), seed_chunk=0), ValueError, "seed_chunk"),
    ("x 1-D", lambda: prepare(MLP(**SMALL), np.ones(4)), ValueError, "x"),
    ("root_seed huge", lambda: prepare(MLP(**SMALL), root_seed=2**64), ValueError, "root_seed"),
    ("root_seed str", lambda: prepare(MLP(**SMALL), root_seed="0"), TypeError, "root_seed"),
    ("not a model", lambda: prepare("mlp"), TypeError, "model"),
    ("spec without arch", lambda: prepare({"width": 4}), ValueError, "arch"),
    # train
    ("train no readout", lambda: train(MLP(**SMALL), _xy()), ValueError, "readout"),
    (
        "train lr 0",
        lambda: train(MLP(**SMALL, readout=2), _xy(), learning_rate=0.0, spec=TS),
        ValueError,
        "learning_rate",
    ),  # fmt: skip
    (
        "train lr nan",
        lambda: train(MLP(**SMALL, readout=2), _xy(), learning_rate=NAN, spec=TS),
        ValueError,
        "learning_rate",
    ),  # fmt: skip
    (
        "train momentum nan",
        lambda: train(MLP(**SMALL, readout=2), _xy(), spec=TrainSpec(momentum=NAN, batch_size=8)),
        ValueError,
        "momentum",
    ),  # fmt: skip
    (
        "train steps 0",
        lambda: train(MLP(**SMALL, readout=2), _xy(), spec=TrainSpec(steps=0, batch_size=8)),
        ValueError,
        "steps",
    ),  # fmt: skip
    (
        "train batch too big",
        lambda: train(MLP(**SMALL, readout=2), _xy()),
        ValueError,
        "batch_size",
    ),  # fmt: skip
    (
        "train optimizer",
        lambda: train(MLP(**SMALL, readout=2), _xy(), spec=TrainSpec(optimizer="x", batch_size=8)),
        ValueError,
        "optimizer",
    ),  # fmt: skip
    (
        "train seeds huge",
        lambda: train(
            MLP(**SMALL, readout=2),
            _xy(),
            seeds=10**9,
            spec=TrainSpec(steps=10, eval_every=5, batch_size=8),
        ),
        ValueError,
        "train needs",
    ),  # fmt: skip
    (
        "train sigma_w2 callable",
        lambda: train(
            MLP(**SMALL, readout=2, kernel_init=_he()),
            _xy(),
            sigma_w2=1.0,
            spec=TrainSpec(steps=10, eval_every=5, batch_size=8),
        ),
        ValueError,
        "kernel_init",
    ),  # fmt: skip
    (
        "train labels",
        lambda: train(MLP(**SMALL, readout=1), _xy(classes=3), spec=TS),
        ValueError,
        "readout",
    ),  # fmt: skip
    (
        "train data not 4",
        lambda: train(MLP(**SMALL, readout=2), _xy()[:3], spec=TS),
        TypeError,
        "data",
    ),  # fmt: skip
    (
        "train x nan",
        lambda: train(MLP(**SMALL, readout=2), _bad_xy(x=NAN), spec=TS),
        ValueError,
        "x_train",
    ),  # fmt: skip
    (
        "train x inf",
        lambda: train(MLP(**SMALL, readout=2), _bad_xy(x=INF), spec=TS),
        ValueError,
        "x_train",
    ),  # fmt: skip
    (
        "train labels negative",
        lambda: train(MLP(**SMALL, readout=2), _bad_xy(y=-1), spec=TS),
        ValueError,
        "y_train",
    ),  # fmt: skip
    (
        "train labels float",
        lambda: train(MLP(**SMALL, readout=2), _bad_xy(y=0.5), spec=TS),
        TypeError,
        "y_train",
    ),  # fmt: skip
    (
        "train test labels",
        lambda: train(MLP(**SMALL, readout=2), _bad_xy(y_test=5), spec=TS),
        ValueError,
        "y_test",
    ),  # fmt: skip
    (
        "train test shape",
        lambda: train(MLP(**SMALL, readout=2), _bad_xy(test_dim=5), spec=TS),
        ValueError,
        "x_test",
    ),  # fmt: skip
    (
        "train xla_options",
        lambda: train(MLP(**SMALL, readout=2), _xy(), xla_options="fast", spec=TS),
        ValueError,
        "xla_options",
    ),  # fmt: skip
    # given inputs
    ("x nan", lambda: prepare(MLP(**SMALL), np.full((4, 8), NAN)), ValueError, "non-finite"),
    ("x empty", lambda: prepare(MLP(**SMALL), np.ones((0, 8))), ValueError, "x"),
    # data-dependent initializers and the pre-activation path
    ("lsuv tol nan", lambda: initializers.get("lsuv", tol=NAN), ValueError, "tol"),
    ("lsuv tol -1", lambda: initializers.get("lsuv", tol=-1.0), ValueError, "tol"),
    ("lsuv target inf", lambda: initializers.get("lsuv", target=INF), ValueError, "target"),
    ("lsuv base", lambda: initializers.get("lsuv", base="nope"), ValueError, "base"),
    ("metainit steps", lambda: initializers.get("metainit", steps=-1), ValueError, "steps"),
    ("metainit lr nan", lambda: initializers.get("metainit", lr=NAN), ValueError, "lr"),
    ("gradinit lr inf", lambda: initializers.get("gradinit", lr=INF), ValueError, "lr"),
    ("gradinit alg", lambda: initializers.get("gradinit", alg="x"), ValueError, "alg"),
    (
        "lsuv called as a plain initializer",
        lambda: initializers.get("lsuv")(jax.random.key(0), (3, 3)),
        TypeError,
        "lsuv",
    ),  # fmt: skip
    (
        "lsuv as readout_init",
        lambda: prepare(MLP(**SMALL, readout=2, readout_init="lsuv")),
        ValueError,
        "readout_init",
    ),  # fmt: skip
    (
        "lsuv with a base without variance",
        lambda: MLP(**SMALL, kernel_init=initializers.get("lsuv", base="identity"), sigma_w2=1.0),
        ValueError,
        "identity",
    ),  # fmt: skip
    (
        "lsuv without a batch",
        lambda: models.init_params(
            MLP(**SMALL, kernel_init="lsuv"), jax.random.key(0), in_shape=(8,)
        ),
        ValueError,
        "batch x",
    ),  # fmt: skip
    (
        "gradinit without labels",
        lambda: prepare(MLP(**SMALL, readout=2, kernel_init="gradinit")),
        ValueError,
        "gradinit",
    ),  # fmt: skip
    (
        "preact with lsuv",
        lambda: prepare(MLP(**SMALL, kernel_init="lsuv"), path="preact"),
        ValueError,
        "preact",
    ),  # fmt: skip
    (
        "preact with jac_sv",
        lambda: prepare(MLP(**SMALL), path="preact", metrics="jac_sv"),
        ValueError,
        "preact",
    ),  # fmt: skip
    (
        "preact on conv",
        lambda: prepare(models.ConvNet(channels=2, depth=2), path="preact"),
        ValueError,
        "preact",
    ),  # fmt: skip
    # keys
    ("seed_keys 0", lambda: keys.seed_keys(0), ValueError, "seeds"),
    ("seed_keys root", lambda: keys.seed_keys(2, root=2**70), ValueError, "root"),
    ("submodule path", lambda: keys.submodule(jax.random.key(0), ("a", 1.5)), TypeError, "path"),
    # data
    ("dataset name", lambda: data.load("nope"), ValueError, "nope"),
    ("split", lambda: data.load("gaussian_mixture", "valid"), ValueError, "split"),
    ("limit 0", lambda: data.load("gaussian_mixture", limit=0), ValueError, "limit"),
    ("normalize", lambda: data.load("gaussian_mixture", normalize="x"), ValueError, "normalize"),
    ("option", lambda: data.load("gaussian_mixture", foo=1), ValueError, "foo"),
    ("option type", lambda: data.load("gaussian_mixture", dim="8"), TypeError, "dim"),
    ("option value", lambda: data.load("gaussian_mixture", dim=0), ValueError, "dim"),
]


@pytest.mark.parametrize("name,fn,exc,match", API_CASES, ids=[c[0] for c in API_CASES])
def test_api_bad_input_names_the_argument(name, fn, exc, match):
    _assert_api_error(fn, exc, match)


def test_there_are_at_least_100_bad_inputs():
    assert len(CLI_CASES) + len(API_CASES) >= 100


# ------------------------------------------------------------------------- property-based
_NOT_POSITIVE_INT = st.one_of(
    st.integers(max_value=0),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=3),
    st.none(),
)
_BAD_VARIANCE = st.one_of(
    st.floats(max_value=-1e-30, allow_infinity=True),
    st.just(NAN),
    st.just(INF),
    st.text(max_size=3),
    st.booleans(),
)
_FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_FUZZ
@given(field=st.sampled_from(["width", "depth"]), value=_NOT_POSITIVE_INT)
def test_model_sizes_fuzz(field, value):
    kw = dict(SMALL)
    kw[field] = value
    _assert_api_error(lambda: MLP(**kw), (ValueError, TypeError), field)


@_FUZZ
@given(field=st.sampled_from(["sigma_w2", "sigma_b2"]), value=_BAD_VARIANCE)
def test_model_variances_fuzz(field, value):
    _assert_api_error(lambda: MLP(**SMALL, **{field: value}), (ValueError, TypeError), field)


@_FUZZ
@given(
    scale=st.one_of(st.just(NAN), st.just(INF), st.just(-INF)),
    name=st.sampled_from(["he_normal", "lecun_uniform", "glorot_normal", "orthogonal"]),
)
def test_initializer_scales_fuzz(scale, name):
    _assert_api_error(lambda: initializers.get(name, scale=scale), ValueError, "scale")


@_FUZZ
@given(
    fan_in=st.one_of(st.integers(max_value=0), st.floats(allow_nan=True)),
    fan_out=st.integers(min_value=1, max_value=10),
)
def test_promised_variance_fans_fuzz(fan_in, fan_out):
    e = initializers.entry("glorot_uniform")
    _assert_api_error(
        lambda: e.promised_variance(fan_in, fan_out), (ValueError, TypeError), "fan_in"
    )


@_FUZZ
@given(key=st.one_of(st.integers(), st.floats(), st.text(max_size=3), st.none()))
def test_initializer_keys_fuzz(key):
    _assert_api_error(lambda: initializers.get("lecun_normal")(key, (3, 3)), TypeError, "key")


@_FUZZ
@given(q0=st.one_of(st.floats(max_value=0.0), st.just(NAN), st.just(INF)))
def test_propagate_q0_fuzz(q0):
    _assert_api_error(lambda: prepare(MLP(**SMALL), q0=q0), ValueError, "q0")


@_FUZZ
@given(c0=st.one_of(st.floats(min_value=1.0 + 1e-9), st.floats(max_value=-0.34), st.just(NAN)))
def test_propagate_c0_fuzz(c0):
    # batch 4: the equicorrelation matrix needs c0 in [-1/3, 1].
    _assert_api_error(lambda: prepare(MLP(**SMALL), c0=c0, batch=4), ValueError, "c0")


def test_valid_edge_values_give_results():
    # The boundary values that are allowed really work: c0 = 1 and -1/(B-1) are accepted; zero
    # variances give exact zeros; a declared callable rescales exactly; any callable is fine
    # as given (sigma_w2 = None).
    m = MLP(**SMALL)
    prepare(m, seeds=2, batch=4, c0=1.0)
    prepare(m, seeds=2, batch=4, c0=-1 / 3)
    prepare(MLP(**SMALL, kernel_init=_he()), seeds=1)
    r = prepare(MLP(**SMALL, sigma_w2=0.0, sigma_b2=0.0), seeds=2, metrics="q").run()
    assert np.all(r.arrays["q"][:, 1:] == 0.0)
    ortho = initializers.with_variance(
        jax.nn.initializers.orthogonal(), lambda fi, fo: 1 / max(fi, fo)
    )
    m = MLP(width=8, depth=3, activation="linear", kernel_init=ortho, sigma_w2=2.0)
    r = prepare(m, seeds=1, metrics="q", q0=1.0).run()
    # Orthogonal weights times sqrt(2): q doubles per layer (float32 rounding only).
    np.testing.assert_allclose(r.arrays["q"][0], 2.0 ** np.arange(1, 5), rtol=1e-5)
