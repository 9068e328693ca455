import textwrap

import pytest

TINY = '''
"""Tiny test sweep."""
import ml_collections

DESCRIPTION = "tiny propagation sweep for tests"
PRESETS = {"bigger": {"widths": [16, 32], "seeds": 3}}


def get_config():
    c = ml_collections.ConfigDict()
    c.kind = "propagation"
    c.preset = "default"
    c.model = "mlp"
    c.widths = [8]
    c.depths = [3, 5]
    c.seeds = 4
    c.root_seed = 0
    c.inputs = "gaussian"
    c.n_inputs = 2
    c.input_dim = 12
    c.c0 = 0.5
    c.metrics = ["q", "c"]
    c.theory = True
    c.arms = [
        dict(name="tanh", activation="tanh", init="variance_scaling",
             init_hparams={"distribution": "normal"}, sigma_w2=[0.5, 1.0, 2.5], sigma_b2=[0.05]),
    ]
    return c
'''


@pytest.fixture
def tiny_experiments(tmp_path, monkeypatch):
    """A folder with one tiny experiment, set as the experiments folder."""
    folder = tmp_path / "experiments"
    folder.mkdir()
    (folder / "tiny_sweep.py").write_text(textwrap.dedent(TINY))
    monkeypatch.setenv("INITJAX_EXPERIMENTS", str(folder))
    return folder
