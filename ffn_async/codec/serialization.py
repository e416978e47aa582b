"""The converter between FFN JSON and the model classes: bytes, dicts, and validation.

Two paths, compiled at runtime from the attrs classes themselves (fields, types, wire names,
constraint metadata) on first use per class, and cached:

* **bytes** (:func:`decode`, :func:`dumps`; what the API layer uses): msgspec decodes the body
  straight into generated wire Structs and straight-line Python copies them into the attrs
  objects; on the way out a generated function checks the request constraints while filling
  an encode Struct that msgspec writes (see :mod:`ffn_async.codec._wire`);
* **dicts** (``converter.structure`` / :func:`structure`, :func:`unstructure`): cattrs with one
  generated function per class (exact-type fast paths, nested classes calling each other
  directly), for users who hold parsed JSON.

The bytes path is strict and hands anything it does not take to the dict path, whose rules
below are the ones that count: a value both accept gives the same object, and every error
message comes from the dict path, naming the field path (``items[5].shippingAddress.city``).

Wire rules:

* attributes are snake_case; the wire name is camelCase (``to_camel``) or the field's
  ``metadata["wire"]`` (``_page``, ``_links``, ``from``); unknown keys are ignored;
* date-times are ISO-8601 both ways and always timezone-aware: a value without offset is read
  as UTC, a date-only value as midnight UTC; fractions beyond microseconds (.NET writes 7
  digits) are cut, not rounded, so a time never moves later; sending a naive datetime is a
  :class:`~ffn_async.errors.ValidationError`;
* decimals are exact at any size and scale: the bytes path reads them from the number's own
  text (``12.30`` keeps two places, ``100000000000000000.01`` survives) and :func:`dumps` writes
  their digits as JSON numbers; a string holding a number is accepted; NaN and infinities are
  refused both ways. :func:`unstructure` gives plain JSON types, so decimals come out as
  strings of their exact digits (which :func:`structure` reads back exactly);
* integers: an integral number written as a float (``3.0``) is accepted, ``3.5`` is not;
* enum fields keep unknown values as plain ``str``;
* ``None`` is omitted on encode; PATCH models (``Update*``) omit fields left at
  :data:`~ffn_async.models.UNSET` and send ``None`` as ``null``; decoding one, an absent field
  is ``UNSET`` and ``null`` is ``None``.

Validation: encoding a request model (``Create*``, ``Update*``, ``*Request``: :func:`dumps`,
:func:`unstructure`) checks the spec constraints recorded in field metadata (required,
lengths, ranges, pattern, enum subsets) and raises :class:`~ffn_async.errors.ValidationError`
naming the field path (``items[2].quantity``); nothing invalid is sent. :func:`validate` runs
the same checks on any model.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
import re
import types
import typing
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import attrs
import cattrs
import msgspec

from ..errors import DecodeError, ValidationError
from ..models._base import UNSET, is_request_name
from . import _wire
from ._modelinfo import (
    CHECKERS,
    COMPILE_LOCK,
    NAIVE_DATETIME,
    Field,
    check_lines,
    compile_source,
    model_fields,
    require_plain,
    token,
)
from ._modelinfo import Kind as _Kind
from ._modelinfo import PathError as _PathError
from ._modelinfo import kind as _kind

__all__ = [
    "converter",
    "decode",
    "decode_envelope",
    "decoder",
    "dumps",
    "loads",
    "structure",
    "unstructure",
    "validate",
]

T = TypeVar("T")

converter = cattrs.Converter()
"""The converter for every model class (and plain types): dicts in, dicts out."""

_MODELS_PACKAGE = "ffn_async.models"
_MISSING: Any = object()


def _describe(value: object) -> str:
    if type(value) is Decimal:
        return f"number {value}"
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
    # an integral number written as a float (3.0) is still that integer: accepted
    if type(v) is float and v.is_integer():
        return int(v)
    if type(v) is Decimal and v.is_finite() and v == v.to_integral_value():
        return int(v)
    raise _expected("an integer", v)


def _to_float(v: Any) -> float:
    if type(v) in (int, float, Decimal):
        result = float(v)
        if math.isfinite(result):
            return result
        raise _PathError(f"must be a finite number, got {v}")
    raise _expected("a number", v)


def _to_bool(v: Any) -> bool:
    raise _expected("a boolean", v)


def _to_dict(v: Any) -> dict[str, Any]:
    raise _expected("an object", v)


def _to_dec(v: Any) -> Decimal:
    kind = type(v)
    result: Decimal
    if kind is Decimal:  # the bytes path reads numbers into Decimal
        result = v
    elif kind is float:  # a dict parsed by another JSON library: its shortest repr
        result = Decimal(repr(v))
    elif kind is int:
        return Decimal(v)
    elif kind is str:
        try:
            result = Decimal(v)
        except InvalidOperation:
            raise _expected("a decimal number", v) from None
    else:
        raise _expected("a number", v)
    if not result.is_finite():
        raise _PathError(f"must be a finite number, got {v}")
    return result


_LONG_FRACTION = re.compile(r"(\.\d{6})(\d)\d*")
_MICROSECOND = dt.timedelta(microseconds=1)


def _to_dt(v: Any) -> dt.datetime:
    if type(v) is not str:
        raise _expected("an ISO-8601 date-time string", v)
    # Fractions beyond microseconds (.NET writes 7 digits) are rounded half up, as msgspec
    # does on the bytes path: both paths give the same time.
    longer = _LONG_FRACTION.search(v)
    try:
        value = dt.datetime.fromisoformat(v if longer is None else _LONG_FRACTION.sub(r"\1", v, 1))
    except ValueError:
        raise _expected("an ISO-8601 date-time", v) from None
    if longer is not None and longer.group(2) >= "5":
        value += _MICROSECOND
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
        _raise_at_item(v, convert)
        raise


def _raise_at_item(v: Any, convert: Callable[[Any], Any]) -> None:
    """Convert the items of ``v`` again one by one: the first failure is raised with its
    index in the path (the happy path of a list does no bookkeeping)."""
    for index, item in enumerate(v):
        try:
            convert(item)
        except _PathError as exc:
            raise exc.at(f"[{index}]") from None


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
    return str(v)  # plain JSON: the exact digits as a string


def _enc_dt(v: dt.datetime) -> str:
    if v.tzinfo is None:
        raise _PathError(NAIVE_DATETIME)
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
        _raise_at_item(v, convert)
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
                if value is None:  # not "None has no attribute …" from inside the item
                    exc = _PathError("must not be null")
                exc.at(f"[{index}]")
                break
    return exc.at(name)


# --------------------------------------------------------------------------- code generation


_NS: dict[str, Any] = {
    "_M": _MISSING,
    "UNSET": UNSET,
    "_PathError": _PathError,
    "_D": Decimal,
    "_new": object.__new__,
    "_UTC": dt.UTC,
    "_not_object": _not_object,
    "_locate": _locate,
    "_list": _list,
    "_enc_list": _enc_list,
    "_enc_locate": _enc_locate,
    **{f.__name__: f for f in (_to_str, _to_int, _to_float, _to_bool, _to_dict, _to_dec)},
    **{f.__name__: f for f in (_to_dt, _to_date, _enc_dec, _enc_dt, _enc_date, _enc_enum)},
    **CHECKERS,
    "_c_str": _exact(str, _to_str),
    "_c_int": _exact(int, _to_int),
    "_c_float": _to_float,
    "_c_bool": _exact(bool, _to_bool),
    "_c_dict": _exact(dict, _to_dict),
    "_c_any": lambda v: v,
}
_compiled_structure: set[type] = set()  # classes whose function exists (or is being built)
_compiled_unstructure: set[tuple[type, bool]] = set()


def _ref(prefix: str, obj: Any) -> str:
    """A name in the generated code's namespace for a class or enum."""
    name = f"{prefix}_{token(obj)}"
    _NS.setdefault(name, obj)
    return name


