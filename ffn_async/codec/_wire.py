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
import enum
import itertools
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Any, TypeVar

import attrs
import msgspec

from ..models._base import UNSET  # noqa: F401 - a name the generated code uses
from ._modelinfo import (
    CHECKERS,
    COMPILE_LOCK,
    NAIVE_DATETIME,
    Field,
    Kind,
    PathError,
    check_lines,
    compile_source,
    model_fields,
    require_plain,
    token,
)

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


def _indent(lines: list[str], depth: int = 1) -> list[str]:
    pad = "    " * depth
    return [pad + line for line in lines]


# --------------------------------------------------------------------------- decoding
# Two stages, each a family of wire Structs and copy functions. The strict stage lets msgspec
# do all it can in C: enum fields typed as the enum, date-times required to carry an offset;
# its copy functions only move values. The tolerant stage reads enums as ``str`` (unknown
# values kept) and naive date-times as UTC in Python. A class starts strict and, the first
# time the strict stage refuses a body the tolerant one takes, stays tolerant.

_Aware = Annotated[dt.datetime, msgspec.Meta(tz=True)]

# kind -> the wire annotation as written in the source, and as the object
_WIRE_TYPES: dict[str, tuple[str, Any]] = {
    "str": ("str", str),
    "int": ("int", int),
    "float": ("float", float),
    "bool": ("bool", bool),
    "dict": ("dict", dict),
    "any": ("_Any", Any),
    "dec": ("_Decimal", Decimal),
    "datetime": ("_datetime", dt.datetime),
    "date": ("str", str),
    "enum": ("str", str),
}


def _prefix(strict: bool) -> str:
    return "s" if strict else ""


def _copy_function(cls: type, strict: bool) -> str:
    """Name of the (compiled) function copying ``cls``'s wire Struct into a ``cls`` object."""
    _compile_decode(cls, strict)
    return f"_d{_prefix(strict)}_{_token(cls)}"


def _enum_getter(cls: type[enum.Enum]) -> str:
    """Name of ``cls``'s value-to-member lookup (``get(value, value)`` keeps unknown values)."""
    getter = f"_E_{_token(cls)}"
    globals()[getter] = cls._value2member_map_.get
    return getter


def _wire_type(k: Kind, strict: bool) -> tuple[str, Any]:
    """The wire annotation of a field of kind ``k``: the text for the source (resolved lazily
    by msgspec) and the object (``None`` while a recursive model's Struct is being built)."""
    name = k.name
    if name == "model":
        text = f"_w{_prefix(strict)}_{_token(k.target)}"
        _compile_decode(k.target, strict)
        tp = globals().get(text)
    elif name == "list":
        inner, inner_tp = _wire_type(k.target, strict)
        text, tp = f"list[{inner}]", None if inner_tp is None else list[inner_tp]  # type: ignore[valid-type]
    elif name == "enum" and strict:
        text, tp = f"_C_{_token(k.target)}", k.target
    elif name == "datetime" and strict:
        text, tp = "_Aware", _Aware
    else:
        text, tp = _WIRE_TYPES[name]
    if k.nullable and name != "any":
        return f"{text} | None", None if tp is None else tp | None
    return text, tp


def _item_function(k: Kind, strict: bool) -> str:
    """Name of a one-argument function turning a decoded list item into the model value."""
    if k.name == "model" and not k.nullable:
        return _copy_function(k.target, strict)
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
        lines += _indent(body(k, flag))
        lines.append("    return v")
        what = "decode" if direction == "d" else "encode"
        compile_source("\n".join(lines) + "\n", f"{what} item {name}", globals())
    return name


def _convert_lines(k: Kind, strict: bool) -> list[str]:
    """Statements turning the decoded wire value ``v`` (not None) into the model value."""
    name = k.name
    if name == "enum" and not strict:
        return [f"v = {_enum_getter(k.target)}(v, v)"]
    if name == "dec":  # only a string ("NaN") can decode to a non-finite Decimal
        return ["if not v.is_finite(): raise Reject"]
    if name == "datetime" and not strict:
        return ["if v.tzinfo is None: v = v.replace(tzinfo=_UTC)"]
    if name == "list":
        item = k.target
        if not item.nullable and not _convert_lines(item, strict):
            return []  # msgspec made a fresh list of the right values
        return [f"v = _list(_map({_item_function(item, strict)}, v))"]
    expr = _convert_expr(k, strict)  # date, model; the others msgspec checked and made
    return [] if expr is None else [f"v = {expr.format(v='v')}"]


