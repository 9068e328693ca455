"""transfer_checks: transfer_verdict rows as Checks, with z = slope / SE and the drift rule."""

import pandas as pd
import pytest

from initjax.measure.transfer import transfer_verdict
from initjax.sweeps.transfer_checks import transfer_checks


def _slopes(mup_slope, mup_se):
    # 95% intervals by hand: slope +- 2 SE (the test does not depend on the t quantile)
    rows = [
        dict(parametrization="sp", slope=-0.9, se=0.05, ci_lo=-1.0, ci_hi=-0.8, unbracketed=0),
        dict(parametrization="mup", slope=mup_slope, se=mup_se, ci_lo=mup_slope - 2 * mup_se,
             ci_hi=mup_slope + 2 * mup_se, unbracketed=1),
    ]  # fmt: skip
    v = transfer_verdict(pd.DataFrame(rows), {"sp": "shifts", "mup": "stays"},
                         stay_bound=0.3, shift_min=0.3)  # fmt: skip
    kw = dict(level=0.95, stay_bound=0.3, shift_min=0.3, stay_z_max=3.0)
    return transfer_checks(v, over="width", **kw)


def test_checks_pass_with_slopes_in_se_units():
    checks, drift, parts = _slopes(0.05, 0.02)
    sp, mup = checks
    assert sp.name == "slope of log2 lr* vs log2 width, sp (shifts)" and sp.passed
    assert sp.z == pytest.approx(-0.9 / 0.05) and sp.expected is None
    assert sp.tolerance == "95% interval beyond +-0.3"
    assert mup.passed and mup.expected == 0.0 and mup.z == pytest.approx(2.5)
    assert mup.note == "interval [0.01, 0.09]; excludes 0; 1 seed(s) unbracketed"
    assert len(drift) == 1 and drift[0].passed and drift[0].tolerance == "|z| <= 3"
    assert parts == ["sp -0.90 +- 0.05 per doubling of width", "mup +0.05 +- 0.02 per doubling "
                     "of width"]  # fmt: skip


def test_a_resolved_drift_inside_the_margin_fails_only_the_drift_check():
    checks, drift, _ = _slopes(0.2, 0.02)  # interval [0.16, 0.24] inside +-0.3, z = 10
    assert all(c.passed for c in checks)
    assert drift[0].passed is False and drift[0].z == pytest.approx(10.0)
    assert drift[0].note == "a resolved finite-size drift: PARTIAL"


def test_a_missing_arm_fails_without_numbers():
    v = transfer_verdict(pd.DataFrame(columns=["parametrization", "slope", "se", "ci_lo",
                                               "ci_hi", "unbracketed"]),
                         {"mup": "stays"}, stay_bound=0.3, shift_min=0.3)  # fmt: skip
    checks, drift, _ = transfer_checks(v, over="depth", level=0.95, stay_bound=0.3,
                                       shift_min=0.3, stay_z_max=3.0)  # fmt: skip
    assert checks[0].passed is False and checks[0].note == "no interval (< 2 seeds); absent"
    assert drift[0].passed is False
