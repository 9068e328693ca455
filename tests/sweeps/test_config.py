import pytest

from initjax.sweeps.config import list_experiments, load_experiment, parse_override, resolve_config


def test_list_and_load(tiny_experiments):
    assert list(list_experiments()) == ["tiny-sweep"]
    exp = load_experiment("tiny-sweep")
    assert exp.description == "tiny propagation sweep for tests"
    assert load_experiment("tiny_sweep").name == "tiny-sweep"
    assert load_experiment(str(tiny_experiments / "tiny_sweep.py")).name == "tiny-sweep"


def test_unknown_experiment_suggests_closest(tiny_experiments):
    with pytest.raises(ValueError, match="Did you mean tiny-sweep"):
        load_experiment("tiny-swep")


@pytest.mark.parametrize(
    "item,expected",
    [
        ("seeds=64", ("seeds", 64)),
        ("widths=[256,1024]", ("widths", [256, 1024])),
        ("inputs=mnist1d", ("inputs", "mnist1d")),
        ("c0=0.25", ("c0", 0.25)),
        ("theory=False", ("theory", False)),
    ],
)
def test_parse_override(item, expected):
    assert parse_override(item) == expected


def test_resolve_overrides_and_presets(tiny_experiments):
    exp = load_experiment("tiny-sweep")
    c = resolve_config(exp, ["seeds=7", "widths=[32]", "depths=4"])
    assert (c.seeds, list(c.widths), list(c.depths)) == (7, [32], [4])
    # preset first, then the other overrides, whatever their order on the command line
    c = resolve_config(exp, ["seeds=9", "preset=bigger"])
    assert (list(c.widths), c.seeds, c.preset) == ([16, 32], 9, "bigger")


@pytest.mark.parametrize(
    "override,match",
    [
        ("seed=3", "'seed' does not exist.*Did you mean seeds"),
        ("seeds=abc", "'seeds' expects a number"),
        ("theory=3", "'theory' expects true/false"),
        ("preset=huge", "unknown preset 'huge'.*bigger"),
        ("noequals", "KEY=VALUE"),
    ],
)
def test_bad_overrides_name_the_key(tiny_experiments, override, match):
    with pytest.raises(ValueError, match=match):
        resolve_config(load_experiment("tiny-sweep"), [override])