def _decoder_name(kind: _Kind) -> str:
    """Name of a one-argument function decoding a value of ``kind`` (for list items: a
    nullable item kind, ``list[str | None]``, lets ``None`` through)."""
    if kind.nullable:
        inner = _decoder_name(attrs.evolve(kind, nullable=False))
        name = f"{inner}_or_none"
        _NS.setdefault(name, lambda v: None if v is None else _NS[inner](v))
        return name
    if kind.name == "model":
        return _structure_fn_name(kind.target)
    if kind.name == "enum":
        name = f"_E_{token(kind.target)}_c"
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
    if k == "float":  # inf - inf and nan - nan are nan: non-finite floats go to _to_float
        return ["if type(v) is not float or v - v != 0: v = _to_float(v)"]
    if k in ("str", "int", "bool", "dict"):
        return [f"if type(v) is not {k}: v = _to_{k}(v)"]
    if k == "any":
        return []
    if k == "dec":
        return ["if type(v) is not _D or not v.is_finite(): v = _to_dec(v)"]
    if k == "datetime":
        return ["v = _to_dt(v)"]
    if k == "enum":
        getter = f"_E_{token(kind.target)}"
        _NS.setdefault(getter, kind.target._value2member_map_.get)
        return [f"v = {getter}(v, v) if type(v) is str else _to_str(v)"]
    if k == "list":  # the comprehension inline; _list for errors (and to locate the index)
        item = _decoder_name(kind.target)
        return [f"v = [{item}(x) for x in v] if type(v) is list else _list(v, {item})"]
    return [f"v = {_decoder_name(attrs.evolve(kind, nullable=False))}(v)"]  # None handled