def _convert_expr(k: Kind, strict: bool) -> str | None:
    """An expression (a format string of ``{v}``) converting a decoded date, model or list
    needing conversion; ``None`` for a value that is the model value already."""
    if k.name == "date":
        return "_date_fromiso({v}[:10])"
    if k.name == "model":
        return f"{_copy_function(k.target, strict)}({{v}})"
    if k.name == "list" and _convert_lines(k, strict):
        return f"_list(_map({_item_function(k.target, strict)}, {{v}}))"
    return None


_INLINE_DEPTH = 2  # nested objects copied inline, without a call, down to this depth


def _object_lines(cls: type, strict: bool, level: int, chain: frozenset[type]) -> list[str]:
    """Statements making ``o<level>`` (``o`` at the top) from the wire Struct ``w<level>``."""
    lines = [f"o{level or ''} = _new(_C_{_token(cls)})"]
    inner = chain | {cls}
    for field in model_fields(cls):
        lines += _copy_lines(_Copy(cls, field, strict, level, inner))
    return lines


class _Copy:
    """One field being copied from the wire Struct to the new object: ``w``/``o`` at the top,
    ``w1``/``o1``… for objects copied inline, with ``v``, ``v1``… as scratch."""

    __slots__ = ("chain", "cls", "field", "level", "strict")

    def __init__(
        self, cls: type, field: Field, strict: bool, level: int, chain: frozenset[type]
    ) -> None:
        self.cls = cls
        self.field = field
        self.strict = strict
        self.level = level
        self.chain = chain  # the classes being copied inline around this field

    @property
    def suffix(self) -> str:
        return str(self.level or "")

    @property
    def v(self) -> str:
        return f"v{self.suffix}"

    @property
    def wire(self) -> str:
        """The field's value on the wire Struct."""
        return f"w{self.suffix}.{self.field.name}"

    @property
    def load(self) -> str:
        return f"{self.v} = {self.wire}"

    @property
    def required(self) -> bool:
        return not self.field.may_be_absent

    def missing(self, var: str) -> str:
        """A test that ``var`` holds no value (``None``, or ``UNSET`` in a PATCH model)."""
        return f"{var} is None" + (f" or {var} is UNSET" if self.field.patch else "")

    def store(self, value: str) -> str:
        return _set(self.cls, self.field.name, value, f"o{self.suffix}")


def _copy_lines(c: _Copy) -> list[str]:
    """Statements copying one field, by its kind."""
    name = c.field.kind.name
    if name == "dec":
        return _copy_decimal(c)
    if name == "datetime" and not c.strict:
        return _copy_naive_datetime(c)
    if name == "enum" and not c.strict:  # lookup(None, None) is None, UNSET stays UNSET
        return [c.load, c.store(f"{_enum_getter(c.field.kind.target)}({c.v}, {c.v})")]
    nested = _inline_target(c)
    if nested is None:
        return _copy_converted(c)
    if name == "list":
        return _copy_inline_list(c, nested)
    return _copy_inline_model(c, nested)


def _copy_decimal(c: _Copy) -> list[str]:
    v = c.v
    test = f"not {v}.is_finite()" if c.required else f"not ({c.missing(v)} or {v}.is_finite())"
    return [c.load, f"if {test}: raise Reject", c.store(v)]


def _copy_naive_datetime(c: _Copy) -> list[str]:
    v = c.v
    test = f"{v}.tzinfo is None"
    if not c.required:
        test = f"not ({c.missing(v)}) and {test}"
    return [c.load, f"if {test}: {v} = {v}.replace(tzinfo=_UTC)", c.store(v)]


def _inline_target(c: _Copy) -> type | None:
    """The model class copied inline for this field (a model, or a list of non-null models),
    if any: not below :data:`_INLINE_DEPTH`, and never a class already being copied."""
    k = c.field.kind
    if k.name == "list" and k.target.name == "model" and not k.target.nullable:
        target = k.target.target
    elif k.name == "model":
        target = k.target
    else:
        return None
    return target if c.level < _INLINE_DEPTH and target not in c.chain else None


def _copy_inline_model(c: _Copy, target: type) -> list[str]:
    child = c.level + 1
    _compile_decode(target, c.strict)
    inner = _object_lines(target, c.strict, child, c.chain)
    head = f"w{child} = {c.wire}"
    if c.required:
        return [head, *inner, c.store(f"o{child}")]
    return [
        head,
        f"if {c.missing(f'w{child}')}: {c.store(f'w{child}')}",
        "else:",
        *_indent(inner),
        f"    {c.store(f'o{child}')}",
    ]


