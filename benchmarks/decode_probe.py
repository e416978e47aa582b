"""Quick probe: decode a 100-outbound page from bytes with ffn-async, pydantic v2 and msgspec.

Run: ``python benchmarks/decode_probe.py``. The pydantic and msgspec models are built from the
attrs models (same fields, camelCase aliases, Decimal, aware datetime; enums as ``Enum | str`` in
pydantic, plain ``str`` in msgspec, which cannot mix an enum with str), so every library decodes
the same shape. The official comparison lives in the benchmarks runner; this is the quick check
used while tuning the converter.
"""

from __future__ import annotations

import datetime as dt
import enum
import sys
import timeit
import types
import typing
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import cattrs
import msgspec
import orjson
import pydantic

from ffn_async import models, serialization
from ffn_async.models._base import to_camel

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "models"))
from payloads import PayloadBuilder, load_schemas


def page_bytes(count: int = 100) -> bytes:
    builder = PayloadBuilder(load_schemas())
    outbounds = [builder.object("Outbound", extra=False) for _ in range(count)]
    for i, item in enumerate(outbounds):
        item["outboundId"] = f"MERC02{i:05d}"
    page = builder.object("PagedOutboundResponse", extra=False)
    page["items"] = outbounds
    return orjson.dumps(page)


def _mirror(cls: type, make: Any, cache: dict[type, Any], *, enum_as_str: bool) -> Any:
    """Build an equivalent pydantic/msgspec class for an attrs model, recursively."""
    if cls in cache:
        return cache[cls]
    cache[cls] = cls.__name__  # a forward reference while the class is being built (recursion)
    serialization._fields(cls)

    def convert(tp: Any) -> Any:
        if typing.get_origin(tp) in (typing.Union, types.UnionType):
            args = [convert(a) for a in typing.get_args(tp)]
            if enum_as_str:
                args = [
                    str if isinstance(a, type) and issubclass(a, enum.Enum) else a for a in args
                ]
                args = list(dict.fromkeys(args))
            return typing.Union[tuple(args)]  # noqa: UP007
        if typing.get_origin(tp) is list:
            return list[convert(typing.get_args(tp)[0])]  # type: ignore[misc]
        if attrs.has(tp):
            return _mirror(tp, make, cache, enum_as_str=enum_as_str)
        return tp

    fields = {
        f.name: (convert(f.type), f.metadata.get("wire", to_camel(f.name)), f.default)
        for f in attrs.fields(cls)
    }
    cache[cls] = make(cls.__name__, fields)
    setattr(_NAMESPACE, cls.__name__, cache[cls])
    return cache[cls]


_NAMESPACE = types.ModuleType("decode_probe_models")
sys.modules[_NAMESPACE.__name__] = _NAMESPACE


def _pydantic(name: str, fields: dict[str, Any]) -> Any:
    spec = {}
    for attr, (tp, wire, default) in fields.items():
        has_default = default is not attrs.NOTHING
        spec[attr] = (tp, pydantic.Field(default=None if has_default else ..., alias=wire))
    return pydantic.create_model(name, __module__=_NAMESPACE.__name__, **spec)  # type: ignore[call-overload]


def _msgspec(name: str, fields: dict[str, Any]) -> Any:
    spec = []
    for attr, (tp, wire, default) in fields.items():
        if default is not attrs.NOTHING:
            spec.append((attr, tp, msgspec.field(default=None, name=wire)))
        else:
            spec.append((attr, tp, msgspec.field(name=wire)))
    spec.sort(key=lambda item: item[2].default is not msgspec.NODEFAULT)
    return msgspec.defstruct(name, spec, kw_only=True, module=_NAMESPACE.__name__)


def plain_cattrs() -> Any:
    """The "before": a stock cattrs converter with generated renames (no hand-made fast path)."""
    from cattrs.gen import make_dict_structure_fn, override

    conv = cattrs.Converter()
    conv.register_structure_hook(
        Decimal, lambda v, _: Decimal(repr(v)) if type(v) is float else Decimal(v)
    )
    conv.register_structure_hook(dt.datetime, lambda v, _: dt.datetime.fromisoformat(v))

    def enum_or_str(tp: Any) -> bool:
        args = typing.get_args(tp)
        return (
            typing.get_origin(tp) in (typing.Union, types.UnionType)
            and str in args
            and any(isinstance(a, type) and issubclass(a, enum.Enum) for a in args)
        )

    def enum_hook(v: Any, tp: Any) -> Any:
        cls = next(
            a for a in typing.get_args(tp) if isinstance(a, type) and issubclass(a, enum.Enum)
        )
        return cls._value2member_map_.get(v, v)

    conv.register_structure_hook_func(enum_or_str, enum_hook)

    def factory(cls: Any) -> Any:
        serialization._fields(cls)
        names = {
            f.name: override(rename=f.metadata.get("wire", to_camel(f.name)))
            for f in attrs.fields(cls)
        }
        return make_dict_structure_fn(cls, conv, **names)

    conv.register_structure_hook_factory(
        lambda c: attrs.has(c) and c.__module__.startswith("ffn_async"), factory
    )
    return conv


def best_us(fn: Any, number: int) -> float:
    return min(timeit.repeat(fn, number=number, repeat=7)) / number * 1e6


def main() -> None:
    data = page_bytes()
    cls = models.PagedOutboundResponse
    py_cache: dict[type, Any] = {}
    py_model = _mirror(cls, _pydantic, py_cache, enum_as_str=False)
    for model in py_cache.values():
        model.model_rebuild(_types_namespace=vars(_NAMESPACE))
    ms_model = _mirror(cls, _msgspec, {}, enum_as_str=True)
    decoder = msgspec.json.Decoder(ms_model)
    obj = serialization.decode(data, cls)
    assert len(obj.items) == 100
    assert isinstance(obj.items[0].shipping_fee, Decimal)
    assert isinstance(obj.items[0].modification_info.created_at, dt.datetime)
    py_obj = py_model.model_validate_json(data)
    ms_obj = decoder.decode(data)
    before = plain_cattrs()
    assert before.structure(orjson.loads(data), cls) == obj
    results = {
        "orjson.loads only": best_us(lambda: orjson.loads(data), 50),
        "plain cattrs + orjson (before)": best_us(
            lambda: before.structure(orjson.loads(data), cls), 10
        ),
        "ffn-async decode": best_us(lambda: serialization.decode(data, cls), 20),
        "pydantic v2 model_validate_json": best_us(lambda: py_model.model_validate_json(data), 20),
        "msgspec decode": best_us(lambda: decoder.decode(data), 50),
        "ffn-async encode (dumps)": best_us(lambda: serialization.dumps(obj), 20),
        "pydantic v2 model_dump_json": best_us(lambda: py_obj.model_dump_json(by_alias=True), 20),
        "msgspec encode": best_us(lambda: msgspec.json.encode(ms_obj), 50),
    }
    print(f"100-outbound page, {len(data) / 1024:.0f} KiB")
    for name, micros in results.items():
        print(f"  {name:34s} {micros:9.0f} µs")
    ffn, pyd, ms = (
        results[k]
        for k in ("ffn-async decode", "pydantic v2 model_validate_json", "msgspec decode")
    )
    print(f"  ffn/pydantic {ffn / pyd:.2f}x   ffn/msgspec {ffn / ms:.2f}x")


if __name__ == "__main__":
    main()
