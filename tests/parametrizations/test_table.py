"""The parametrization tables: registry, SP at the base shape, and muP against TP5's Table 3."""

from __future__ import annotations

import math

import pytest

from initjax import models
from initjax import parametrizations as P
from initjax.parametrizations import ONE, Parametrization, Rule, Scaling


def test_builtins_registered_with_aliases():
    assert P.names()[:5] == ["sp", "ntk", "mup", "depth_mup", "completep"]
    assert P.get("depth-mup") is P.DEPTH_MUP and P.get("standard") is P.SP
    assert P.get(P.MUP) is P.MUP
    with pytest.raises(ValueError, match=r"parametrization: unknown parametrization 'mpu'.*mup"):
        P.get("mpu")
    with pytest.raises(TypeError, match="name or a Parametrization"):
        P.get(3)


def test_scaling_arithmetic_and_text():
    s = Scaling(fan_in=-1.0, depth=-0.5)
    assert s(4.0, 9.0, 16.0) == 0.25 * 0.25
    assert str(s) == "m_in^-1 m_L^-1/2" and str(ONE) == "1"
    assert s * s.inverse == ONE and (s * Scaling(fan_out=2.0)).fan_out == 2.0
    assert Scaling(fan_in=1.0, depth=3.0).width_part == Scaling(fan_in=1.0)


def test_a_table_must_cover_every_role_class():
    with pytest.raises(ValueError, match=r"missing \['scalar'\]"):
        Parametrization(
            "bad", "", rules=tuple((c, Rule()) for c in P.ROLE_CLASSES if c != "scalar")
        )
    with pytest.raises(ValueError, match="attention_logits"):
        Parametrization("bad", "", rules=P.SP.rules, attention_logits="none")
    with pytest.raises(ValueError, match="cls must be one of"):
        P.MUP.replace_rule("output", Rule())
    wrong = P.MUP.replace_rule("readout", Rule(), name="mup_sp_readout")
    assert wrong.rule("readout") == Rule() and wrong.rule("hidden") == P.MUP.rule("hidden")
    assert P.role_class("attn_out") == "hidden" and P.role_class("norm_scale") == "vector"
    with pytest.raises(ValueError, match="role must be one of"):
        P.role_class("router")


def _example(name):
    fields = dict(models.metadata(name)["example"])
    fields.setdefault("readout", 3)
    return models.build(name, **fields)


@pytest.mark.parametrize("family", models.names())
@pytest.mark.parametrize("name", ["sp", "ntk", "mup", "depth_mup", "completep"])
def test_every_parametrization_is_sp_at_the_base_shape(family, name):
    """Every multiplier is exactly 1 when the model has its base width and depth: each
    parametrization reproduces SP (and the base learning rate) at the base shape."""
    m = _example(family)
    wf = models.metadata(family)["width_field"]
    p = P.get(name)
    residual = any(r.branch_output for r in _role_leaves(m))
    if p.uses_depth and not residual:
        with pytest.raises(ValueError, match="has none"):
            P.parametrize(m, p, base_width=getattr(m, wf), base_depth=m.depth)
        return
    pz = P.parametrize(m, p, base_width=getattr(m, wf), base_depth=m.depth)
    for lf in pz.leaves:
        nums = (lf.init_var, lf.multiplier, lf.lr_sgd, lf.lr_adam, lf.eps, lf.wd_sgd, lf.wd_adam)
        assert nums == (1.0,) * 7, (lf.name, nums)


def _role_leaves(m):
    import jax

    return jax.tree.leaves(
        models.stack_of(m).roles(), is_leaf=lambda x: isinstance(x, models.ParamRole)
    )


def test_mup_equals_tp5_table3_in_effective_terms():
    """TP5's Table 3 (no output multiplier) and Table 8 (the mup package's form) are one
    parametrization: W_eff = multiplier * W has init variance init_var * multiplier^2, moves by
    lr_sgd * multiplier^2 under SGD and lr_adam * multiplier under Adam. Table 3, relative to SP
    at width n with base b (k = n / b): input weights & biases var 1, SGD lr k (fan_out), Adam 1;
    hidden var 1, SGD 1, Adam 1/k; output weights var 1/k (1/fan_in^2 vs SP's 1/fan_in), SGD 1/k,
    Adam 1/k (Yang et al. 2022, Table 3)."""
    n, b = 512, 64
    k = n / b
    m = models.MLP(width=n, depth=2, readout=10)
    pz = P.parametrize(m, "mup", base_width=b, in_shape=(40,))
    table3 = {  # role class -> (var, SGD lr, Adam lr), relative to SP; biases: fan_out = n or 10
        "input": (1.0, k, 1.0),
        "hidden": (1.0, 1.0, 1.0 / k),
        "readout": (1.0 / k, 1.0 / k, 1.0 / k),
    }
    for lf in pz.leaves:
        mult2 = lf.multiplier**2
        got = (lf.init_var * mult2, lf.lr_sgd * mult2, lf.lr_adam * lf.multiplier)
        if lf.role == "bias":
            want = (1.0, lf.fan_out / (b if lf.fan_out == n else lf.fan_out), 1.0)
        else:
            want = table3[lf.role_class]
        assert all(math.isclose(g, w, rel_tol=1e-12) for g, w in zip(got, want, strict=True)), (
            lf.name,
            got,
            want,
        )


def test_depth_rules_follow_the_branch_multiplier():
    # Adam: per-block update lr * multiplier = m_L^(alpha-1) * m_L^-alpha = m_L^-1 for both
    # depth scalings (Dey et al. 2025, eq. for Delta h = Theta(1/L)); SGD: lr * multiplier^2.
    for p, alpha in ((P.DEPTH_MUP, 0.5), (P.COMPLETEP, 1.0)):
        r = p.rule_for("hidden", branch=True, branch_output=True)
        assert r.multiplier == Scaling(depth=-alpha)
        assert (r.lr_adam * r.multiplier).depth == -1.0
        assert (r.lr_sgd * r.multiplier * r.multiplier).depth == -1.0
        assert r.eps.depth == -alpha
        # Outside the branches nothing depends on depth.
        for cls in P.ROLE_CLASSES:
            assert p.rule_for(P.ROLE_CLASSES[cls][0]) == p.rule(cls)
    assert not P.MUP.uses_depth and P.MUP.uses_width and not P.SP.uses_width
