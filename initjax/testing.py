"""Conformance kit: the registry's property checks, run on your own initializer.

``check_initializer(init)`` runs on a registered name (plugins included), a ``"module:function"``
spec, a :class:`~initjax.initializers.BoundInitializer` or a plain ``init(key, shape, dtype)``
callable the checks every built-in entry passes in initjax's registry-wide tests, and returns a
readable :class:`Report`:

- ``shape_dtype``: exact shape and dtype (float32, bfloat16, float16; float64 under x64) and
  finite values, for every kernel kind the entry accepts: dense ``(16, 32)``, conv
  ``(3, 3, 4, 8)`` (HWIO), multi-axis ``(16, 4, 8)`` with ``in_axis=0, out_axis=(1, 2)``,
  vector ``(7,)`` for entries that are not fan-based;
- ``determinism``: the same key gives bit-identical arrays;
- ``jit_eager``: under ``jax.jit`` equal to eager execution within 4 float32 ulp of max|w| (XLA
  may fuse a scale into the sampler's arithmetic);
- ``vmap_keys``: ``jax.vmap`` over keys equals separate calls, bit for bit (the variance
  check's pool of keys, first 4 compared; the batched draw is the one the variance check uses,
  so the initializer is compiled once for it);
- ``distinct_keys``: two keys give different arrays (not for deterministic entries);
- ``variance``: the empirical per-element variance against the promised one, per kernel kind
  (see "Sample size" below);
- ``distribution`` (when ``distribution=`` is given): a Kolmogorov-Smirnov test of
  w / sqrt(promised variance) against the stated law.

A user's test file is then one line per initializer::

    from initjax.testing import initializer_test
    import mypkg.initjax_plugin  # registers "student_t" (not needed if installed)

    test_student_t = initializer_test("student_t", distribution=student_t_cdf)

and the shell: ``initjax check-init student_t`` (exit status 1 on a failure).

Sample size (``variance``). With n independent values of kurtosis kappa, the sample variance s^2
has standard error SE = sigma^2 sqrt((kappa - 1) / n) (estimated from the sample's fourth moment
mu4 as sqrt((mu4 - sigma^4 (n - 3) / (n - 1)) / n), the formula the registry tests use). The
default n = 2^18 = 262,144 values per kernel kind gives SE = 0.28 % of sigma^2 for a Gaussian
(kappa = 3), 0.17 % for a uniform (kappa = 1.8) and 0.55 % for a Student-t with 5 degrees of
freedom (kappa = 9). A check passes when |s^2 - promised| <= ``z_max`` SE (default 5) plus
1e-6 relative for float32 rounding: a correct initializer fails with probability
2 Phi(-5) = 5.7e-7 per kernel kind (s^2 is normal to a good approximation at this n when the
fourth moment is finite), while a 10 % error in the variance sits at 36 SE (Gaussian) or 18 SE
(Student-t, 5 dof) and fails with probability 1 - Phi(31) resp. 1 - Phi(13), i.e. always. Laws
without a finite fourth moment (Student-t with <= 4 dof) have no such SE: the report shows the
sample kurtosis, and the verdict is unreliable.

KS test (``distribution``): ``"normal"``, ``"uniform"``, ``"truncated_normal"`` (jax's: a normal
truncated at +-2 standard deviations, rescaled to the promised variance), or any object with a
``cdf`` method (e.g. a frozen ``scipy.stats`` law) or a vectorized cdf callable, all for the
standardized values w / sqrt(promised variance). The p-value uses the asymptotic Kolmogorov law
with Stephens' finite-n correction; it passes at p >= ``ks_alpha`` (default 1e-3). Orthogonal and
other dependent constructions are not i.i.d.; a KS test on them is approximate.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from initjax import initializers

__all__ = [
    "DEFAULT_SAMPLES",
    "Check",
    "Report",
    "assert_initializer",
    "check_initializer",
    "initializer_test",
    "kernel_cases",
]

DEFAULT_SAMPLES = 2**18
SHAPES = {
    "vector": (7,),
    "dense": (16, 32),
    "conv": (3, 3, 4, 8),
    "multi_axis": (16, 4, 8),
}
MULTI_AXIS_HPARAMS = {"in_axis": 0, "out_axis": (1, 2)}
STATUSES = ("PASS", "FAIL", "SKIP")


@dataclasses.dataclass(frozen=True)
class Check:
    """One property check: ``status`` is "PASS", "FAIL" or "SKIP"; ``detail`` says what was
    measured against what."""

    name: str
    status: str
    detail: str

    @property
    def passed(self) -> bool:
        return self.status != "FAIL"


@dataclasses.dataclass(frozen=True)
class Report:
    """The result of :func:`check_initializer`; ``str(report)`` is the readable report."""

    initializer: str
    checks: tuple[Check, ...]

    @property
    def passed(self) -> bool:
        """True when no check failed (skipped checks do not fail)."""
        return all(c.passed for c in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if c.status == "FAIL"]

    def __str__(self) -> str:
        n = {s: sum(c.status == s for c in self.checks) for s in STATUSES}
        head = (
            f"check_initializer({self.initializer}): {'PASS' if self.passed else 'FAIL'} "
            f"({n['PASS']} passed, {n['FAIL']} failed, {n['SKIP']} skipped)"
        )
        width = max(len(c.name) for c in self.checks)
        lines = [head]
        for c in self.checks:
            detail = c.detail.replace("\n", "\n" + " " * (width + 9))
            lines.append(f"  {c.status:<4}  {c.name.ljust(width)}  {detail}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "initializer": self.initializer,
            "passed": self.passed,
            "checks": [dataclasses.asdict(c) for c in self.checks],
        }


# --- resolving what to check ------------------------------------------------------------------


@dataclasses.dataclass
class _Subject:
    label: str
    make: Callable[[Mapping[str, Any]], Callable]  # hparams -> init
    kinds: tuple[str, ...]
    deterministic: bool
    axis_hparams: bool  # takes in_axis / out_axis
    variance: Callable[[Callable, tuple[int, ...]], float | None]


def _resolve(init: Any, hparams: Mapping[str, Any], variance: Callable | None) -> _Subject:
    def promise_of(fn, shape):
        if variance is not None:
            fans = initializers.fans(shape, **_axis_kw(fn, shape))
            return float(variance(*fans))
        if isinstance(fn, initializers.BoundInitializer):
            return fn.promised_variance_for(shape)
        return None

    if isinstance(init, str):
        e = initializers.entry(init)  # unknown name: ValueError with close names
        label = repr(init)
        return _Subject(
            label=label,
            make=lambda hp: initializers.get(init, **{**hparams, **hp}),
            kinds=tuple(e.shapes),
            deterministic=e.deterministic,
            axis_hparams={"in_axis", "out_axis"} <= set(e.defaults),
            variance=promise_of,
        )
    if isinstance(init, initializers.BoundInitializer):
        if hparams:
            raise ValueError("hparams cannot be combined with a BoundInitializer; bind them first")
        e = init.entry
        return _Subject(
            label=repr(init),
            make=lambda hp: initializers.get(e.name, **{**init.hparams, **hp}) if hp else init,
            kinds=tuple(e.shapes),
            deterministic=e.deterministic,
            axis_hparams={"in_axis", "out_axis"} <= set(e.defaults),
            variance=promise_of,
        )
    if callable(init):
        if hparams:
            raise ValueError("hparams apply to registered initializers only")
        promise = variance or getattr(init, "variance", None)
        name = getattr(init, "__qualname__", getattr(init, "__name__", type(init).__name__))
        return _Subject(
            label=name,
            make=lambda hp: init,
            kinds=("dense", "conv"),
            deterministic=False,
            axis_hparams=False,
            variance=lambda fn, shape: (
                None if promise is None else float(promise(*initializers.fans(shape)))
            ),
        )
    raise TypeError(
        "init must be an initializer name, a 'module:function' spec, a BoundInitializer or a "
        f"callable init(key, shape, dtype), got {type(init).__name__}"
    )


def _axis_kw(fn, shape) -> dict:
    if isinstance(fn, initializers.BoundInitializer):
        hp = fn.hparams
        kw = {k: hp[k] for k in ("in_axis", "out_axis", "batch_axis") if hp.get(k) is not None}
        return kw if len(shape) > 2 and kw else {}
    return {}


def kernel_cases(kinds: Sequence[str], axis_hparams: bool) -> list[tuple[str, tuple, dict]]:
    """(kind, shape, extra hparams) for the kernel kinds checked (see the module docstring)."""
    out = []
    for k in kinds:
        if k not in SHAPES:
            raise ValueError(f"kinds: unknown kernel kind {k!r}; choose from {tuple(SHAPES)}")
        if k == "multi_axis" and not axis_hparams:
            continue  # an entry without in_axis/out_axis reads such kernels in its own way
        out.append((k, SHAPES[k], dict(MULTI_AXIS_HPARAMS) if k == "multi_axis" else {}))
    return out


# --- the checks -------------------------------------------------------------------------------


def _err(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}"


def _shape_dtype(subj, cases, key) -> Check:
    dtypes = [jnp.float32, jnp.bfloat16, jnp.float16]
    if jax.config.jax_enable_x64:
        dtypes.append(jnp.float64)
    bad = []
    for kind, shape, hp in cases:
        fn = subj.make(hp)
        for dt in dtypes:
            try:
                w = fn(key, shape, dt)
            except Exception as e:
                bad.append(f"{kind} {shape} {jnp.dtype(dt)}: raised {_err(e)}")
                continue
            if tuple(w.shape) != shape or w.dtype != jnp.dtype(dt):
                bad.append(
                    f"{kind} {shape} {jnp.dtype(dt)}: got shape {tuple(w.shape)}, dtype {w.dtype}"
                )
            elif not bool(jnp.all(jnp.isfinite(w))):
                bad.append(f"{kind} {shape} {jnp.dtype(dt)}: non-finite values")
    shapes = ", ".join(f"{k} {s}" for k, s, _ in cases)
    names = ", ".join(str(jnp.dtype(d)) for d in dtypes)
    if bad:
        return Check("shape_dtype", "FAIL", "\n".join(bad))
    return Check("shape_dtype", "PASS", f"{shapes} x {names}: exact shape and dtype, finite")


def _determinism(fn, shape, key) -> Check:
    a, b = np.asarray(fn(key, shape)), np.asarray(fn(key, shape))
    if np.array_equal(a, b, equal_nan=True):
        return Check("determinism", "PASS", f"same key twice on {shape}: bit-identical")
    return Check(
        "determinism", "FAIL", f"same key twice on {shape}: {np.sum(a != b)} values differ"
    )


def _jit_eager(fn, shape, key) -> Check:
    a = np.asarray(fn(key, shape, jnp.float32))
    j = np.asarray(jax.jit(fn, static_argnums=(1, 2))(key, shape, jnp.float32))
    ulp = float(np.finfo(np.float32).eps) * float(np.abs(a).max(initial=0.0))
    diff = float(np.abs(j.astype(np.float64) - a).max(initial=0.0))
    detail = f"max |jit - eager| = {diff:.3g} (tolerance 4 ulp of max|w| = {4 * ulp:.3g})"
    return Check("jit_eager", "PASS" if diff <= 4 * ulp else "FAIL", detail)


_N_SEPARATE = 4  # keys of the batched draw compared with separate calls


def _vmap_keys(fn, shape, samples: int, drawn: dict) -> Check:
    ks = _pool_keys(shape, samples)
    batched = _draw_batched(fn, shape, ks)
    drawn[shape] = batched  # reused by the variance check
    n = min(_N_SEPARATE, ks.shape[0])
    for i in range(n):
        alone = np.asarray(fn(ks[i], shape, jnp.float32))
        if not np.array_equal(batched[i], alone, equal_nan=True):
            return Check(
                "vmap_keys", "FAIL", f"vmap over {ks.shape[0]} keys differs from key {i} alone"
            )
    return Check(
        "vmap_keys",
        "PASS",
        f"vmap over {ks.shape[0]} keys == separate calls (first {n}), bit for bit",
    )


def _distinct_keys(subj, fn, shape) -> Check:
    if subj.deterministic:
        return Check("distinct_keys", "SKIP", "deterministic entry: the key is not used")
    a, b = np.asarray(fn(jax.random.key(1), shape)), np.asarray(fn(jax.random.key(2), shape))
    if np.array_equal(a, b):
        return Check("distinct_keys", "FAIL", f"keys 1 and 2 give identical arrays on {shape}")
    return Check("distinct_keys", "PASS", f"keys 1 and 2 give different arrays on {shape}")


def _pool_keys(shape, samples: int) -> jax.Array:
    """The keys of the variance pool: enough kernels of ``shape`` for ``samples`` values."""
    n_keys = max(1, math.ceil(samples / math.prod(shape)))
    return jax.random.split(jax.random.key(20260), n_keys)


def _draw_batched(fn, shape, ks) -> np.ndarray:
    return np.asarray(jax.vmap(lambda k: fn(k, shape, jnp.float32))(ks))


def _draw_pool(fn, shape, samples: int, drawn: dict) -> np.ndarray:
    w = drawn.get(shape)
    if w is None:
        w = _draw_batched(fn, shape, _pool_keys(shape, samples))
    return np.asarray(w, np.float64).reshape(-1)


def _variance(subj, cases, samples: int, z_max: float, drawn: dict) -> tuple[Check, dict]:
    parts, failed, pools = [], False, {}
    for kind, shape, hp in cases:
        if kind == "vector":
            continue  # a vector uses the dense sampler; no fans to check a promise against
        fn = subj.make(hp)
        promised = subj.variance(fn, shape)
        fans = initializers.fans(shape, **_axis_kw(fn, shape))
        where = f"{kind} {shape} (fan_in={fans[0]}, fan_out={fans[1]})"
        if promised is None:
            parts.append(f"{where}: no promised variance (not checked)")
            continue
        w = _draw_pool(fn, shape, samples, drawn)
        pools[kind] = (w, promised)
        var = float(w.var())
        n = w.size
        if promised == 0.0:
            ok = var == 0.0
            failed |= not ok
            parts.append(f"{where}: Var[w] = {var:.6g} vs promised 0")
            continue
        mu4 = float(np.mean((w - w.mean()) ** 4))
        se = math.sqrt(max(mu4 - promised**2 * (n - 3) / (n - 1), 0.0) / n)
        tol = z_max * se + 1e-6 * promised
        z = (var - promised) / se if se > 0 else math.inf * np.sign(var - promised)
        kurt = mu4 / var**2 if var > 0 else float("nan")
        ok = abs(var - promised) <= tol
        failed |= not ok
        parts.append(
            f"{where}: empirical Var[w] = {var:.6g} vs promised {promised:.6g}: "
            f"{100 * (var / promised - 1):+.2f} % = {z:+.1f} SE (SE {se:.3g} from n = {n} values, "
            f"kurtosis {kurt:.3g}); tolerance {z_max:g} SE{'' if ok else '  <-- FAIL'}"
        )
    if not pools and not failed:
        if subj.deterministic:
            return Check("variance", "SKIP", "deterministic entry: " + "; ".join(parts)), pools
        return Check("variance", "SKIP", "; ".join(parts) or "no kernel kind to check"), pools
    return Check("variance", "FAIL" if failed else "PASS", "\n".join(parts)), pools


def _normal_cdf(x):
    return 0.5 * (1.0 + _erf(x / math.sqrt(2.0)))


_erf = np.vectorize(math.erf, otypes=[np.float64])


def _named_cdf(name: str) -> Callable[[np.ndarray], np.ndarray]:
    if name == "normal":
        return _normal_cdf
    if name == "uniform":
        a = math.sqrt(3.0)
        return lambda x: np.clip((x + a) / (2 * a), 0.0, 1.0)
    if name == "truncated_normal":
        # N(0,1) truncated to [-2, 2], standardized: its standard deviation is s below.
        z = _normal_cdf(np.array(2.0)) - _normal_cdf(np.array(-2.0))
        s = math.sqrt(1.0 - 4.0 * math.exp(-2.0) / (math.sqrt(2 * math.pi) * float(z)))
        lo = float(_normal_cdf(np.array(-2.0)))
        return lambda x: np.clip((_normal_cdf(np.clip(x * s, -2.0, 2.0)) - lo) / float(z), 0, 1)
    raise ValueError(
        "distribution must be 'normal', 'uniform', 'truncated_normal', an object with a cdf "
        f"method or a cdf callable, got {name!r}"
    )


def _ks_pvalue(d: float, n: int) -> float:
    """P(D_n >= d) by the Kolmogorov limit with Stephens' correction (1970)."""
    lam = (math.sqrt(n) + 0.12 + 0.11 / math.sqrt(n)) * d
    if lam < 0.2:
        return 1.0
    s = sum((-1) ** (k - 1) * math.exp(-2.0 * k * k * lam * lam) for k in range(1, 101))
    return float(min(max(2.0 * s, 0.0), 1.0))


