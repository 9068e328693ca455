"""``initjax propagate``: per-layer signal propagation of random networks, table + Parquet + PNG.

Example::

    initjax propagate --init he_normal --activation relu --depth 200 --width 512 --seeds 16 \\
        --sigma-w2 2 --sigma-b2 0 --metrics q,c,grad_sq --out runs/he_relu
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

__all__ = ["add_parser", "run", "selected_layers"]


def selected_layers(depth: int, n: int = 10) -> list[int]:
    """About ``n`` layers from 0 to ``depth``: 0, 1, then roughly log-spaced, always ``depth``."""
    if depth + 1 <= n:
        return list(range(depth + 1))
    pts = np.unique(np.round(np.geomspace(1, depth, n - 1)).astype(int))
    return sorted({0, *pts.tolist(), depth})


def _floats(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "propagate",
        help="per-layer q, c, gradient norms... of random networks (vmapped over seeds)",
        description="Measure signal propagation at initialization: per-layer statistics of "
        "--seeds random networks, printed for selected layers and written as a tidy Parquet "
        "table and a PNG (mean and 10-90 % spread over seeds).",
    )
    p.add_argument(
        "--arch",
        default="mlp",
        help="model family, a registered name (`initjax list --kind models` lists them, plugin "
        "families included); default mlp",
    )
    p.add_argument(
        "--init",
        default=None,
        help="kernel initializer (`initjax list`); default lecun_normal, except for families "
        "whose own default is a recipe (transformer: --recipe decides)",
    )
    p.add_argument("--activation", default=None, help="default tanh (transformer: the recipe's)")
    p.add_argument(
        "--init-hparam",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a hyper-parameter of --init (repeatable; VALUE is a Python literal), e.g. "
        "--init lsuv --init-hparam base=he_normal --init-hparam center=True",
    )
    p.add_argument("--depth", type=int, default=50, help="hidden layers (scan length)")
    p.add_argument(
        "--width",
        type=int,
        default=256,
        help="layer size: the family's width field (channels for conv)",
    )
    p.add_argument("--seeds", type=int, default=16)
    p.add_argument("--sigma-w2", type=_floats, default=None, help="weight variance * fan_in")
    p.add_argument("--sigma-b2", type=_floats, default=None, help="bias variance")
    p.add_argument(
        "--metrics",
        default="q,c",
        help="comma-separated registered metrics (`initjax list --kind metrics`): q, c, "
        "grad_sq, act_std, act_saturation, unit_symmetry, jac_sv, z_moments, distinct_units, "
        "weight_rank, plugin metrics",
    )
    p.add_argument("--batch", type=int, default=8, help="Gaussian inputs per network")
    p.add_argument("--c0", type=_floats, default=None, help="exact input correlation of pairs")
    p.add_argument(
        "--keep-prob",
        type=_floats,
        default=None,
        help="dropout keep probability in (0, 1] on every hidden layer's input activations "
        "(inverted dropout; mlp and conv); default 1 = no dropout",
    )
    p.add_argument("--root-seed", type=int, default=0)
    p.add_argument("--layers", default=None, help="comma-separated layers to print")
    p.add_argument("--kernel-size", type=int, default=None, help="conv: kernel size (3)")
    p.add_argument("--ndim", type=int, default=None, choices=(1, 2), help="conv: 1 or 2 (2)")
    p.add_argument(
        "--alpha",
        type=_floats,
        default=None,
        help="learnable branch multiplier's initial value (resmlp: 1; transformer: none unless "
        "given, 0 for ReZero / SkipInit)",
    )
    p.add_argument("--pre-norm", action="store_true", help="resmlp LayerNorm in the branch")
    t = p.add_argument_group("transformer")
    t.add_argument(
        "--recipe",
        default=None,
        help="init recipe (flax, torch, gpt2, bert, vit, tfixup, deepnorm; default flax)",
    )
    t.add_argument(
        "--norm", default=None, choices=("pre", "post", "none"), help="LayerNorm placement"
    )
    t.add_argument("--heads", type=int, default=None, help="attention heads (4)")
    t.add_argument("--seq-len", type=int, default=None, help="tokens per generated input (16)")
    t.add_argument("--mlp-width", type=int, default=None, help="MLP width (4 width; 0: none)")
    t.add_argument(
        "--branch-exponent",
        type=_floats,
        default=None,
        help="branch multiplier depth^-e (0.5: 1/sqrt(L))",
    )
    t.add_argument("--causal", action="store_true", help="causal attention mask")
    t.add_argument("--qk-norm", action="store_true", help="LayerNorm on queries and keys")
    p.add_argument(
        "--model-arg",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="any other field of the model family (repeatable; VALUE is a Python literal), "
        "e.g. --model-arg branch_layers=3",
    )
    p.add_argument(
        "--out",
        default=None,
        help="output folder (default runs/propagate/<arch>-<init>-<activation>-d<depth>-w<width>)",
    )
    p.add_argument("--no-plot", action="store_true")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)
    return p


# Convenience flags -> model fields; each applies to the families that have the field.
_FIELD_FLAGS = {
    "kernel_size": "--kernel-size",
    "ndim": "--ndim",
    "alpha": "--alpha",
    "recipe": "--recipe",
    "norm": "--norm",
    "heads": "--heads",
    "seq_len": "--seq-len",
    "mlp_width": "--mlp-width",
    "branch_exponent": "--branch-exponent",
}
_BOOL_FLAGS = {"pre_norm": "--pre-norm", "causal": "--causal", "qk_norm": "--qk-norm"}
# --init / --activation when not given: these, unless the family's own default is None (a
# family that takes them from elsewhere, e.g. the Transformer's recipe).
_CLI_DEFAULTS = {"kernel_init": "lecun_normal", "activation": "tanh"}


def _pairs(items: list[str], flag: str, what: str) -> dict:
    """``["key=value", ...]`` -> dict, values parsed as Python literals (else kept as strings).

    Raises:
      ValueError: an item without ``=``, naming ``flag``.
    """
    import ast

    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{flag} must be {what}=VALUE, got {item!r}")
        try:
            out[key.strip()] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            out[key.strip()] = value.strip()
    return out


def _model_args(items: list[str]) -> dict:
    return _pairs(items, "--model-arg", "FIELD")


def init_hparams(items: list[str]) -> dict:
    """The ``--init-hparam KEY=VALUE`` items as a dict of hyper-parameters."""
    return _pairs(items, "--init-hparam", "KEY")


def _model(args):
    """The model from the registry: common flags, the family's width field, other fields."""
    from initjax import initializers, models

    hp = init_hparams(args.init_hparam)
    cls = models.get(args.arch)  # unknown name -> ValueError listing the registered families
    fields = models.field_names(cls)
    spec = {
        models.metadata(args.arch)["width_field"]: args.width,
        "depth": args.depth,
        "sigma_w2": args.sigma_w2,
        "sigma_b2": 0.0 if args.sigma_b2 is None else args.sigma_b2,
    }
    for field, value in (("kernel_init", args.init), ("activation", args.activation)):
        own_default = cls.__dataclass_fields__[field].default if field in fields else None
        if value is None and own_default is not None:
            value = _CLI_DEFAULTS[field]
        if value is not None:
            spec[field] = value
    if hp:
        if "kernel_init" not in spec:
            raise ValueError(
                "--init-hparam needs --init (this family takes its inits from a recipe)"
            )
        spec["kernel_init"] = initializers.get(spec["kernel_init"], **hp)
    given = {f: getattr(args, f) for f in _FIELD_FLAGS if getattr(args, f) is not None}
    given.update({f: True for f in _BOOL_FLAGS if getattr(args, f)})
    for f in given:
        if f not in fields:
            flag = _FIELD_FLAGS.get(f) or _BOOL_FLAGS[f]
            raise ValueError(f"{flag} does not apply to --arch {args.arch} (fields: {fields})")
    spec.update(given)
    spec.update(_model_args(args.model_arg))
    return models.build(args.arch, **spec)


