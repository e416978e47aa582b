"""The one cattrs converter between FFN JSON and :mod:`ffn_async.models`.

``converter`` is a :class:`cattrs.Converter`; for every model class it uses a structure and an
unstructure function compiled on first use from the class's attrs fields (straight-line code
per class: exact-type fast paths, no union dispatch for optionals, nested classes calling each
other's functions directly). That keeps decoding of a 100-outbound page about as fast as
pydantic v2 while ``converter.structure(data, cls)`` stays the one entry point.

Wire rules:

* attributes are snake_case; the wire name is camelCase (``to_camel``) or the field's
  ``metadata["wire"]`` (``_page``, ``_links``); unknown keys are ignored;
* date-times are ISO-8601 both ways and always timezone-aware (a value without offset is read
  as UTC; .NET's 7-digit fractions are accepted); sending a naive datetime is a
  :class:`~ffn_async.errors.ValidationError`;
* decimals: JSON numbers are parsed by orjson as floats and turned into ``Decimal(repr(f))``,
  which recovers the literal that was on the wire for up to 15 significant digits (17 in most
  cases; FFN amounts have 2-4 decimals). On the way out a ``Decimal`` is written verbatim
  (``orjson.Fragment``), so ``Decimal("12.30")`` goes out as ``12.30``;
* enum fields keep unknown values as plain ``str``;
* ``None`` is omitted on encode; PATCH models (``Update*``) omit fields left at
  :data:`~ffn_async.models.UNSET` and send ``None`` as ``null``.

Validation: :func:`unstructure` (and so :func:`dumps`) checks the spec constraints recorded in
field metadata (required, lengths, ranges, pattern, enum subsets) while encoding and raises
:class:`~ffn_async.errors.ValidationError` naming the field path (``items[2].quantity``); the
API layer builds every request body with :func:`unstructure`, so nothing invalid is sent.
:func:`validate` runs the same checks without keeping the result.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
import sys
import types
import typing
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import attrs
import cattrs
import orjson

from . import models
from .errors import DecodeError, ValidationError
from .models._base import UNSET, is_request_name, to_camel

__all__ = [
    "converter",
    "decode",
    "dumps",
    "loads",
    "structure",
    "unstructure",
    "validate",
]

T = TypeVar("T")

converter = cattrs.Converter()
"""The converter for every model of :mod:`ffn_async.models` (and plain types)."""


class _PathError(Exception):
    """Internal: a decode/encode failure plus the path to it, built up while unwinding."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.segments: list[str] = []

    def at(self, segment: str) -> _PathError:
        self.segments.append(segment)
        return self

    @property
    def path(self) -> str:
        out = ""
        for seg in reversed(self.segments):
            out += seg if seg.startswith("[") or not out else f".{seg}"
        return out or "(root)"


_MISSING: Any = object()


def _describe(value: object) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:60]}{'…' if len(text) > 60 else ''}"


def _expected(what: str, value: object) -> _PathError:
    if value is _MISSING:
        return _PathError("is required but missing")
    if value is None:
        return _PathError("must not be null")
    return _PathError(f"expected {what}, got {_describe(value)}")


# --------------------------------------------------------------------------- scalar decoders
# `_to_*` run only when the inline exact-type check failed: coerce what is safe, else raise.


def _to_str(v: Any) -> str:
    raise _expected("a string", v)


def _to_int(v: Any) -> int:
    if type(v) is float and v.is_integer():
        return int(v)
    raise _expected("an integer", v)


def _to_float(v: Any) -> float:
    if type(v) is int:
        return float(v)
    raise _expected("a number", v)


def _to_bool(v: Any) -> bool:
    raise _expected("a boolean", v)


def _to_dict(v: Any) -> dict[str, Any]:
    raise _expected("an object", v)


def _to_dec(v: Any) -> Decimal:
    kind = type(v)
    if kind is float:
        return Decimal(repr(v))
    if kind is int:
        return Decimal(v)
    if kind is str:
        try:
            result = Decimal(v)
        except InvalidOperation:
            raise _expected("a decimal number", v) from None
        if result.is_finite():
            return result
    raise _expected("a number", v)


