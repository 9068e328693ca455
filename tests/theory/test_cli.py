"""``initjax theory``: table, critical line, plot, ranges and errors."""

import io
import os
import warnings

import jax
import numpy as np
import pandas as pd
import pytest

from initjax.cli import main
from initjax.theory import analyse
from initjax.theory.cli import _in_scanned_range, parse_range


def _run(capsys, *argv):
    rc = main(["theory", *argv])
    out, err = capsys.readouterr()
    return rc, out, err


def test_table_for_schoenholz_setting(capsys):
    # 11 cells: the bucket of 16 that test_critical_line and the csv, plot and outside-the-scan
    # tests analyse too (one compilation for all).
    rc, out, _ = _run(
        capsys, "--activation", "tanh", "--sigma-b2", "0.05", "--sigma-w2", "1.0:4.0:11"
    )
    assert rc == 0
    lines = [ln for ln in out.splitlines() if ln and not ln.startswith(("#", "-", "sigma"))]
    assert len(lines) == 11
    header = next(ln for ln in out.splitlines() if "sigma_w2" in ln and "xi_c" in ln)
    assert header.split() == [
        "sigma_w2",
        "sigma_b2",
        "q*",
        "c*",
        "chi_1",
        "xi_q",
        "xi_c",
        "converged",
    ]
    # Last row (sigma_w2 = 4) agrees with the library call.
    last = lines[-1].split()
    mf = analyse("tanh", np.linspace(1.0, 4.0, 11), 0.05)  # the program the CLI compiled
    assert float(last[2]) == pytest.approx(float(np.asarray(mf.q_star)[-1]), rel=1e-5)
    assert "critical sigma_w2 at sigma_b2 = 0.05: 1.76" in out and "Schoenholz" in out


def test_csv_and_std_conversion(capsys):
    # 10 cells: the bucket of 16 cells that the 11-cell table above compiled.
    argv = ["--sigma-w", "1:1.2:5", "--sigma-b", "0:0.3:2", "--format", "csv"]
    rc, out, _ = _run(capsys, *argv)
    assert rc == 0
    df = pd.read_csv(io.StringIO(out))
    np.testing.assert_allclose(df.sigma_w2, np.repeat(np.linspace(1.0, 1.2, 5) ** 2, 2))
    np.testing.assert_allclose(df.sigma_b2, np.tile([0.0, 0.09], 5))
    argv = ["--sigma-w2", "1:1.44:5", "--sigma-b2", "0:0.09:2", "--format", "csv"]
    rc, out2, _ = _run(capsys, *argv)
    df2 = pd.read_csv(io.StringIO(out2))
    # The grids share their corners (sigma_w = 1, 1.2 and sigma_b = 0, 0.3): rows 0, 1, 8, 9.
    ends = [0, 1, 8, 9]
    np.testing.assert_allclose(df2.sigma_w2[ends], df.sigma_w2[ends], rtol=1e-6)
    np.testing.assert_allclose(df2["q*"][ends], df["q*"][ends], rtol=1e-6)


def test_critical_line(capsys):
    rc, out, _ = _run(capsys, "--activation", "tanh", "--critical", "--sigma-b2", "0:0.25:11")
    assert rc == 0
    rows = [ln.split() for ln in out.splitlines() if ln[:1].isspace() or ln[:1].isdigit()]
    rows = [r for r in rows if r and r[0].replace(".", "").isdigit()]
    assert len(rows) == 11
    assert float(rows[0][1]) == pytest.approx(1.0, abs=1e-3)  # sigma_b2 = 0 -> 1
    assert float(rows[2][1]) == pytest.approx(1.76, abs=0.005)  # 0.05 -> 1.76 (published)
    crit = [float(r[1]) for r in rows]
    assert np.all(np.diff(crit) > 0)


def test_plot_writes_png(tmp_path, capsys):
    # The 3 x 5 table of the plot run: the bucket of 16 cells of the table test; the plot draws
    # that analysis (no second solve).
    path = tmp_path / "phase.png"
    rc, out, _ = _run(
        capsys, "--sigma-w2", "1:3:3", "--sigma-b2", "0:0.2:5", "--nodes", "8", "--plot", str(path)
    )
    assert rc == 0 and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rc, _, err = _run(capsys, "--sigma-w2", "1:3:6", "--sigma-b2", "0.05", "--plot", str(path))
    assert rc == 2 and "--plot needs ranges" in err


@pytest.mark.parametrize(
    "argv, flag",
    [
        (["--sigma-w2", "1:4"], "--sigma-w2"),
        (["--sigma-w2", "1:4:x"], "--sigma-w2"),
        (["--sigma-b2", "a"], "--sigma-b2"),
        (["--sigma-b2", "-0.1"], "--sigma-b2"),
        (["--sigma-w", "1:2:0"], "--sigma-w"),
        (["--keep-prob", "0"], "--keep-prob"),
        (["--param", "slope"], "--param"),
        (["--activation", "tanhh"], "activation"),
    ],
)
def test_bad_arguments_name_the_flag(capsys, argv, flag):
    rc, _, err = _run(capsys, *argv)
    assert rc == 2 and flag in err and "Traceback" not in err


def test_parse_range():
    np.testing.assert_allclose(parse_range("--x", "1:2:3"), [1.0, 1.5, 2.0])
    np.testing.assert_allclose(parse_range("--x", "0.25"), [0.25])


