"""The README's "Add your own initializer / model / metric" recipes, run as written.

Blocks after ``<!-- file: PATH -->`` are written to a temporary folder; each line of a block
after ``<!-- run -->`` (``<!-- run: fails -->``: exit status 1 expected) is run there:
``initjax ...`` through ``initjax.cli.main`` in this process (every registry restored afterwards),
and ``pip install ./PKG`` emulated without touching the environment: the package folder goes on
sys.path with a dist-info holding the entry points its pyproject.toml declares (what pip writes),
so entry-point discovery is the real one. The README plugin's conformance checks (``pytest
test_my_inits.py`` and ``initjax check-init student_t``: jax.random.t's sampler compiles for
seconds per kernel shape) run in a fresh interpreter in the slow test.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pandas as pd
import pytest

from initjax import plugins
from initjax.cli import main

ROOT = Path(__file__).resolve().parents[1]
SECTION = "## Add your own initializer / model / metric"


def _section() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index(SECTION)
    end = text.index("\n## ", start + len(SECTION))
    return text[start:end]


def _blocks(section: str) -> list[tuple[str, str, str]]:
    """(marker, argument, body) for every marked fenced block, in order."""
    pat = re.compile(r"<!-- (file|run)(?::\s*(.*?))? -->\n```[a-z]*\n(.*?)```", re.S)
    return [(m[1], (m[2] or "").strip(), m[3]) for m in pat.finditer(section)]


def _install(pkg: Path, site: Path, monkeypatch) -> None:
    meta = tomllib.loads((pkg / "pyproject.toml").read_text())
    name = meta["project"]["name"]
    dist = site / f"{name.replace('-', '_')}-{meta['project']['version']}.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    eps = meta["project"]["entry-points"]
    lines = [
        f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in e.items()) for group, e in eps.items()
    ]
    (dist / "entry_points.txt").write_text("".join(lines))
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.syspath_prepend(str(pkg))
    plugins.autoload(rescan=True)


def test_the_section_has_the_three_recipes():
    blocks = _blocks(_section())
    files = [a for k, a, _ in blocks if k == "file"]
    assert files == [
        "initjax-student-t/pyproject.toml",
        "initjax-student-t/initjax_student_t.py",
        "my_models.py",
        "test_my_inits.py",
        "wrong.py",
    ]
    assert sum(k == "run" for k, _, _ in blocks) == 4
    # The plugin module really is about 20 lines of code.
    module = dict((a, b) for k, a, b in blocks if k == "file")[
        "initjax-student-t/initjax_student_t.py"
    ]
    assert len([line for line in module.splitlines() if line.strip()]) <= 25


@pytest.mark.slow
def test_readme_pytest_recipe_in_a_fresh_process(tmp_path):
    # Recipe 3's pytest file, with the plugin "installed" (entry point) for a fresh interpreter.
    blocks = _blocks(_section())
    files = {a: b for k, a, b in blocks if k == "file"}
    for rel, body in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(body)
    site = tmp_path / "site"
    dist = site / "initjax_student_t-0.1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: initjax-student-t\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[initjax.plugins]\nstudent_t = initjax_student_t\n")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(site), str(tmp_path / "initjax-student-t")])
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_my_inits.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 passed" in proc.stdout
    # Recipe 3's `initjax check-init student_t`, as written (test_readme_recipes_run runs every
    # other line of the section).
    proc = subprocess.run(
        [sys.executable, "-m", "initjax.cli", "check-init", "student_t"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "check_initializer('student_t'): PASS" in proc.stdout


def test_readme_recipes_run(tmp_path, monkeypatch, capsys):
    section = _section()
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    outputs = []
    with plugins.isolated():
        for kind, arg, body in _blocks(section):
            if kind == "file":
                path = tmp_path / arg
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(body)
                continue
            want = 1 if arg == "fails" else 0
            for line in body.strip().splitlines():
                argv = shlex.split(line)
                if argv[:2] == ["pip", "install"]:
                    _install(tmp_path / argv[2], tmp_path / "site", monkeypatch)
                    continue
                if argv[0] == "pytest":
                    # The file defines one test per line; they run (each a full conformance
                    # check) in test_readme_pytest_recipe_in_a_fresh_process, marked slow,
                    # and `initjax check-init student_t` below runs the same checks here.
                    mod = {}
                    exec((tmp_path / argv[-1]).read_text(), mod)
                    tests = [n for n in mod if n.startswith("test_")]
                    assert tests == ["test_student_t", "test_student_t_df30"]
                    continue
                assert argv[0] == "initjax", line
                if argv[1:] == ["check-init", "student_t"]:
                    # slow: the README plugin's conformance check (jax.random.t's sampler
                    # compiles for seconds per kernel shape) runs in
                    # test_readme_pytest_recipe_in_a_fresh_process; the check-init command on a
                    # plugin's student_t initializer in the default run:
                    # tests/test_plugins.py::test_done_when_plugin_package_works_everywhere.
                    continue
                rc = main(argv[1:])
                cap = capsys.readouterr()
                outputs.append(cap.out)
                assert rc == want, f"{line}\n{cap.out}\n{cap.err}"
    text = "\n".join(outputs)
    # Recipe 1: listed and measured with the plugin's metric (checked: the slow test above).
    assert any(line.startswith("student_t") for line in text.splitlines())
    df = pd.read_parquet(tmp_path / "runs" / "student_t" / "propagate.parquet")
    assert "kurtosis" in df.columns and df["kurtosis"].notna().all()
    # Recipe 2: the model family listed and measured.
    assert "scaled_res: ScaledResidual" in text
    df = pd.read_parquet(tmp_path / "runs" / "scaled_res" / "propagate.parquet")
    assert len(df) == 4 * 51 and not df["diverged"].any()
    # Recipe 3: the wrong initializer's report is the one the README quotes.
    quoted = re.search(r"```text\n(.*?)```", section, re.S)[1]
    assert " ".join(quoted.split()) in " ".join(text.split())