def _copy_inline_list(c: _Copy, target: type) -> list[str]:
    child, suffix, v = c.level + 1, c.suffix, c.v
    _compile_decode(target, c.strict)
    inner = _object_lines(target, c.strict, child, c.chain)
    empty = f"[] if {v} is None else {v}" if c.field.factory else v
    return [
        c.load,
        f"if {v}:",
        f"    r{suffix} = []",
        f"    a{suffix} = r{suffix}.append",
        f"    for w{child} in {v}:",
        *_indent(inner, 2),
        f"        a{suffix}(o{child})",
        f"    {c.store(f'r{suffix}')}",
        "else:",
        f"    {c.store(empty)}",
    ]


def _copy_converted(c: _Copy) -> list[str]:
    """A field copied as it is, or through a call (a date, a model, a list needing one)."""
    v, factory = c.v, c.field.factory
    expr = _convert_expr(c.field.kind, c.strict)
    if expr is None:
        if factory:
            return [c.load, c.store(f"[] if {v} is None else {v}")]
        return [c.store(c.wire)]
    if c.required:
        return [c.store(expr.format(v=c.wire))]
    if factory:
        return [c.load, c.store(f"{expr.format(v=v)} if {v} else []")]
    return [c.load, c.store(f"{v} if {c.missing(v)} else {expr.format(v=v)}")]


def _compile_decode(cls: type, strict: bool) -> None:
    """Compile ``cls``'s wire Struct ``_w[s]_<token>`` and copy function ``_d[s]_<token>``
    (and those of the classes it holds)."""
    if (cls, strict) in _compiled_decode:
        return
    _compiled_decode.add((cls, strict))  # first: a recursive model must not recurse here
    require_plain(cls)
    token = _token(cls)
    p = _prefix(strict)
    struct = [
        f"class _w{p}_{token}(_Struct, kw_only=True, gc=False):",
        f"    # wire shape of {cls.__module__}.{cls.__qualname__}"
        f" ({'strict' if strict else 'tolerant'} stage)",
    ]
    # The annotations are strings (readable in the source); msgspec is handed the objects
    # where they exist already, which spares it compiling a forward reference per field.
    objects: dict[str, Any] = {}
    for field in model_fields(cls):
        text, objects[field.name] = _wire_type(field.kind, strict)
        struct.append(_struct_line(field, text))
        if field.may_be_absent and not field.may_be_none and objects[field.name] is not None:
            objects[field.name] |= None
    body = [f"def _d{p}_{token}(w):", *_indent(_object_lines(cls, strict, 0, frozenset()))]
    body.append("    return o")
    source = "\n".join([*struct, "", "", *body]) + "\n"
    what = f"decode {cls.__module__}.{cls.__qualname__}{' strict' if strict else ''}"
    compile_source(source, what, globals())
    annotations = globals()[f"_w{p}_{token}"].__annotations__
    annotations.update({name: tp for name, tp in objects.items() if tp is not None})


def _struct_line(field: Field, annotation: str) -> str:
    """The wire Struct's member for ``field``: absent or ``null`` is ``None`` (``UNSET`` in
    a PATCH model) unless the field is required."""
    if not field.may_be_absent:
        return f"    {field.name}: {annotation!r} = _field(name={field.wire!r})"
    if not field.may_be_none:
        annotation += " | None"
    default = "UNSET" if field.patch else "None"
    return f"    {field.name}: {annotation!r} = _field(default={default}, name={field.wire!r})"


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


def _compiled(cls: type, strict: bool) -> tuple[Any, Callable[[Any], Any]]:
    """``cls``'s wire Struct and copy function in one stage, compiled on first use."""
    copy = globals()[_copy_function(cls, strict)]
    return globals()[f"_w{_prefix(strict)}_{_token(cls)}"], copy


def _make_decoder(cls: type) -> Callable[[bytes], Any]:
    fast = _decoders.get(cls)
    if fast is not None:
        return fast
    origin = getattr(cls, "__origin__", None)
    if origin is list and attrs.has(cls.__args__[0]):  # type: ignore[attr-defined]
        item = cls.__args__[0]  # type: ignore[attr-defined]

        def make(strict: bool) -> Stage[Any]:
            wire, copy = _compiled(item, strict)
            decode = msgspec.json.Decoder(list[wire], float_hook=Decimal).decode  # type: ignore[valid-type]
            return decode, lambda found: list(map(copy, found))

        fast = _staged(make)
    elif isinstance(cls, type) and attrs.has(cls):

        def make(strict: bool) -> Stage[Any]:
            wire, copy = _compiled(cls, strict)
            return msgspec.json.Decoder(wire, float_hook=Decimal).decode, copy

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
        wire, copy = _compiled(item, strict)
        name = f"_env{_prefix(strict)}_{_token(item)}_{next(_counter)}"
        lines = [
            f"class {name}(_Struct, kw_only=True, gc=False):",
            f"    items: 'list[{wire.__name__}] | None' = _field(default=None, name={key!r})",
        ]
        lines += [
            f"    m{i}: _Any = _field(default=None, name={member!r})"
            for i, member in enumerate(members)
        ]
        compile_source("\n".join(lines) + "\n", f"envelope {name}", globals())
        decode = msgspec.json.Decoder(
            globals()[name] | list[wire],  # type: ignore[valid-type]
            float_hook=Decimal,
        ).decode

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
        return [f"v = {_encode_function(k.target, checked)}(v)"]
    if name == "list":
        item = k.target
        if item.name in ("model", "datetime", "date", "list"):
            fn = _encode_item_function(item, checked)
            return [f"v = _list(_map({fn}, v)) if type(v) is list else _listed(v, {fn})"]
        return ["if type(v) is not list: v = _listed(v, None)"]
    # str int float bool dict any: as they are; dec: msgspec refuses a non-finite one;
    # enum: msgspec writes a member's value
    return []


