"""Sweep: Transformer norm placement x depth x init recipe at initialization (no paper claim).

Run with ``initjax run examples/transformer_sweep.py --out runs/transformer_sweep``. Each arm is
one (recipe, norm placement) pair set through the arm's ``model_args`` (static fields of the
model family); the arms give no ``activation`` or ``init``, so each uses its recipe's own
per-role initializers and activation (initjax.models.transformer_recipes). Inputs: Gaussian
vectors of 64 features with pairwise cosine c0, cut into T = 16 tokens of 4 (``patch``). The
results table has one row per arm x depth x seed x layer, with columns ``recipe`` and ``norm``;
the verdict is the sweep's numerical health (initjax.sweeps.study).
"""

import ml_collections

from initjax.sweeps.study import default_analysis, evaluate, pieces, report  # noqa: F401

DESCRIPTION = "Transformer sweep: norm placement x depth x init recipe at initialization"


def arms(recipes, norms, **fields):
    """One arm per (recipe, norm): name "<recipe>-<norm>", the recipe's own inits."""
    return [dict(name=f"{r}-{n}", model_args=dict(recipe=r, norm=n, **fields))
            for r in recipes for n in norms]  # fmt: skip


RECIPES = ["flax", "torch", "gpt2", "bert", "vit", "tfixup", "deepnorm"]
PRESETS = {
    "tiny": {"widths": [8], "depths": [2, 3], "seeds": 2, "n_inputs": 2, "input_dim": 16,
             "arms": arms(["flax", "gpt2"], ["pre", "post"], patch=4, heads=2)},
    "full": {"widths": [256], "depths": [4, 16, 64, 256], "seeds": 64},
}  # fmt: skip


def get_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.preset = "default"
    c.compute = dict(
        kind="propagation", model="transformer", widths=[64], depths=[4, 16, 64], seeds=8,
        root_seed=0, inputs="gaussian", n_inputs=4, input_dim=64, c0=0.2, theory=False,
        metrics=["q", "token_cos", "erank", "attn"],
        arms=arms(RECIPES, ["pre", "post", "none"], patch=4, heads=4),
    )  # fmt: skip
    c.analysis = default_analysis()
    return c