def _structure_fn_name(cls: type) -> str:
    name = f"_s_{token(cls)}"
    if cls not in _compiled_structure:
        _compiled_structure.add(cls)  # first, so that a recursive model does not recurse here
        _compile_structure(cls, name)
    return name


def _compile_structure(cls: type, fn_name: str) -> None:
    # Straight-line code: one block per field that reads the key, converts the value and
    # stores it on an instance made with object.__new__ (the class has no validators,
    # converters or post-init, so nothing of __init__ is skipped). A failure is located by
    # the line it happened on (``where``), so the happy path does no bookkeeping.
    require_plain(cls)
    lines = [
        f"def {fn_name}(d):",
        "    if type(d) is not dict: raise _not_object(d)",
        "    g = d.get",
        f"    o = _new({_ref('_C', cls)})",
        "    try:",
    ]
    where: dict[int, tuple[str, str | None]] = {}
    for field in model_fields(cls):
        kind = field.kind
        item = _decoder_name(kind.target) if kind.name == "list" else None
        for line in _structure_lines(field):
            lines.append(f"        {line}")
            where[len(lines)] = (field.wire, item)  # keyed by the 1-based line number
    table = f"_L_{token(cls)}"
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
    _exec("\n".join(lines) + "\n", f"structure {cls.__module__}.{cls.__qualname__}")


def _structure_lines(field: Field) -> list[str]:
    """Statements reading ``field``'s member from ``d`` (``g`` is ``d.get``), converting it
    and storing it on ``o``: required, optional, list-defaulting and PATCH rules."""
    wire = field.wire
    convert = _decode_lines(field.kind)
    if field.patch:  # absent stays UNSET, null is None
        lines = [f"v = g({wire!r}, UNSET)"]
        if convert:
            lines += ["if v is not None and v is not UNSET:", *_indent(convert)]
    elif field.may_be_absent:
        lines = [f"v = g({wire!r})"]
        if field.factory:
            lines += ["if v is None: v = []", "else:" if convert else "    pass"]
        elif convert:
            lines.append("if v is not None:")
        lines += _indent(convert)
    else:
        lines = [f"v = g({wire!r}, _M)", *convert]
    lines.append(f"o.{field.name} = v")
    return lines


def _indent(lines: list[str]) -> list[str]:
    return [f"    {line}" for line in lines]


def _encoder_name(kind: _Kind, checked: bool) -> str | None:
    """Name of a one-argument encoder for list items, or None if items pass through (a
    nullable item kind lets ``None`` through)."""
    if kind.nullable:
        inner = _encoder_name(attrs.evolve(kind, nullable=False), checked)
        if inner is None:
            return None
        name = f"{inner}_or_none"
        _NS.setdefault(name, lambda v: None if v is None else _NS[inner](v))
        return name
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


