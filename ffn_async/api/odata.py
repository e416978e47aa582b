"""Build OData ``$filter``, ``$select`` and ``$orderBy`` values with safe quoting.

FFN filters only through the OData parameters (plain query parameters are silently ignored), so
filters are common and a quote in a value (``O'Brien``) must never end the string literal::

    from ffn_async.api.odata import F, desc, order_by

    flt = F("status").eq("Shipped") & F("shippingAddress/lastname").eq("O'Brien")
    str(flt)          # "status eq 'Shipped' and shippingAddress/lastname eq 'O''Brien'"
    F("items").any(lambda a: a.jfsku.contains("VZ9N01SJN9E"))
                      # "items/any(a:contains(a/jfsku,'VZ9N01SJN9E'))"
    order_by("merchantOutboundNumber", desc("modificationInfo/createdAt"))

Every list method also takes a plain string for expressions the builder does not cover.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
import re
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Final, TypeAlias

import attrs

__all__ = [
    "F",
    "Field",
    "Filter",
    "FilterLike",
    "OrderKey",
    "Value",
    "asc",
    "desc",
    "filter_text",
    "literal",
    "not_",
    "order_by",
    "select",
]

Value: TypeAlias = str | bool | int | float | Decimal | dt.datetime | dt.date | enum.Enum | None
"""What may stand on the right-hand side of a comparison."""

# Precedence of an expression's outermost operator: lower binds looser and needs parentheses
# when it becomes the operand of a tighter one. Raw strings are unknown and always wrapped.
_RAW, _OR, _AND, _CMP, _NOT, _PRIMARY = range(6)

_PATH: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:/[A-Za-z_][A-Za-z0-9_]*)*\Z")
_VAR: Final = re.compile(r"[a-z][a-z0-9_]*\Z")


def literal(value: Value) -> str:
    """Format a Python value as an OData literal.

    Strings are single-quoted with inner quotes doubled; booleans are ``true``/``false``;
    ``None`` is ``null``; date-times must carry a timezone (UTC is written as ``Z``).

    Raises:
        ValueError: a naive datetime, a non-finite number, or an unsupported type.
    """
    if value is None:
        return "null"
    if isinstance(value, enum.Enum):
        return literal(value.value)
    if isinstance(value, bool):  # before int: bool is an int
        return "true" if value else "false"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float | Decimal):
        return _fraction_literal(value)
    if isinstance(value, dt.datetime):  # before date: a datetime is a date
        return _datetime_literal(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    raise ValueError(f"cannot format {type(value).__name__} as an OData literal")


def _fraction_literal(value: float | Decimal) -> str:
    finite = math.isfinite(value) if isinstance(value, float) else value.is_finite()
    if not finite:
        raise ValueError(f"OData has no literal for {value!r}")
    return str(value)


def _datetime_literal(value: dt.datetime) -> str:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            f"datetime {value.isoformat()} has no timezone; pass an aware datetime "
            "(for example datetime.now(timezone.utc))"
        )
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _checked_path(path: str) -> str:
    if not _PATH.match(path):
        raise ValueError(
            f"{path!r} is not an OData property path (names separated by '/', e.g. "
            "'modificationInfo/createdAt')"
        )
    return path


@attrs.frozen
class Filter:
    """A boolean ``$filter`` expression. Combine with ``&`` (and), ``|`` (or), ``~`` (not)."""

    text: str
    precedence: int = attrs.field(default=_RAW, repr=False)

    def __str__(self) -> str:
        return self.text

    def _operand(self, outer: int) -> str:
        return self.text if self.precedence >= outer and self.precedence != _RAW else f"({self})"

    def __and__(self, other: FilterLike) -> Filter:
        return Filter(f"{self._operand(_AND)} and {_coerce(other)._operand(_AND)}", _AND)

    def __rand__(self, other: FilterLike) -> Filter:
        return _coerce(other) & self

    def __or__(self, other: FilterLike) -> Filter:
        return Filter(f"{self._operand(_OR)} or {_coerce(other)._operand(_OR)}", _OR)

    def __ror__(self, other: FilterLike) -> Filter:
        return _coerce(other) | self

    def __invert__(self) -> Filter:
        return Filter(f"not {self._operand(_PRIMARY)}", _NOT)


FilterLike: TypeAlias = Filter | str
"""A builder expression or a raw ``$filter`` string."""


def _coerce(value: FilterLike) -> Filter:
    return value if isinstance(value, Filter) else Filter(value)


def not_(expression: FilterLike) -> Filter:
    """``not (expression)``; the same as ``~expression`` for builder expressions."""
    return ~_coerce(expression)


@attrs.frozen
class Field:
    """A property path (``status``, ``modificationInfo/createdAt``) to compare or call on."""

    path: str = attrs.field(converter=_checked_path)

    def __str__(self) -> str:
        return self.path

    def __truediv__(self, name: str) -> Field:
        """``F("modificationInfo") / "createdAt"`` is ``F("modificationInfo/createdAt")``."""
        return Field(f"{self.path}/{name}")

    def __getattr__(self, name: str) -> Field:
        """``a.jfsku`` inside an ``any``/``all`` lambda is the path ``a/jfsku``."""
        if name.startswith("_"):
            raise AttributeError(name)
        return self / name

    def _compare(self, operator: str, value: Value) -> Filter:
        return Filter(f"{self.path} {operator} {literal(value)}", _CMP)

    def eq(self, value: Value) -> Filter:
        """``path eq value``."""
        return self._compare("eq", value)

    def ne(self, value: Value) -> Filter:
        """``path ne value``."""
        return self._compare("ne", value)

    def gt(self, value: Value) -> Filter:
        """``path gt value``."""
        return self._compare("gt", value)

    def ge(self, value: Value) -> Filter:
        """``path ge value``."""
        return self._compare("ge", value)

    def lt(self, value: Value) -> Filter:
        """``path lt value``."""
        return self._compare("lt", value)

    def le(self, value: Value) -> Filter:
        """``path le value``."""
        return self._compare("le", value)

    def contains(self, text: str) -> Filter:
        """``contains(path,'text')``."""
        return Filter(f"contains({self.path},{literal(text)})", _PRIMARY)

    def startswith(self, text: str) -> Filter:
        """``startswith(path,'text')``."""
        return Filter(f"startswith({self.path},{literal(text)})", _PRIMARY)

    def endswith(self, text: str) -> Filter:
        """``endswith(path,'text')``."""
        return Filter(f"endswith({self.path},{literal(text)})", _PRIMARY)

    def any(self, predicate: Callable[[Field], FilterLike], *, var: str = "a") -> Filter:
        """``path/any(a:predicate)``: some element of the collection matches.

        ``predicate`` receives the lambda variable as a :class:`Field`; use another ``var`` when
        nesting lambdas.
        """
        return self._lambda("any", predicate, var)

    def all(self, predicate: Callable[[Field], FilterLike], *, var: str = "a") -> Filter:
        """``path/all(a:predicate)``: every element of the collection matches."""
        return self._lambda("all", predicate, var)

    def _lambda(self, kind: str, predicate: Callable[[Field], FilterLike], var: str) -> Filter:
        if not _VAR.match(var):
            raise ValueError(f"{var!r} is not a valid lambda variable name")
        body = _coerce(predicate(Field(var)))
        return Filter(f"{self.path}/{kind}({var}:{body})", _PRIMARY)

    def asc(self) -> OrderKey:
        """Ascending sort key for :func:`order_by`."""
        return OrderKey(self.path)

    def desc(self) -> OrderKey:
        """Descending sort key for :func:`order_by`."""
        return OrderKey(self.path, descending=True)


F = Field
"""Short alias: ``F("status").eq("Shipped")``."""


@attrs.frozen
class OrderKey:
    """One ``$orderBy`` key."""

    path: str = attrs.field(converter=_checked_path)
    descending: bool = False

    def __str__(self) -> str:
        return f"{self.path} desc" if self.descending else self.path


def asc(path: str) -> OrderKey:
    """Ascending sort on ``path``."""
    return OrderKey(path)


def desc(path: str) -> OrderKey:
    """Descending sort on ``path``."""
    return OrderKey(path, descending=True)


def select(fields: str | Iterable[str | Field]) -> str:
    """The ``$select`` value for ``fields`` (a raw string is returned as it is)."""
    if isinstance(fields, str):
        return fields
    return ",".join(str(f) if isinstance(f, Field) else _checked_path(f) for f in fields)


def order_by(*keys: str | OrderKey | Field) -> str:
    """The ``$orderBy`` value: ``order_by("name", desc("modificationInfo/createdAt"))``.

    A string key may already carry `` asc``/`` desc``.
    """
    parts = []
    for key in keys:
        if isinstance(key, str):
            path, _, direction = key.strip().partition(" ")
            if direction.strip().lower() not in ("", "asc", "desc"):
                raise ValueError(f"unknown sort direction in {key!r} (use 'asc' or 'desc')")
            key = OrderKey(path, descending=direction.strip().lower() == "desc")
        parts.append(str(key))
    return ",".join(parts)


def filter_text(expression: FilterLike | None) -> str | None:
    """The ``$filter`` value for a builder expression or raw string (``None`` stays ``None``)."""
    return None if expression is None else str(expression)
