"""What the codecs need to know about a model class, and where their generated code lives.

Both codecs (:mod:`ffn_async.codec.serialization` for dicts, :mod:`ffn_async.codec._wire` for bytes)
are compiled at runtime from the attrs classes themselves: the resolved field types, the wire name
(``metadata["wire"]`` or camelCase), the constraint metadata, and the presence rules both must
apply alike (:class:`Field`). Annotations resolve in the class's own module: the generated model
modules import every name their annotations use at run time (see :mod:`ffn_async.models._base`),
so no source is read here."""

from __future__ import annotations

import datetime as dt
import enum
import itertools
import linecache
import re
import threading
import types
import typing
from decimal import Decimal
from typing import Any

import attrs

from ..models._base import UNSET, to_camel

__all__ = [
    "CHECKERS",
    "COMPILE_LOCK",
    "NAIVE_DATETIME",
    "Field",
    "Kind",
    "PathError",
    "check_lines",
    "compile_source",
    "fields",
    "kind",
    "model_fields",
    "require_plain",
    "token",
    "wire_name",
]


class PathError(Exception):
    """A decode/encode failure plus the path to it, built up while unwinding."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.segments: list[str] = []

    def at(self, segment: str) -> PathError:
        self.segments.append(segment)
        return self

    @property
    def path(self) -> str:
        out = ""
        for seg in reversed(self.segments):
            out += seg if seg.startswith("[") or not out else f".{seg}"
        return out or "(root)"


@attrs.frozen
class Kind:
    """What a field's type means to the generated code."""

    name: str  # str int float bool dict any dec datetime date enum list model
    nullable: bool
    target: Any = None  # enum class, model class, or the element Kind of a list


_EXACT = {str: "str", int: "int", float: "float", bool: "bool"}
_SIMPLE = {Decimal: "dec", dt.datetime: "datetime", dt.date: "date", Any: "any"}


