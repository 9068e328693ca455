import textwrap

import pytest

# A grid sweep of the protocol without a paper claim: compute is a grid config, and the study's
# pieces, evaluate and report (numerical health) do the rest.
TINY = '''
"""Tiny test sweep."""
import ml_collections

from initjax.sweeps.study import default_analysis, evaluate, pieces, report  # noqa: F401

DESCRIPTION = "tiny propagation sweep for tests"
PRESETS = {"bigger": {"widths": [16, 32], "seeds": 3}}


def get_config():
    c = ml_collections.ConfigDict()
    c.preset = "default"
    c.compute = dict(
        kind="propagation", model="mlp", widths=[8], depths=[3, 5], seeds=4, root_seed=0,
        inputs="gaussian", n_inputs=2, input_dim=12, c0=0.5, metrics=["q", "c"], theory=True,
        arms=[
            dict(name="tanh", activation="tanh", init="variance_scaling",
                 init_hparams={"distribution": "normal"}, sigma_w2=[0.5, 1.0, 2.5],
                 sigma_b2=[0.05]),
        ],
    )
    c.analysis = default_analysis()
    return c
'''

# An experiment of the earlier flat form (no pieces / evaluate / report): refused when loaded.
FLAT = '''
"""An experiment of the earlier flat form."""
import ml_collections

DESCRIPTION = "flat config, own analysis"


def get_config():
    return ml_collections.ConfigDict({"widths": [8], "seeds": 2})


def analyze(run_dir, table, config):
    pass
'''

# An experiment of the protocol whose pieces are cheap numpy draws (no jax): the run loop's
# behaviour (resume, checksums, config changes) is tested on it in milliseconds. Each piece
# appends its label to $TOY_CALLS so a test can see exactly which pieces were computed, and
# sleeps $TOY_SLEEP seconds (for kill tests).
TOY = '''
"""Toy experiment of the protocol."""
import os
import time

import ml_collections
import numpy as np
import pandas as pd

from initjax.sweeps.runtime import Piece
from initjax.sweeps.stats import deviation
from initjax.sweeps.summary import Verdict

DESCRIPTION = "toy experiment of the protocol (numpy pieces)"
TITLE = "toy"
PAPER = "none"
PRESETS = {"tiny": {"seeds": 3}, "full": {"seeds": 64, "analysis.z_max": 4.0}}


def get_config():
    c = ml_collections.ConfigDict()
    c.preset = "default"
    c.compute = dict(means=[0.0, 1.0, 2.0], seeds=8, scale=1.0)
    c.analysis = dict(z_max=3.0, expected=1.0)
    return c


def _draw(mean, seeds, scale):
    calls = os.environ.get("TOY_CALLS")
    if calls:
        with open(calls, "a") as f:
            f.write(f"mean={mean}\\n")
    time.sleep(float(os.environ.get("TOY_SLEEP", "0")))
    rng = np.random.default_rng(int(1000 * mean) + seeds)
    return pd.DataFrame({"mean": mean, "seed": np.arange(seeds),
                         "x": mean + scale * rng.standard_normal(seeds)})


def pieces(compute):
    return [
        Piece(f"mean={m}", lambda m=m: _draw(m, compute.seeds, compute.scale), {"mean": m},
              axes=("means",))
        for m in compute.means
    ]


def evaluate(table, config):
    x = table.loc[table["mean"] == 1.0, "x"]
    se = x.std(ddof=1) / np.sqrt(len(x))
    check = deviation("mean of the middle piece", x.mean(), config.analysis.expected, se,
                      config.analysis.z_max)
    return Verdict.from_checks("the middle piece's mean is 1 within z_max SE", [check],
                               reason=f"mean {x.mean():.3f} +- {se:.3f}",
                               not_reproduced=["nothing else"])


def report(table, config, ctx):
    import matplotlib.pyplot as plt

    from initjax.plots import savefig

    s = ctx.summary(f"{len(table)} rows")
    fig, ax = plt.subplots()
    ax.plot(table["x"])
    s.figure(savefig(fig, ctx.path("figure_x.png")), "all draws")
    s.table(table.groupby("mean")["x"].mean().reset_index(), "means")
    return s
'''


@pytest.fixture
def tiny_experiments(tmp_path, monkeypatch):
    """A folder with the tiny grid sweep and the toy protocol experiment, searched first."""
    folder = tmp_path / "experiments"
    folder.mkdir()
    (folder / "tiny_sweep.py").write_text(textwrap.dedent(TINY))
    (folder / "toy.py").write_text(textwrap.dedent(TOY))
    monkeypatch.setenv("INITJAX_EXPERIMENTS", str(folder))
    return folder
