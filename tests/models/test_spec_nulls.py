"""What the specs say about ``null`` and array lengths, and how the models read it (README
"Models"): nullable array items, nullable object schemas per direction, array ``minLength``.

The cases come from the committed specs (``specs/``), so a spec update that adds a nullable
item or a nullable reference is covered without editing this file. Both codecs are checked: the
bytes path (:func:`serialization.decode` / :func:`serialization.dumps`) and the dict path
(:func:`serialization.structure` / :func:`serialization.unstructure`) must agree.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs
import orjson
import pytest

from ffn_async import errors
from ffn_async.codec import serialization
from ffn_async.models import fulfiller, merchant
from ffn_async.models._base import is_request_name, to_snake

from .payloads import MODULES, payload

SPECS = Path(__file__).resolve().parents[2] / "specs"
SPEC_FILES = {
    "merchant": "ffn-merchant-v1.openapi.json",
    "fulfiller": "ffn-fulfiller-v1.openapi.json",
}


def _schemas(api: str) -> dict[str, dict[str, Any]]:
    spec = json.loads((SPECS / SPEC_FILES[api]).read_text(encoding="utf-8"))
    return {full.rsplit(".", 1)[-1]: s for full, s in spec["components"]["schemas"].items()}


SCHEMAS = {api: _schemas(api) for api in SPEC_FILES}


def _target(api: str, prop: dict[str, Any]) -> dict[str, Any] | None:
    ref = prop.get("$ref")
    return SCHEMAS[api][ref.rsplit("/", 1)[-1].rsplit(".", 1)[-1]] if ref else None


def _cases(select: Any) -> list[tuple[str, str, str]]:
    return [
        (api, name, wire)
        for api, schemas in SCHEMAS.items()
        for name, schema in sorted(schemas.items())
        for wire, prop in schema.get("properties", {}).items()
        if select(api, name, prop)
    ]


def _nullable_object(api: str, prop: dict[str, Any]) -> bool:
    target = _target(api, prop)
    return target is not None and "enum" not in target and bool(target.get("nullable"))


NULLABLE_ITEMS = _cases(
    lambda api, name, prop: prop.get("type") == "array" and bool(prop["items"].get("nullable"))
)
READ_NULLS = _cases(
    lambda api, name, prop: not is_request_name(name) and _nullable_object(api, prop)
)
PATCH_NULLS = _cases(
    lambda api, name, prop: name.startswith("Update") and _nullable_object(api, prop)
)
CREATE_REQUIRED = [
    (api, name, wire)
    for api, name, wire in _cases(
        lambda api, name, prop: (
            is_request_name(name) and not name.startswith("Update") and _nullable_object(api, prop)
        )
    )
    if wire in SCHEMAS[api][name].get("required", [])
]


def _ids(case: tuple[str, str, str]) -> str:
    return ".".join(case)


def _cls(api: str, name: str) -> type[Any]:
    cls: type[Any] = getattr(MODULES[api], name)
    return cls


def _decode_both(data: dict[str, Any], cls: type[Any]) -> tuple[Any, Any]:
    return serialization.decode(orjson.dumps(data), cls), serialization.structure(data, cls)


def test_the_cases_are_the_ones_the_issue_names() -> None:
    """The spec reading this module relies on finds what issue 22 lists."""
    assert {(api, name, wire) for api, name, wire in NULLABLE_ITEMS} == {
        ("merchant", "CreateInboundShippingNotificationItemRequest", "serialnumbers"),
        ("merchant", "InboundShippingNotificationItem", "serialnumbers"),
        ("merchant", "OutboundShippingNotificationItem", "serialnumbers"),
        ("merchant", "Warehouse", "shippingMethodIds"),
        ("fulfiller", "CreateOutboundShippingNotificationItemRequest", "serialnumbers"),
        ("fulfiller", "InboundShippingNotificationItem", "serialnumbers"),
        ("fulfiller", "OutboundShippingNotificationItem", "serialnumbers"),
    }
    assert ("merchant", "Fulfiller", "modificationInfo") in READ_NULLS
    assert {
        ("merchant", "UpdateOutboundRequest", "shippingAddress"),
        ("merchant", "UpdateOutboundRequest", "senderAddress"),
        ("merchant", "UpdateProductRequest", "identifier"),
        ("merchant", "UpdateReturnRequest", "customerAddress"),
        ("fulfiller", "UpdateWarehouseRequest", "address"),
    } <= set(PATCH_NULLS)


# --------------------------------------------------------------------------- item 1


@pytest.mark.parametrize("case", NULLABLE_ITEMS, ids=_ids)
def test_null_items_of_a_nullable_string_array_decode_on_both_paths(
    case: tuple[str, str, str],
) -> None:
    api, name, wire = case
    cls = _cls(api, name)
    data = payload(api, name)
    data[wire] = [None, "SN-1", None]
    for decoded in _decode_both(data, cls):
        assert getattr(decoded, to_snake(wire)) == [None, "SN-1", None]


@pytest.mark.parametrize("case", NULLABLE_ITEMS, ids=_ids)
def test_null_items_encode_as_they_decode(case: tuple[str, str, str]) -> None:
    """``dumps`` and ``structure`` agree on ``[null]``: what decodes is sent back as is."""
    api, name, wire = case
    cls = _cls(api, name)
    data = payload(api, name)
    data[wire] = [None, "SN-1"]
    obj = serialization.structure(data, cls)
    assert orjson.loads(serialization.dumps(obj))[wire] == [None, "SN-1"]
    assert serialization.unstructure(obj)[wire] == [None, "SN-1"]


def test_warehouses_get_all_decodes_a_null_shipping_method_id() -> None:
    """The answer the issue quotes: ``cannot decode list[Warehouse]: [1].shippingMethodIds[0]``."""
    first, second = payload("merchant", "Warehouse"), payload("merchant", "Warehouse")
    second["shippingMethodIds"] = [None]
    page = serialization.decode(orjson.dumps([first, second]), list[merchant.Warehouse])
    assert page[1].shipping_method_ids == [None]


def test_a_null_item_where_the_spec_allows_none_is_refused_alike_on_both_paths() -> None:
    data = payload("merchant", "CreateOutboundRequest")
    data["items"].append(None)
    with pytest.raises(errors.DecodeError, match=r"items\[\d+\]: must not be null"):
        serialization.structure(data, merchant.CreateOutboundRequest)
    order = serialization.structure(
        payload("merchant", "CreateOutboundRequest"), merchant.CreateOutboundRequest
    )
    order.items.append(None)
    index = len(order.items) - 1
    for encode in (serialization.dumps, serialization.unstructure):
        with pytest.raises(errors.ValidationError, match=rf"items\[{index}\]: must not be null"):
            encode(order)


# --------------------------------------------------------------------------- item 2


@pytest.mark.parametrize("case", READ_NULLS, ids=_ids)
def test_a_nullable_object_arriving_as_null_reads_as_none(case: tuple[str, str, str]) -> None:
    """The tolerant reader: a response may carry ``null`` wherever the spec allows it."""
    api, name, wire = case
    cls = _cls(api, name)
    data = payload(api, name)
    data[wire] = None
    for decoded in _decode_both(data, cls):
        assert getattr(decoded, to_snake(wire)) is None


@pytest.mark.parametrize("case", PATCH_NULLS, ids=_ids)
def test_a_patch_can_clear_what_the_spec_lets_it_clear(case: tuple[str, str, str]) -> None:
    """``None`` on a PATCH field sends ``null`` (clear it); ``UNSET`` leaves it out."""
    api, name, wire = case
    cls = _cls(api, name)
    attr = to_snake(wire)
    cleared = cls(**{attr: None})
    assert orjson.loads(serialization.dumps(cleared)) == {wire: None}
    assert serialization.unstructure(cleared) == {wire: None}
    assert getattr(serialization.structure({wire: None}, cls), attr) is None
    assert orjson.loads(serialization.dumps(cls())) == {}


def test_the_patch_types_say_none_clears() -> None:
    outbound = attrs.fields_dict(attrs.resolve_types(merchant.UpdateOutboundRequest))
    assert outbound["shipping_address"].type == merchant.UpdateAddressRequest | None
    warehouse = attrs.fields_dict(attrs.resolve_types(fulfiller.UpdateWarehouseRequest))
    assert warehouse["address"].type == fulfiller.UpdateAddressRequest | None


@pytest.mark.parametrize("case", CREATE_REQUIRED, ids=_ids)
def test_a_create_never_sends_null_for_an_object_it_requires(case: tuple[str, str, str]) -> None:
    """The writer stays strict: a required object of a create (an outbound's shipping address)
    is required, even though its schema carries the specs' blanket ``nullable``."""
    api, name, wire = case
    cls = _cls(api, name)
    obj = serialization.structure(payload(api, name), cls)
    setattr(obj, to_snake(wire), None)
    with pytest.raises(errors.ValidationError, match="is required"):
        serialization.dumps(obj)


# --------------------------------------------------------------------------- item 3

ARRAY_MIN_LENGTH = _cases(
    lambda api, name, prop: prop.get("type") == "array" and prop.get("minLength", 0) > 0
)


@pytest.mark.parametrize("case", [c for c in ARRAY_MIN_LENGTH if is_request_name(c[1])], ids=_ids)
def test_array_min_length_is_kept_as_a_minimum_item_count_on_requests(
    case: tuple[str, str, str],
) -> None:
    """``minLength: 1`` on an array is the author's "at least one" (JSON Schema would ignore
    it): a request with an empty list is refused before anything is sent."""
    api, name, wire = case
    cls = _cls(api, name)
    obj = serialization.structure(payload(api, name), cls)
    setattr(obj, to_snake(wire), [])
    with pytest.raises(errors.ValidationError, match="must have at least 1 items"):
        serialization.dumps(obj)


@pytest.mark.parametrize(
    "case", [c for c in ARRAY_MIN_LENGTH if not is_request_name(c[1])], ids=_ids
)
def test_array_min_length_is_not_enforced_on_answers(case: tuple[str, str, str]) -> None:
    api, name, wire = case
    data = payload(api, name)
    data[wire] = []
    for decoded in _decode_both(data, _cls(api, name)):
        assert getattr(decoded, to_snake(wire)) == []


def test_the_models_docstring_says_how_the_specs_are_read() -> None:
    from ffn_async import models

    doc = models.__doc__ or ""
    for words in ("minLength", "at least one item", "nullable", "UNSET"):
        assert words in doc


def test_a_whole_answer_or_a_list_item_is_never_none() -> None:
    """The blanket ``nullable`` is read where a property holds the object, not for a whole
    answer or a list item (README "Models"): those stay typed errors naming the place."""
    with pytest.raises(errors.DecodeError, match=r"\(root\): must not be null"):
        serialization.decode(b"null", merchant.Outbound)
    page = orjson.dumps([payload("merchant", "Outbound"), None])
    with pytest.raises(errors.DecodeError, match=r"\[1\]: must not be null"):
        serialization.decode(page, list[merchant.Outbound])
