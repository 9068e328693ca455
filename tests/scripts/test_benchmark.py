"""scripts/benchmark.py: the smoke run writes BENCHMARKS.md-format markdown (no timing
assertions), the GPU script's dry run, the PyTorch and scipy references compute what initjax
computes, and the fast sampler keeps jax.random's values bit for bit with the right laws (KS)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from initjax.initializers import sampling as _sampling

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from scripts import benchmark  # noqa: E402
from scripts._bench import report, timing  # noqa: E402


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _tables(text: str) -> list[list[list[str]]]:
    """Every markdown table in ``text`` as rows of cells (header first, separator dropped)."""
    tables, cur = [], []
    for line in text.splitlines():
        if line.startswith("|"):
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
            if not all(re.fullmatch(r"-+", c) for c in cells):
                cur.append(cells)
        elif cur:
            tables.append(cur)
            cur = []
    if cur:
        tables.append(cur)
    return tables


def _mixture_like(n_train: int, n_test: int) -> tuple[np.ndarray, ...]:
    """(x_train, y_train, x_test, y_test): 32-dim, 10-class Gaussian-mixture-shaped data drawn with
    numpy (the training tests below compare laws and count FLOPs; neither depends on the data's
    law, and numpy draws compile nothing)."""
    rng = np.random.default_rng(0)
    means = 3.0 * rng.standard_normal((10, 32)).astype(np.float32) / np.sqrt(32)
    out = []
    for n in (n_train, n_test):
        y = rng.permutation(np.arange(n, dtype=np.int32) % 10)
        out += [(means[y] + rng.standard_normal((n, 32))).astype(np.float32), y]
    return tuple(out)


# --- the smoke run ------------------------------------------------------------------------------


def test_quick_smoke_run_writes_benchmarks_markdown(tmp_path, capsys, monkeypatch):
    # benchmark.main in this process (case 3 still starts its fresh subprocesses); the script
    # runs as a program in test_gpu_script_dry_run_on_cpu.
    # It runs under a user's persistent compilation cache. Case 3 times XLA compiles in fresh
    # worker processes; under that cache a repeated run would time cache reads instead: the
    # workers turn the cache off, so they write nothing to it (each worker's answer recorded).
    from scripts._bench import subproc

    cache = tmp_path / "jax-cache"
    _user_jax_cache(monkeypatch, cache)
    workers, run_worker = {}, subproc.run_worker

    def recorded(params, **kw):
        workers[params["path"], params["depth"]] = run_worker(params, **kw)
        return workers[params["path"], params["depth"]]

    monkeypatch.setattr(subproc, "run_worker", recorded)
    out = tmp_path / "BENCH.md"
    out.write_text("# Benchmarks\n\n<!-- BEGIN gpu -->\nkept\n<!-- END gpu -->\n")
    rc = benchmark.main(["--tiny", "--cases", "1,3", "--retries", "0", "--out", str(out)])
    assert rc == 0, capsys.readouterr().err[-4000:]
    # The cache switch is restored: it is part of the compile options, so of every cache key.
    assert jax.config.jax_enable_compilation_cache
    assert capsys.readouterr().out.startswith("<!-- BEGIN cpu -->")
    text = out.read_text()
    assert text.startswith("# Benchmarks\n")
    assert "<!-- BEGIN gpu -->\nkept\n<!-- END gpu -->" in text  # another run's block is kept
    assert text.count("<!-- BEGIN cpu -->") == 1 and text.count("<!-- END cpu -->") == 1
    for title in (
        "## Run: cpu",
        "### Targets",
        "### PRNG: normal samples per second",
        "### 1. Init-time propagation sweep vs PyTorch",
        "### 3. Depth scaling: compile time and peak memory",
    ):
        assert title in text, title
    assert "### 2." not in text and "### 5." not in text  # only the selected cases ran
    assert "Load average during the case:" in text
    tables = _tables(text)
    for t in tables:  # every row has the header's number of cells
        assert all(len(r) == len(t[0]) for r in t), t
    run = {r[0]: r[1] for r in tables[0][1:]}
    for field in ("command", "date", "CPU", "device", "versions", "git commit"):
        assert run.get(field), field
    assert "--cases 1,3 --retries 0" in run["command"]
    assert re.search(r"\d+ cores visible", run["CPU"])
    assert re.search(r"jax \S+, jaxlib \S+", run["versions"])
    assert re.fullmatch(r"[\d.]+ / [\d.]+ / [\d.]+", run["load average at start (1/5/15 min)"])
    targets = tables[1]
    assert targets[0] == ["case", "target", "measured", "verdict", "why / notes"]
    cases = [r[0] for r in targets[1:]]
    assert any(c.startswith("1 (width") for c in cases) and cases.count("3") == 2
    verdicts = {r[3] for r in targets[1:]}
    assert all(v in ("met", "not met", "not measured", "reported") or
               v.startswith("not judged: load") for v in verdicts), verdicts  # fmt: skip
    case1 = next(t for t in tables if t[0][:2] == ["width", "contender"])
    names = [r[1] for r in case1[1:]]
    assert "initjax propagate (auto)" in names
    from scripts._bench.cases import _case1_torch
    from scripts._bench.sizes import TINY

    variants = _case1_torch(TINY)  # the tiny preset leaves out torch.compile (slow to compile)
    torch_rows = [r for r in case1[1:] if r[1] in {f"torch {v}" for v in variants}]
    assert len(torch_rows) == len(variants) == 4
    if any(r[2] == "not installed" for r in torch_rows):  # no torch: the rows say so
        assert all(r[2] == "not installed" for r in torch_rows)
    else:
        assert all(float(r[2]) > 0 for r in torch_rows)
    depth = next(t for t in tables if t[0][:2] == ["path", "depth"])
    assert {(r[0], r[1]) for r in depth[1:]} >= {("fused", "10"), ("fused", "100")}
    assert all(float(r[6]) > 0 for r in depth[1:])  # peak RSS in MiB
    # The depth workers ran and compiled, and left the user's cache empty.
    assert set(workers) == {("fused", 10), ("fused", 100)}
    assert all(m["compile_s"] > 0 and np.isfinite(m["q_last_mean"]) for m in workers.values())
    assert not cache.exists() or not any(cache.iterdir())
    # Control: the same environment makes a plain JAX process store its programs there.
    code = "import jax; jax.jit(lambda x: x + 1)(1.0)"
    subprocess.run([sys.executable, "-c", code], check=True, env=dict(os.environ), timeout=300)
    assert any(cache.iterdir())


def test_unknown_case_is_an_argument_error(capsys):
    with pytest.raises(SystemExit) as err:
        benchmark.main(["--cases", "1,9", "--dry-run"])
    assert err.value.code == 2
    assert "unknown case(s) 9" in capsys.readouterr().err


def test_case_selection_brings_prng_with_case_1():
    assert benchmark.parse_cases("3,1", benchmark.ALL_CASES) == ["prng", "1", "3"]
    assert benchmark.parse_cases(None, benchmark.GPU_CASES) == list(benchmark.GPU_CASES)


def test_theory_target_states_its_measured_reason_when_missed():
    from scripts._bench.cases import theory_target_reason

    assert theory_target_reason(200, 0.913, 1.5, 2) == ""  # met: nothing to explain
    missed = theory_target_reason(200, 1.25, 1.49, 2)
    assert missed.startswith("32,000 cells/s with 1.49 of 2 cores busy")  # 40,000 cells / 1.25 s
    assert theory_target_reason(20, 5.0, 1.0, 2) == "grid smaller than 200 x 200 in this preset"


def test_gpu_script_dry_run_on_cpu():
    proc = subprocess.run(
        ["bash", "scripts/benchmark_gpu.sh", "--dry-run"], cwd=ROOT, capture_output=True,
        text=True, timeout=120, env={**_env(), "PYTHON": sys.executable},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "preset gpu; cases prng, 1, 2, 3, 4, main" in out
    assert "main: initjax run depth-sweep --set preset=full" in out
    widths = {int(w) for w in re.findall(r"^1: width (\d+), depth 1000", out, re.M)}
    assert min(widths) >= 1024 and max(widths) == 4096
    assert all(int(s) >= 256 for s in re.findall(r"^1: .*?, (\d+) seeds", out, re.M))
    assert re.search(r"^3: depth 10000,", out, re.M) and re.search(r"^4: 256 seeds", out, re.M)


@pytest.mark.slow
def test_main_job_case_runs_the_readme_job_and_reads_its_verdict(tmp_path):
    from scripts._bench.main_job import run_main_job

    res = run_main_job("tiny", tmp_path / "run")
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert res["rc"] == 0 and res["status"] == summary["verdict"]["status"]
    assert res["status"] in {"PASS", "PARTIAL", "FAIL"} and res["verdict"]
    assert res["wall_s"] > 0 and res["peak_rss_mib"] > 100  # jax alone takes > 100 MiB
    assert res["device_peak_mib"] is None and "(cpu)" in res["device"]


def test_main_job_case_raises_with_the_cli_error_when_the_run_fails(tmp_path):
    from scripts._bench.main_job import run_main_job

    with pytest.raises(RuntimeError, match="preset"):
        run_main_job("no-such-preset", tmp_path / "run")


def _user_jax_cache(monkeypatch, path: Path) -> None:
    """A user's persistent compilation cache, as JAX's environment variables set it (every
    program stored, however fast it compiled)."""
    monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", str(path))
    monkeypatch.setenv("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
    monkeypatch.setenv("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "-1")


def test_main_job_child_runs_without_the_persistent_cache(tmp_path, monkeypatch):
    from scripts._bench import main_job

    seen = {}

    def fake_run(cmd, **kw):
        seen.update(kw["env"])
        return subprocess.CompletedProcess(cmd, 1, "", "stopped here")

    _user_jax_cache(monkeypatch, tmp_path / "jax-cache")
    monkeypatch.setattr(main_job.subprocess, "run", fake_run)
    with pytest.raises(RuntimeError, match="stopped here"):
        main_job.run_main_job("tiny", tmp_path / "run")
    assert seen["JAX_ENABLE_COMPILATION_CACHE"] == "false"


def test_gpu_script_refuses_to_run_without_an_accelerator():
    proc = subprocess.run(
        ["bash", "scripts/benchmark_gpu.sh"], cwd=ROOT, capture_output=True, text=True,
        timeout=120, env={**_env(), "PYTHON": sys.executable, "JAX_PLATFORMS": "cpu"},
    )  # fmt: skip
    assert proc.returncode == 2 and "no accelerator" in proc.stderr


# --- report and timing helpers ------------------------------------------------------------------


def test_report_write_replaces_only_its_own_block(tmp_path):
    path = tmp_path / "B.md"
    sec = report.Section("x", "X", "what", ["a", "b|c"], [["1", "2"]])
    report.write(path, "gpu", report.render_block("gpu", [("date", "d1")], [sec]))
    report.write(path, "cpu", report.render_block("cpu", [("date", "d2")], [sec]))
    report.write(path, "cpu", report.render_block("cpu", [("date", "d3")], [sec]))
    text = path.read_text()
    assert text.count("<!-- BEGIN cpu -->") == 1 and text.count("<!-- BEGIN gpu -->") == 1
    assert "| date | d3 |" in text and "| date | d1 |" in text and "d2" not in text
    assert text.index("BEGIN cpu") < text.index("BEGIN gpu")  # CPU block first
    assert "| a | b\\|c |" in text  # pipes in cells are escaped


def test_load_guard_reruns_then_marks_targets_not_judged(monkeypatch):
    # A fake clock: every case "sees" other processes using 1.5 cores, then 0.1 on the rerun.
    from scripts._bench import timing as T

    seen = iter([1.5, 0.1] + [1.5] * 10)
    calls = []

    def fake_case(_sizes):
        calls.append(1)
        return report.Section("x", "X", "w", ["a"], [["1"]], targets=[
            report.Target("x", "goal", "2x", True)])  # fmt: skip

    class Snap:
        def other_cores(self, _later):
            return next(seen)

    monkeypatch.setattr(T.CpuSnapshot, "take", staticmethod(lambda: Snap()))
    monkeypatch.setattr(T, "wait_for_quiet", lambda *a, **k: 0.0)
    args = benchmark.build_parser().parse_args(["--max-other-cores", "0.5", "--retries", "1"])
    sec = benchmark.run_guarded(fake_case, None, "x", args)
    assert len(calls) == 2 and sec.attempts == 2 and sec.targets[0].verdict() == "met"
    calls.clear()
    args = benchmark.build_parser().parse_args(["--retries", "1"])
    sec = benchmark.run_guarded(fake_case, None, "x", args)  # loaded twice: not judged
    assert len(calls) == 2
    t = sec.targets[0]
    assert t.verdict().startswith("not judged: load") and not t.graded
    note = "\n".join(report.closing_note([t]))
    assert "0 of 0 judged targets met" in note and "Not judged" in note


def test_cpu_snapshot_arithmetic():
    from scripts._bench.timing import CpuSnapshot

    a = CpuSnapshot(wall=0.0, own=1.0, machine=10.0)
    b = CpuSnapshot(wall=2.0, own=4.0, machine=14.0)  # 4 busy core-seconds, 3 of them ours
    assert a.own_cores(b) == pytest.approx(1.5) and a.other_cores(b) == pytest.approx(0.5)
    assert np.isnan(CpuSnapshot(0.0, 0.0, None).other_cores(b))


def test_interleave_rotates_order_and_counts_calls():
    calls = []
    res = timing.interleave({k: (lambda k=k: calls.append(k)) for k in "ABC"}, 3, warmup=1)
    assert calls == list("ABC" + "ABC" + "BCA" + "CAB")
    assert {k: len(s.times) for k, s in res.stats.items()} == {"A": 3, "B": 3, "C": 3}
    s = timing.Stats([3.0, 1.0, 2.0])
    assert (s.median, s.lo, s.hi) == (2.0, 1.0, 3.0)


# --- the references compute the same thing as initjax ------------------------------------------


def test_torch_variants_and_initjax_measure_the_same_law():
    torch_ref = pytest.importorskip("scripts._bench.torch_ref")
    if not torch_ref.available():
        pytest.skip("torch not installed (the `compare` extra)")
    from initjax import measure
    from scripts._bench.cases import SIGMA_B2, SIGMA_W2, inputs, mlp

    width, depth, seeds = 32, 4, 128
    x = inputs(16, width)
    kw = dict(width=width, depth=depth, seeds=seeds, sigma_w2=SIGMA_W2, sigma_b2=SIGMA_B2)
    stacked = torch_ref.propagate("stacked", x, **kw)
    vm = torch_ref.propagate("vmap", x, **kw)
    loop = torch_ref.propagate("loop", x, **kw)
    threads = torch_ref.propagate("threads", x, **kw, workers=2, chunk=8)
    tloop = torch_ref.propagate("threads-loop", x, **kw, workers=2)
    # stacked and vmap draw the same numbers in the same order: equal up to float32 rounding of
    # two matmul kernels (rtol 1e-4 allows ~1000 ulp after 5 layers).
    np.testing.assert_allclose(vm, stacked, rtol=1e-4)
    ours = measure.propagate(mlp(width, depth), x, seeds=seeds, metrics=("q",)).arrays["q"]
    # Same law, independent draws: per-layer seed means agree within 5 standard errors
    # (combined from the seed-to-seed spread of both; a false alarm has probability < 1e-5 per
    # layer for near-normal means of 128 seeds).
    for other in (loop, stacked, threads, tloop):
        se = np.sqrt(ours.var(0, ddof=1) / seeds + other.var(0, ddof=1) / seeds)
        assert np.all(np.abs(ours.mean(0) - other.mean(0)) < 5 * se), (ours.mean(0), other.mean(0))
    # q^0 has a closed-form mean: sigma_w2 * mean(x^2) + sigma_b2 (x fixed, W and b random).
    q0 = SIGMA_W2 * float(np.mean(x.astype(np.float64) ** 2)) + SIGMA_B2
    for q in (ours, loop):
        assert abs(q[:, 0].mean() - q0) < 5 * q[:, 0].std(ddof=1) / np.sqrt(seeds)


def test_torch_training_reference_starts_from_initjax_law():
    # A learning rate of 1e-9 leaves every network at its initialization after 2 steps: the
    # across-network mean test loss of torch's stacked training and of initjax's train agree
    # within 5 combined standard errors (64 independent networks each), i.e. same architecture,
    # init law and loss.
    torch_ref = pytest.importorskip("scripts._bench.torch_ref")
    if not torch_ref.available():
        pytest.skip("torch not installed (the `compare` extra)")
    from initjax.measure.train import TrainSpec, train
    from scripts._bench.cases import SIGMA_B2, mlp

    ds = _mixture_like(512, 256)
    n, lr = 64, 1e-9
    out = {}
    for v in ("autograd", "threads"):
        out[v] = torch_ref.train(
            v, ds, width=16, depth=3, n_out=10, sigma_w2=np.full(n, 1.5),
            sigma_b2=np.full(n, SIGMA_B2), learning_rate=np.full(n, lr), steps=2, batch=8,
            eval_every=2, eval_size=64,
        )["test_loss"]  # fmt: skip
    spec = TrainSpec(optimizer="sgd", steps=2, batch_size=8, eval_every=2, eval_size=64)
    ours = train(mlp(16, 3, readout=10), ds, seeds=n, learning_rate=lr, spec=spec)
    ours = ours.arrays["test_loss"][0, :, -1]
    for v, t in out.items():
        se = np.sqrt(ours.var(ddof=1) / n + t.var(ddof=1) / n)
        assert abs(ours.mean() - t.mean()) < 5 * se, (v, ours.mean(), t.mean(), se)


@pytest.mark.parametrize("sw2,sb2", [(1.0, 0.05), (4.0, 0.0)])
def test_scipy_reference_matches_initjax_theory(sw2, sb2):
    from initjax import theory
    from scripts._bench.theory_ref import tanh_cell

    ref = tanh_cell(sw2, sb2)
    mf = theory.analyse("tanh", sw2, sb2)
    # Independent quadratures (adaptive quad in float64 vs Gauss-Legendre in float32): float32
    # rounding bounds the agreement at ~1e-6 relative; xi_c = -1/log(chi_c) amplifies chi_c's
    # error by 1/|log chi_c| (< 10 here).
    assert ref["q_star"] == pytest.approx(float(mf.q_star), rel=1e-5)
    assert ref["chi_1"] == pytest.approx(float(mf.chi_1), rel=1e-5)
    assert ref["xi_c"] == pytest.approx(float(mf.xi_c), rel=1e-4)


# --- the fast sampler: jax.random's values, bit for bit, and the right laws -----------------------

KEY_SEEDS = (0, 1, 12345)  # keys are made in the tests: no XLA work while collecting
SIZES = (1, 3, 1000, 4099)


@pytest.mark.parametrize("n", SIZES)
def test_sampler_is_bit_identical_to_jax_random(n):
    for k in (jax.random.key(s) for s in KEY_SEEDS):
        assert _sampling.fast_bits_ok(k, jnp.float32, n)
        np.testing.assert_array_equal(
            _sampling.threefry_bits(k, n), jax.random.bits(k, (n,), jnp.uint32)
        )
        np.testing.assert_array_equal(
            _sampling.normal(k, (n,), jnp.float32, 1.0), jax.random.normal(k, (n,))
        )
        np.testing.assert_array_equal(
            _sampling.uniform_symmetric(k, (n,), jnp.float32, 1.0),
            jax.random.uniform(k, (n,), minval=-1.0, maxval=1.0),
        )
        for lo, hi in ((-2.0, 2.0), (-0.5, 3.0)):
            np.testing.assert_array_equal(
                _sampling.truncated_normal(k, (n,), jnp.float32, lo, hi, bounds=(-9.0, 9.0)),
                jax.random.truncated_normal(k, lo, hi, (n,)),
            )


def test_sampler_bit_identical_under_vmap_and_in_a_scan():
    ks = jax.random.split(jax.random.key(7), 5)
    ours = jax.vmap(lambda k: _sampling.normal(k, (33, 7), jnp.float32, 1.0))(ks)
    ref = jax.vmap(lambda k: jax.random.normal(k, (33 * 7,)).reshape(33, 7))(ks)
    np.testing.assert_array_equal(ours, ref)

    def scan_draws(sampler):
        def body(c, i):
            return c, sampler(jax.random.fold_in(jax.random.key(3), i))

        return jax.jit(lambda: jax.lax.scan(body, 0, jnp.arange(4))[1])()

    np.testing.assert_array_equal(
        scan_draws(lambda k: _sampling.normal(k, (64,), jnp.float32, 1.0)),
        scan_draws(lambda k: jax.random.normal(k, (64,))),
    )


def test_other_key_types_and_layouts_fall_back_to_jax_random():
    k = jax.random.key(0, impl="rbg")
    assert not _sampling.fast_bits_ok(k, jnp.float32, 10)
    np.testing.assert_array_equal(
        _sampling.normal(k, (10,), jnp.float32, 1.0), jax.random.normal(k, (10,))
    )
    assert not _sampling.fast_bits_ok(jax.random.key(0), jnp.float64, 10)
    assert not _sampling.fast_bits_ok(jax.random.key_data(jax.random.key(0)), jnp.float32, 10)
    prev = jax.config.jax_threefry_partitionable
    try:
        jax.config.update("jax_threefry_partitionable", False)
        k0 = jax.random.key(0)
        assert not _sampling.fast_bits_ok(k0, jnp.float32, 10)
        np.testing.assert_array_equal(
            _sampling.normal(k0, (10,), jnp.float32, 1.0), jax.random.normal(k0, (10,))
        )
    finally:
        jax.config.update("jax_threefry_partitionable", prev)


# Kolmogorov-Smirnov tests of the sampler's laws. Each draw is fixed by its key, so these are
# deterministic; the threshold p > 1e-3 would reject a correct sampler for one key in 1000, and
# with n = 2**17 the KS statistic resolves CDF errors of ~ 1.36 / sqrt(n) = 0.004 at 5%.
N_KS = 2**17


def test_ks_normal():
    z = np.asarray(_sampling.normal(jax.random.key(11), (N_KS,), jnp.float32, 2.5), np.float64)
    assert stats.kstest(z, stats.norm(scale=2.5).cdf).pvalue > 1e-3


def test_ks_uniform():
    u = np.asarray(_sampling.uniform_symmetric(jax.random.key(12), (N_KS,), jnp.float32, 0.3))
    assert stats.kstest(u.astype(np.float64), stats.uniform(-0.3, 0.6).cdf).pvalue > 1e-3


@pytest.mark.parametrize("lo,hi", [(-2.0, 2.0), (-0.5, 3.0)])
def test_ks_truncated_normal(lo, hi):
    z = _sampling.truncated_normal(jax.random.key(13), (N_KS,), jnp.float32, lo, hi)
    z = np.asarray(z, np.float64)
    assert z.min() > lo and z.max() < hi
    assert stats.kstest(z, stats.truncnorm(lo, hi).cdf).pvalue > 1e-3


def test_ks_normal_vmapped_rows_are_independent_normals():
    ks = jax.random.split(jax.random.key(14), 64)
    z = np.asarray(jax.vmap(lambda k: _sampling.normal(k, (2048,), jnp.float32, 1.0))(ks))
    assert stats.kstest(z.reshape(-1).astype(np.float64), stats.norm.cdf).pvalue > 1e-3
    # Different keys give uncorrelated rows: |corr| of 64 x 64 row pairs ~ N(0, 1/2048).
    c = np.corrcoef(z)[np.triu_indices(64, 1)]
    assert np.max(np.abs(c)) < 5.0 / np.sqrt(2048)


def test_train_step_profile_counts_every_layer_and_reports_each_part():
    # The profile's step runs the hidden layers as train does (unrolled at this depth), so XLA's
    # cost analysis sees every layer: at least the matmul FLOPs by formula (3 x forward, less the
    # input layer's input gradient, which nothing needs), and at
    # most 1.5x that (the rest is elementwise: tanh, its derivative, bias, softmax, update, about
    # 20 flops per unit and example vs 6 x 16 per unit for the hidden matmuls).
    from initjax.measure.train import TrainSpec
    from scripts._bench.cases import SIGMA_B2, mlp
    from scripts._bench.train_profile import profile_step

    x, y, xt, yt = _mixture_like(256, 64)
    spec = TrainSpec(steps=4, batch_size=16, eval_every=2, eval_size=64)
    nets = 4
    prof = profile_step(
        mlp(16, 3, readout=10), (x, y, xt, yt), spec, np.full(nets, 1.5), SIGMA_B2,
        np.full(nets, 0.05), options="default", steps=2, repeats=1,
    )  # fmt: skip
    d_in = x.shape[1]
    formula = (3 * 2 * 16 * (d_in * 16 + 3 * 16 * 16 + 16 * 10) - 2 * 16 * d_in * 16) * nets
    assert prof.formula_flops_per_step == formula
    assert prof.unrolled
    assert formula <= prof.xla_flops_per_step <= 1.5 * formula, prof.xla_flops_per_step
    parts = ("step", "step, layer loop", "step, separate layer arrays", "sgd update")
    assert all(prof.per_step[k] > 0 for k in (*parts, "batch sampling", "hidden matmuls"))
    note = prof.note("w16:", 0.01, 4, 2)
    for words in ("hidden-layer matmuls", "SGD update", "minibatch sampling", "evaluation",
                  "bookkeeping", "cores busy", "cost_analysis"):  # fmt: skip
        assert words in note, words