def kind(tp: Any) -> Kind:
    """Classify a resolved field type; ``EnumType | str`` is a tolerant enum."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return _union_kind(tp)
    return _plain_kind(tp, nullable=False)


def _union_kind(tp: Any) -> Kind:
    """``X | None``, ``EnumType | str`` and ``EnumType | str | None``; no other union."""
    every = typing.get_args(tp)
    args = [a for a in every if a is not type(None)]
    nullable = len(args) < len(every)
    enums = [a for a in args if isinstance(a, type) and issubclass(a, enum.Enum)]
    if enums and set(args) == {enums[0], str}:
        return Kind("enum", nullable, enums[0])
    if len(args) != 1:
        raise TypeError(f"unsupported union {tp!r}")
    return _plain_kind(args[0], nullable)


def _plain_kind(tp: Any, nullable: bool) -> Kind:
    if tp in _EXACT:
        return Kind(_EXACT[tp], nullable)
    if tp in _SIMPLE:
        return Kind(_SIMPLE[tp], nullable)
    origin = typing.get_origin(tp)
    if origin is list:
        return Kind("list", nullable, kind(typing.get_args(tp)[0]))
    if origin is dict or tp is dict:
        return Kind("dict", nullable)
    if attrs.has(tp):
        return Kind("model", nullable, tp)
    raise TypeError(f"unsupported field type {tp!r}")


def wire_name(field: attrs.Attribute[Any]) -> str:
    """The JSON member name of a field."""
    return str(field.metadata.get("wire", to_camel(field.name)))


_resolved: set[type] = set()


def fields(cls: type) -> tuple[attrs.Attribute[Any], ...]:
    """The attrs fields of ``cls`` with their annotations resolved to types (in the class's
    module: a name imported only under ``TYPE_CHECKING`` does not resolve)."""
    if cls not in _resolved:
        try:
            attrs.resolve_types(cls)
        except NameError as exc:
            raise TypeError(
                f"{cls.__module__}.{cls.__qualname__}: {exc}; the names a model's annotations"
                " use must be importable from its module at run time"
            ) from None
        _resolved.add(cls)
    return tuple(attrs.fields(cls))


class Field:
    """One field of a model as both codecs see it: its names, kind, constraints and the
    presence rules (what an absent member, a ``None`` and :data:`UNSET` mean).

    A plain slotted class: creating an attrs class costs ~0.4 ms at import, on first use."""

    __slots__ = ("default", "kind", "metadata", "name", "wire")

    def __init__(
        self, name: str, wire: str, kind: Kind, default: Any, metadata: typing.Mapping[str, Any]
    ) -> None:
        self.name = name  # the attribute
        self.wire = wire  # the JSON member
        self.kind = kind
        self.default = default  # attrs.NOTHING when required
        self.metadata = metadata

    @property
    def patch(self) -> bool:
        """A PATCH field: absent on the wire is :data:`UNSET`, ``null`` is ``None``; on
        encode ``UNSET`` is left out and ``None`` is sent as ``null``."""
        return self.default is UNSET

    @property
    def factory(self) -> bool:
        """A list defaulting to ``[]``: absent or ``null`` on the wire decodes to ``[]``."""
        return isinstance(self.default, attrs.Factory)  # type: ignore[arg-type]

    @property
    def may_be_absent(self) -> bool:
        """Decoding: the member may be absent or ``null`` (otherwise it is required)."""
        k = self.kind
        return k.nullable or self.default is not attrs.NOTHING or k.name == "any"

    @property
    def may_be_none(self) -> bool:
        """Encoding (outside PATCH): the attribute may hold ``None``, which is left out
        (otherwise ``None`` is an error: "is required")."""
        return self.kind.nullable or self.kind.name == "any"


_model_fields: dict[type, tuple[Field, ...]] = {}


def model_fields(cls: type) -> tuple[Field, ...]:
    """The :class:`Field` records of a model class, in declaration order (cached)."""
    found = _model_fields.get(cls)
    if found is None:
        found = _model_fields[cls] = tuple(
            Field(f.name, wire_name(f), kind(f.type), f.default, f.metadata) for f in fields(cls)
        )
    return found


def require_plain(cls: type) -> None:
    """Refuse a class with validators, converters or post-init: the generated code makes
    objects with ``object.__new__`` and sets their attributes, skipping all three."""
    if hasattr(cls, "__attrs_post_init__") or any(
        f.validator or f.converter for f in attrs.fields(cls)
    ):
        raise TypeError(f"{cls.__name__} has validators or post-init: not a generated model")


NAIVE_DATETIME = "datetime must be timezone-aware (for example tzinfo=datetime.UTC)"
"""The error for a naive date-time given to encode (both codecs)."""


COMPILE_LOCK = threading.RLock()
"""Held while generating code, so that two threads never see a half-built class family."""

_counter = itertools.count(1)
_tokens: dict[Any, str] = {}


def token(obj: Any) -> str:
    """A unique name part for a class or enum in generated code (``Outbound_7``): two APIs
    may have classes of the same name."""
    found = _tokens.get(obj)
    if found is None:
        found = _tokens[obj] = f"{obj.__name__}_{next(_counter)}"
    return found


def compile_source(source: str, what: str, namespace: dict[str, Any]) -> None:
    """Execute generated ``source`` in ``namespace``, registered with :mod:`linecache` (as
    cattrs does) so that tracebacks show it and debuggers can step through it."""
    filename = f"<ffn_async generated {what}>"
    code = compile(source, filename, "exec")
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(code, namespace)  # noqa: S102 - source is built from the models' own field metadata


# --------------------------------------------------------------------------- request checks


def _chk_len(v: Any, low: int | None, high: int | None, unit: str) -> None:
    size = len(v)
    if low is not None and size < low:
        raise PathError(f"must have at least {low} {unit}, has {size}")
    if high is not None and size > high:
        raise PathError(f"must have at most {high} {unit}, has {size}")


def _chk_range(v: Any, low: Any, high: Any) -> None:
    if low is not None and v < low:
        raise PathError(f"must be >= {low}, got {v}")
    if high is not None and v > high:
        raise PathError(f"must be <= {high}, got {v}")


def _chk_pattern(v: str, pattern: re.Pattern[str]) -> None:
    if pattern.search(v) is None:
        raise PathError(f"must match the pattern {pattern.pattern!r}")


def _chk_choices(v: Any, choices: tuple[str, ...]) -> None:
    value = v.value if isinstance(v, enum.Enum) else v
    if value not in choices:
        raise PathError(f"must be one of {', '.join(choices)}; got {value!r}")


CHECKERS: dict[str, Any] = {
    f.__name__: f for f in (_chk_len, _chk_range, _chk_pattern, _chk_choices)
}
"""The functions :func:`check_lines` calls: put them in the generated code's namespace."""


def check_lines(meta: typing.Mapping[str, Any], namespace: dict[str, Any]) -> list[str]:
    """Statements checking the spec constraints recorded in a field's metadata on ``v``.

    Each is an inline test that calls a ``_chk_*`` function (which words the error and raises
    :class:`PathError`) only when the value fails it. Compiled patterns go into ``namespace``.
    """
    lines: list[str] = []

    def bounds(value: str, low: Any, high: Any) -> str:
        parts = ([f"{value} < {low!r}"] if low is not None else []) + (
            [f"{value} > {high!r}"] if high is not None else []
        )
        return " or ".join(parts)

    for low_key, high_key, unit in (
        ("min_length", "max_length", "characters"),
        ("min_items", "max_items", "items"),
    ):
        low, high = meta.get(low_key), meta.get(high_key)
        if low is not None or high is not None:
            test = bounds("len(v)", low, high)
            lines.append(f"if {test}: _chk_len(v, {low!r}, {high!r}, {unit!r})")
    low, high = meta.get("minimum"), meta.get("maximum")
    if low is not None or high is not None:
        lines.append(f"if {bounds('v', low, high)}: _chk_range(v, {low!r}, {high!r})")
    if "pattern" in meta:
        name = f"_P_{len(namespace)}"
        namespace[name] = re.compile(meta["pattern"])
        lines.append(f"if {name}.search(v) is None: _chk_pattern(v, {name})")
    if "choices" in meta:
        choices = tuple(meta["choices"])
        # a StrEnum member compares equal to its value: the call words the error (or
        # accepts a member of another Enum kind whose value is listed)
        lines.append(f"if v not in {choices!r}: _chk_choices(v, {choices!r})")
    return lines
