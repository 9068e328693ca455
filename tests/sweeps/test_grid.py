import copy

import numpy as np
import pytest

from initjax.sweeps.config import load_experiment
from initjax.sweeps.grid import GRID_AXES, expand, validate


@pytest.fixture
def config(tiny_experiments):
    return load_experiment("tiny-sweep").get_config().to_dict()["compute"]


def test_expand_groups_by_compiled_shape(config):
    config["widths"] = [8, 16]
    groups = expand(config)
    # 2 widths x 2 depths x 1 arm, each with the 3 sigma_w2 x 1 sigma_b2 cells inside
    assert [(g.width, g.depth) for g in groups] == [(8, 3), (8, 5), (16, 3), (16, 5)]
    assert all(g.n_cells == 3 and g.sigma_w2 == (0.5, 1.0, 2.5) for g in groups)
    assert len({g.label for g in groups}) == 4


def test_group_spec_is_stable_and_holds_its_slice_of_the_axes(config):
    a = expand(config)
    assert [g.spec() for g in a] == [g.spec() for g in expand(copy.deepcopy(config))]
    spec = a[0].spec()
    # everything a group takes from the grid axes is in its spec
    assert (spec["width"], spec["depth"], spec["arm"], spec["sigma_w2"]) == (
        8,
        3,
        "tanh",
        (0.5, 1.0, 2.5),
    )
    assert GRID_AXES == ("widths", "depths", "arms")


def test_arm_own_widths_depths_and_metrics(config):
    config["arms"].append(
        dict(
            name="crit",
            activation="tanh",
            init="variance_scaling",
            sigma_w2=[1.7],
            sigma_b2=[0.05],
            widths=[4, 8],
            depths=[5],
            metrics=["q", "grad_sq"],
        )
    )
    validate(config, metric_names=("q", "c", "grad_sq"))
    groups = [(g.width, g.depth, g.arm, g.metrics) for g in expand(config)]
    assert groups == [
        (8, 3, "tanh", ()),
        (8, 5, "tanh", ()),
        (8, 5, "crit", ("q", "grad_sq")),
        (4, 5, "crit", ("q", "grad_sq")),
    ]


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
        (lambda c: c["arms"][0].update(widths=[0]), r"'arms\[0\].widths'"),
        (lambda c: c["arms"][0].update(metrics=["x"]), r"'arms\[0\].metrics'.*unknown"),
    ],
)
def test_bad_config_names_the_key(config, mutate, match):
    mutate(config)
    with pytest.raises(ValueError, match=match):
        validate(config, metric_names=("q", "c"))


def _transformer(**arm):
    return dict(kind="propagation", model="transformer", widths=[8], depths=[2], seeds=2,
                inputs="gaussian", n_inputs=2, input_dim=8, metrics=["q"],
                arms=[dict(name="a", model_args=dict(patch=4, heads=2), **arm)])  # fmt: skip


def test_model_args_reach_the_group_spec_and_the_model():
    from initjax.sweeps.runner import build_model, effective_sigma_w2

    c = _transformer()
    c["arms"][0]["model_args"].update(recipe="gpt2", norm="post")
    validate(c, metric_names=("q",))
    (g,) = expand(c)
    assert g.spec()["model_args"] == {"heads": 2, "norm": "post", "patch": 4, "recipe": "gpt2"}
    assert (g.activation, g.init) == (None, None)  # the recipe's own
    st = build_model(g).stack()
    assert st.norm == "post" and st.heads == 2 and st.patch == 4
    assert dict(st.inits)["out"].multiplier == pytest.approx((2 * 2) ** -0.5)  # gpt2, L = 2
    assert np.isnan(effective_sigma_w2(g))  # per-role inits: no single sigma_w2


def test_arms_without_model_args_keep_their_spec(config):
    # A sweep written before model_args existed keeps its piece identities (no new spec key).
    assert "model_args" not in expand(config)[0].spec()


@pytest.mark.parametrize(
    "args,match",
    [
        ({"nrom": "post"}, r"'arms\[0\].model_args'.*unknown or grid-set field 'nrom'.*norm"),
        ({"depth": 3}, r"'arms\[0\].model_args'.*grid-set field 'depth'"),
        ({"kernel_init": "zeros"}, r"grid-set field 'kernel_init'"),
        ({"norm": "middle"}, r"'arms\[0\].model_args'.*norm"),
        ({"recipe": "gtp2"}, r"'arms\[0\].model_args'.*gpt2"),
        ({"norm": ["pre"]}, r"'arms\[0\].model_args.norm'.*number, string"),
    ],
)
def test_bad_model_args_name_the_key_and_the_allowed_fields(args, match):
    c = _transformer()
    c["arms"][0]["model_args"].update(args)
    with pytest.raises(ValueError, match=match):
        validate(c, metric_names=("q",))
    c["arms"][0]["model_args"] = ["norm"]
    with pytest.raises(ValueError, match=r"'arms\[0\].model_args'.*dict"):
        validate(c, metric_names=("q",))