def _distribution(pools, distribution, ks_alpha: float) -> Check:
    if distribution is None:
        return Check("distribution", "SKIP", "no distribution stated (pass distribution=...)")
    if isinstance(distribution, str):
        cdf, label = _named_cdf(distribution), distribution
    elif hasattr(distribution, "cdf"):
        cdf, label = distribution.cdf, repr(distribution)
    elif callable(distribution):
        cdf, label = distribution, getattr(distribution, "__name__", "cdf")
    else:
        raise TypeError("distribution: expected a name, a law with .cdf or a cdf callable")
    kind = "dense" if "dense" in pools else next(iter(pools), None)
    if kind is None:
        return Check("distribution", "SKIP", "no promised variance to standardize the draws with")
    w, promised = pools[kind]
    if promised <= 0:
        return Check("distribution", "SKIP", "promised variance 0: nothing to compare")
    x = np.sort(w / math.sqrt(promised))
    n = x.size
    f = np.asarray(cdf(x), np.float64)
    i = np.arange(1, n + 1)
    d = float(max(np.max(i / n - f), np.max(f - (i - 1) / n)))
    p = _ks_pvalue(d, n)
    ok = p >= ks_alpha
    return Check(
        "distribution",
        "PASS" if ok else "FAIL",
        f"{kind} draws / sqrt(promised variance) vs {label}: KS D = {d:.4g} (n = {n}), "
        f"p = {p:.3g}; passes at p >= {ks_alpha:g}",
    )


