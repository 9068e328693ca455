"""The generic registry: names, aliases, normalization, metadata, close-name errors, imports."""

from __future__ import annotations

import sys
import textwrap

import pytest

from initjax import _registry
from initjax._registry import Registry, import_module, import_object


def _reg(**kw) -> Registry:
    r = Registry("widget", normalize=lambda n: n.strip().lower(), **kw)
    r.register("alpha", 1, aliases=("a",), colour="red")
    r.register("beta", 2)

    @r.register("gamma", aliases=["g", "gam"])
    def gamma():
        return 3

    return r


def test_lookup_aliases_normalization_and_metadata():
    r = _reg()
    assert r.get("alpha") == 1 and r.get(" A ") == 1 and r.get("ALPHA") == 1
    assert r.get("gam")() == 3  # the decorator returned and registered the function
    assert r.canonical("g") == "gamma"
    assert r.names() == ["alpha", "beta", "gamma"]
    assert r.aliases() == {"a": "alpha", "g": "gamma", "gam": "gamma"}
    assert dict(r.metadata("a")) == {"colour": "red"}
    with pytest.raises(TypeError):
        r.metadata("alpha")["colour"] = "blue"  # read-only
    assert "Beta" in r and "a" in r and "delta" not in r and 3 not in r
    assert len(r) == 3 and list(r) == r.names()
    assert r.find(2) == "beta" and r.find(object()) is None


def test_registration_order_when_not_sorted():
    r = Registry("widget", sort=False)
    for n in ("z", "b", "m"):
        r.register(n, n)
    assert r.names() == ["z", "b", "m"]
    assert [rec.name for rec in r.records()] == ["z", "b", "m"]


def test_unknown_name_suggests_and_lists():
    r = _reg(hint="See `widgets list`.")
    with pytest.raises(ValueError) as info:
        r.get("alpah")
    msg = str(info.value)
    assert msg.startswith("unknown widget 'alpah'. Did you mean 'alpha'?")
    assert "Registered widgets: alpha, beta, gamma." in msg and msg.endswith("See `widgets list`.")
    with pytest.raises(ValueError, match="unknown widget 'zzz'. Registered widgets"):
        r.get("zzz")  # nothing close: no suggestion
    with pytest.raises(TypeError, match="widget name must be a string, got int"):
        r.get(3)


def test_duplicates_replace_and_unregister():
    r = _reg()
    with pytest.raises(ValueError, match="widget 'alpha' is already registered"):
        r.register("alpha", 5)
    with pytest.raises(ValueError, match="widget 'a' is already registered"):
        r.register("delta", 5, aliases=("A",))  # alias clash after normalization
    r.register("beta", 2)  # the same object again: a no-op (a module imported twice)
    r.register("alpha", 10, replace=True)
    assert r.get("alpha") == 10 and "a" not in r  # the replaced entry's aliases went with it
    r.unregister("g")
    assert "gamma" not in r and "gam" not in r
    with pytest.raises(TypeError, match="non-empty string"):
        r.register("", 1)
    with pytest.raises(TypeError, match="alias must be a non-empty string"):
        r.register("eps", 1, aliases=(None,))
    with pytest.raises(ValueError, match="aliases repeat"):
        r.register("eps", 1, aliases=("e", "e"))


def test_import_object_from_module_and_file(tmp_path):
    assert import_object("initjax._registry:Registry") is Registry
    assert import_object("initjax._registry:Registry.names") is Registry.names
    f = tmp_path / "my_things.py"
    f.write_text(
        textwrap.dedent("""
        COUNT = []
        COUNT.append(1)
        def thing():
            return 42
    """)
    )
    mod = import_module(str(f))
    assert import_module(str(f)) is mod and mod.COUNT == [1]  # imported once per path
    assert import_object(f"{f}:thing")() == 42
    assert mod.__name__ in sys.modules


@pytest.mark.parametrize(
    "spec,match",
    [
        ("no_colon", "expected 'package.module:attribute'"),
        (":thing", "expected"),
        ("initjax._registry:", "expected"),
        ("not_a_module_xyz:f", "cannot import 'not_a_module_xyz'.*installed"),
        ("initjax._registry:nothing_here", "has no attribute 'nothing_here'.*Registry"),
        ("/nonexistent/file.py:f", "no such .py file"),
    ],
)
def test_import_object_errors(spec, match):
    with pytest.raises(ValueError, match=match):
        import_object(spec)


def test_import_errors_in_user_code_are_named(tmp_path):
    f = tmp_path / "broken.py"
    f.write_text("raise RuntimeError('boom')\n")
    with pytest.raises(ValueError, match=r"cannot import .*broken.py.*RuntimeError: boom"):
        import_module(str(f))
    # A failed import leaves nothing half-registered in sys.modules.
    assert not [m for m in sys.modules if m.startswith("initjax_user_broken_")]
    assert _registry._is_path(str(f))
