"""Every named Transformer recipe draws each role with the variance its source states.

The expected variances are written here from the papers / reference code (not read from the
recipe table). The sample variance of n draws has standard error v sqrt((kappa - 1) / n) with
kurtosis kappa <= 3 for the normal, truncated-normal and uniform draws used, so |v_hat - v| <=
5 v sqrt(2 / n) is a 5-SE bound; means are checked to 5 sqrt(v / n).
"""

from __future__ import annotations

import math

import jax
import numpy as np
import pytest

from initjax.models import Transformer, stack_of
from initjax.models import transformer_recipes as recipes

D, F, L, V, T, P, C = 64, 256, 4, 64, 16, 8, 64
KEYS = 8

# Var[N(0,1) | |z| < 2] (TF's truncated_normal_initializer does not correct the std).
_PHI2 = math.exp(-2.0) / math.sqrt(2 * math.pi)
TRUNC2 = 1.0 - 4.0 * _PHI2 / math.erf(2 / math.sqrt(2))


def _expected(name: str) -> dict[str, float]:
    """Per-role variances from the sources (roles and '<role>.bias')."""
    if name == "flax":  # lecun_normal kernels, nn.Embed N(0, 1/d), zero biases
        return {
            "query": 1 / D,
            "key": 1 / D,
            "value": 1 / D,
            "out": 1 / D,
            "mlp_in": 1 / D,
            "mlp_out": 1 / F,
            "readout": 1 / D,
            "patch": 1 / P,
            "embed": 1 / D,
            "pos": 1 / D,
            "query.bias": 0.0,
            "mlp_out.bias": 0.0,
        }
    if name == "torch":  # xavier_uniform_ on the packed (3d, d) in_proj; nn.Linear elsewhere
        return {
            "query": 2 / (D + 3 * D),
            "key": 1 / (2 * D),
            "value": 1 / (2 * D),
            "out": 1 / (3 * D),
            "mlp_in": 1 / (3 * D),
            "mlp_out": 1 / (3 * F),
            "readout": 1 / (3 * D),
            "patch": 1 / (3 * P),
            "embed": 1.0,
            "pos": 1.0,
            "query.bias": 0.0,
            "out.bias": 0.0,
            "mlp_in.bias": 1 / (3 * D),
            "mlp_out.bias": 1 / (3 * F),
            "readout.bias": 1 / (3 * D),
            "patch.bias": 1 / (3 * P),
        }
    if name == "gpt2":  # N(0, 0.02^2); c_proj N(0, 0.02^2 / (2 n_layer))
        v = 0.02**2
        return {
            "query": v,
            "key": v,
            "value": v,
            "out": v / (2 * L),
            "mlp_in": v,
            "mlp_out": v / (2 * L),
            "readout": v,
            "patch": v,
            "embed": v,
            "pos": v,
            "out.bias": 0.0,
        }
    if name == "bert":
        v = 0.02**2 * TRUNC2
        return {
            r: v
            for r in (
                "query",
                "key",
                "value",
                "out",
                "mlp_in",
                "mlp_out",
                "readout",
                "patch",
                "embed",
                "pos",
            )
        } | {"mlp_in.bias": 0.0}
    if name == "vit":  # xavier_uniform (flattened (d, d) attention kernels), MLP bias std 1e-6
        return {
            "query": 1 / D,
            "key": 1 / D,
            "value": 1 / D,
            "out": 1 / D,
            "mlp_in": 2 / (D + F),
            "mlp_out": 2 / (D + F),
            "mlp_in.bias": 1e-12,
            "mlp_out.bias": 1e-12,
            "patch": 1 / P,
            "pos": 0.02**2,
            "readout": 0.0,
            "query.bias": 0.0,
        }
    if name == "tfixup":  # xavier; v, w, MLP x 0.67 N^-1/4; embeddings N(0, d^-1) x (9N)^-1/4
        # x sqrt(d): layer6ai-labs/T-Fixup (fairseq) multiplies the embedding lookup by
        # embed_scale = sqrt(d) in the forward pass; this model folds it into the draw.
        s = 0.67**2 / math.sqrt(L)
        e = 1 / math.sqrt(9 * L)
        return {
            "query": 1 / D,
            "key": 1 / D,
            "value": s / D,
            "out": s / D,
            "mlp_in": s * 2 / (D + F),
            "mlp_out": s * 2 / (D + F),
            "embed": e / D * D,
            "patch": e * 2 / (P + D),
            "pos": 1 / D,
            "readout": 1 / D,
        }
    if name == "deepnorm":  # xavier_normal, gain beta = (8N)^-1/4 on v, out, ffn
        b2 = 1 / math.sqrt(8 * L)
        return {
            "query": 1 / D,
            "key": 1 / D,
            "value": b2 / D,
            "out": b2 / D,
            "mlp_in": b2 * 2 / (D + F),
            "mlp_out": b2 * 2 / (D + F),
            "embed": 1 / D,
            "pos": 1 / D,
            "readout": 1 / D,
            "patch": 2 / (P + D),
        }
    raise KeyError(name)  # pragma: no cover