_LONG_FRACTION = re.compile(r"(\.\d{6})\d+")


def _to_dt(v: Any) -> dt.datetime:
    if type(v) is not str:
        raise _expected("an ISO-8601 date-time string", v)
    try:
        value = dt.datetime.fromisoformat(v)
    except ValueError:
        try:  # fractions beyond microseconds (.NET writes 7 digits): truncate
            value = dt.datetime.fromisoformat(_LONG_FRACTION.sub(r"\1", v, count=1))
        except ValueError:
            raise _expected("an ISO-8601 date-time", v) from None
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _to_date(v: Any) -> dt.date:
    if type(v) is str:
        try:
            return dt.date.fromisoformat(v[:10])
        except ValueError:
            pass
    raise _expected("an ISO-8601 date", v)


def _exact(kind: type, fallback: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def convert(v: Any) -> Any:
        return v if type(v) is kind else fallback(v)

    return convert


def _enum_decoder(cls: type[enum.Enum]) -> Callable[[Any], Any]:
    lookup = cls._value2member_map_.get

    def convert(v: Any) -> Any:
        return lookup(v, v) if type(v) is str else _to_str(v)

    return convert


def _list(v: Any, convert: Callable[[Any], Any]) -> list[Any]:
    if type(v) is not list:
        raise _expected("a list", v)
    try:
        return [convert(x) for x in v]
    except _PathError:
        for index, item in enumerate(v):  # find the failing index for the message
            try:
                convert(item)
            except _PathError as exc:
                raise exc.at(f"[{index}]") from None
        raise


def _locate(exc: _PathError, where: tuple[str, str | None], data: dict[str, Any]) -> _PathError:
    """Add the field (and, for a list, the failing index) to a decode error's path.

    ``where`` is the field's wire name and, for a list, the name of its item decoder.
    """
    wire, item = where
    items = data.get(wire)
    if item is not None and type(items) is list:
        for index, value in enumerate(items):
            try:
                _NS[item](value)
            except _PathError:
                exc.at(f"[{index}]")
                break
    return exc.at(wire)


def _not_object(v: Any) -> _PathError:
    return _expected("an object", v)


# --------------------------------------------------------------------------- encoders and checks


def _enc_dec(v: Any) -> Any:
    if type(v) is not Decimal:
        return v  # an int or float given where a Decimal is declared: JSON is the same
    if not v.is_finite():
        raise _PathError(f"must be a finite number, got {v}")
    return orjson.Fragment(str(v))


_orjson_dumps = orjson.dumps
_datetime, _timezone = dt.datetime, dt.timezone  # bound once: this runs per datetime
_minute_zones: set[dt.tzinfo] = {dt.UTC}  # fixed offsets of whole minutes (at most 2,879)


def _enc_dt(v: dt.datetime) -> str:
    # For a fixed offset of whole minutes (all that decoding produces) orjson writes exactly
    # what isoformat() does, in half the time; it would round finer offsets, so those and
    # other zones (zoneinfo, dateutil; datetime subclasses) take isoformat(). The generated
    # encoders inline the first test (see _encode_expr).
    tz = v.tzinfo
    if type(tz) is _timezone and type(v) is _datetime:
        if tz in _minute_zones:
            return _orjson_dumps(v)[1:-1].decode()
        offset = tz.utcoffset(None)
        if not (offset.seconds % 60 or offset.microseconds):
            _minute_zones.add(tz)
            return _orjson_dumps(v)[1:-1].decode()
    if tz is None:
        raise _PathError("datetime must be timezone-aware (for example tzinfo=datetime.UTC)")
    return v.isoformat()


def _enc_date(v: dt.date) -> str:
    return v.isoformat()


def _enc_enum(v: Any) -> Any:
    return v.value if isinstance(v, enum.Enum) else v


def _enc_list(v: Any, convert: Callable[[Any], Any] | None) -> list[Any]:
    if not isinstance(v, list | tuple):
        raise _PathError(f"expected a list, got {_describe(v)}")
    if convert is None:
        return list(v)
    try:
        return [convert(x) for x in v]
    except _PathError:
        for index, item in enumerate(v):
            try:
                convert(item)
            except _PathError as exc:
                raise exc.at(f"[{index}]") from None
        raise


def _enc_locate(exc: _PathError, where: tuple[str, str | None], obj: Any) -> _PathError:
    """Add the field (and, for a list, the failing index) to an encode error's path.

    ``where`` is the attribute name and, for a list, the name of its item encoder.
    """
    name, item = where
    items = getattr(obj, name, None)
    if item is not None and type(items) is list:  # a tuple went through _enc_list: located
        for index, value in enumerate(items):
            try:
                _NS[item](value)
            except (_PathError, ValueError, TypeError, AttributeError):
                exc.at(f"[{index}]")
                break
    return exc.at(name)


def _chk_len(v: Any, low: int | None, high: int | None, unit: str) -> None:
    size = len(v)
    if low is not None and size < low:
        raise _PathError(f"must have at least {low} {unit}, has {size}")
    if high is not None and size > high:
        raise _PathError(f"must have at most {high} {unit}, has {size}")


def _chk_range(v: Any, low: Any, high: Any) -> None:
    if low is not None and v < low:
        raise _PathError(f"must be >= {low}, got {v}")
    if high is not None and v > high:
        raise _PathError(f"must be <= {high}, got {v}")


def _chk_pattern(v: str, pattern: re.Pattern[str]) -> None:
    if pattern.search(v) is None:
        raise _PathError(f"must match the pattern {pattern.pattern!r}")


def _chk_choices(v: Any, choices: tuple[str, ...]) -> None:
    if _enc_enum(v) not in choices:
        raise _PathError(f"must be one of {', '.join(choices)}; got {_enc_enum(v)!r}")


# --------------------------------------------------------------------------- code generation


@attrs.frozen
class _Kind:
    """What a field's type means to the generated code."""

    name: str  # str int float bool dict any dec datetime date enum list model
    nullable: bool
    target: Any = None  # enum class, model class, or the element _Kind of a list


_EXACT = {str: "str", int: "int", float: "float", bool: "bool"}
_SIMPLE = {
    Decimal: "dec",
    dt.datetime: "datetime",
    dt.date: "date",
    Any: "any",
}


def _kind(tp: Any) -> _Kind:
    nullable = False
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        nullable = len(args) < len(typing.get_args(tp))
        enums = [a for a in args if isinstance(a, type) and issubclass(a, enum.Enum)]
        if enums and set(args) == {enums[0], str}:
            return _Kind("enum", nullable, enums[0])
        if len(args) != 1:
            raise TypeError(f"unsupported union {tp!r}")
        tp = args[0]
    if tp in _EXACT:
        return _Kind(_EXACT[tp], nullable)
    if tp in _SIMPLE:
        return _Kind(_SIMPLE[tp], nullable)
    origin = typing.get_origin(tp)
    if origin is list:
        return _Kind("list", nullable, _kind(typing.get_args(tp)[0]))
    if origin is dict or tp is dict:
        return _Kind("dict", nullable)
    if attrs.has(tp):
        return _Kind("model", nullable, tp)
    raise TypeError(f"unsupported field type {tp!r}")


_MODEL_NS: dict[str, Any] = {"dt": dt, "Decimal": Decimal, "Any": Any}
_NS: dict[str, Any] = {
    "_M": _MISSING,
    "UNSET": UNSET,
    "_PathError": _PathError,
    "_D": Decimal,
    "_new": object.__new__,
    "_fromiso": dt.datetime.fromisoformat,
    "_UTC": dt.UTC,
    "_repr": repr,
    "_not_object": _not_object,
    "_locate": _locate,
    "_list": _list,
    "_enc_list": _enc_list,
    "_enc_locate": _enc_locate,
    "_Frag": orjson.Fragment,
    "_dumps": _orjson_dumps,
    "_DT": _datetime,
    "_TZ": _timezone,
    "_minute_zones": _minute_zones,
    **{f.__name__: f for f in (_to_str, _to_int, _to_float, _to_bool, _to_dict, _to_dec)},
    **{f.__name__: f for f in (_to_dt, _to_date, _enc_dec, _enc_dt, _enc_date, _enc_enum)},
    **{f.__name__: f for f in (_chk_len, _chk_range, _chk_pattern, _chk_choices)},
    "_c_str": _exact(str, _to_str),
    "_c_int": _exact(int, _to_int),
    "_c_float": _exact(float, _to_float),
    "_c_bool": _exact(bool, _to_bool),
    "_c_dict": _exact(dict, _to_dict),
    "_c_any": lambda v: v,
}
_compiled_structure: set[type] = set()  # classes whose function exists (or is being built)
_compiled_unstructure: set[tuple[type, bool]] = set()


def _fields(cls: type) -> tuple[Any, ...]:
    # Annotations resolve in the model's own module (see ffn_async/models/_base.py).
    namespace = {**_MODEL_NS, **vars(sys.modules[cls.__module__])}
    attrs.resolve_types(cls, globalns=namespace, localns=namespace)
    return tuple(attrs.fields(cls))


def _unique(obj: Any) -> str:
    """A name for a class in the generated code: class names repeat across API modules."""
    return f"{obj.__module__.rpartition('.')[2]}_{obj.__name__}"


def _ref(prefix: str, obj: Any) -> str:
    """A name in the generated code's namespace for a class or enum."""
    name = f"{prefix}_{_unique(obj)}"
    _NS.setdefault(name, obj)
    return name


def _decoder_name(kind: _Kind) -> str:
    """Name of a one-argument function decoding a value of ``kind`` (for list items)."""
    if kind.name == "model":
        return _structure_fn_name(kind.target)
    if kind.name == "enum":
        name = f"_E_{_unique(kind.target)}_c"
        _NS.setdefault(name, _enum_decoder(kind.target))
        return name
    if kind.name == "list":
        inner = _decoder_name(kind.target)
        name = f"_c_list_{inner}"
        _NS.setdefault(name, lambda v: _list(v, _NS[inner]))
        return name
    return {"dec": "_to_dec", "datetime": "_to_dt", "date": "_to_date"}.get(
        kind.name, f"_c_{kind.name}"
    )


def _decode_lines(kind: _Kind) -> list[str]:
    """Statements turning the raw value ``v`` into the field's value (``v`` is not None)."""
    k = kind.name
    if k in ("str", "int", "float", "bool", "dict"):
        py = "dict" if k == "dict" else k
        return [f"if type(v) is not {py}: v = _to_{k}(v)"]
    if k == "any":
        return []
    if k == "dec":
        return ["v = _D(_repr(v)) if type(v) is float else _to_dec(v)"]
    if k == "datetime":  # the common case inline; odd forms and errors in _to_dt
        return [
            "try: v = _fromiso(v)",
            "except (TypeError, ValueError): v = _to_dt(v)",
            "if v.tzinfo is None: v = v.replace(tzinfo=_UTC)",
        ]
    if k == "enum":
        getter = f"_E_{_unique(kind.target)}"
        _NS.setdefault(getter, kind.target._value2member_map_.get)
        return [f"v = {getter}(v, v) if type(v) is str else _to_str(v)"]
    if k == "list":  # the comprehension inline; _list for errors (and to locate the index)
        item = _decoder_name(kind.target)
        return [f"v = [{item}(x) for x in v] if type(v) is list else _list(v, {item})"]
    return [f"v = {_decoder_name(kind)}(v)"]


def _structure_fn_name(cls: type) -> str:
    name = f"_s_{_unique(cls)}"
    if cls not in _compiled_structure:
        _compiled_structure.add(cls)  # first, so that a recursive model does not recurse here
        _compile_structure(cls, name)
    return name


def _compile_structure(cls: type, fn_name: str) -> None:
    # Straight-line code: one block per field that reads the key, converts the value and
    # stores it on an instance made with object.__new__ (the class has no validators,
    # converters or post-init, so nothing of __init__ is skipped). A failure is located by
    # the line it happened on (``lines``), so the happy path does no bookkeeping.
    if hasattr(cls, "__attrs_post_init__") or any(
        f.validator or f.converter for f in attrs.fields(cls)
    ):
        raise TypeError(f"{cls.__name__} has validators or post-init: not a generated model")
    head = [
        f"def {fn_name}(d):",
        "    if type(d) is not dict: raise _not_object(d)",
        "    g = d.get",
        f"    o = _new({_ref('_C', cls)})",
        "    try:",
    ]
    lines = list(head)
    where: dict[int, tuple[str, str | None]] = {}
    for field in _fields(cls):
        wire = field.metadata.get("wire", to_camel(field.name))
        kind = _kind(field.type)
        has_default = field.default is not attrs.NOTHING
        factory = isinstance(field.default, attrs.Factory)  # type: ignore[arg-type]
        convert = _decode_lines(kind)
        block: list[str] = []
        if kind.nullable or has_default or kind.name == "any":
            block.append(f"v = g({wire!r})")
            if factory:
                block += ["if v is None: v = []", "else:" if convert else "    pass"]
            elif convert:
                block.append("if v is not None:")
            block += [f"    {line}" for line in convert]
        else:
            block.append(f"v = g({wire!r}, _M)")
            block += convert
        block.append(f"o.{field.name} = v")
        item = _decoder_name(kind.target) if kind.name == "list" else None
        for line in block:
            lines.append(f"        {line}")
            where[len(lines)] = (wire, item)  # keyed by the 1-based line number
    table = f"_L_{_unique(cls)}"
    _NS[table] = where
    lines += [
        "        pass",
        "    except _PathError as e:",
        f"        raise _locate(e, {table}[e.__traceback__.tb_lineno], d) from None",
        "    except (ValueError, TypeError, ArithmeticError) as e:",
        f"        raise _locate(_PathError(str(e)), {table}[e.__traceback__.tb_lineno], d)"
        " from None",
        "    return o",
    ]
    _exec("\n".join(lines) + "\n", f"structure {cls.__name__}")


def _encoder_name(kind: _Kind, checked: bool) -> str | None:
    """Name of a one-argument encoder for list items, or None if items pass through."""
    if kind.name == "model":
        return _unstructure_fn_name(kind.target, checked)
    if kind.name == "list":
        inner = _encoder_name(kind.target, checked)
        name = f"_u_list_{inner}"
        _NS.setdefault(name, lambda v: _enc_list(v, _NS[inner] if inner else None))
        return name
    return {"dec": "_enc_dec", "datetime": "_enc_dt", "date": "_enc_date", "enum": "_enc_enum"}.get(
        kind.name
    )


def _check_lines(meta: typing.Mapping[str, Any]) -> list[str]:
    """Statements checking the spec constraints recorded in a field's metadata on ``v``.

    Each is an inline test calling the ``_chk_*`` function (which words the error) only when
    the value fails it.
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
        name = f"_P_{len(_NS)}"
        _NS[name] = re.compile(meta["pattern"])
        lines.append(f"if {name}.search(v) is None: _chk_pattern(v, {name})")
    if "choices" in meta:
        lines.append(f"_chk_choices(v, {tuple(meta['choices'])!r})")
    return lines


def _encode_expr(kind: _Kind, var: str, checked: bool) -> str:
    """An expression turning ``var`` (not None) into JSON data; the hot cases inline."""
    k = kind.name
    if k == "dec":
        return f"_Frag(str({var})) if type({var}) is _D and {var}.is_finite() else _enc_dec({var})"
    if k == "enum":
        return f"{var}._value_ if type({var}) is {_ref('_C', kind.target)} else _enc_enum({var})"
    if k == "date":
        return f"{var}.isoformat()"
    if k == "datetime":  # _enc_dt's fast path inline: a call less per datetime
        return (
            f"_dumps({var})[1:-1].decode() if type({var}) is _DT and type({var}.tzinfo) is _TZ"
            f" and {var}.tzinfo in _minute_zones else _enc_dt({var})"
        )
    if k == "list":
        fn = _encoder_name(kind.target, checked)
        if fn is None:
            return f"list({var}) if type({var}) is list else _enc_list({var}, None)"
        item = fn + "(x)" if kind.target.name == "list" else _encode_expr(kind.target, "x", checked)
        return f"[{item} for x in {var}] if type({var}) is list else _enc_list({var}, {fn})"
    fn = _encoder_name(kind, checked)
    return f"{fn}({var})" if fn else var


def _unstructure_fn_name(cls: type, checked: bool) -> str:
    """The encoder of ``cls``; ``checked`` encoders also enforce the spec constraints.

    Request bodies are encoded checked (and so is everything nested in them); responses are
    not, so that data the server sent (say an outbound without items) can always be re-encoded.
    """
    name = f"_{'v' if checked else 'u'}_{_unique(cls)}"
    if (cls, checked) not in _compiled_unstructure:
        _compiled_unstructure.add((cls, checked))
        _compile_unstructure(cls, name, checked)
    return name


def _compile_unstructure(cls: type, fn_name: str, checked: bool) -> None:
    # Straight-line code like the decoders': one block per field reading the attribute,
    # checking it (if ``checked``) and storing the encoded value under the wire name. A
    # failure is located by its line (``where``); for a list, the failing item is found by
    # encoding the items again one by one (see _enc_locate), so the happy path does no
    # bookkeeping.
    lines = [f"def {fn_name}(o):", "    out = {}", "    try:"]
    where: dict[int, tuple[str, str | None]] = {}
    for field in _fields(cls):
        wire = field.metadata.get("wire", to_camel(field.name))
        kind = _kind(field.type)
        checks = _check_lines(field.metadata) if checked else []
        store = f"out[{wire!r}] = {_encode_expr(kind, 'v', checked)}"
        block = [f"v = o.{field.name}"]
        if field.default is UNSET:  # PATCH field: UNSET omitted, None sent as null
            block += ["if v is not UNSET:", "    if v is None:"]
            if kind.nullable:
                block.append(f"        out[{wire!r}] = None")
            else:
                block.append(
                    "        raise _PathError('must not be null (leave it UNSET to omit)')"
                )
            block.append("    else:")
            block += [f"        {line}" for line in checks]
            block.append(f"        {store}")
        elif kind.nullable or kind.name == "any":
            block.append("if v is not None:")
            block += [f"    {line}" for line in checks]
            block.append(f"    {store}")
        else:
            block.append("if v is None: raise _PathError('is required')")
            block += [*checks, store]
        item = _encoder_name(kind.target, checked) if kind.name == "list" else None
        for number, line in enumerate(block, 1):
            lines.append(f"        {line}")
            # keyed by the 1-based line number; only the store line can fail inside an item
            where[len(lines)] = (field.name, item if number == len(block) else None)
    table = f"_L{fn_name}"
    _NS[table] = where
    lines += [
        "        pass",
        "    except _PathError as e:",
        f"        raise _enc_locate(e, {table}[e.__traceback__.tb_lineno], o) from None",
        "    except (ValueError, TypeError, AttributeError) as e:",
        f"        raise _enc_locate(_PathError(str(e)), {table}[e.__traceback__.tb_lineno], o)"
        " from None",
        "    return out",
    ]
    _exec("\n".join(lines) + "\n", f"unstructure {cls.__name__}")


def _exec(source: str, what: str) -> None:
    code = compile(source, f"<ffn_async.serialization: {what}>", "exec")
    exec(code, _NS)  # noqa: S102 - source is built above from the models' own field metadata


# --------------------------------------------------------------------------- cattrs wiring


def _is_model(cls: Any) -> bool:
    return isinstance(cls, type) and attrs.has(cls) and cls.__module__.startswith(models.__name__)


def _structure_hook(cls: type) -> Callable[[Any, type], Any]:
    fn = _NS[_structure_fn_name(cls)]

    def hook(data: Any, _: type) -> Any:
        try:
            return fn(data)
        except _PathError as exc:
            raise DecodeError(f"cannot decode {cls.__name__}: {exc.path}: {exc.message}") from None

    return hook


def _unstructure_hook(cls: type, *, checked: bool | None = None) -> Callable[[Any], Any]:
    if checked is None:
        checked = is_request_name(cls.__name__)
    fn = _NS[_unstructure_fn_name(cls, checked)]

    def hook(obj: Any) -> Any:
        try:
            return fn(obj)
        except _PathError as exc:
            raise ValidationError(exc.path, f"{exc.message} (in {cls.__name__})") from None

    return hook


def _scalar_hook(convert: Callable[[Any], Any]) -> Callable[[Any, type], Any]:
    def hook(value: Any, cls: type) -> Any:
        try:
            return convert(value)
        except _PathError as exc:
            raise DecodeError(f"cannot decode {cls}: {exc.message}") from None

    return hook


def _is_enum_or_str(tp: Any) -> bool:
    if typing.get_origin(tp) not in (typing.Union, types.UnionType):
        return False
    try:
        return _kind(tp).name == "enum"
    except TypeError:
        return False


converter.register_structure_hook_factory(_is_model, _structure_hook)
converter.register_unstructure_hook_factory(_is_model, _unstructure_hook)
converter.register_structure_hook(Decimal, _scalar_hook(_to_dec))
converter.register_structure_hook(dt.datetime, _scalar_hook(_to_dt))
converter.register_structure_hook(dt.date, _scalar_hook(_to_date))
converter.register_structure_hook_func(
    _is_enum_or_str, lambda v, tp: _scalar_hook(_enum_decoder(_kind(tp).target))(v, tp)
)
converter.register_unstructure_hook(Decimal, _enc_dec)
converter.register_unstructure_hook(dt.datetime, lambda v: _scalar_encode(_enc_dt, v))
converter.register_unstructure_hook(dt.date, _enc_date)


def _scalar_encode(encode: Callable[[Any], Any], value: Any) -> Any:
    try:
        return encode(value)
    except _PathError as exc:
        raise ValidationError("(value)", exc.message) from None


# --------------------------------------------------------------------------- public helpers


def structure(data: Any, cls: type[T]) -> T:
    """Decode JSON data (dicts/lists from :func:`loads`) into ``cls``.

    Raises :class:`~ffn_async.errors.DecodeError` naming the class and the field path.
    """
    try:
        return converter.structure(data, cls)
    except DecodeError:
        raise
    except (cattrs.BaseValidationError, ValueError, TypeError, KeyError) as exc:
        raise DecodeError(f"cannot decode {getattr(cls, '__name__', cls)}: {exc}") from None


def unstructure(obj: Any) -> Any:
    """Encode a model (or list of models) into JSON-ready data, checking request constraints.

    Raises :class:`~ffn_async.errors.ValidationError` naming the field path; nothing is sent.
    Decimals become ``orjson.Fragment`` (exact digits): encode the result with orjson.
    """
    return converter.unstructure(obj)


def validate(obj: Any) -> None:
    """Check a model (or a list of them) against the spec constraints, request model or not.

    :func:`unstructure` runs the same checks on request models (``Create*``, ``Update*``,
    ``*Request``), so the API layer need not call this; it is for checking other models.
    """
    for item in obj if isinstance(obj, list) else [obj]:
        _unstructure_hook(type(item), checked=True)(item)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return _enc_dec(value)
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def loads(data: bytes | bytearray | memoryview | str) -> Any:
    """Parse JSON with orjson; invalid JSON raises :class:`~ffn_async.errors.DecodeError`."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        body = data.encode() if isinstance(data, str) else bytes(data)
        raise DecodeError(f"response is not valid JSON: {exc}", body=body) from None


def dumps(obj: Any) -> bytes:
    """Encode a model (validated, see :func:`unstructure`) or plain data as JSON bytes."""
    return orjson.dumps(unstructure(obj), default=_json_default)


def decode(data: bytes | bytearray | memoryview | str, cls: type[T]) -> T:
    """``structure(loads(data), cls)``: JSON bytes straight to a model."""
    return structure(loads(data), cls)
