"""Every schema of both specs: exported under its spec name, full payloads round-trip.

The payloads are the committed fixtures of ``tools/generate_payloads.py`` (every property
filled, an unknown field in every object); unknown enum values are put in here from the models'
annotations.
"""

from __future__ import annotations

import enum
from typing import Any

import attrs
import orjson
import pytest

from ffn_async import errors, models
from ffn_async.codec import serialization
from ffn_async.models import common, fulfiller, merchant, shared
from ffn_async.models._base import is_request_name

from .payloads import (
    MODULES,
    UNKNOWN_ENUM,
    fixture,
    payload,
    with_unknown_enums,
    without_unknown,
)

SCHEMA_COUNTS = {"merchant": 165, "fulfiller": 150}
OBJECTS = [(api, name) for api in MODULES for name in sorted(fixture(api)["objects"])]
ENUMS = [(api, name) for api in MODULES for name in sorted(fixture(api)["enums"])]


def _ids(case: tuple[str, str]) -> str:
    return f"{case[0]}.{case[1]}"


@pytest.mark.parametrize("api", sorted(MODULES))
def test_every_schema_is_exported_under_its_spec_name(api: str) -> None:
    module = MODULES[api]
    names = {*fixture(api)["objects"], *fixture(api)["enums"]}
    assert len(names) == SCHEMA_COUNTS[api]
    assert set(module.__all__) == names
    for name in names:
        assert getattr(module, name).__name__ == name


def test_same_name_different_content_are_distinct_classes() -> None:
    both = set(merchant.__all__) & set(fulfiller.__all__)
    distinct = {n for n in both if getattr(merchant, n) is not getattr(fulfiller, n)}
    shared_classes = both - distinct
    assert len(distinct) == 55
    assert shared_classes == set(common.__all__)
    assert len(shared_classes) == 63
    # the shapes the issue names
    assert "fulfiller_id" in attrs.fields_dict(merchant.Outbound)
    assert "merchant_id" not in attrs.fields_dict(merchant.Outbound)
    assert "merchant_id" in attrs.fields_dict(fulfiller.Outbound)
    assert "merchant_return_number" in attrs.fields_dict(merchant.UpdateReturnRequest)
    assert "fulfiller_return_number" in attrs.fields_dict(fulfiller.UpdateReturnRequest)


def test_the_package_exports_no_schema_and_names_the_right_module() -> None:
    assert not any(isinstance(getattr(models, n), type) for n in models.__all__)
    with pytest.raises(AttributeError, match=r"merchant\.Outbound or .*fulfiller\.Outbound"):
        _ = models.Outbound
    with pytest.raises(AttributeError, match=r"models\.merchant\.CreateOutboundRequest$"):
        _ = models.CreateOutboundRequest
    with pytest.raises(AttributeError, match="has no attribute 'Nonsense'"):
        _ = models.Nonsense
    assert shared.User.__module__ == "ffn_async.models.shared"


@pytest.mark.parametrize("case", OBJECTS, ids=_ids)
def test_full_payload_round_trips(case: tuple[str, str]) -> None:
    api, name = case
    data = payload(api, name)
    cls = getattr(MODULES[api], name)
    obj = serialization.structure(data, cls)
    assert isinstance(obj, cls)
    # through JSON bytes both ways, as on the wire
    again = serialization.decode(orjson.dumps(data), cls)
    assert again == obj
    assert orjson.loads(serialization.dumps(obj)) == without_unknown(data)


def _enum_values(obj: Any) -> list[Any]:
    """Every value held by an enum-typed field anywhere inside ``obj``."""
    import typing

    from .payloads import _unwrap

    found: list[Any] = []
    if isinstance(obj, list):
        for item in obj:
            found += _enum_values(item)
    elif attrs.has(type(obj)):
        hints = typing.get_type_hints(type(obj))
        for field in attrs.fields(type(obj)):
            value = getattr(obj, field.name)
            tp = _unwrap(hints[field.name])
            if isinstance(tp, type) and issubclass(tp, enum.Enum) and value is not None:
                found.append(value)
            else:
                found += _enum_values(value)
    return found


@pytest.mark.parametrize("case", OBJECTS, ids=_ids)
def test_unknown_enum_values_decode_as_str_and_round_trip(case: tuple[str, str]) -> None:
    api, name = case
    cls = getattr(MODULES[api], name)
    data = with_unknown_enums(payload(api, name), cls)
    obj = serialization.structure(data, cls)
    for value in _enum_values(obj):
        assert type(value) is str
        assert value == UNKNOWN_ENUM
    if is_request_name(name) and _has_enum_subset(cls):
        # a request field limited to a subset of an enum refuses other values before sending
        with pytest.raises(errors.ValidationError, match="must be one of"):
            serialization.dumps(obj)
    else:
        assert orjson.loads(serialization.dumps(obj)) == without_unknown(data)


def _has_enum_subset(cls: type, seen: frozenset[type] = frozenset()) -> bool:
    """Whether ``cls`` or a model inside it has a field limited to a subset of an enum."""
    import typing

    from .payloads import _unwrap

    hints = typing.get_type_hints(cls)
    for field in attrs.fields(cls):
        if "choices" in field.metadata:
            return True
        tp = _unwrap(hints[field.name])
        if typing.get_origin(tp) is list:
            tp = _unwrap(typing.get_args(tp)[0])
        if attrs.has(tp) and tp not in seen and _has_enum_subset(tp, seen | {cls}):
            return True
    return False


def test_unknown_enum_payloads_do_contain_unknown_values() -> None:
    data = with_unknown_enums(payload("merchant", "Outbound"), merchant.Outbound)
    assert data["status"] == UNKNOWN_ENUM
    assert data["items"][0]["itemType"] == UNKNOWN_ENUM


@pytest.mark.parametrize("case", OBJECTS, ids=_ids)
def test_known_enum_values_decode_as_members(case: tuple[str, str]) -> None:
    api, name = case
    obj = serialization.structure(payload(api, name), getattr(MODULES[api], name))
    for value in _enum_values(obj):
        assert isinstance(value, enum.StrEnum)


@pytest.mark.parametrize("case", ENUMS, ids=_ids)
def test_enum_members_match_the_spec(case: tuple[str, str]) -> None:
    api, name = case
    assert [m.value for m in getattr(MODULES[api], name)] == fixture(api)["enums"][name]


def test_same_name_classes_of_both_apis_decode_into_their_own_classes() -> None:
    """The compiled decoders are per class, not per name (``Outbound`` is two classes)."""
    for api in ("fulfiller", "merchant", "fulfiller"):
        module = MODULES[api]
        page = serialization.structure(
            payload(api, "PagedOutboundResponse"), module.PagedOutboundResponse
        )
        assert type(page.items[0]) is module.Outbound
        again = serialization.decode(serialization.dumps(page), type(page))
        assert again == page
    outbound = serialization.structure(payload("merchant", "Outbound"), merchant.Outbound)
    assert outbound.fulfiller_id == payload("merchant", "Outbound")["fulfillerId"]


def test_an_api_module_loads_without_the_other_api() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from ffn_async.models import merchant; "
        "print(sorted(m for m in sys.modules if m.startswith('ffn_async.models.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = out.stdout.strip()
    assert "ffn_async.models.merchant" in loaded
    assert "ffn_async.models.fulfiller" not in loaded