@pytest.mark.parametrize("flag", ["--sigma-w2", "--sigma-b2", "--sigma-w", "--sigma-b"])
@pytest.mark.parametrize("value", ["", "  "])
def test_explicitly_empty_range_is_an_error(capsys, flag, value):
    # Only an omitted flag means "use the default"; an empty one is a mistake (e.g. an unset $VAR).
    rc, out, err = _run(capsys, flag, value)
    assert rc == 2 and out == ""
    assert f"{flag}: empty value" in err and "Traceback" not in err


# Small grids so a regression (computing first, failing later) stays quick.
_GRID = ["--sigma-w2", "1:2:2", "--sigma-b2", "0:0.1:2", "--nodes", "8"]


@pytest.mark.parametrize(
    "argv, plot, message",
    [
        (["--sigma-w2", "1:2:2", "--sigma-b2", "0.05"], "x.png", "--plot needs ranges"),
        (["--critical", "--sigma-b2", "0.05"], "x.png", "--plot needs ranges"),
        (_GRID, "x.txt", "--plot: file extension must be one of"),
        (_GRID, "x", "--plot: file extension must be one of"),
        (_GRID, "", "--plot: file extension must be one of"),
        (_GRID, "missing/dir/x.png", "--plot: directory"),
        (_GRID, "afile/x.png", "--plot: directory"),
        (_GRID, "adir.png", "--plot:"),
    ],
)
def test_plot_problems_are_found_before_computing(tmp_path, capsys, argv, plot, message):
    (tmp_path / "afile").write_text("")
    (tmp_path / "adir.png").mkdir()
    path = os.path.join(tmp_path, plot) if plot else plot
    rc, out, err = _run(capsys, *argv, "--plot", path)
    assert rc == 2 and message in err and "Traceback" not in err
    assert out == ""  # nothing computed or printed before the refusal
    assert sorted(os.listdir(tmp_path)) == ["adir.png", "afile"]


def test_plot_to_absolute_nonexistent_dir(capsys):
    rc, out, err = _run(capsys, *_GRID, "--plot", "/nonexistent/dir/x.png")
    assert rc == 2 and out == "" and "--plot: directory /nonexistent/dir does not exist" in err


def test_plot_to_unwritable_dir(tmp_path, capsys, monkeypatch):
    # Root may write anywhere, so chmod cannot make the case here: deny access to tmp_path only.
    real_access = os.access
    denied = str(tmp_path)
    monkeypatch.setattr(
        os, "access", lambda p, mode, **kw: False if str(p) == denied else real_access(p, mode)
    )
    rc, out, err = _run(capsys, *_GRID, "--plot", str(tmp_path / "x.png"))
    assert rc == 2 and out == "" and "--plot: cannot write" in err


@pytest.mark.parametrize(
    "flag, value",
    [
        ("--sigma-b2", "1:inf:3"),
        ("--sigma-b2", "0:-inf:3"),
        ("--sigma-w2", "1:nan:3"),
        ("--sigma-w2", "inf"),
        ("--sigma-b2", "1e308:-1e308:3"),  # finite ends, overflowing step
        ("--sigma-w", "1e200"),  # finite, but its square overflows
    ],
)
def test_non_finite_range_is_refused_without_numpy_warnings(capsys, flag, value):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rc, out, err = _run(capsys, flag, value)
    assert rc == 2 and out == "" and f"{flag}:" in err
    assert [w for w in caught if issubclass(w.category, RuntimeWarning)] == []


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["--q0", "0"], "--q0 must be finite and > 0, got 0.0"),
        (["--q0", "-1", "--critical"], "--q0 must be finite and > 0, got -1.0"),
        (["--q0", "nan"], "--q0 must be finite and > 0, got nan"),
        (["--nodes", "1"], "--nodes must be an integer in [2, 64], got 1"),
        (["--nodes", "1000", "--critical"], "--nodes must be an integer in [2, 64], got 1000"),
    ],
)
def test_numeric_flags_are_named_with_plain_numbers(capsys, argv, expected):
    rc, out, err = _run(capsys, *argv)
    assert rc == 2 and out == "" and expected in err and "np." not in err


@pytest.fixture
def restore_x64():
    """--x64 flips the global jax flag; put it back so later tests run as before."""
    before = jax.config.jax_enable_x64
    yield
    jax.config.update("jax_enable_x64", before)


@pytest.mark.usefixtures("restore_x64")
def test_critical_at_the_scanned_end_is_inside(capsys):
    # Under x64 the bisection gives 0.9999999999999999 for tanh at sigma_b2 = 0: still "inside".
    rc, out, _ = _run(capsys, "--activation", "tanh", "--sigma-w2", "1", "--sigma-b2", "0", "--x64")
    assert rc == 0
    line = next(ln for ln in out.splitlines() if ln.startswith("# critical sigma_w2"))
    assert ": 1;" in line and "outside" not in line


def test_critical_outside_the_scan_is_still_flagged(capsys):
    # Default nodes and 11 cells: the programs the table test above compiled serve.
    rc, out, _ = _run(capsys, "--sigma-w2", "1:1.5:11", "--sigma-b2", "0.05")
    assert rc == 0 and "(outside the scanned sigma_w2 range)" in out


def test_in_scanned_range_tolerance():
    w = np.array([1.0, 2.5, 4.0])
    assert _in_scanned_range(1.0 - 1e-12, w) and _in_scanned_range(4.0 * (1 + 1e-7), w)
    assert not _in_scanned_range(0.99, w) and not _in_scanned_range(4.01, w)
    assert not _in_scanned_range(float("nan"), w) and not _in_scanned_range(float("inf"), w)
