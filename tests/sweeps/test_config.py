import sys
import textwrap
from pathlib import Path

import pytest

from initjax.cli import main
from initjax.sweeps.config import (
    describe,
    experiments_dir,
    list_experiments,
    load_experiment,
    parse_override,
    resolve_config,
)

ROOT = Path(__file__).resolve().parents[2]


def test_list_and_load(tiny_experiments):
    known = list_experiments()
    # the user's folder first, then the experiments shipped with initjax
    assert list(known)[:2] == ["tiny-sweep", "toy"] and "depth-sweep" in known
    assert list(list_experiments(tiny_experiments)) == ["tiny-sweep", "toy"]
    exp = load_experiment("tiny-sweep")
    assert exp.description == "tiny propagation sweep for tests"
    assert load_experiment("tiny_sweep").name == "tiny-sweep"
    assert load_experiment(str(tiny_experiments / "tiny_sweep.py")).name == "tiny-sweep"
    toy = load_experiment("toy")
    assert toy.title == "toy" and toy.paper == "none"
    with pytest.raises(ValueError, match="does not exist"):
        load_experiment(str(tiny_experiments / "nope.py"))


def test_an_experiment_of_the_earlier_flat_form_is_refused_naming_what_it_lacks(tmp_path):
    from tests.sweeps.conftest import FLAT

    f = tmp_path / "flat.py"
    f.write_text(textwrap.dedent(FLAT))
    with pytest.raises(ValueError, match="experiment protocol") as err:
        load_experiment(str(f))
    assert "lacks pieces(), evaluate(), report()." in str(err.value)


def test_shipped_experiments_folder_is_the_repository_one():
    assert experiments_dir() == ROOT / "experiments"
    assert (experiments_dir() / "depth_sweep.py").is_file()


def test_listing_reads_descriptions_without_importing(tmp_path, monkeypatch, capsys):
    (tmp_path / "boom.py").write_text(
        textwrap.dedent(
            '''
            """Docstring line."""
            raise RuntimeError("imported!")
            DESCRIPTION = (
                "a description "
                "in two literals"
            )
            '''
        )
    )
    (tmp_path / "doc_only.py").write_text(
        '"""Only a docstring.\n\nMore."""\nimport nonexistent_mod\n'
    )
    (tmp_path / "_private.py").write_text("")
    monkeypatch.setenv("INITJAX_EXPERIMENTS", str(tmp_path))
    assert describe(tmp_path / "boom.py") == "a description in two literals"
    assert describe(tmp_path / "doc_only.py") == "Only a docstring."
    assert list(list_experiments(tmp_path)) == ["boom", "doc-only"]
    # The CLI listing imports no experiment module: any loaded earlier in this process are
    # taken out of sys.modules first (restored afterwards), so an import would show up.
    for name in [m for m in sys.modules if m.startswith("initjax_experiment")]:
        monkeypatch.delitem(sys.modules, name)
    assert main(["run", "--list"]) == 0
    out = capsys.readouterr().out
    assert "boom" in out and "a description in two literals" in out and "depth-sweep" in out
    assert [m for m in sys.modules if m.startswith("initjax_experiment")] == []


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
        ("analysis.z_max=3", ("analysis.z_max", 3)),
    ],
)
def test_parse_override(item, expected):
    assert parse_override(item) == expected


def test_resolve_overrides_and_presets(tiny_experiments):
    exp = load_experiment("tiny-sweep")
    c = resolve_config(exp, ["seeds=7", "widths=[32]", "depths=4"])
    c = c.compute
    assert (c.seeds, list(c.widths), list(c.depths)) == (7, [32], [4])
    # preset first, then the other overrides, whatever their order on the command line
    c = resolve_config(exp, ["seeds=9", "preset=bigger"])
    assert (list(c.compute.widths), c.compute.seeds, c.preset) == ([16, 32], 9, "bigger")


