"""What the codecs need to know about a model class, and where their generated code lives.

Both codecs (:mod:`ffn_async.codec.serialization` for dicts, :mod:`ffn_async.codec._wire` for bytes)
are compiled at runtime from the attrs classes themselves: the resolved field types, the wire name
(``metadata["wire"]`` or camelCase), and the constraint metadata. Nothing here knows how the model
modules are laid out: annotations are resolved in the class's own module, the names that module
imports under ``TYPE_CHECKING`` and, failing those, its parent packages."""

from __future__ import annotations

import ast
import datetime as dt
import enum
import importlib
import inspect
import itertools
import linecache
import re
import sys
import threading
import types
import typing
from decimal import Decimal
from typing import Any

import attrs

from ..models._base import to_camel

__all__ = [
    "CHECKERS",
    "COMPILE_LOCK",
    "Kind",
    "PathError",
    "check_lines",
    "compile_source",
    "fields",
    "kind",
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
    nullable = False
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        nullable = len(args) < len(typing.get_args(tp))
        enums = [a for a in args if isinstance(a, type) and issubclass(a, enum.Enum)]
        if enums and set(args) == {enums[0], str}:
            return Kind("enum", nullable, enums[0])
        if len(args) != 1:
            raise TypeError(f"unsupported union {tp!r}")
        tp = args[0]
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
    """The attrs fields of ``cls`` with their annotations resolved to types."""
    if cls not in _resolved:
        try:
            attrs.resolve_types(cls)
        except NameError:
            attrs.resolve_types(cls, globalns=_namespace(cls))
        _resolved.add(cls)
    return tuple(attrs.fields(cls))


def _namespace(cls: type) -> dict[str, Any]:
    """Names an annotation of ``cls`` may use: parent packages, then ``TYPE_CHECKING``
    imports of its module, then the module itself (the nearest wins)."""
    found = _namespaces.get(cls.__module__)
    if found is None:
        found = _namespaces[cls.__module__] = _module_namespace(cls.__module__)
    return found


_namespaces: dict[str, dict[str, Any]] = {}


def _module_namespace(module_name: str) -> dict[str, Any]:
    parts = module_name.split(".")
    namespace: dict[str, Any] = {}
    for depth in range(1, len(parts)):
        parent = sys.modules.get(".".join(parts[:depth]))
        if parent is not None:
            namespace.update(vars(parent))
    module = sys.modules[module_name]
    namespace.update(_type_checking_imports(module))
    namespace.update(vars(module))
    return namespace


def _type_checking_imports(module: types.ModuleType) -> dict[str, Any]:
    """What ``from x import y`` statements under ``if TYPE_CHECKING:`` would bind."""
    try:
        tree = ast.parse(inspect.getsource(module))
    except (OSError, TypeError, SyntaxError):
        return {}
    found: dict[str, Any] = {}
    for node in tree.body:
        test = getattr(node, "test", None)
        if not isinstance(node, ast.If) or ast.unparse(test or node).split(".")[-1] != (
            "TYPE_CHECKING"
        ):
            continue
        for stmt in node.body:
            if not isinstance(stmt, ast.ImportFrom):
                continue
            source = importlib.import_module(
                "." * stmt.level + (stmt.module or ""), module.__package__
            )
            for alias in stmt.names:
                if hasattr(source, alias.name):
                    found[alias.asname or alias.name] = getattr(source, alias.name)
    return found


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
