"""``initjax theory``: table, critical line, plot, ranges and errors."""

import io

import numpy as np
import pandas as pd
import pytest

from initjax.cli import main
from initjax.theory import analyse
from initjax.theory.cli import parse_range


def _run(capsys, *argv):
    rc = main(["theory", *argv])
    out, err = capsys.readouterr()
    return rc, out, err


def test_table_for_schoenholz_setting(capsys):
    rc, out, _ = _run(
        capsys, "--activation", "tanh", "--sigma-b2", "0.05", "--sigma-w2", "1.0:4.0:31"
    )
    assert rc == 0
    lines = [ln for ln in out.splitlines() if ln and not ln.startswith(("#", "-", "sigma"))]
    assert len(lines) == 31
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
    mf = analyse("tanh", 4.0, 0.05)
    assert float(last[2]) == pytest.approx(float(mf.q_star), rel=1e-5)
    assert "critical sigma_w2 at sigma_b2 = 0.05: 1.76" in out and "Schoenholz" in out


def test_csv_and_std_conversion(capsys):
    rc, out, _ = _run(capsys, "--sigma-w", "1.2", "--sigma-b", "0:0.3:2", "--format", "csv")
    assert rc == 0
    df = pd.read_csv(io.StringIO(out))
    np.testing.assert_allclose(df.sigma_w2, 1.44)
    np.testing.assert_allclose(df.sigma_b2, [0.0, 0.09])
    rc, out2, _ = _run(capsys, "--sigma-w2", "1.44", "--sigma-b2", "0:0.09:2", "--format", "csv")
    np.testing.assert_allclose(pd.read_csv(io.StringIO(out2))["q*"], df["q*"], rtol=1e-6)


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
    path = tmp_path / "phase.png"
    rc, out, _ = _run(
        capsys, "--sigma-w2", "1:3:6", "--sigma-b2", "0:0.2:5", "--nodes", "8", "--plot", str(path)
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
