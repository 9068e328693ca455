"""The model registry: one entry per model family (a :class:`StackModule` subclass).

A model family is one file in ``initjax/models/`` (found and imported by the package) or in a
plugin, holding the module class decorated with :func:`register`::

    @models.register("mlp", example={"width": 8, "depth": 3})
    class MLP(StackModule):
        width: int
        depth: int
        ...

Sweeps, ``propagate`` (model spec dicts), the CLI's ``--arch`` choices, ``initjax list`` and the
registry-wide contract tests (tests/models/test_model_registry.py) find models only here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from initjax._registry import Registry
from initjax.models._core import StackModule

__all__ = ["build", "example", "field_names", "get", "metadata", "name_of", "names", "register"]

_REGISTRY: Registry[type[StackModule]] = Registry(
    "model", normalize=lambda n: n.strip().lower(), hint="`initjax list --kind models` lists them."
)


def field_names(cls: type[StackModule]) -> list[str]:
    """The constructor fields of a model class (Flax's ``parent`` and ``name`` excluded)."""
    return [f for f in cls.__dataclass_fields__ if f not in ("parent", "name")]


def register(
    name: str,
    *,
    width_field: str = "width",
    example: Mapping[str, Any] | None = None,
    description: str = "",
    reference: str = "",
    aliases: tuple[str, ...] = (),
) -> Callable[[type[StackModule]], type[StackModule]]:
    """Class decorator adding a :class:`StackModule` subclass to the model registry.

    Args:
      name: registry name (case-insensitive), e.g. "mlp"; ``--arch NAME`` on the command line,
        ``model: NAME`` in sweep configs, ``{"arch": NAME, ...}`` in ``propagate``.
      width_field: the field that sets the layer size (``--width`` and sweep ``widths`` set it):
        "width" for MLPs, "channels" for ConvNet.
      example: fields of a small instance (cheap to compile) that the registry-wide contract
        tests build; default ``{width_field: 8, "depth": 3}``. It must also work at other depths.
      description: one line for ``initjax list`` (default: the class docstring's first line).
      reference: the paper the architecture follows.
      aliases: other names.

    The class must have ``depth`` and ``width_field`` among its fields, and ``sigma_w2`` /
    ``sigma_b2`` (standard parameterization). A model's stack declares the metrics it cannot
    compute in ``Stack.UNSUPPORTED_METRICS`` (metric name -> reason).

    Raises:
      TypeError: the decorated object is not a StackModule subclass.
      ValueError: the name is taken, or a required field is missing.
    """

    def deco(cls: type[StackModule]) -> type[StackModule]:
        if not (isinstance(cls, type) and issubclass(cls, StackModule)):
            raise TypeError(
                f"models.register({name!r}) decorates a StackModule subclass, got {cls!r}"
            )
        fields = field_names(cls)
        missing = [f for f in ("depth", width_field, "sigma_w2", "sigma_b2") if f not in fields]
        if missing:
            raise ValueError(
                f"model {name!r} ({cls.__name__}): missing field(s) {missing}; fields: {fields}"
            )
        ex = dict(example) if example is not None else {width_field: 8, "depth": 3}
        unknown = sorted(set(ex) - set(fields))
        if unknown:
            raise ValueError(f"model {name!r}: example has unknown field(s) {unknown}")
        doc = (cls.__doc__ or "").strip().splitlines()
        _REGISTRY.register(
            name,
            cls,
            aliases=aliases,
            width_field=width_field,
            example=ex,
            description=description or (doc[0] if doc else cls.__name__),
            reference=reference,
        )
        return cls

    return deco


def names() -> list[str]:
    """Registered model names, sorted."""
    return _REGISTRY.names()


def get(name: str) -> type[StackModule]:
    """The model class registered as ``name``.

    Raises:
      TypeError: ``name`` is not a string. ValueError: unknown name (lists the registered ones).
    """
    return _REGISTRY.get(name)


def metadata(name: str) -> Mapping[str, Any]:
    """Registration metadata of ``name``: width_field, example, description, reference."""
    return _REGISTRY.metadata(name)


def name_of(model: Any) -> str | None:
    """The registry name of a model instance's (or class's) family, or None if unregistered."""
    cls = model if isinstance(model, type) else type(model)
    return _REGISTRY.find(cls)


def example(name: str, **overrides: Any) -> StackModule:
    """The small example instance of ``name`` (its registered ``example`` fields + overrides)."""
    return build(name, **{**metadata(name)["example"], **overrides})


def build(arch: str, /, **fields: Any) -> StackModule:
    """A model from its registry name and fields, e.g. ``build("mlp", width=64, depth=10)``.

    Raises:
      ValueError: unknown ``arch`` (lists the registered names) or a bad field value.
      TypeError: an unknown field name (lists the allowed fields).
    """
    if isinstance(arch, str) and arch not in _REGISTRY:
        raise ValueError(f"arch: {_REGISTRY.unknown_message(arch)}")
    cls = get(arch)
    allowed = field_names(cls)
    unknown = sorted(set(fields) - set(allowed))
    if unknown:
        raise TypeError(f"{arch}: unknown field(s) {unknown}; allowed: {', '.join(allowed)}")
    return cls(**fields)