def _encode_function(cls: type, checked: bool) -> str:
    """Name of the (compiled) function turning a ``cls`` object into its encode Struct."""
    _compile_encode(cls, checked)
    return f"_e{'v' if checked else ''}_{_token(cls)}"


def _encode_item_function(k: Kind, checked: bool) -> str:
    if k.name == "model" and not k.nullable:
        return _encode_function(k.target, checked)
    return _item_converter("e", f"_j{'v' if checked else ''}", k, checked, _encode_lines)


_minute_zones: set[Any] = {dt.UTC}  # fixed offsets of whole minutes seen (at most 2,879)


def _dt_out(v: dt.datetime) -> Any:
    """A date-time as msgspec should see it: itself when msgspec writes it exactly (a fixed
    offset of whole minutes), else its ISO-8601 text (zoneinfo zones, odd offsets)."""
    tz = v.tzinfo
    if tz is None or tz.utcoffset(v) is None:
        raise PathError(NAIVE_DATETIME)
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
    """Compile ``cls``'s encode Struct ``_x_<token>`` (once for both flavours) and its encode
    function ``_e[v]_<token>`` (``v``: the spec constraints checked)."""
    if (cls, checked) in _compiled_encode:
        return
    _compiled_encode.add((cls, checked))
    require_plain(cls)
    token = _token(cls)
    struct_name = f"_x_{token}"
    every = model_fields(cls)
    struct = []
    if struct_name not in globals():
        struct = [
            f"class {struct_name}(_Struct, omit_defaults=True, gc=False):",
            f"    # what goes on the wire for {cls.__module__}.{cls.__qualname__}",
        ]
        struct += [
            f"    f{index}: _Any = _field(default={'UNSET' if field.patch else 'None'},"
            f" name={field.wire!r})"
            for index, field in enumerate(every)
        ]
        struct += ["", ""]
    body = [f"def _e{'v' if checked else ''}_{token}(o):"]
    for index, field in enumerate(every):
        body += _indent(_encode_field_lines(field, checked, f"v{index}"))
    body.append(f"    return {struct_name}({', '.join(f'v{i}' for i in range(len(every)))})")
    compile_source(
        "\n".join([*struct, *body]) + "\n",
        f"encode{' checked' if checked else ''} {cls.__module__}.{cls.__qualname__}",
        globals(),
    )


def _encode_field_lines(field: Field, checked: bool, var: str) -> list[str]:
    """Statements reading ``field`` from ``o`` into ``var``: required and PATCH rules, the
    spec constraints (if ``checked``), the conversion for msgspec."""
    work = check_lines(field.metadata, globals()) if checked else []
    work += _encode_lines(field.kind, checked)
    lines = [f"v = o.{field.name}"]
    if field.patch:
        lines += ["if v is not UNSET and v is not None:", *_indent(work or ["pass"])]
        if not field.kind.nullable:
            lines.append("elif v is None: raise Reject('must not be null')")
    elif field.may_be_none:
        if work:
            lines += ["if v is not None:", *_indent(work)]
    else:
        lines += ["if v is None: raise Reject('is required')", *work]
    lines.append(f"{var} = v")
    return lines


def encoder(cls: type, checked: bool) -> Callable[[Any], bytes]:
    """``obj -> bytes`` for instances of the model ``cls``; ``checked`` also enforces the spec
    constraints. Raises one of :data:`REFUSED` when the object cannot be sent as it is."""
    key = (cls, checked)
    fast = _encoders.get(key)
    if fast is None:
        with COMPILE_LOCK:
            convert = globals()[_encode_function(cls, checked)]
        encode = json_encoder.encode

        def fast(obj: Any) -> bytes:
            return encode(convert(obj))

        _encoders[key] = fast
    return fast