def _encode_expr(kind: _Kind, var: str, checked: bool) -> str:
    """An expression turning ``var`` (not None) into JSON data; the hot cases inline."""
    k = kind.name
    if k == "dec":
        return f"str({var}) if type({var}) is _D and {var}.is_finite() else _enc_dec({var})"
    if k == "enum":
        return f"{var}._value_ if type({var}) is {_ref('_C', kind.target)} else _enc_enum({var})"
    if k == "date":
        return f"{var}.isoformat()"
    if k == "datetime":
        return f"_enc_dt({var})"
    if k == "list":
        fn = _encoder_name(kind.target, checked)
        if fn is None:
            return f"list({var}) if type({var}) is list else _enc_list({var}, None)"
        nested = kind.target.name == "list" or kind.target.nullable
        item = fn + "(x)" if nested else _encode_expr(kind.target, "x", checked)
        return f"[{item} for x in {var}] if type({var}) is list else _enc_list({var}, {fn})"
    fn = _encoder_name(kind, checked)
    return f"{fn}({var})" if fn else var


def _unstructure_fn_name(cls: type, checked: bool) -> str:
    """The encoder of ``cls``; ``checked`` encoders also enforce the spec constraints.

    Request bodies are encoded checked (and so is everything nested in them); responses are
    not, so that data the server sent (say an outbound without items) can always be re-encoded.
    """
    name = f"_{'v' if checked else 'u'}_{token(cls)}"
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
    for field in model_fields(cls):
        kind = field.kind
        block = _unstructure_lines(field, checked)
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
    _exec("\n".join(lines) + "\n", f"unstructure {cls.__module__}.{cls.__qualname__}")


def _unstructure_lines(field: Field, checked: bool) -> list[str]:
    """Statements reading ``field`` from ``o``, checking it (if ``checked``) and storing its
    JSON data in ``out``: required, optional and PATCH rules; the store line comes last."""
    wire = field.wire
    checks = check_lines(field.metadata, _NS) if checked else []
    store = f"out[{wire!r}] = {_encode_expr(field.kind, 'v', checked)}"
    lines = [f"v = o.{field.name}"]
    if field.patch:  # UNSET omitted, None sent as null
        lines += ["if v is not UNSET:", "    if v is None:"]
        if field.kind.nullable:
            lines.append(f"        out[{wire!r}] = None")
        else:
            lines.append("        raise _PathError('must not be null (leave it UNSET to omit)')")
        lines += ["    else:", *_indent(_indent([*checks, store]))]
    elif field.may_be_none:
        lines += ["if v is not None:", *_indent([*checks, store])]
    else:
        lines += ["if v is None: raise _PathError('is required')", *checks, store]
    return lines


def _exec(source: str, what: str) -> None:
    compile_source(source, what, _NS)


# --------------------------------------------------------------------------- cattrs wiring


def _is_model(cls: Any) -> bool:
    """A class of the models package (whatever its layout), not any attrs class a user has."""
    return (
        isinstance(cls, type)
        and attrs.has(cls)
        and (cls.__module__ + ".").startswith(_MODELS_PACKAGE + ".")
    )


def _structure_hook(cls: type) -> Callable[[Any, type], Any]:
    with COMPILE_LOCK:
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
    with COMPILE_LOCK:
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
    args = typing.get_args(cls)
    if typing.get_origin(cls) is list and args and _is_model(args[0]):
        # a list of models by hand: cattrs would wrap an item's error in an exception group
        # that loses the path
        with COMPILE_LOCK:
            fn = _NS[_structure_fn_name(args[0])]
        name = f"list[{args[0].__name__}]"
        try:
            return typing.cast(T, _list(data, fn))
        except _PathError as exc:
            raise DecodeError(f"cannot decode {name}: {exc.path}: {exc.message}") from None
    try:
        return converter.structure(data, cls)
    except DecodeError:
        raise
    except (cattrs.BaseValidationError, ValueError, TypeError, KeyError) as exc:
        raise DecodeError(f"cannot decode {getattr(cls, '__name__', cls)}: {exc}") from None


def unstructure(obj: Any) -> Any:
    """Encode a model (or list of models) into plain JSON data, checking request constraints.

    The result holds only JSON types (``json.dumps`` takes it): decimals become strings of
    their exact digits, date-times ISO-8601 strings. To send or store the JSON itself, use
    :func:`dumps` (decimals as numbers). Raises :class:`~ffn_async.errors.ValidationError`
    naming the field path.
    """
    return converter.unstructure(obj)


