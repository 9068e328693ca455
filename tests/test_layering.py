"""The layering rules of the design (DESIGN.md, "The spine"), checked on the source's imports.

1. ``initializers/`` and ``theory/`` never import Flax (they are framework-free math).
2. A subpackage imports only the layers before it: base modules (``_registry``, ``keys``,
   ``activations``) < initializers < theory < models < parametrizations < measure < data <
   plots (figures of results tables) < sweeps; ``models/`` in particular never imports ``sweeps/``.
3. Nothing imports a CLI module (``cli.py``, ``*_cli.py``) except another CLI module.
4. No private (``_name``) module is imported from outside its own package: library code,
   scripts and experiments go through each subpackage's public modules; a test of package X
   (``tests/X/``) may import X's private modules.

Every import statement counts, at module level or inside a function.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "initjax"
BASE = {"_registry", "keys", "activations", "__init__"}
ORDER = [
    *("initializers", "theory", "models", "parametrizations", "measure", "data", "plots"),
    "sweeps",
]
SOURCES = sorted(
    p
    for d in ("initjax", "scripts", "experiments", "tests")
    for p in (ROOT / d).rglob("*.py")
    if "__pycache__" not in p.parts
)


def _module_of(path: Path, root: Path = ROOT) -> str:
    rel = path.relative_to(root).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_module(dotted: str) -> bool:
    rel = Path(*dotted.split("."))
    return (ROOT / rel).with_suffix(".py").is_file() or (ROOT / rel / "__init__.py").is_file()


def _imports(path: Path, root: Path = ROOT) -> list[tuple[int, str]]:
    """(line, imported module) for every import in ``path``; ``from a import b`` gives ``a.b``
    when b is a module, else ``a``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    here = _module_of(path, root).split(".")
    is_pkg = path.name == "__init__.py"
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend((node.lineno, a.name) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here if is_pkg else here[:-1]
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            for a in node.names:
                sub = f"{mod}.{a.name}"
                out.append((node.lineno, sub if _is_module(sub) else mod))
    return out


def _package(module: str) -> str | None:
    """The initjax subpackage (or top-level module) a dotted name belongs to."""
    parts = module.split(".")
    if parts[0] != "initjax" or len(parts) < 2:
        return None
    return parts[1]


def _is_cli(module: str) -> bool:
    last = module.split(".")[-1]
    return last == "cli" or last.endswith("_cli")


def _violations(sources=SOURCES, root: Path = ROOT) -> dict[str, list[str]]:
    v: dict[str, list[str]] = {"flax": [], "order": [], "cli": [], "private": []}
    for path in sources:
        src = _module_of(path, root)
        rel = path.relative_to(root)
        top = rel.parts[0]
        src_pkg = _package(src) if top == "initjax" else None
        for line, mod in _imports(path, root):
            where = f"{rel}:{line} imports {mod}"
            if top == "initjax" and src_pkg in ("initializers", "theory"):
                if mod.split(".")[0] == "flax":
                    v["flax"].append(where)
            dst_pkg = _package(mod)
            if dst_pkg is None:
                continue
            if top == "initjax" and src_pkg in ORDER and dst_pkg in ORDER:
                if ORDER.index(dst_pkg) > ORDER.index(src_pkg):
                    v["order"].append(where)
            if top == "initjax" and src_pkg in ORDER and dst_pkg not in ORDER + list(BASE):
                if not _is_cli(src):  # a subcommand may call top-level helpers
                    v["order"].append(where)
            if top == "initjax" and src_pkg in BASE - {"__init__"} and dst_pkg != src_pkg:
                if dst_pkg not in BASE:
                    v["order"].append(where)
            if _is_cli(mod) and not (top == "tests" or _is_cli(src)):
                v["cli"].append(where)
            private = [p for p in mod.split(".")[1:] if p.startswith("_") and p != "__init__"]
            if private:
                owner = ".".join(mod.split(".")[: mod.split(".").index(private[0])])
                if top == "tests":
                    test_pkg = rel.parts[1] if len(rel.parts) > 2 else None
                    ok = owner == "initjax" or owner == f"initjax.{test_pkg}"
                elif top == "initjax":
                    ok = owner == "initjax" or src == owner or src.startswith(owner + ".")
                else:  # scripts, experiments
                    ok = False
                if not ok:
                    v["private"].append(where)
    return v


@pytest.fixture(scope="module")
def violations() -> dict[str, list[str]]:
    """The violations in this repository's sources (parsed once per module, not at collection)."""
    return _violations()


def test_the_checker_sees_the_sources():
    assert len(SOURCES) > 100
    imports = dict(_imports(PKG / "measure" / "engine.py"))
    assert "initjax.models" in imports.values() and "jax" in imports.values()
    # A relative import and a from-import of a submodule resolve to full module names.
    assert "initjax.initializers._sampling" in [
        m for _, m in _imports(PKG / "initializers" / "sampling.py")
    ]


@pytest.mark.parametrize(
    "rule",
    ["flax", "order", "cli", "private"],
    ids=[
        "initializers and theory import no Flax",
        "a layer imports only the layers before it (models never imports sweeps)",
        "nothing imports a CLI module",
        "no cross-package private imports",
    ],
)
def test_layering_rule(rule, violations):
    assert not violations[rule], "\n".join(violations[rule])


def test_a_violation_would_be_caught(tmp_path):
    # Negative control, on a copy of the layout: a model module importing sweeps and Flax in
    # theory are fine / not fine as the rules say; a script importing a private module and a
    # library module importing a CLI are reported.
    (tmp_path / "initjax" / "models").mkdir(parents=True)
    (tmp_path / "initjax" / "theory").mkdir()
    (tmp_path / "scripts").mkdir()
    probes = {
        "initjax/models/probe.py": "from initjax.sweeps import runner\n",
        "initjax/theory/probe.py": "import flax.linen as nn\n",
        "scripts/probe.py": "from initjax.models import _params\nfrom initjax.measure import cli\n",
    }
    for rel, text in probes.items():
        (tmp_path / rel).write_text(text)
    v = _violations([tmp_path / rel for rel in probes], tmp_path)
    assert v["order"] == ["initjax/models/probe.py:1 imports initjax.sweeps.runner"]
    assert v["flax"] == ["initjax/theory/probe.py:1 imports flax.linen"]
    assert v["private"] == ["scripts/probe.py:1 imports initjax.models._params"]
    assert v["cli"] == ["scripts/probe.py:2 imports initjax.measure.cli"]
