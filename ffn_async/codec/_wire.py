"""The fast codecs: JSON bytes ↔ model objects through generated msgspec "wire" Structs.

For each model class, compiled on first use and cached:

* a **decode Struct** with the wire names (camelCase or ``metadata["wire"]``), decimals as
  ``Decimal`` (msgspec parses them from the number's own text: exact at any size and scale),
  ``gc=False``; msgspec's C decoder fills it straight from the bytes. Two stages: the strict
  one types enum fields as the enum and wants an offset on every date-time; the tolerant one
  reads enums as ``str`` and accepts naive date-times;
* a **copy function**, straight-line Python, turning that Struct into the attrs object: (in
  the tolerant stage) enum values looked up, unknown ones kept as ``str``, naive date-times
  read as UTC; decimals checked finite, absent lists made ``[]``;
* an **encode Struct** (``omit_defaults``: ``None`` left out, and :data:`~ffn_async.models.UNSET`
  on PATCH models) and an **encode function** that checks the spec constraints of request
  models while filling it; msgspec writes the bytes, decimals as JSON numbers.

This path is strict: it accepts exactly what the lenient dict path of
:mod:`ffn_async.codec.serialization` would decode the same way, and raises one of
:data:`REFUSED` for anything else (a ``3.0`` where an integer belongs, a date-only
date-time, a missing field, a non-finite number, bad input to encode). The caller then runs the
dict path, which either accepts the value by its lenient rules or names the path of the
error. Generated code lives in this module's namespace (so msgspec can resolve the wire types'
forward references) and is registered with :mod:`linecache`: tracebacks show it, debuggers step
through it.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Any, TypeVar

import attrs
import msgspec

from ..models._base import UNSET
from ._modelinfo import (
    CHECKERS,
    COMPILE_LOCK,
    Kind,
    PathError,
    check_lines,
    compile_source,
    fields,
    kind,
    token,
)
from ._modelinfo import wire_name as _wire_name

__all__ = ["REFUSED", "Reject", "decoder", "encoder", "envelope_decoder", "json_encoder"]


T = TypeVar("T")


class Reject(Exception):
    """The fast path does not take this value; the dict path decides (and words the error)."""


REFUSED: tuple[type[BaseException], ...] = (
    msgspec.DecodeError,  # includes msgspec.ValidationError
    msgspec.EncodeError,
    Reject,
    PathError,
    ArithmeticError,
    ValueError,
    TypeError,
    AttributeError,
)
"""What a fast decoder or encoder raises when the dict path must take over."""

json_encoder = msgspec.json.Encoder(decimal_format="number")
"""The one encoder: decimals as JSON numbers with their own digits."""

# Names the generated code uses (it runs in this module's globals).
_Struct = msgspec.Struct
_field = msgspec.field
_Any = Any
_Decimal = Decimal
_datetime = dt.datetime
_new = object.__new__
_list, _map = list, map  # a comprehension would create a function object per list
_osa = object.__setattr__
_UTC = dt.UTC
_date_fromiso = dt.date.fromisoformat
globals().update(CHECKERS)

_counter = itertools.count(1)
_decoders: dict[type, Callable[[bytes], Any]] = {}
_encoders: dict[tuple[type, bool], Callable[[Any], bytes]] = {}
_envelopes: dict[tuple[type, str, tuple[str, ...]], Callable[[bytes], Any]] = {}
_compiled_decode: set[tuple[type, bool]] = set()
# list-item converters by (direction, kind, strict or checked)
_item_names: dict[tuple[str, Kind, bool], str] = {}
_compiled_encode: set[tuple[type, bool]] = set()


def _token(cls: type) -> str:
    name = token(cls)
    globals().setdefault(f"_C_{name}", cls)
    return name


def _set(cls: type, field: str, value: str, target: str = "o") -> str:
    """A statement storing ``value`` on ``target``; frozen classes go around their
    ``__setattr__``."""
    if cls.__setattr__ is object.__setattr__:  # type: ignore[comparison-overlap]
        return f"{target}.{field} = {value}"
    return f"_osa({target}, {field!r}, {value})"


def _check_model(cls: type) -> None:
    if hasattr(cls, "__attrs_post_init__") or any(
        f.validator or f.converter for f in attrs.fields(cls)
    ):
        raise TypeError(f"{cls.__name__} has validators or post-init: not a generated model")


# --------------------------------------------------------------------------- decoding
# Two stages, each a family of wire Structs and copy functions. The strict stage lets msgspec
# do all it can in C: enum fields typed as the enum, date-times required to carry an offset;
# its copy functions only move values. The tolerant stage reads enums as ``str`` (unknown
# values kept) and naive date-times as UTC in Python. A class starts strict and, the first
# time the strict stage refuses a body the tolerant one takes, stays tolerant.

_Aware = Annotated[dt.datetime, msgspec.Meta(tz=True)]


def _prefix(strict: bool) -> str:
    return "s" if strict else ""


def _decode_type(k: Kind, strict: bool) -> str:
    """The wire annotation of a field of kind ``k`` (a string: resolved lazily by msgspec)."""
    name = k.name
    if name == "model":
        _compile_decode(k.target, strict)
        text = f"_w{_prefix(strict)}_{_token(k.target)}"
    elif name == "list":
        text = f"list[{_decode_type(k.target, strict)}]"
    elif name == "enum" and strict:
        text = f"_C_{_token(k.target)}"
    elif name == "datetime" and strict:
        text = "_Aware"
    else:
        text = {
            "str": "str",
            "int": "int",
            "float": "float",
            "bool": "bool",
            "dict": "dict",
            "any": "_Any",
            "dec": "_Decimal",
            "datetime": "_datetime",
            "date": "str",
            "enum": "str",
        }[name]
    return f"{text} | None" if k.nullable and name != "any" else text


def _decode_type_object(k: Kind, strict: bool) -> Any:
    """What :func:`_decode_type` names, as the object itself (``None`` while a recursive
    model's wire type is still being built: msgspec then resolves the name)."""
    name = k.name
    if name == "model":
        found = globals().get(f"_w{_prefix(strict)}_{_token(k.target)}")
        if found is None:
            return None
        tp: Any = found
    elif name == "list":
        inner = _decode_type_object(k.target, strict)
        if inner is None:
            return None
        tp = list[inner]  # type: ignore[valid-type]
    elif name == "enum":
        tp = k.target if strict else str
    elif name == "datetime":
        tp = _Aware if strict else dt.datetime
    else:
        tp = {
            "str": str,
            "int": int,
            "float": float,
            "bool": bool,
            "dict": dict,
            "any": Any,
            "dec": Decimal,
            "date": str,
        }[name]
    return tp | None if k.nullable and name != "any" else tp


def _item_function(k: Kind, strict: bool) -> str:
    """Name of a one-argument function turning a decoded list item into the model value."""
    if k.name == "model" and not k.nullable:
        _compile_decode(k.target, strict)
        return f"_d{_prefix(strict)}_{_token(k.target)}"
    return _item_converter("d", f"_i{_prefix(strict)}", k, strict, _convert_lines)


def _item_converter(
    direction: str, prefix: str, k: Kind, flag: bool, body: Callable[[Kind, bool], list[str]]
) -> str:
    """Name of a compiled one-argument function running ``body(k, flag)`` on a list item
    (``None`` passes when ``k`` is nullable); compiled once per direction, kind and flag."""
    name = _item_names.get((direction, k, flag))
    if name is None:
        name = _item_names[direction, k, flag] = f"{prefix}_{next(_counter)}"
        lines = [f"def {name}(v):"]
        if k.nullable:
            lines.append("    if v is None: return None")
        lines += [f"    {line}" for line in body(k, flag)]
        lines.append("    return v")
        what = "decode" if direction == "d" else "encode"
        compile_source("\n".join(lines) + "\n", f"{what} item {name}", globals())
    return name


def _convert_lines(k: Kind, strict: bool) -> list[str]:
    """Statements turning the decoded wire value ``v`` (not None) into the model value."""
    name = k.name
    if name == "enum" and not strict:
        getter = f"_E_{_token(k.target)}"
        globals()[getter] = k.target._value2member_map_.get
        return [f"v = {getter}(v, v)"]
    if name == "dec":  # only a string ("NaN") can decode to a non-finite Decimal
        return ["if not v.is_finite(): raise Reject"]
    if name == "datetime" and not strict:
        return ["if v.tzinfo is None: v = v.replace(tzinfo=_UTC)"]
    if name == "date":
        return ["v = _date_fromiso(v[:10])"]
    if name == "model":
        return [f"v = _d{_prefix(strict)}_{_token(k.target)}(v)"]
    if name == "list":
        item = k.target
        if not item.nullable and not _convert_lines(item, strict):
            return []  # msgspec made a fresh list of the right values
        return [f"v = _list(_map({_item_function(item, strict)}, v))"]
    return []  # msgspec checked the type and made the value


_INLINE_DEPTH = 2  # nested objects copied inline, without a call, down to this depth


def _object_lines(cls: type, strict: bool, level: int, chain: frozenset[type]) -> list[str]:
    """Statements making ``o<level>`` (``o`` at the top) from the wire Struct ``w<level>``."""
    dst = f"o{level or ''}"
    lines = [f"{dst} = _new(_C_{_token(cls)})"]
    for field in fields(cls):
        k = kind(field.type)
        lines += _copy_lines(cls, field.name, k, strict, field.default, level, chain | {cls})
    return lines


def _copy_lines(
    cls: type, name: str, k: Kind, strict: bool, default: Any, level: int, chain: frozenset[type]
) -> list[str]:
    """Statements copying field ``name`` from the wire Struct to the new object (``w``/``o``
    at the top; ``w1``/``o1``… for objects copied inline, with ``v1``… as scratch)."""
    suffix = level or ""
    src, dst, v = f"w{suffix}", f"o{suffix}", f"v{suffix}"
    factory = isinstance(default, attrs.Factory)  # type: ignore[arg-type]
    required = not (k.nullable or default is not attrs.NOTHING or k.name == "any")

    def missing(var: str) -> str:
        return f"{var} is None" + (f" or {var} is UNSET" if default is UNSET else "")

    absent = missing(v)
    store = _set(cls, name, v, dst)
    load = f"{v} = {src}.{name}"
    if k.name == "dec":
        test = f"not {v}.is_finite()" if required else f"not ({absent} or {v}.is_finite())"
        return [load, f"if {test}: raise Reject", store]
    if k.name == "datetime" and not strict:
        test = f"{v}.tzinfo is None" if required else f"not ({absent}) and {v}.tzinfo is None"
        return [load, f"if {test}: {v} = {v}.replace(tzinfo=_UTC)", store]
    if k.name == "enum" and not strict:  # lookup(None, None) is None, UNSET stays UNSET
        getter = f"_E_{_token(k.target)}"
        globals()[getter] = k.target._value2member_map_.get
        return [load, _set(cls, name, f"{getter}({v}, {v})", dst)]
    inline = level < _INLINE_DEPTH
    if k.name == "model" and inline and k.target not in chain:
        _compile_decode(k.target, strict)
        child = level + 1
        inner = _object_lines(k.target, strict, child, chain)
        head = f"w{child} = {src}.{name}"
        if required:
            return [head, *inner, _set(cls, name, f"o{child}", dst)]
        return [
            head,
            f"if {missing(f'w{child}')}: {_set(cls, name, f'w{child}', dst)}",
            "else:",
            *(f"    {line}" for line in inner),
            f"    {_set(cls, name, f'o{child}', dst)}",
        ]
    item = k.target if k.name == "list" else None
    if (
        item is not None
        and item.name == "model"
        and not item.nullable
        and inline
        and item.target not in chain
    ):
        _compile_decode(item.target, strict)
        child = level + 1
        inner = _object_lines(item.target, strict, child, chain)
        return [
            load,
            f"if {v}:",
            f"    r{suffix} = []",
            f"    a{suffix} = r{suffix}.append",
            f"    for w{child} in {v}:",
            *(f"        {line}" for line in inner),
            f"        a{suffix}(o{child})",
            f"    {_set(cls, name, f'r{suffix}', dst)}",
            "else:",
            f"    {_set(cls, name, f'[] if {v} is None else {v}' if factory else v, dst)}",
        ]
    if k.name == "date":
        expr = "_date_fromiso({v}[:10])"
    elif k.name == "model":
        _compile_decode(k.target, strict)
        expr = f"_d{_prefix(strict)}_{_token(k.target)}({{v}})"
    elif k.name == "list" and _convert_lines(k, strict):
        expr = f"_list(_map({_item_function(k.target, strict)}, {{v}}))"
    elif factory:
        return [load, _set(cls, name, f"[] if {v} is None else {v}", dst)]
    else:
        return [_set(cls, name, f"{src}.{name}", dst)]
    if required:
        return [_set(cls, name, expr.format(v=f"{src}.{name}"), dst)]
    if factory:
        return [load, _set(cls, name, f"{expr.format(v=v)} if {v} else []", dst)]
    return [load, _set(cls, name, f"{v} if {absent} else {expr.format(v=v)}", dst)]


def _compile_decode(cls: type, strict: bool) -> None:
    if (cls, strict) in _compiled_decode:
        return
    _compiled_decode.add((cls, strict))  # first: a recursive model must not recurse here
    _check_model(cls)
    token = _token(cls)
    p = _prefix(strict)
    struct = [
        f"class _w{p}_{token}(_Struct, kw_only=True, gc=False):",
        f"    # wire shape of {cls.__module__}.{cls.__qualname__}"
        f" ({'strict' if strict else 'tolerant'} stage)",
    ]
    for field in fields(cls):
        k = kind(field.type)
        wire = _wire_name(field)
        default = field.default
        optional = k.nullable or default is not attrs.NOTHING or k.name == "any"
        annotation = _decode_type(k, strict)
        if optional and not k.nullable and k.name != "any":
            annotation += " | None"
        if not optional:
            struct.append(f"    {field.name}: {annotation!r} = _field(name={wire!r})")
        else:
            wire_default = "UNSET" if default is UNSET else "None"
            struct.append(
                f"    {field.name}: {annotation!r} = _field(default={wire_default}, name={wire!r})"
            )
    body = [f"def _d{p}_{token}(w):"]
    body += [f"    {line}" for line in _object_lines(cls, strict, 0, frozenset())]
    body.append("    return o")
    source = "\n".join([*struct, "", "", *body]) + "\n"
    what = f"decode {cls.__module__}.{cls.__qualname__}{' strict' if strict else ''}"
    compile_source(source, what, globals())
    # The annotations are strings (readable in the source); hand msgspec the objects where
    # they exist already, which spares it compiling a forward reference per field.
    wire = globals()[f"_w{p}_{token}"]
    for field in fields(cls):
        k = kind(field.type)
        tp = _decode_type_object(k, strict)
        optional = k.nullable or field.default is not attrs.NOTHING or k.name == "any"
        if tp is not None and optional and not k.nullable and k.name != "any":
            tp = tp | None
        if tp is not None:
            wire.__annotations__[field.name] = tp


Stage = tuple[Callable[[bytes], Any], Callable[[Any], T]]


def _staged(make: Callable[[bool], Stage[T]]) -> Callable[[bytes], T]:
    """Run the strict stage, or the tolerant one once the strict stage has refused a body
    the tolerant one decoded. A stage is (msgspec's decode, the copy into our classes), called
    here one after the other: no function of ours between them on every body."""
    parse, finish = make(True)
    tolerant: Stage[T] | None = None  # compiled when first needed
    strict_ok = True

    def run(data: bytes) -> T:
        nonlocal strict_ok, tolerant
        if strict_ok:
            try:
                return finish(parse(data))
            except msgspec.ValidationError:
                with COMPILE_LOCK:
                    tolerant = tolerant or make(False)
                result = tolerant[1](tolerant[0](data))  # when this raises, strict stays
                strict_ok = False
                return result
        assert tolerant is not None
        return tolerant[1](tolerant[0](data))

    return run


def decoder(cls: type) -> Callable[[bytes], Any]:
    """``bytes -> cls`` (a model class or ``list[model]``); raises one of :data:`REFUSED`."""
    fast = _decoders.get(cls)
    if fast is None:
        with COMPILE_LOCK:
            fast = _make_decoder(cls)
    return fast


def _make_decoder(cls: type) -> Callable[[bytes], Any]:
    fast = _decoders.get(cls)
    if fast is not None:
        return fast
    origin = getattr(cls, "__origin__", None)
    if origin is list and attrs.has(cls.__args__[0]):  # type: ignore[attr-defined]
        item = cls.__args__[0]  # type: ignore[attr-defined]

        def make(strict: bool) -> Stage[Any]:
            _compile_decode(item, strict)
            name = f"{_prefix(strict)}_{_token(item)}"
            wire = globals()[f"_w{name}"]
            decode = msgspec.json.Decoder(list[wire], float_hook=Decimal).decode  # type: ignore[valid-type]
            copy = globals()[f"_d{name}"]
            return decode, lambda found: list(map(copy, found))

        fast = _staged(make)
    elif isinstance(cls, type) and attrs.has(cls):

        def make(strict: bool) -> Stage[Any]:
            _compile_decode(cls, strict)
            name = f"{_prefix(strict)}_{_token(cls)}"
            decode = msgspec.json.Decoder(globals()[f"_w{name}"], float_hook=Decimal).decode
            return decode, globals()[f"_d{name}"]

        fast = _staged(make)
    else:

        def fast(data: bytes) -> Any:
            raise Reject(f"no fast decoder for {cls!r}")

    _decoders[cls] = fast
    return fast


def envelope_decoder(
    item: type, key: str, members: tuple[str, ...]
) -> Callable[[bytes], tuple[dict[str, Any] | None, list[Any] | None]]:
    """``bytes -> (members, items)`` for a body that is either a bare JSON array of ``item``
    or an object holding such an array under ``key`` (pages, change feeds).

    ``members`` are the object's other members wanted, as plain data (``None`` for a bare
    array); ``items`` is ``None`` when the object has no ``key`` (or it is ``null``). Raises one
    of :data:`REFUSED` when anything does not decode the fast way.
    """
    fast = _envelopes.get((item, key, members))
    if fast is None:
        with COMPILE_LOCK:
            fast = _make_envelope_decoder(item, key, members)
    return fast


def _make_envelope_decoder(
    item: type, key: str, members: tuple[str, ...]
) -> Callable[[bytes], tuple[dict[str, Any] | None, list[Any] | None]]:
    cache_key = (item, key, members)
    fast = _envelopes.get(cache_key)
    if fast is not None:
        return fast
    attributes = [f"m{i}" for i in range(len(members))]

    def make(strict: bool) -> Stage[tuple[dict[str, Any] | None, list[Any] | None]]:
        _compile_decode(item, strict)
        token = f"{_prefix(strict)}_{_token(item)}"
        name = f"_env{token}_{next(_counter)}"
        lines = [
            f"class {name}(_Struct, kw_only=True, gc=False):",
            f"    items: 'list[_w{token}] | None' = _field(default=None, name={key!r})",
        ]
        lines += [
            f"    m{i}: _Any = _field(default=None, name={member!r})"
            for i, member in enumerate(members)
        ]
        compile_source("\n".join(lines) + "\n", f"envelope {name}", globals())
        wire = globals()[f"_w{token}"]
        decode = msgspec.json.Decoder(
            globals()[name] | list[wire],  # type: ignore[valid-type]
            float_hook=Decimal,
        ).decode
        copy = globals()[f"_d{token}"]

        def finish(found: Any) -> tuple[dict[str, Any] | None, list[Any] | None]:
            if type(found) is list:
                return None, list(map(copy, found))
            items = found.items
            wanted = {m: getattr(found, a) for m, a in zip(members, attributes, strict=True)}
            return wanted, None if items is None else list(map(copy, items))

        return decode, finish

    fast = _envelopes[cache_key] = _staged(make)
    return fast


# --------------------------------------------------------------------------- encoding


def _encode_lines(k: Kind, checked: bool) -> list[str]:
    """Statements turning the model value ``v`` (not None) into what msgspec encodes."""
    name = k.name
    if name == "datetime":  # msgspec writes whole-minute offsets itself (UTC as Z)
        return ["if type(v) is not _datetime or v.tzinfo not in _minute_zones: v = _dt_out(v)"]
    if name == "date":
        return ["v = v.isoformat()"]
    if name == "model":
        _compile_encode(k.target, checked)
        return [f"v = _e{'v' if checked else ''}_{_token(k.target)}(v)"]
    if name == "list":
        item = k.target
        if item.name in ("model", "datetime", "date", "list"):
            fn = _encode_item_function(item, checked)
            return [f"v = _list(_map({fn}, v)) if type(v) is list else _listed(v, {fn})"]
        return ["if type(v) is not list: v = _listed(v, None)"]
    # str int float bool dict any: as they are; dec: msgspec refuses a non-finite one;
    # enum: msgspec writes a member's value
    return []


def _encode_item_function(k: Kind, checked: bool) -> str:
    if k.name == "model" and not k.nullable:
        _compile_encode(k.target, checked)
        return f"_e{'v' if checked else ''}_{_token(k.target)}"
    return _item_converter("e", f"_j{'v' if checked else ''}", k, checked, _encode_lines)


_minute_zones: set[Any] = {dt.UTC}  # fixed offsets of whole minutes seen (at most 2,879)


def _dt_out(v: dt.datetime) -> Any:
    """A date-time as msgspec should see it: itself when msgspec writes it exactly (a fixed
    offset of whole minutes), else its ISO-8601 text (zoneinfo zones, odd offsets)."""
    tz = v.tzinfo
    if tz is None or tz.utcoffset(v) is None:
        raise PathError("datetime must be timezone-aware (for example tzinfo=datetime.UTC)")
    if type(tz) is dt.timezone and type(v) is dt.datetime:
        offset = tz.utcoffset(None)
        if not (offset.seconds % 60 or offset.microseconds):
            _minute_zones.add(tz)
            return v
    return v.isoformat()


def _listed(v: Any, convert: Callable[[Any], Any] | None) -> list[Any]:
    if not isinstance(v, list | tuple):
        raise Reject("not a list")
    return list(v) if convert is None else [convert(x) for x in v]


def _compile_encode(cls: type, checked: bool) -> None:
    if (cls, checked) in _compiled_encode:
        return
    _compiled_encode.add((cls, checked))
    _check_model(cls)
    token = _token(cls)
    suffix = "v" if checked else ""
    struct_name = f"_x_{token}"
    struct = []
    if struct_name not in globals():
        struct = [
            f"class {struct_name}(_Struct, omit_defaults=True, gc=False):",
            f"    # what goes on the wire for {cls.__module__}.{cls.__qualname__}",
        ]
    body = [f"def _e{suffix}_{token}(o):"]
    names = []
    for index, field in enumerate(fields(cls)):
        k = kind(field.type)
        patch = field.default is UNSET
        if struct:
            struct.append(
                f"    f{index}: _Any = _field(default={'UNSET' if patch else 'None'},"
                f" name={_wire_name(field)!r})"
            )
        work = (check_lines(field.metadata, globals()) if checked else []) + _encode_lines(
            k, checked
        )
        var = f"v{index}"
        names.append(var)
        body.append(f"    v = o.{field.name}")
        if patch:
            body.append("    if v is not UNSET and v is not None:")
            body += [f"        {line}" for line in work or ["pass"]]
            if not k.nullable:
                body.append("    elif v is None: raise Reject('must not be null')")
        elif k.nullable or k.name == "any":
            if work:
                body.append("    if v is not None:")
                body += [f"        {line}" for line in work]
        else:
            body.append("    if v is None: raise Reject('is required')")
            body += [f"    {line}" for line in work]
        body.append(f"    {var} = v")
    body.append(f"    return {struct_name}({', '.join(names)})")
    source = "\n".join([*struct, *([""] * 2 if struct else []), *body]) + "\n"
    compile_source(
        source,
        f"encode{' checked' if checked else ''} {cls.__module__}.{cls.__qualname__}",
        globals(),
    )


def encoder(cls: type, checked: bool) -> Callable[[Any], bytes]:
    """``obj -> bytes`` for instances of the model ``cls``; ``checked`` also enforces the spec
    constraints. Raises one of :data:`REFUSED` when the object cannot be sent as it is."""
    key = (cls, checked)
    fast = _encoders.get(key)
    if fast is None:
        with COMPILE_LOCK:
            _compile_encode(cls, checked)
        convert = globals()[f"_e{'v' if checked else ''}_{_token(cls)}"]
        encode = json_encoder.encode

        def fast(obj: Any) -> bytes:
            return encode(convert(obj))

        _encoders[key] = fast
    return fast