def _resolved(init):
    from initjax import models

    return models.resolve_initializer(init, arg="--init") if init is not None else None


def _table(result, layers: list[int]) -> str:
    s = result.summary(layers=layers)
    n = result.meta["seeds"]
    out = {"layer": s["layer"].astype(int).astype(str)}
    for m in result.columns:
        mean, sd = s[f"{m}_mean"], s[f"{m}_std"]
        out[m] = [f"{a:.4g} ± {b:.2g}" for a, b in zip(mean, sd, strict=True)]
    for f in ("underflow", "nonfinite", "diverged"):  # seed counts
        out[f] = [f"{int(v)}/{n}" for v in s[f]]
    import pandas as pd

    return pd.DataFrame(out).to_string(index=False)


def flag_notes(result) -> list[str]:
    """One line per flag: how many seeds underflowed (from which layer), hit non-finite values,
    diverged (overflowed)."""
    from initjax.measure.metrics import UNDERFLOW_Q

    n = result.meta["seeds"]
    first = np.asarray(result.underflow_from()).reshape(-1)
    under = first[first >= 0]
    nonfinite = np.asarray(result.arrays["nonfinite"]).any(axis=-1)
    lines = []
    if under.size:
        lines.append(
            f"underflow: {under.size}/{n} seeds from layer {int(under.min())} (earliest; median "
            f"{int(np.median(under))}): q^l or an example's mean square < {UNDERFLOW_Q:.3g} "
            "(float32's smallest normal number); ratios such as c are NaN there"
        )
    else:
        lines.append(f"underflow: 0/{n} seeds")
    lines.append(f"non-finite values: {int(nonfinite.sum())}/{n} seeds")
    lines.append(
        f"diverged (overflow: inf, or NaN not explained by underflow): "
        f"{int(np.sum(result.diverged))}/{n} seeds"
    )
    return lines


