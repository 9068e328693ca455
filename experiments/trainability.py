"""Trainability heat map (Schoenholz et al. 2017, Fig. 5, scaled down): training accuracy of deep
tanh MLPs over depth x sigma_w2 at sigma_b2 = 0.05, with the theory boundary L = 6 xi_c.

Each (depth, sigma_w2) cell trains ``seeds`` networks with SGD on MNIST-1D (offline) for a fixed
budget. All sigma_w2 values and seeds of one depth train in one vmapped, compiled call.
summary.md reports the fraction of cells on the side of L = 6 xi_c that theory predicts.
"""

from __future__ import annotations

import ml_collections
import numpy as np

DESCRIPTION = "training accuracy over depth x sigma_w2 (tanh) vs the 6 xi_c boundary, MNIST-1D"

# Pass criterion: the share of (depth, sigma_w2) cells on the side of L = 6 xi_c theory predicts.
AGREEMENT = 0.7

PRESETS = {
    # One accelerator, close to the paper: wider, deeper, longer, the paper's dataset.
    "full": {
        "widths": [784],
        "depths": [10, 25, 50, 75, 100, 150, 200, 250, 300],
        "dataset": "mnist",
        "steps": 20000,
        "eval_every": 1000,
        "seeds": 4,
        "batch_size": 128,
        "learning_rate": [1e-3],
    },
    "tiny": {"widths": [16], "depths": [3, 12], "steps": 60, "eval_every": 30, "seeds": 1},
}


def get_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.kind = "training"
    c.preset = "default"
    c.model = "mlp"
    c.widths = [64]
    c.depths = [10, 20, 30, 45, 60, 80]
    c.seeds = 2
    c.root_seed = 0
    c.dataset = "mnist1d"
    c.n_train = None
    c.optimizer = "sgd"
    c.learning_rate = [0.01]
    c.steps = 1500
    c.batch_size = 64
    c.eval_every = 250
    c.eval_size = 1000
    c.arms = [
        dict(
            name="tanh",
            activation="tanh",
            init="variance_scaling",
            init_hparams={"distribution": "normal"},
            sigma_w2=[float(v) for v in np.round(np.linspace(1.0, 4.0, 12), 4)],
            sigma_b2=[0.05],
        )
    ]
    return c


def analyze(run_dir, table, config) -> None:
    """heatmap.png (accuracy over depth x sigma_w2 with 6 xi_c) and summary.md."""
    from pathlib import Path

    import matplotlib.pyplot as plt

    from initjax import theory
    from initjax.plots import savefig

    run_dir = Path(run_dir)
    final = table[table["final"]]
    acc = final.groupby(["depth", "sigma_w2"])["train_acc"].mean().unstack("sigma_w2")
    div = final.groupby(["depth", "sigma_w2"])["diverged"].mean().unstack("sigma_w2")
    depths, sws = acc.index.to_numpy(), acc.columns.to_numpy()
    sigma_b2 = float(final["sigma_b2"].iloc[0])
    n_classes = 10
    chance = 1.0 / n_classes
    best = float(np.nanmax(acc.to_numpy()))
    threshold = chance + 0.5 * (best - chance)

    grid = np.linspace(sws.min(), sws.max(), 400, dtype=np.float32)
    xi_grid = np.asarray(theory.analyse("tanh", grid, sigma_b2).xi_c)
    xi_cells = np.asarray(theory.analyse("tanh", sws.astype(np.float32), sigma_b2).xi_c)
    crit = float(theory.critical_sigma_w2("tanh", sigma_b2))

    fig, ax = plt.subplots(figsize=(7, 4.5), constrained_layout=True)
    im = ax.pcolormesh(
        _edges(sws),
        _edges(depths),
        acc.to_numpy(),
        cmap="viridis",
        vmin=chance,
        vmax=max(best, chance + 1e-3),
        shading="flat",
    )
    fig.colorbar(im, ax=ax, label=f"train accuracy after {int(config.steps)} steps")
    ax.plot(grid, 6 * xi_grid, "w--", lw=1.5, label="L = 6 xi_c (theory)")
    ax.axvline(crit, color="w", ls=":", lw=1, label=f"critical sigma_w2 = {crit:.2f}")
    ax.set_ylim(_edges(depths)[0], _edges(depths)[-1])
    ax.set_xlabel("sigma_w2")
    ax.set_ylabel("depth L")
    ax.set_title(
        f"tanh MLP, width {list(config.widths)}, sigma_b2 = {sigma_b2:g}, {config.dataset}"
    )
    ax.legend(loc="upper right", fontsize=8)
    savefig(fig, run_dir / "heatmap.png")

    predicted = depths[:, None] < 6 * xi_cells[None, :]
    measured = acc.to_numpy() > threshold
    agree = float(np.mean(predicted == measured))
    lines = [
        "# trainability summary",
        "",
        f"tanh MLP, sigma_b2 = {sigma_b2:g}, widths {list(config.widths)}, {config.dataset}, "
        f"{config.optimizer} lr {list(config.learning_rate)}, {config.steps} steps, batch "
        f"{config.batch_size}, {config.seeds} seeds per cell.",
        "",
        f"Critical sigma_w2 (initjax.theory): {crit:.3f} (published, Schoenholz et al. 2017: "
        "about 1.76).",
        f"A cell counts as trainable when its seed-mean train accuracy exceeds {threshold:.3f} "
        f"(halfway between chance {chance:.2f} and the best cell {best:.3f}).",
        "",
        f"Cells on the side of L = 6 xi_c that theory predicts: {agree:.0%} "
        f"({int(np.sum(predicted == measured))} of {predicted.size}). Published claim: networks "
        "train roughly when L < 6 xi_c.",
        "",
        f"Criterion: at least {AGREEMENT:.0%} of cells on the predicted side.",
        "",
        f"**Verdict: {'PASS' if agree >= AGREEMENT else 'FAIL'}** — {agree:.0%} of "
        f"{predicted.size} cells agree with L < 6 xi_c (critical sigma_w2 {crit:.3f}).",
        "",
        "Train accuracy (rows: depth; columns: sigma_w2; * = predicted trainable, L < 6 xi_c):",
        "",
        "| L \\ sigma_w2 | " + " | ".join(f"{s:.2f}" for s in sws) + " |",
        "|---:|" + "---:|" * len(sws),
    ]
    for i, d in enumerate(depths):
        cells = [
            f"{acc.iloc[i, j]:.2f}{'*' if predicted[i, j] else ''}"
            + (" (div)" if div.iloc[i, j] > 0 else "")
            for j in range(len(sws))
        ]
        lines.append(f"| {d} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "| sigma_w2 | " + " | ".join(f"{s:.2f}" for s in sws) + " |",
        "|---:|" + "---:|" * len(sws),
        "| 6 xi_c | " + " | ".join(f"{6 * x:.1f}" for x in xi_cells) + " |",
        "",
        "Figure: heatmap.png.",
    ]
    (run_dir / "summary.md").write_text("\n".join(lines) + "\n")


def _edges(v):
    v = np.asarray(v, float)
    mid = (v[1:] + v[:-1]) / 2 if len(v) > 1 else np.array([])
    first = v[0] - (mid[0] - v[0] if len(mid) else 0.5)
    last = v[-1] + (v[-1] - mid[-1] if len(mid) else 0.5)
    return np.concatenate([[first], mid, [last]])
