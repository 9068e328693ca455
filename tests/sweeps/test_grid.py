import copy

import pytest

from initjax.sweeps.config import load_experiment
from initjax.sweeps.grid import expand, validate


@pytest.fixture
def config(tiny_experiments):
    return load_experiment("tiny-sweep").get_config().to_dict()


def test_expand_groups_by_compiled_shape(config):
    config["widths"] = [8, 16]
    groups = expand(config, ("seeds",))
    # 2 widths x 2 depths x 1 arm, each with the 3 sigma_w2 x 1 sigma_b2 cells inside
    assert [(g.width, g.depth) for g in groups] == [(8, 3), (8, 5), (16, 3), (16, 5)]
    assert all(g.n_cells == 3 and g.sigma_w2 == (0.5, 1.0, 2.5) for g in groups)
    assert len({g.id for g in groups}) == 4


def test_group_id_is_stable_and_context_sensitive(config):
    a = expand(config, ("seeds",))
    assert [g.id for g in a] == [g.id for g in expand(copy.deepcopy(config), ("seeds",))]
    config["seeds"] = 5
    assert a[0].id != expand(config, ("seeds",))[0].id


@pytest.mark.parametrize(
    "mutate,match",
    [
        (lambda c: c.update(widths=[]), "'widths'"),
        (lambda c: c.update(widths=[0, 8]), "'widths'"),
        (lambda c: c.update(depths=[-1]), "'depths'"),
        (lambda c: c.update(seeds=0), "'seeds'"),
        (lambda c: c.update(model="no_such_model"), "'model'"),
        (lambda c: c.update(arms=[]), "'arms'"),
        (lambda c: c.pop("metrics"), "'metrics'"),
        (lambda c: c.update(metrics=["qq"]), "'metrics'.*unknown"),
        (lambda c: c["arms"][0].update(init="he_normall"), r"'arms\[0\].init'.*he_normal"),
        (lambda c: c["arms"][0].update(activation="tahn"), r"'arms\[0\].activation'.*tanh"),
        (lambda c: c["arms"][0].update(sigma_w2=[-1.0]), r"'arms\[0\].sigma_w2'"),
        (lambda c: c["arms"][0].update(sigma_b2=[]), r"'arms\[0\].sigma_b2'"),
        (lambda c: c["arms"][0].update(colour="red"), r"'arms\[0\]'.*unknown key"),
    ],
)
def test_bad_config_names_the_key(config, mutate, match):
    mutate(config)
    with pytest.raises(ValueError, match=match):
        validate(config, metric_names=("q", "c"))