def run(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    from initjax import models
    from initjax.measure import engine, plot
    from initjax.models import stack_of

    model = _model(args)  # validates architecture arguments (ValueError -> one-line error)
    n_chunks = 1 if args.no_progress else min(4, args.seeds)
    chunk = max(1, args.seeds // n_chunks)
    prep = engine.prepare(
        model,
        seeds=args.seeds,
        metrics=args.metrics,
        batch=args.batch,
        c0=args.c0,
        root_seed=args.root_seed,
        seed_chunk=chunk,
        keep_prob=args.keep_prob,
    )
    if args.layers:
        try:
            layers = sorted({int(v) for v in args.layers.split(",") if v.strip()})
        except ValueError:
            msg = f"--layers must be comma-separated integers, got {args.layers!r}"
            raise ValueError(msg) from None
        bad = [v for v in layers if not 0 <= v <= args.depth]
        if bad:
            raise ValueError(f"--layers must lie in [0, {args.depth}], got {bad}")
    else:
        layers = selected_layers(args.depth)
    st = stack_of(model)
    act_name = st.activation.name
    if hasattr(model, "recipe"):  # a recipe family: its recipe and norm placement name the run
        init_label = f"{model.recipe}-{st.norm}" + (f"-{args.init}" if args.init else "")
        what = f"recipe={model.recipe} norm={st.norm}" + (f" init={args.init}" if args.init else "")
    else:
        ki = getattr(model, "kernel_init", None)
        init_label = ki if isinstance(ki, str) else models.init_name(_resolved(ki))
        what = f"init={init_label}"
    name = f"{args.arch}-{init_label}-{act_name}-d{args.depth}-w{args.width}"
    out = Path(args.out) if args.out else Path("runs") / "propagate" / name
    if not args.no_progress:
        print(
            f"propagate: {name}, {args.seeds} seeds; compiling, then running in "
            f"{len(prep.chunks)} seed chunk(s)...",
            file=sys.stderr,
            flush=True,
        )
    result = prep.run(progress=not args.no_progress)
    out.mkdir(parents=True, exist_ok=True)
    result.to_frame().to_parquet(out / "propagate.parquet", index=False)
    files = [out / "propagate.parquet"]
    if "jac_sv" in result.arrays:
        result.jacobian_frame().to_parquet(out / "jacobian.parquet", index=False)
        files.append(out / "jacobian.parquet")
    if not args.no_plot:
        files.append(plot.plot_layers(result, out / "propagate.png", title=name))
    wall = time.perf_counter() - t0
    manifest = {
        "command": "propagate",
        "args": {k: v for k, v in vars(args).items() if k != "func"},
        "model": repr(model),
        "metrics": list(result.metrics),
        "seeds": args.seeds,
        "diverged_seeds": int(np.sum(result.diverged)),
        "underflow_seeds": int(np.sum(np.asarray(result.underflow_from()) >= 0)),
        "nonfinite_seeds": int(np.sum(np.asarray(result.arrays["nonfinite"]).any(axis=-1))),
        "wall_time_s": round(wall, 3),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str))
    sw = "as given" if args.sigma_w2 is None else f"{args.sigma_w2:g}"
    sb = "0" if args.sigma_b2 is None else f"{args.sigma_b2:g}"
    print(
        f"{args.arch} width={args.width} depth={args.depth} {what} "
        f"activation={act_name} sigma_w2={sw} sigma_b2={sb} seeds={args.seeds} "
        f"batch={args.batch} (mean ± sd over seeds)"
    )
    print(_table(result, layers))
    for line in flag_notes(result):
        print(line)
    print(f"wrote {', '.join(str(f) for f in files)}, {out / 'manifest.json'}")
    print(f"wall time {wall:.1f} s")
    return 0
