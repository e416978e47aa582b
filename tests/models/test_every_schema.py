"""Every schema (150 from the spec + the merchant table): full payload round trip, unknown enums."""

from __future__ import annotations

import enum
import json
from typing import Any

import attrs
import orjson
import pytest

from ffn_async import models, serialization

from .payloads import UNKNOWN_ENUM, UNKNOWN_KEY, PayloadBuilder, load_schemas

try:
    _SCHEMAS = load_schemas()
except BaseException:  # spec absent: the fixture-based tests below report it
    _SCHEMAS = {}
OBJECT_NAMES = sorted(n for n, s in _SCHEMAS.items() if "enum" not in s)
ENUM_NAMES = sorted(n for n, s in _SCHEMAS.items() if "enum" in s)


def _without_unknown(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_unknown(v) for k, v in value.items() if k != UNKNOWN_KEY}
    if isinstance(value, list):
        return [_without_unknown(v) for v in value]
    return value


def test_every_schema_is_exported(schemas: dict[str, Any]) -> None:
    assert len([n for n in schemas if n in models.__all__]) == len(schemas)
    spec = json.loads(serialization_spec_path().read_text())
    assert len(spec["components"]["schemas"]) == 150
    for full in spec["components"]["schemas"]:
        assert hasattr(models, full.rsplit(".", 1)[-1])


def serialization_spec_path() -> Any:
    from .payloads import generate_models

    return generate_models.DEFAULT_SPEC


@pytest.mark.parametrize("name", OBJECT_NAMES)
def test_full_payload_round_trips(name: str, schemas: dict[str, Any]) -> None:
    payload = PayloadBuilder(schemas).object(name)
    cls = getattr(models, name)
    obj = serialization.structure(payload, cls)
    assert isinstance(obj, cls)
    # through JSON bytes both ways, as on the wire
    again = serialization.decode(orjson.dumps(payload), cls)
    assert again == obj
    assert orjson.loads(serialization.dumps(obj)) == _without_unknown(payload)


def _enum_values(obj: Any) -> list[Any]:
    """Every value held by an enum-typed field anywhere inside ``obj``."""
    found: list[Any] = []
    if isinstance(obj, list):
        for item in obj:
            found += _enum_values(item)
    elif attrs.has(type(obj)):
        serialization._fields(type(obj))
        for field in attrs.fields(type(obj)):
            value = getattr(obj, field.name)
            if serialization._kind(field.type).name == "enum" and value is not None:
                found.append(value)
            else:
                found += _enum_values(value)
    return found


@pytest.mark.parametrize("name", OBJECT_NAMES)
def test_unknown_enum_values_decode_as_str(name: str, schemas: dict[str, Any]) -> None:
    payload = PayloadBuilder(schemas, unknown_enums=True).object(name)
    obj = serialization.structure(payload, getattr(models, name))
    for value in _enum_values(obj):
        assert type(value) is str
        assert value == UNKNOWN_ENUM


@pytest.mark.parametrize("name", OBJECT_NAMES)
def test_known_enum_values_decode_as_members(name: str, schemas: dict[str, Any]) -> None:
    obj = serialization.structure(PayloadBuilder(schemas).object(name), getattr(models, name))
    for value in _enum_values(obj):
        assert isinstance(value, enum.StrEnum)


@pytest.mark.parametrize("name", ENUM_NAMES)
def test_enum_members_match_the_spec(name: str, schemas: dict[str, Any]) -> None:
    assert [m.value for m in getattr(models, name)] == schemas[name]["enum"]
