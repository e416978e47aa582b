"""The committed payload fixtures (``tests/models/fixtures/<api>.json``) and helpers over them.

``tools/generate_payloads.py`` writes one complete payload per schema of each spec (every
property filled, plus :data:`UNKNOWN_KEY`); CI checks them against the specs, and the tests read
only these files, so they run on a fresh clone without ``../shared``.
"""

from __future__ import annotations

import enum
import functools
import json
import types
import typing
from pathlib import Path
from typing import Any

import attrs

from ffn_async.models import fulfiller, merchant

FIXTURES = Path(__file__).resolve().parent / "fixtures"
UNKNOWN_KEY = "someFieldFromTheFuture"
UNKNOWN_ENUM = "SomeValueFromTheFuture"
MODULES = {"merchant": merchant, "fulfiller": fulfiller}


@functools.cache
def fixture(api: str) -> dict[str, Any]:
    """``{"objects": {schema: payload}, "enums": {schema: values}}`` of one API's spec."""
    data: dict[str, Any] = json.loads((FIXTURES / f"{api}.json").read_text())
    return data


def payload(api: str, name: str) -> dict[str, Any]:
    """A fresh copy of the full payload of schema ``name`` of ``api``."""
    data: dict[str, Any] = json.loads(json.dumps(fixture(api)["objects"][name]))
    return data


def without_unknown(value: Any) -> Any:
    """``value`` without the unknown keys: what re-encoding a decoded payload gives."""
    if isinstance(value, dict):
        return {k: without_unknown(v) for k, v in value.items() if k != UNKNOWN_KEY}
    if isinstance(value, list):
        return [without_unknown(v) for v in value]
    return value


def _unwrap(tp: Any) -> Any:
    """``X | None`` -> ``X``; ``SomeEnum | str`` -> ``SomeEnum``."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        enums = [a for a in args if isinstance(a, type) and issubclass(a, enum.Enum)]
        return enums[0] if enums else args[0]
    return tp


def _wire(field: Any) -> str:
    from ffn_async.models._base import to_camel

    wire: str = field.metadata.get("wire", to_camel(field.name))
    return wire


def _replace_enums(value: Any, tp: Any) -> Any:
    tp = _unwrap(tp)
    if value is None:
        return None
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return UNKNOWN_ENUM
    if typing.get_origin(tp) is list:
        return [_replace_enums(v, typing.get_args(tp)[0]) for v in value]
    if isinstance(tp, type) and attrs.has(tp):
        return with_unknown_enums(value, tp)
    return value


def with_unknown_enums(data: dict[str, Any], cls: type) -> dict[str, Any]:
    """``data`` (a payload of ``cls``) with every enum value replaced by :data:`UNKNOWN_ENUM`.

    Enum positions come from the model's annotations, so no spec is needed.
    """
    hints = typing.get_type_hints(cls)
    out = dict(data)
    for field in attrs.fields(cls):
        wire = _wire(field)
        if wire in out:
            out[wire] = _replace_enums(out[wire], hints[field.name])
    return out