def test_leaf_names_and_dotted_paths(tiny_experiments):
    exp = load_experiment("toy")
    c = resolve_config(exp, ["seeds=5", "analysis.z_max=2", "expected=0.5"])
    assert (c.compute.seeds, c.analysis.z_max, c.analysis.expected) == (5, 2.0, 0.5)
    c = resolve_config(exp, ["compute.scale=3"])
    assert c.compute.scale == 3.0 and isinstance(c.compute.scale, float)
    # presets resolve the same way (leaf names and dotted paths)
    c = resolve_config(exp, ["preset=full"])
    assert (c.compute.seeds, c.analysis.z_max, c.preset) == (64, 4.0, "full")


def test_ambiguous_leaf_is_an_error(tiny_experiments, tmp_path):
    (tmp_path / "amb.py").write_text(
        "import ml_collections\n"
        "from initjax.sweeps.study import evaluate, pieces, report\n"
        "def get_config():\n"
        "    return ml_collections.ConfigDict(dict(preset='default', compute=dict(n=1),"
        " analysis=dict(n=2)))\n"
    )
    exp = load_experiment(str(tmp_path / "amb.py"))
    with pytest.raises(ValueError, match="'n' is ambiguous: it names analysis.n, compute.n"):
        resolve_config(exp, ["n=3"])
    assert resolve_config(exp, ["analysis.n=3"]).analysis.n == 3


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


def test_group_key_cannot_be_set_to_a_leaf(tiny_experiments):
    with pytest.raises(ValueError, match="'analysis' is a group of keys"):
        resolve_config(load_experiment("toy"), ["analysis=3"])


def test_experiment_config_and_config_key_checks():
    import numpy as np

    from initjax.sweeps.config import config_ints, config_pair, experiment_config

    c = experiment_config()
    assert c.to_dict() == {"preset": "default"}
    assert config_ints([2, 4.0, np.int64(8)], "depths") == [2, 4, 8]
    assert config_pair([1000, 250], "widths") == (1000, 250)  # config order kept
    for bad in ([], [0, 2], [2.5], ["3"], [True], [float("nan")], "12", None):
        with pytest.raises(ValueError, match="'depths'"):
            config_ints(bad, "depths")
    with pytest.raises(ValueError, match=">= 2"):
        config_ints([1, 2], "b_depths", minimum=2)
    for bad in ([64], [64, 64], [64, 128, 256], [0, 4]):
        with pytest.raises(ValueError, match="'prop_channels': .*two different channel counts"):
            config_pair(bad, "prop_channels", "channel counts")


def test_config_floats_checks_each_value_against_its_interval():
    import numpy as np

    from initjax.sweeps.config import config_floats

    assert config_floats(0.5, "q_star", low=0.0, high=10.0, low_open=True) == [0.5]
    vals = config_floats([1, 0.9, np.float32(0.5)], "keep_probs", low=0.0, high=1.0)
    assert vals == [1.0, 0.9, 0.5] and all(type(v) is float for v in vals)
    assert config_floats([-3.0], "c", high=0.0) == [-3.0]  # low None: unbounded below
    bounds = dict(low=0.0, high=1.0, low_open=True)  # (0, 1]
    for bad in ([0.0], [1.5], [], [True], ["0.5"], [float("nan")], "0.5", None, [0.5, 2.0]):
        with pytest.raises(ValueError, match=r"'keep_probs': numbers in \(0, 1\]"):
            config_floats(bad, "keep_probs", **bounds)
    assert config_floats([1.0], "keep_probs", **bounds) == [1.0]  # closed at 1
    with pytest.raises(ValueError, match=r"'c0s': numbers in \[0, 1\)"):
        config_floats([1.0], "c0s", low=0.0, high=1.0, high_open=True)
    with pytest.raises(ValueError, match=r"numbers in \(-inf, inf\)"):
        config_floats([float("inf")], "x")