def check_initializer(
    init: Any,
    *,
    hparams: Mapping[str, Any] | None = None,
    kinds: Sequence[str] | None = None,
    variance: Callable[[int, int], float] | None = None,
    distribution: Any = None,
    samples: int = DEFAULT_SAMPLES,
    z_max: float = 5.0,
    ks_alpha: float = 1e-3,
) -> Report:
    """Run the registry's property checks on an initializer (module docstring).

    Args:
      init: a registered name or alias, ``"package.module:function"`` / ``"file.py:function"``
        (imported and registered), a BoundInitializer, or a plain ``init(key, shape, dtype)``
        callable (a ``variance(fan_in, fan_out)`` attribute, or the ``variance`` argument, is
        its promise).
      hparams: hyper-parameters to bind (registered initializers only).
      kinds: kernel kinds to check (default: the entry's ``shapes``; dense and conv for a plain
        callable), from "vector", "dense", "conv", "multi_axis".
      variance: ``variance(fan_in, fan_out) -> float``: the promise to check against, overriding
        the entry's.
      distribution: the law of w / sqrt(promised variance) for a KS test (see the module
        docstring), or None.
      samples: values drawn per kernel kind for the variance and KS checks (default 2^18).
      z_max: the variance check's tolerance in standard errors.
      ks_alpha: the KS test's level.

    Returns:
      A :class:`Report`; ``report.passed`` is False when a check failed.

    Raises:
      ValueError / TypeError: an unknown name, a bad argument, a data-dependent initializer
        (LSUV, MetaInit, GradInit: check its base) (an initializer that raises inside a check is
        a FAIL in the report, not an exception).
    """
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 100:
        raise ValueError(f"samples must be an integer >= 100, got {samples!r}")
    if not (isinstance(z_max, int | float) and z_max > 0):
        raise ValueError(f"z_max must be a positive number, got {z_max!r}")
    if not (isinstance(ks_alpha, float) and 0 < ks_alpha < 1):
        raise ValueError(f"ks_alpha must be a float in (0, 1), got {ks_alpha!r}")
    dd = (
        initializers.method_of(initializers.get(init) if isinstance(init, str) else init)
        if isinstance(init, str | initializers.BoundInitializer)
        else None
    )
    if dd is not None:
        raise ValueError(
            f"{dd.name!r} is a data-dependent initializer: its weights come from a refinement of "
            "a whole network on data, not from (key, shape), so these checks do not apply; "
            f"check its base initializer {dd.base.name!r} instead"
        )
    subj = _resolve(init, dict(hparams or {}), variance)
    cases = kernel_cases(tuple(kinds) if kinds is not None else subj.kinds, subj.axis_hparams)
    if not cases:
        raise ValueError(f"{subj.label}: no kernel kind to check (kinds={kinds!r})")
    key = jax.random.key(0)
    checks = [_shape_dtype(subj, cases, key)]
    # Property checks on one representative shape: dense when accepted, else the first kind.
    kind, shape, hp = next((c for c in cases if c[0] == "dense"), cases[0])
    fn = subj.make(hp)
    drawn: dict = {}  # kernel shape (one per kind) -> its vmapped draw over the pool's keys
    for name, run in (
        ("determinism", lambda: _determinism(fn, shape, key)),
        ("jit_eager", lambda: _jit_eager(fn, shape, key)),
        ("vmap_keys", lambda: _vmap_keys(fn, shape, samples, drawn)),
        ("distinct_keys", lambda: _distinct_keys(subj, fn, shape)),
    ):
        try:
            checks.append(run())
        except Exception as e:  # an initializer that raises fails the check, with the error
            checks.append(Check(name, "FAIL", f"{kind} {shape}: {_err(e)}"))
    try:
        var_check, pools = _variance(subj, cases, samples, z_max, drawn)
    except Exception as e:
        var_check, pools = Check("variance", "FAIL", _err(e)), {}
    checks.append(var_check)
    checks.append(_distribution(pools, distribution, ks_alpha))
    return Report(subj.label, tuple(checks))


def assert_initializer(init: Any, **kwargs: Any) -> Report:
    """:func:`check_initializer`, raising AssertionError with the report when a check fails."""
    report = check_initializer(init, **kwargs)
    if not report.passed:
        raise AssertionError(str(report))
    return report


def initializer_test(init: Any, **kwargs: Any) -> Callable[[], None]:
    """A pytest test function for one initializer: ``test_mine = initializer_test("mine")``.

    The function runs :func:`assert_initializer` with ``kwargs``; a failure shows the report.
    """

    def test() -> None:
        assert_initializer(init, **kwargs)

    label = init if isinstance(init, str) else getattr(init, "__name__", "initializer")
    test.__name__ = f"test_{str(label).replace(':', '_').replace('.', '_')}"
    test.__doc__ = f"initjax conformance checks of {label!r}"
    return test
