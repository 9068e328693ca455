"""`initjax propagate`: table, Parquet, PNG, manifest; bad input is a one-line error."""

from __future__ import annotations

import json

import pandas as pd

from initjax.cli import main
from initjax.measure.cli import selected_layers


def test_selected_layers():
    assert selected_layers(5) == [0, 1, 2, 3, 4, 5]
    s = selected_layers(200)
    assert s[0] == 0 and s[1] == 1 and s[-1] == 200 and len(s) <= 10
    assert s == sorted(set(s))


def test_propagate_command(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["propagate", "--init", "he_normal", "--activation", "relu", "--depth", "12",
            "--width", "16", "--seeds", "4", "--sigma-w2", "2", "--sigma-b2", "0",
            "--metrics", "q,c,grad_sq", "--out", str(out), "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "layer" in text and "grad_sq" in text and "wall time" in text
    df = pd.read_parquet(out / "propagate.parquet")
    assert list(df.columns) == [
        "seed", "layer", "q", "c", "grad_sq", "underflow", "nonfinite", "diverged"
    ]  # fmt: skip
    assert "underflow: 0/4 seeds" in text and "diverged (overflow" in text
    assert len(df) == 4 * 13
    assert (out / "propagate.png").stat().st_size > 1000
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["diverged_seeds"] == 0 and manifest["args"]["depth"] == 12


def test_propagate_bad_input(capsys):
    assert main(["propagate", "--depth", "0", "--no-plot", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "depth" in err[0]
    assert main(["propagate", "--metrics", "q,foo", "--no-progress"]) == 2
    assert "foo" in capsys.readouterr().err


def test_init_hparams_select_a_configured_initializer(capsys):
    import argparse

    from initjax import initializers
    from initjax.measure.cli import _model, init_hparams

    assert init_hparams(["base=he_normal", "center=True", "tol=0.05"]) == {
        "base": "he_normal",
        "center": True,
        "tol": 0.05,
    }
    args = argparse.Namespace(
        arch="mlp", init="lsuv", init_hparam=["base=he_normal", "center=True"], activation="tanh",
        depth=3, width=8, sigma_w2=None, sigma_b2=None, kernel_size=None, ndim=None, alpha=None,
        pre_norm=False, model_arg=[], recipe=None, norm=None, heads=None, seq_len=None,
        mlp_width=None, branch_exponent=None, causal=False, qk_norm=False,
    )  # fmt: skip
    assert _model(args).kernel_init == initializers.get("lsuv", base="he_normal", center=True)
    assert main(["propagate", "--init", "lsuv", "--init-hparam", "bse=he_normal"]) == 2
    err = capsys.readouterr().err
    assert "unknown hyper-parameter" in err and "base" in err
    assert main(["propagate", "--init-hparam", "center"]) == 2
    assert "KEY=VALUE" in capsys.readouterr().err


def test_propagate_keep_prob_flag(tmp_path, capsys):
    # test_propagate_command's network and metrics: the run without dropout reuses its program.
    base = ["propagate", "--init", "he_normal", "--activation", "relu", "--depth", "12",
            "--width", "16", "--seeds", "4", "--sigma-w2", "2", "--sigma-b2", "0",
            "--metrics", "q,c,grad_sq", "--no-plot", "--no-progress"]  # fmt: skip
    assert main([*base, "--keep-prob", "0.5", "--out", str(tmp_path / "a")]) == 0
    assert main([*base, "--out", str(tmp_path / "b")]) == 0
    qa = pd.read_parquet(tmp_path / "a" / "propagate.parquet").groupby("layer")["q"].mean()
    qb = pd.read_parquet(tmp_path / "b" / "propagate.parquet").groupby("layer")["q"].mean()
    assert qa[0] == qb[0] and qa[3] > qb[3]  # dropout (1/rho) raises q after layer 0
    capsys.readouterr()
    assert main([*base, "--keep-prob", "0"]) == 2
    assert "keep_prob must lie in (0, 1]" in capsys.readouterr().err


def test_propagate_transformer(tmp_path, capsys):
    out = tmp_path / "tr"
    argv = ["propagate", "--arch", "transformer", "--norm", "post", "--recipe", "gpt2",
            "--depth", "3", "--width", "8", "--heads", "2", "--seq-len", "4", "--seeds", "2",
            "--metrics", "q,token_cos,attn", "--out", str(out), "--no-progress",
            "--no-plot"]  # fmt: skip
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "recipe=gpt2 norm=post" in text and "attn_entropy" in text
    df = pd.read_parquet(out / "propagate.parquet")
    assert {"token_cos", "attn_entropy", "attn_logit_std"} <= set(df.columns)
    assert len(df) == 2 * 4
    assert main(["propagate", "--arch", "transformer", "--recipe", "gtp2", "--no-progress"]) == 2
    assert "Did you mean 'gpt2'" in capsys.readouterr().err
