"""argparse options built from a dataclass's fields, so each default and help text lives once.

cleanrl's pattern (STYLE.md item 14): the config dataclass *is* the command line. A field
joins the command line when it is declared with :func:`option`; its flag is ``--field-name``
unless the option names another, its type comes from the annotation (``X | None`` -> ``X``),
its default from the field (a field without one is a required option), its help from the
option. A ``bool`` field is a flag that stores ``const`` (by default: not the field's default,
so ``progress: bool = option(True, "...", flag="--no-progress")`` stores False).
:func:`from_args` builds the dataclass back from the parsed namespace.

Only the standard library is imported: ``ghvae --help`` stays cheap.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

__all__ = ["option", "add_options", "from_args"]

_KEY = "ghvae_env.cli"
_MISSING: Any = dataclasses.MISSING
T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class _Option:
    help: str
    flag: str | None
    metavar: str | None
    choices: Sequence[Any] | None
    const: Any
    type: Callable[[str], Any] | None


def option(
    default: Any = _MISSING,
    help: str = "",
    *,
    flag: str | None = None,
    metavar: str | None = None,
    choices: Sequence[Any] | None = None,
    const: Any = _MISSING,
    type: Callable[[str], Any] | None = None,
) -> Any:
    """A dataclass field that is also a command-line option (see the module docstring).

    ``default`` omitted: a required field and a required option. ``type`` overrides the
    converter the annotation gives (e.g. a checker that raises ``argparse.ArgumentTypeError``).
    """
    if not help.strip():
        raise ValueError("option needs a help text")
    spec = _Option(help, flag, metavar, None if choices is None else tuple(choices), const, type)
    return dataclasses.field(default=default, metadata={_KEY: spec})


def _converter(annotation: Any, where: str) -> type:
    """The one non-None type of ``X`` or ``X | None``."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        if len(rest) != 1:
            raise TypeError(f"{where}: cannot make an option of the type {annotation!r}")
        annotation = rest[0]
    if annotation not in (int, float, str, bool, Path):
        raise TypeError(f"{where}: cannot make an option of the type {annotation!r}")
    return annotation


def add_options(parser: argparse.ArgumentParser, cls: type) -> None:
    """Add an option to ``parser`` for each field of the dataclass ``cls`` declared with
    :func:`option`, in field order; its ``dest`` is the field name."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        spec = f.metadata.get(_KEY)
        if spec is None:
            continue
        flag = spec.flag or "--" + f.name.replace("_", "-")
        required = f.default is _MISSING and f.default_factory is _MISSING
        if required:
            default = None
        else:
            default = f.default if f.default is not _MISSING else f.default_factory()
        kind = _converter(hints[f.name], f"{cls.__name__}.{f.name}")
        kw: dict[str, Any] = {"dest": f.name, "help": spec.help, "default": default}
        if kind is bool:
            const = (not default) if spec.const is _MISSING else spec.const
            kw.update(action="store_const", const=const)
        else:
            kw.update(type=spec.type or kind, required=required)
            if spec.choices is not None:
                kw["choices"] = spec.choices
            if spec.metavar is not None:
                kw["metavar"] = spec.metavar
        parser.add_argument(flag, **kw)


def from_args(cls: Callable[..., T], args: argparse.Namespace, **values: Any) -> T:
    """``cls`` built from the namespace's attributes named like its fields, and ``values``
    (fields the namespace does not hold, or that the caller sets itself)."""
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    kw = {n: getattr(args, n) for n in names if hasattr(args, n)}
    kw.update(values)
    return cls(**kw)
