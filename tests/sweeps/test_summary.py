import json

import pandas as pd
import pytest

from initjax.sweeps.summary import Check, Summary, Verdict, failed_reason


def _verdict(status="PASS"):
    return Verdict(
        status,
        "x agrees with theory within 3 SE",
        [Check("x", 1.02, 1.0, se=0.01, z=2.0, tolerance="|z| <= 3", passed=True),
         Check("y", "3 rows", passed=None, note="reported")],
        "x = 1.02 +- 0.01",
        ["claim A", "claim B"],
    )  # fmt: skip


@pytest.mark.parametrize("status,reason", [("OK", "r"), ("PASS", ""), ("PASS", "a\nb")])
def test_verdict_rejects_bad_input(status, reason):
    with pytest.raises(ValueError, match="status|reason"):
        Verdict(status, "c", [], reason)


def test_from_checks():
    ok = Check("a", 1, passed=True)
    bad = Check("b", 1, passed=False)
    info = Check("c", 1, passed=None)
    assert Verdict.from_checks("c", [ok, info], reason="r").status == "PASS"
    assert Verdict.from_checks("c", [ok, bad], reason="r").status == "FAIL"
    assert Verdict.from_checks("c", [ok], reason="r", partial=True).status == "PARTIAL"
    # nothing judged is not a PASS
    assert Verdict.from_checks("c", [info], reason="r").status == "FAIL"


def test_from_checks_secondary_failures_give_partial_only_when_the_rest_passes():
    ok, bad, other_bad = (
        Check(n, 1, passed=p) for n, p in (("a", True), ("b", False), ("c", False))
    )

    def status(checks, secondary):
        return Verdict.from_checks("c", checks, reason="r", secondary=secondary).status

    assert status([ok, bad], [bad]) == "PARTIAL"
    assert status([ok, bad, other_bad], [bad]) == "FAIL"  # a core check fails too
    assert status([bad], [bad]) == "FAIL"  # no core check judged: nothing was shown
    assert status([ok, bad], [ok]) == "FAIL"  # a secondary pass does not rescue a core fail
    # the same values in other objects are not secondary: identity, not equality, decides
    assert status([ok, bad], [Check("b", 1, passed=False)]) == "FAIL"


def test_markdown_order_and_json_roundtrip(tmp_path):
    s = Summary("exp", "Title", "Paper 2020", {"command": "initjax run exp", "wall_s": 3.0,
                "compute_s": 2.0, "preset": "tiny"}, "setup words", _verdict())  # fmt: skip
    s.heading("More").text("Para.").table(
        pd.DataFrame({"a": [1, 2], "b": [0.123456, float("nan")], "c": ["u", "v|w"]}),
        "cap",
        formats={"b": ".2f"},
    )
    (tmp_path / "f.png").write_bytes(b"")
    s.figure(tmp_path / "f.png", "fig caption")
    md = s.to_markdown()
    order = ["# exp: Title", "Run: `initjax run exp`", "Paper: Paper 2020", "## Setup",
             "## Criterion", "x agrees with theory", "**Verdict: PASS** — x = 1.02 +- 0.01",
             "| x | 1.02 | 1 | 0.01 | 2.00 |", "## More", "| 1 | 0.12 | u |",
             "| 2 | n/a | v\\|w |", "![f.png](f.png)", "## Claims of the paper not reproduced here",
             "- claim A"]  # fmt: skip
    pos = [md.index(o) for o in order]
    assert pos == sorted(pos) and md.count("**Verdict:") == 1
    assert "preset `tiny`" in md and "wall 3.0 s, compute 2.0 s" in md
    paths = s.write(tmp_path)
    assert [p.name for p in paths] == ["summary.md", "summary.json"]
    back = Summary.read(tmp_path)
    assert back.to_markdown() == md and back.figures == ["f.png"]
    data = json.loads((tmp_path / "summary.json").read_text())
    assert data["verdict"]["checks"][0]["z"] == 2.0 and data["blocks"][2]["rows"][1][1] is None


def test_failed_reason_counts_and_names_the_failed_checks():
    ok, unjudged = Check("a", 1, passed=True), Check("b", 2, passed=None)
    assert failed_reason([ok, unjudged]) == "all judged checks pass"
    bad = [Check(f"c{i}", i, passed=False) for i in range(7)]
    assert failed_reason([ok, *bad, unjudged]) == "7 failed: c0; c1; c2; c3; c4"
    assert failed_reason(bad, shown=2) == "7 failed: c0; c1"
