"""Depth sweep: signal (q^l) and correlation (c^l) propagation through deep tanh and ReLU nets vs
mean-field theory, on MNIST-1D inputs (Poole et al. 2016; Schoenholz et al. 2017, Figs. 1-2).

Arms: tanh at sigma_b2 = 0.05 across the order-chaos transition (critical sigma_w2 ~ 1.76);
ReLU with He (sigma_w2 = 2, critical) and Glorot (sigma_w2 = 1, q halves per layer) init; zero init
as the baseline that never breaks symmetry. Outputs: results.parquet, figure_q.png, figure_c.png,
figure_xi.png and summary.md with the fitted xi_c next to theory per sigma_w2.
"""

from __future__ import annotations

import ml_collections

DESCRIPTION = "q^l and c^l through deep tanh/ReLU nets vs mean-field theory on MNIST-1D (main job)"

TANH_SIGMA_W2 = [1.0, 1.25, 1.5, 1.6, 1.7, 1.76, 1.85, 2.0, 2.25, 2.5, 3.0, 3.5, 4.0]

PRESETS = {
    # Sized for one accelerator: wide, very deep, many seeds.
    "full": {"widths": [1024], "depths": [1000], "seeds": 128, "n_inputs": 16},
    # Seconds, for the test suite.
    "tiny": {"widths": [32], "depths": [12], "seeds": 3, "n_inputs": 3},
}


def get_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.kind = "propagation"
    c.preset = "default"
    c.model = "mlp"
    c.widths = [512]
    c.depths = [200]
    c.seeds = 16
    c.root_seed = 0
    c.inputs = "mnist1d"  # or "gaussian" (then input_dim and c0 apply)
    c.n_inputs = 8  # inputs from 8 different classes: c^0 from real between-class pairs
    c.input_dim = 40
    c.c0 = 0.5
    c.metrics = ["q", "c"]
    c.theory = True
    gaussian = {"distribution": "normal"}  # mean-field theory assumes Gaussian weights
    c.arms = [
        dict(
            name="tanh",
            activation="tanh",
            init="variance_scaling",
            init_hparams=gaussian,
            sigma_w2=list(TANH_SIGMA_W2),
            sigma_b2=[0.05],
        ),
        dict(name="relu-he", activation="relu", init="he_normal", sigma_w2=None, sigma_b2=[0.0]),
        dict(
            name="relu-glorot",
            activation="relu",
            init="glorot_normal",
            sigma_w2=None,
            sigma_b2=[0.0],
        ),
        dict(name="tanh-zero", activation="tanh", init="zeros", sigma_w2=None, sigma_b2=[0.05]),
    ]
    return c


def analyze(run_dir, table, config) -> None:
    """Figures and summary.md from the results table (also used by `initjax plot`)."""
    from initjax.sweeps.analysis import depth_sweep_report

    depth_sweep_report(run_dir, table, config)