def validate(obj: Any) -> None:
    """Check a model (or a list of them) against the spec constraints, request model or not.

    :func:`dumps` and :func:`unstructure` run the same checks on request models
    (``Create*``, ``Update*``, ``*Request``), so the API layer need not call this; it is for
    checking other models.
    """
    for item in obj if isinstance(obj, list) else [obj]:
        _unstructure_hook(type(item), checked=True)(item)


_plain_decode = msgspec.json.Decoder().decode
_exact_decode = msgspec.json.Decoder(float_hook=Decimal).decode


def loads(data: bytes | bytearray | memoryview | str) -> Any:
    """Parse JSON into plain data (numbers with a fraction as ``float``); invalid JSON raises
    :class:`~ffn_async.errors.DecodeError`."""
    return _parse(_plain_decode, data)


def _loads_exact(data: bytes | bytearray | memoryview | str) -> Any:
    """:func:`loads` with numbers with a fraction as ``Decimal`` (exact), for the dict path."""
    return _parse(_exact_decode, data)


def _parse(decode: Callable[[Any], Any], data: bytes | bytearray | memoryview | str) -> Any:
    try:
        return decode(data)
    except msgspec.DecodeError as exc:
        body = data.encode() if isinstance(data, str) else bytes(data)
        raise DecodeError(f"response is not valid JSON: {exc}", body=body) from None


def decode(data: bytes | bytearray | memoryview | str, cls: type[T]) -> T:
    """JSON bytes straight to ``cls`` (a model class, ``list[Model]``, or any type the
    converter knows), without building dicts first.

    Raises :class:`~ffn_async.errors.DecodeError` naming the class and the field path.
    """
    return decoder(cls)(data)


_decoders: dict[Any, Callable[[Any], Any]] = {}


def decoder(cls: type[T]) -> Callable[[bytes | bytearray | memoryview | str], T]:
    """:func:`decode` bound to ``cls``: made (and the class's decoder compiled) once per class,
    for callers that decode many bodies into one class."""
    bound = _decoders.get(cls)
    if bound is None:
        fast = _wire.decoder(cls)

        def bound(data: bytes | bytearray | memoryview | str) -> T:
            try:
                result: T = fast(data)  # type: ignore[arg-type]
                return result
            except _wire.REFUSED:  # odd but acceptable input, or an error to word: the dict path
                return structure(_loads_exact(data), cls)

        _decoders[cls] = bound
    return bound


def decode_envelope(
    data: bytes, item: type[T], key: str, members: tuple[str, ...]
) -> tuple[dict[str, Any] | None, list[T] | None] | None:
    """Decode a page or change-feed body: a bare JSON array of ``item``, or an object holding
    one under ``key`` plus ``members`` wanted as plain data.

    Returns ``(members, items)`` (``members`` is ``None`` for a bare array; ``items`` is
    ``None`` when the object has no ``key`` or it is ``null``), or ``None`` when the body needs
    the dict path: the caller then parses it with :func:`loads` and decodes the parts with
    :func:`structure` (lenient, and naming the path of any error).
    """
    try:
        return _wire.envelope_decoder(item, key, members)(data)
    except _wire.REFUSED:
        return None


def dumps(obj: Any) -> bytes:
    """JSON bytes of a model (request models validated, see :func:`unstructure`), a list of
    models, or plain data; decimals are written as numbers with their own digits.

    Raises :class:`~ffn_async.errors.ValidationError` naming the field path.
    """
    cls = type(obj)
    if _is_model(cls):
        checked = is_request_name(cls.__name__)
        try:
            return _wire.encoder(cls, checked)(obj)
        except _wire.REFUSED as exc:
            _unstructure_hook(cls, checked=checked)(obj)  # raises, naming the path
            raise ValidationError("(root)", f"{exc} (in {cls.__name__})") from None
    try:
        return _wire.json_encoder.encode(_embed(obj))
    except ValidationError:
        raise
    except (msgspec.EncodeError, TypeError, ValueError) as exc:
        raise ValidationError("(value)", str(exc)) from None


def _embed(value: Any) -> Any:
    """Plain data with every model in it replaced by its encoded JSON (msgspec would write
    an attrs object by attribute names)."""
    kind = type(value)
    if kind is dict:
        return {k: _embed(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [_embed(v) for v in value]
    if _is_model(kind):
        return msgspec.Raw(dumps(value))
    return value