_PATHS = {
    "embed": ("input", "embed"),
    "pos": ("input", "pos"),
    "patch": ("input", "patch", "kernel"),
    "query": ("hidden", "attn", "query", "kernel"),
    "key": ("hidden", "attn", "key", "kernel"),
    "value": ("hidden", "attn", "value", "kernel"),
    "out": ("hidden", "attn", "out", "kernel"),
    "mlp_in": ("hidden", "mlp", "in", "kernel"),
    "mlp_out": ("hidden", "mlp", "out", "kernel"),
    "readout": ("readout", "dense", "kernel"),
}


def _samples(name: str) -> dict[str, np.ndarray]:
    """Draws of every role (and bias) over KEYS independent keys, eagerly (no compilation)."""
    tok = stack_of(Transformer(width=D, depth=L, heads=4, recipe=name, vocab=V, readout=C))
    pat = stack_of(Transformer(width=D, depth=L, heads=4, recipe=name, patch=P, readout=C))
    out: dict[str, list] = {}
    for i in range(KEYS):
        k = jax.random.key(100 + i)
        groups = {
            "input": {**tok.input_init(k, (T,), None, 0.0),
                      **pat.input_init(k, (T * P,), None, 0.0)},
            "hidden": tok.layer_init(k, None, 0.0),
            "readout": tok.readout_init(k, None, 0.0),
        }  # fmt: skip
        for role, path in _PATHS.items():
            node = groups[path[0]]
            for part in path[1:]:
                node = node[part]
            out.setdefault(role, []).append(np.asarray(node).ravel())
            if path[-1] == "kernel":
                bias = groups[path[0]]
                for part in path[1:-1]:
                    bias = bias[part]
                out.setdefault(role + ".bias", []).append(np.asarray(bias["bias"]).ravel())
    return {r: np.concatenate(v).astype(np.float64) for r, v in out.items()}


@pytest.fixture(scope="module", params=recipes.names())
def drawn(request):
    return request.param, _samples(request.param)


def _within(x: np.ndarray, v: float, z: float = 5.0) -> bool:
    n = x.size
    if v == 0.0:
        return bool(np.all(x == 0.0))
    ok_var = abs(np.var(x) - v) <= z * v * math.sqrt(2.0 / n)
    ok_mean = abs(np.mean(x)) <= z * math.sqrt(v / n)
    return bool(ok_var and ok_mean)


def test_recipe_role_variances_match_their_sources(drawn):
    name, samples = drawn
    expected = _expected(name)
    for role, v in expected.items():
        x = samples[role]
        assert _within(x, v), (name, role, float(np.var(x)), v, x.size)
    # Biases not listed are 0 at the default sigma_b2 = 0 unless the source says otherwise.
    for role, x in samples.items():
        if role.endswith(".bias") and role not in expected and name not in ("torch", "vit"):
            assert np.all(x == 0.0), (name, role)


def test_the_variance_check_rejects_a_wrong_formula():
    # Negative control: GPT-2's c_proj drawn at 0.02^2 / (2L) must fail a plain 0.02^2 claim,
    # and the torch in-projection (1/(2d)) must fail xavier on a square (d, d) kernel (1/d).
    s = _samples("gpt2")
    assert _within(s["out"], 0.02**2 / (2 * L)) and not _within(s["out"], 0.02**2)
    t = _samples("torch")
    assert not _within(t["query"], 1 / D)


def test_tfixup_token_table_carries_fairseq_embed_scale():
    # The reference code draws N(0, 1/d) and multiplies the lookup by sqrt(d) before the first
    # block, so the stream sees tokens of variance (9L)^(-1/2); the paper's table without that
    # forward multiplier ((9L)^(-1/2) / d, d = 64 times smaller) must be rejected.
    e = _samples("tfixup")["embed"]
    assert _within(e, 1 / math.sqrt(9 * L))
    assert not _within(e, 1 / math.sqrt(9 * L) / D)


@pytest.mark.parametrize(
    "name,norm,eps,skip",
    [
        ("flax", "pre", 1e-6, 1.0),
        ("torch", "post", 1e-5, 1.0),
        ("gpt2", "pre", 1e-5, 1.0),
        ("bert", "post", 1e-12, 1.0),
        ("vit", "pre", 1e-6, 1.0),
        ("tfixup", "none", 1e-5, 1.0),
        ("deepnorm", "post", 1e-5, (2 * L) ** 0.25),
    ],
)
def test_recipe_architecture_defaults(name, norm, eps, skip):
    st = stack_of(Transformer(width=D, depth=L, heads=4, recipe=name))
    assert (st.norm, st.norm_eps) == (norm, eps)
    assert st.skip_scale == pytest.approx(skip)
    r = recipes.get(name)
    assert r.reference and r.description


def test_sigma_w2_rescales_dense_kernels_keeping_the_recipe_multiplier():
    st = stack_of(Transformer(width=D, depth=L, heads=4, recipe="gpt2", sigma_w2=2.0))
    p = st.layer_init(jax.random.key(7), 2.0, 0.0)
    q = np.asarray(p["attn"]["query"]["kernel"], np.float64).ravel()
    o = np.asarray(p["attn"]["out"]["kernel"], np.float64).ravel()
    assert _within(q, 2.0 / D)
    assert _within(o, 2.0 / D / (2 * L))


def test_unknown_recipe_lists_the_names():
    with pytest.raises(ValueError, match="Transformer recipes: bert, deepnorm, flax"):
        recipes.get("nope")
