"""Expand a sweep config into groups of cells that share one compiled function.

A config crosses ``widths`` x ``depths`` x ``arms``. An arm fixes everything that is static for
compilation (activation, initializer and its hyper-parameters); its ``sigma_w2`` x ``sigma_b2``
(x ``learning_rate`` for training) grid and all seeds are evaluated in one vmapped call. So a group
= (model, width, depth, arm), and a change of a scalar never recompiles.

Config keys (``kind = "propagation"``, the default)::

    model      a registered model family   widths   [int > 0]       depths  [int > 0]
               (initjax.models.names(); widths set its width field, e.g. ConvNet's channels)
    seeds      int > 0                     root_seed int            metrics [str]
    inputs     "gaussian" | dataset name   n_inputs int >= 2        input_dim int (gaussian)
    c0         float in (-1, 1) (gaussian inputs: correlation of each pair)
    arms       [ {name, activation, init, init_hparams, sigma_w2: [..] | None, sigma_b2: [..],
                  widths / depths / metrics: optional, replace the sweep's for this arm,
                  model_args: optional {field: value}, static fields of the model family} ]

``kind = "training"`` replaces inputs / metrics by::

    dataset    name (initjax.data)         learning_rate [float > 0]  (vmapped, like sigma_w2)
    optimizer  sgd | momentum | adam | rmsprop
    steps, batch_size, eval_every  int > 0     n_train  int > 0 or None (all)

``sigma_w2 = None`` uses the initializer exactly as registered (e.g. He: Var = 2 / fan_in).
``activation`` / ``init`` absent (or None): the model's own (e.g. a Transformer recipe's
per-role initializers and activation); such an arm gets no single sigma_w2 (NaN) and no
mean-field theory columns. ``model_args``: other static fields of the model family (e.g. a
Transformer's ``norm``, ``recipe``, ``branch_exponent``, ``patch``; ``initjax.models.build``),
checked against the family's fields (its width field, ``depth``, ``activation``,
``kernel_init``, ``readout``, ``sigma_w2`` and ``sigma_b2`` are set by the grid and refused
here) and by building the model; each key becomes a column of the results table. Values are
numbers, strings, bools or None.

A group's :meth:`Group.spec` holds its slice of the grid axes (:data:`GRID_AXES`: widths, depths,
arms) in full; every other config key is shared by all groups and identifies them through the
run loop's hash of the whole config (:func:`initjax.sweeps.runtime.piece_id`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from initjax import activations, initializers, models

__all__ = ["ARM_KEYS", "GRID_AXES", "Group", "expand", "validate"]

ARM_KEYS = {
    "name",
    "activation",
    "activation_hparams",
    "init",
    "init_hparams",
    "sigma_w2",
    "sigma_b2",
    "widths",
    "depths",
    "metrics",
    "model_args",
}
# Model fields the grid sets itself (plus the family's width field), refused in model_args.
GRID_FIELDS = ("depth", "activation", "kernel_init", "readout", "sigma_w2", "sigma_b2")
# Config keys whose values reach a group only through Group.spec() (its own slice of them).
GRID_AXES = ("widths", "depths", "arms")
KINDS = ("propagation", "training")
COMMON = ("model", "widths", "depths", "seeds", "arms")
REQUIRED = {
    "propagation": COMMON + ("inputs", "metrics"),
    "training": COMMON + ("dataset", "optimizer", "learning_rate", "steps", "batch_size"),
}


@dataclasses.dataclass(frozen=True)
class Group:
    """Cells sharing one compilation: one (model, width, depth, arm), all sigma cells and seeds."""

    index: int
    model: str
    width: int
    depth: int
    arm: str
    activation: str | None  # None: the model's own
    activation_hparams: tuple[tuple[str, Any], ...]
    init: str | None  # None: the model's own initializers
    init_hparams: tuple[tuple[str, Any], ...]
    sigma_w2: tuple[float | None, ...]
    sigma_b2: tuple[float, ...]
    learning_rate: tuple[float, ...]  # empty for propagation sweeps
    metrics: tuple[str, ...] = ()  # the arm's own metrics; empty: the sweep's
    model_args: tuple[tuple[str, Any], ...] = ()  # static model fields, sorted by name

    @property
    def n_cells(self) -> int:
        return len(self.sigma_w2)

    def spec(self) -> dict[str, Any]:
        """Everything that distinguishes this group from the others of its sweep (JSON-able)."""
        d = dataclasses.asdict(self)
        d.pop("index")
        d["activation_hparams"] = dict(self.activation_hparams)
        d["init_hparams"] = dict(self.init_hparams)
        if self.model_args:
            d["model_args"] = dict(self.model_args)
        else:  # absent, so sweeps without model_args keep their piece identities
            d.pop("model_args")
        return d

    @property
    def label(self) -> str:
        return f"{self.model} w={self.width} L={self.depth} {self.arm}"


def _err(key: str, msg: str) -> ValueError:
    return ValueError(f"config key {key!r}: {msg}")


def _pos_ints(config: Mapping, key: str, *, where: str | None = None) -> list[int]:
    vals = config[key]
    if not isinstance(vals, list | tuple) or not vals:
        raise _err(where or key, f"must be a non-empty list of positive integers, got {vals!r}")
    for v in vals:
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise _err(where or key, f"must be a non-empty list of positive integers, got {vals!r}")
    return [int(v) for v in vals]


def _metrics(metrics, key: str, metric_names) -> None:
    if not isinstance(metrics, list | tuple) or not metrics:
        raise _err(key, f"must be a non-empty list, got {metrics!r}")
    if metric_names is not None:
        bad = [m for m in metrics if m not in metric_names]
        if bad:
            raise _err(key, f"unknown {bad}; allowed: {', '.join(metric_names)}")


def _floats(arm_key: str, vals, *, allow_none: bool) -> list[float | None]:
    if vals is None:
        if allow_none:
            return [None]
        raise _err(arm_key, "must be a list of non-negative numbers, got None")
    if isinstance(vals, int | float) and not isinstance(vals, bool):
        vals = [vals]
    if not isinstance(vals, list | tuple) or not vals:
        raise _err(arm_key, f"must be a non-empty list of non-negative numbers, got {vals!r}")
    out = []
    for v in vals:
        if isinstance(v, bool) or not isinstance(v, int | float) or v < 0 or v != v:
            raise _err(arm_key, f"values must be non-negative numbers, got {v!r}")
        out.append(float(v))
    return out


def validate(config: Mapping, *, metric_names: tuple[str, ...] | None = None) -> None:
    """Check a propagation-sweep config before any computation.

    Raises:
      ValueError: naming the offending config key (missing, unknown, empty grid, bad value,
        unknown activation / initializer / metric / model / inputs).
    """
    kind = config.get("kind", "propagation")
    if kind not in KINDS:
        raise _err("kind", f"must be one of {', '.join(KINDS)}, got {kind!r}")
    for k in REQUIRED[kind]:
        if k not in config:
            raise _err(k, f"is required for a {kind} sweep")
    try:
        models.get(config["model"])
    except (ValueError, TypeError) as err:
        raise _err("model", str(err)) from None
    _pos_ints(config, "widths")
    _pos_ints(config, "depths")
    seeds = config["seeds"]
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise _err("seeds", f"must be a positive integer, got {seeds!r}")
    if kind == "propagation":
        _metrics(config["metrics"], "metrics", metric_names)
    else:
        lrs = _floats("learning_rate", config["learning_rate"], allow_none=False)
        if any(v <= 0 for v in lrs):
            raise _err("learning_rate", f"values must be > 0, got {config['learning_rate']!r}")
        for k in ("steps", "batch_size", "eval_every"):
            v = config.get(k, 1)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise _err(k, f"must be a positive integer, got {v!r}")
    arms = config["arms"]
    if not isinstance(arms, list | tuple) or not arms:
        raise _err("arms", "must be a non-empty list of arm dicts")
    seen = set()
    for i, arm in enumerate(arms):
        where = f"arms[{i}]"
        if not isinstance(arm, Mapping):
            raise _err(where, f"must be a dict, got {arm!r}")
        unknown = set(arm) - ARM_KEYS
        if unknown:
            raise _err(where, f"unknown key(s) {sorted(unknown)}; allowed: {sorted(ARM_KEYS)}")
        if "name" not in arm:
            raise _err(f"{where}.name", "is required")
        if arm["name"] in seen:
            raise _err(f"{where}.name", f"duplicate arm name {arm['name']!r}")
        seen.add(arm["name"])
        if arm.get("activation") is not None:
            try:
                activations.get(arm["activation"], **dict(arm.get("activation_hparams") or {}))
            except (ValueError, TypeError) as err:
                raise _err(f"{where}.activation", str(err)) from None
        if arm.get("init") is not None:
            try:
                initializers.get(arm["init"], **dict(arm.get("init_hparams") or {}))
            except (ValueError, TypeError) as err:
                raise _err(f"{where}.init", str(err)) from None
        _model_args(config, arm, f"{where}.model_args")
        _floats(f"{where}.sigma_w2", arm.get("sigma_w2"), allow_none=True)
        _floats(f"{where}.sigma_b2", arm.get("sigma_b2", [0.0]), allow_none=False)
        for k in ("widths", "depths"):
            if arm.get(k) is not None:
                _pos_ints(arm, k, where=f"{where}.{k}")
        if arm.get("metrics") is not None:
            _metrics(arm["metrics"], f"{where}.metrics", metric_names)


def _model_args(config: Mapping, arm: Mapping, key: str) -> None:
    """Check an arm's model_args against the model family's fields, then build the model once
    (at the arm's first width and depth) so a bad value fails here, naming the key."""
    args = arm.get("model_args")
    if args is None:
        return
    if not isinstance(args, Mapping):
        raise _err(key, f"must be a dict of model fields, got {args!r}")
    name = config["model"]
    width_field = models.metadata(name)["width_field"]
    allowed = [f for f in models.field_names(models.get(name))
               if f not in (width_field, *GRID_FIELDS)]  # fmt: skip
    for k, v in args.items():
        if k not in allowed:
            raise _err(key, f"unknown or grid-set field {k!r} of model {name!r}; allowed: "
                       f"{', '.join(allowed)}")  # fmt: skip
        if not (v is None or isinstance(v, bool | int | float | str)):
            raise _err(f"{key}.{k}", f"must be a number, string, bool or None, got {v!r}")
    width = (arm.get("widths") or config["widths"])[0]
    depth = (arm.get("depths") or config["depths"])[0]
    try:
        models.build(name, **{width_field: width, "depth": depth, **dict(args)})
    except (ValueError, TypeError) as err:
        raise _err(key, str(err)) from None


def expand(config: Mapping) -> list[Group]:
    """Groups of a validated config in a deterministic order: width, then depth, then arm.

    An arm with its own ``widths`` / ``depths`` takes part only at those (its widths need not be
    among the sweep's; they are visited after the sweep's own, in order of first appearance).
    """
    training = config.get("kind", "propagation") == "training"
    arms = list(config["arms"])

    def own(arm, key):
        return _pos_ints(arm, key) if arm.get(key) is not None else _pos_ints(config, key)

    all_widths = list(
        dict.fromkeys([*_pos_ints(config, "widths"), *(w for a in arms for w in own(a, "widths"))])
    )
    all_depths = list(
        dict.fromkeys([*_pos_ints(config, "depths"), *(d for a in arms for d in own(a, "depths"))])
    )
    lrs = (
        _floats("learning_rate", config["learning_rate"], allow_none=False) if training else [None]
    )
    groups = []
    for width in all_widths:
        for depth in all_depths:
            for i, arm in enumerate(arms):
                if width not in own(arm, "widths") or depth not in own(arm, "depths"):
                    continue
                sw = _floats(f"arms[{i}].sigma_w2", arm.get("sigma_w2"), allow_none=True)
                sb = _floats(f"arms[{i}].sigma_b2", arm.get("sigma_b2", [0.0]), allow_none=False)
                cells = [(w, b, r) for w in sw for b in sb for r in lrs]
                groups.append(
                    Group(
                        index=len(groups),
                        model=config["model"],
                        width=width,
                        depth=depth,
                        arm=str(arm["name"]),
                        activation=_name(arm.get("activation")),
                        activation_hparams=_items(arm.get("activation_hparams")),
                        init=_name(arm.get("init")),
                        init_hparams=_items(arm.get("init_hparams")),
                        sigma_w2=tuple(c[0] for c in cells),
                        sigma_b2=tuple(c[1] for c in cells),
                        learning_rate=tuple(c[2] for c in cells) if training else (),
                        metrics=tuple(arm.get("metrics") or ()),
                        model_args=_items(arm.get("model_args")),
                    )
                )
    return groups


def _name(v) -> str | None:
    return None if v is None else str(v)


def _items(d) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted((k, _freeze(v)) for k, v in dict(d or {}).items()))


def _freeze(v):
    if isinstance(v, list | tuple):
        return tuple(_freeze(x) for x in v)
    if isinstance(v, Mapping):
        return tuple(sorted((k, _freeze(x)) for k, x in v.items()))
    return v
