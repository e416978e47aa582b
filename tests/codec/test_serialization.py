"""The converter's wire rules: names, datetimes, decimals, enums, PATCH, validation, errors."""

from __future__ import annotations

import copy
import datetime as dt
import json
import zoneinfo
from decimal import Decimal
from typing import Any

import attrs
import orjson
import pytest

from ffn_async import errors, models
from ffn_async.codec import _wire, serialization
from ffn_async.codec.serialization import converter
from ffn_async.models import fulfiller, merchant, shared
from ffn_async.models.common import ObjectState

UTC = dt.UTC


def address(**extra: Any) -> merchant.CreateAddressRequest:
    values: dict[str, Any] = {"street": "Mortystreet 1", "city": "Mortytown", "country": "DE"}
    return merchant.CreateAddressRequest(**{**values, **extra})


def outbound_item(**extra: Any) -> merchant.CreateOutboundItemRequest:
    values: dict[str, Any] = {
        "outbound_item_id": "1",
        "quantity": Decimal(1),
        "jfsku": "MERC01ABCDE",
    }
    return merchant.CreateOutboundItemRequest(**{**values, **extra})


def create_outbound(**extra: Any) -> merchant.CreateOutboundRequest:
    values: dict[str, Any] = {
        "merchant_outbound_number": "ORDER-1",
        "warehouse_id": "FULF04XX-12345-0001",
        "currency": "EUR",
        "shipping_address": address(),
        "items": [outbound_item()],
    }
    return merchant.CreateOutboundRequest(**{**values, **extra})


def page_payload(**outbound: Any) -> dict[str, Any]:
    item = {
        "outboundId": "MERC02AXEV",
        "fulfillerId": "FULF",
        "merchantOutboundNumber": "ORDER-1",
        "warehouseId": "FULF04XX-12345-0001",
        "currency": "EUR",
        "status": "Shipped",
        "priority": 0,
        "shippingAddress": {"street": "s", "city": "c", "country": "DE"},
        "items": [],
        "modificationInfo": {"createdAt": "2020-02-11T16:05:06.8341234+00:00"},
    }
    return {
        "items": [item, {**copy.deepcopy(item), **outbound}],
        "_page": {"total": 1, "limit": 50, "offset": 0},
        "count": 2,
    }


# --------------------------------------------------------------------------- names


def test_snake_case_attributes_camel_case_wire_and_renamed_keys() -> None:
    page = converter.structure(page_payload(), merchant.PagedOutboundResponse)
    assert page.page.limit == 50
    assert page.items[0].merchant_outbound_number == "ORDER-1"
    data = serialization.unstructure(page)
    assert data["_page"] == {"total": 1, "limit": 50, "offset": 0}
    assert "merchantOutboundNumber" in data["items"][0]


def test_keyword_field_from_is_from_underscore() -> None:
    feed = serialization.structure(
        {
            "from": "2020-02-11T16:05:06+00:00",
            "to": "2020-02-11T16:07:22Z",
            "data": [],
            "moreDataAvailable": False,
        },
        merchant.RecentOutboundList,
    )
    assert feed.from_ == dt.datetime(2020, 2, 11, 16, 5, 6, tzinfo=UTC)
    assert serialization.unstructure(feed)["from"] == "2020-02-11T16:05:06+00:00"
    assert orjson.loads(serialization.dumps(feed))["from"] == "2020-02-11T16:05:06Z"


def test_unknown_fields_are_ignored_and_none_is_omitted() -> None:
    a = serialization.structure(
        {"street": "s", "city": "c", "country": "DE", "newField": 1, "zip": None}, merchant.Address
    )
    assert a.zip is None
    assert serialization.unstructure(a) == {"street": "s", "city": "c", "country": "DE"}


def test_bare_arrays_decode_through_the_converter() -> None:
    notes = serialization.structure(
        [{"street": "s", "city": "c", "country": "DE"}] * 3, list[merchant.Address]
    )
    assert [n.country for n in notes] == ["DE"] * 3


# --------------------------------------------------------------------------- datetimes


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "2020-02-11T16:05:06.8341234+00:00",
            dt.datetime(2020, 2, 11, 16, 5, 6, 834123, tzinfo=UTC),
        ),
        ("2020-02-11T16:05:06Z", dt.datetime(2020, 2, 11, 16, 5, 6, tzinfo=UTC)),
        (
            "2020-02-11T18:05:06.5+02:00",
            dt.datetime(2020, 2, 11, 18, 5, 6, 500000, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        ),
        ("2020-02-11T16:05:06", dt.datetime(2020, 2, 11, 16, 5, 6, tzinfo=UTC)),  # no offset: UTC
    ],
)
def test_datetimes_decode_aware(text: str, expected: dt.datetime) -> None:
    info = serialization.structure({"createdAt": text}, merchant.ModificationInfo)
    assert info.created_at == expected
    assert info.created_at.utcoffset() == expected.utcoffset()


def test_datetimes_encode_iso_with_offset() -> None:
    when = dt.datetime(2020, 3, 2, 8, 49, 37, 909000, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    body = serialization.unstructure(create_outbound(desired_delivery_date=when))
    assert body["desiredDeliveryDate"] == "2020-03-02T08:49:37.909000+01:00"
    assert converter.structure(body["desiredDeliveryDate"], dt.datetime) == when


def test_naive_datetime_is_refused_before_sending() -> None:
    with pytest.raises(errors.ValidationError) as info:
        serialization.validate(create_outbound(desired_delivery_date=dt.datetime(2020, 1, 1)))
    assert info.value.field == "desired_delivery_date"
    assert "timezone-aware" in str(info.value)


# --------------------------------------------------------------------------- decimals


@pytest.mark.parametrize("literal", ["15.05", "0.1", "1234567.891", "19", "0.0001", "99999999.99"])
def test_decimals_are_exact_both_ways(literal: str) -> None:
    raw = b'{"amount": %s, "currency": "EUR"}' % literal.encode()
    price = serialization.decode(raw, merchant.Price)
    assert price.amount == Decimal(literal)
    assert str(price.amount) == literal
    assert serialization.dumps(price) == b'{"amount":%s,"currency":"EUR"}' % literal.encode()


def test_decimal_digits_are_sent_verbatim() -> None:
    assert (
        serialization.dumps(merchant.Price(amount=Decimal("12.30"), currency="EUR"))
        == b'{"amount":12.30,"currency":"EUR"}'
    )


def test_non_finite_decimal_is_refused() -> None:
    with pytest.raises(errors.ValidationError, match="finite") as info:
        serialization.validate(create_outbound(shipping_fee=Decimal("NaN")))
    assert info.value.field == "shipping_fee"


def test_decimal_from_string_and_int() -> None:
    price = serialization.structure({"amount": "10.50", "currency": "EUR"}, merchant.Price)
    assert price.amount == Decimal("10.50")
    assert serialization.structure({"amount": 3, "currency": "EUR"}, merchant.Price).amount == 3


# --------------------------------------------------------------------------- enums


def test_enum_known_and_unknown() -> None:
    page = serialization.structure(
        page_payload(status="TeleportedToCustomer"), merchant.PagedOutboundResponse
    )
    assert page.items[0].status is merchant.OutboundStatusType.SHIPPED
    assert page.items[0].status == "Shipped"
    assert page.items[1].status == "TeleportedToCustomer"
    assert type(page.items[1].status) is str
    assert serialization.unstructure(page)["items"][1]["status"] == "TeleportedToCustomer"
    assert converter.structure("New", merchant.ObjectState | str) is merchant.ObjectState.NEW
    assert converter.structure("Newer", merchant.ObjectState | str) == "Newer"


def test_inline_enum_subset_is_validated() -> None:
    request = fulfiller.ChangeStatusRequest(status=merchant.OutboundStatusType.SHIPPED)
    with pytest.raises(errors.ValidationError, match="Acknowledged") as info:
        serialization.validate(request)
    assert info.value.field == "status"
    body = serialization.unstructure(
        fulfiller.ChangeStatusRequest(status="Canceled", cancel_reason="gone")
    )
    assert body == {"status": "Canceled", "cancelReason": "gone"}


# --------------------------------------------------------------------------- validation


def test_validation_names_nested_list_field() -> None:
    request = create_outbound(
        items=[outbound_item(), outbound_item(), outbound_item(jfsku="TOO-SHORT")]
    )
    with pytest.raises(errors.ValidationError) as info:
        serialization.unstructure(request)
    assert info.value.field == "items[2].jfsku"
    assert "at least 11 characters" in str(info.value)


def test_validation_checks_length_range_pattern_and_required() -> None:
    with pytest.raises(errors.ValidationError) as info:
        serialization.validate(create_outbound(merchant_outbound_number="x" * 256))
    assert info.value.field == "merchant_outbound_number"
    with pytest.raises(errors.ValidationError) as info:
        serialization.validate(create_outbound(priority=6))
    assert (info.value.field, "must be <= 5" in str(info.value)) == ("priority", True)
    with pytest.raises(errors.ValidationError) as info:
        serialization.validate(create_outbound(merchant_outbound_number="line\nbreak"))
    assert "pattern" in str(info.value)
    with pytest.raises(errors.ValidationError) as info:
        serialization.validate(create_outbound(items=[]))
    assert (info.value.field, "at least 1 items" in str(info.value)) == ("items", True)
    with pytest.raises(errors.ValidationError) as info:
        serialization.validate(create_outbound(shipping_address=address(country="DEU")))
    assert info.value.field == "shipping_address.country"
    broken: Any = None
    with pytest.raises(errors.ValidationError, match="is required") as info:
        serialization.validate(create_outbound(currency=broken))
    assert info.value.field == "currency"


def test_valid_request_encodes_completely() -> None:
    body = orjson.loads(
        serialization.dumps(create_outbound(shipping_fee=Decimal("4.90"), priority=-5))
    )
    assert body == {
        "merchantOutboundNumber": "ORDER-1",
        "warehouseId": "FULF04XX-12345-0001",
        "currency": "EUR",
        "shippingAddress": {"street": "Mortystreet 1", "city": "Mortytown", "country": "DE"},
        "items": [{"outboundItemId": "1", "jfsku": "MERC01ABCDE", "quantity": 1}],
        "priority": -5,
        "shippingFee": 4.9,
    }


# --------------------------------------------------------------------------- PATCH


def test_patch_omits_unset_and_sends_null() -> None:
    assert serialization.unstructure(merchant.UpdateReturnRequest()) == {}
    body = serialization.unstructure(merchant.UpdateReturnRequest(contact=None, internal_note="hi"))
    assert body == {"contact": None, "internalNote": "hi"}
    nested = merchant.UpdateReturnRequest(
        customer_address=merchant.UpdateAddressRequest(company=None, city="Berlin")
    )
    assert serialization.unstructure(nested) == {
        "customerAddress": {"company": None, "city": "Berlin"}
    }


def test_patch_unset_marker_and_non_nullable_null() -> None:
    request = merchant.UpdateProductRequest(name="New name")
    assert request.note is models.UNSET
    assert not models.is_set(request.note)
    assert models.is_set(request.name)
    assert repr(models.UNSET) == "UNSET"
    not_nullable: Any = None
    with pytest.raises(errors.ValidationError, match="must not be null") as info:
        serialization.validate(merchant.UpdateReturnRequest(warehouse_id=not_nullable))
    assert info.value.field == "warehouse_id"
    with pytest.raises(errors.ValidationError) as info:
        serialization.validate(merchant.UpdateReturnRequest(internal_note="x" * 4097))
    assert info.value.field == "internal_note"


# --------------------------------------------------------------------------- decode errors


def test_decode_error_names_class_and_path() -> None:
    with pytest.raises(errors.DecodeError) as info:
        serialization.structure(page_payload(priority="high"), merchant.PagedOutboundResponse)
    message = str(info.value)
    assert "PagedOutboundResponse" in message
    assert "items[1].priority" in message
    assert "expected an integer, got str 'high'" in message


def test_decode_error_for_missing_and_null_required_fields() -> None:
    payload = page_payload()
    del payload["items"][1]["modificationInfo"]["createdAt"]
    with pytest.raises(
        errors.DecodeError, match=r"items\[1\]\.modificationInfo\.createdAt: is required"
    ):
        serialization.structure(payload, merchant.PagedOutboundResponse)
    with pytest.raises(errors.DecodeError, match=r"items\[1\]\.currency: must not be null"):
        serialization.structure(page_payload(currency=None), merchant.PagedOutboundResponse)
    with pytest.raises(
        errors.DecodeError, match=r"items\[1\]\.shippingAddress: expected an object"
    ):
        serialization.structure(page_payload(shippingAddress=[1]), merchant.PagedOutboundResponse)
    with pytest.raises(errors.DecodeError, match=r"items\[1\]\.items: expected a list"):
        serialization.structure(page_payload(items={}), merchant.PagedOutboundResponse)
    with pytest.raises(errors.DecodeError, match=r"Address: \(root\): expected an object"):
        serialization.structure("nope", merchant.Address)


def test_decode_error_in_nested_list_element() -> None:
    bad_item = {"outboundItemId": "1", "itemType": "Product", "quantity": "lots", "quantityOpen": 1}
    ok_item = {**bad_item, "quantity": 1}
    with pytest.raises(
        errors.DecodeError, match=r"items\[1\]\.items\[2\]\.quantity: expected a decimal"
    ):
        serialization.structure(
            page_payload(items=[ok_item, ok_item, bad_item]), merchant.PagedOutboundResponse
        )


def test_bad_datetime_is_a_decode_error() -> None:
    with pytest.raises(errors.DecodeError, match="createdAt: expected an ISO-8601 date-time"):
        serialization.structure({"createdAt": "yesterday"}, merchant.ModificationInfo)


def test_invalid_json_is_a_decode_error() -> None:
    with pytest.raises(errors.DecodeError, match="not valid JSON") as info:
        serialization.loads(b"<html>503</html>")
    assert info.value.body == b"<html>503</html>"


def test_response_lists_default_to_empty_when_absent_or_null() -> None:
    payload = {"stockChangeId": {"warehouseId": "W", "jfsku": "J", "stockVersion": 1}}
    feed = serialization.structure(
        {
            "from": "2020-01-01T00:00:00Z",
            "to": "2020-01-02T00:00:00Z",
            "data": None,
            "moreDataAvailable": False,
        },
        merchant.RecentStockChangeList,
    )
    assert feed.data == []
    assert payload  # the envelope above is the case seen in the wild


def test_responses_re_encode_without_request_checks() -> None:
    page = serialization.structure(page_payload(), merchant.PagedOutboundResponse)
    assert page.items[0].items == []  # the spec says at least one item; the server decides
    assert serialization.unstructure(page)["items"][0]["items"] == []
    with pytest.raises(errors.ValidationError, match="at least 1 items") as info:
        serialization.validate(page)
    assert info.value.field == "items[0].items"


def test_merchant_view_fields() -> None:
    warehouse = serialization.structure(
        {
            "warehouseId": "NDZ204DE-12589-0002",
            "fulfillerId": "NDZ2",
            "name": "Main",
            "address": {"street": "s", "city": "c", "country": "DE"},
            "shippingMethodIds": ["NDZ20AG4HTCWN6XW"],
            "modificationInfo": {"createdAt": "2020-02-11T16:05:06Z"},
        },
        merchant.Warehouse,
    )
    assert warehouse.shipping_method_ids == ["NDZ20AG4HTCWN6XW"]
    user = serialization.structure({"userId": "MERC", "somethingElse": 1}, shared.User)
    assert user.user_id == "MERC"
    assert user.role is None


# --------------------------------------------------------------------------- compiled encoders


_BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")


class _MyDatetime(dt.datetime):
    pass


@pytest.mark.parametrize(
    "when",
    [
        dt.datetime(2020, 2, 11, 16, 5, 6, 834123, tzinfo=UTC),
        dt.datetime(2020, 2, 11, 16, 5, 6, tzinfo=UTC),  # no fraction: none written
        dt.datetime(2020, 2, 11, 16, 5, 6, 120000, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        dt.datetime(7, 1, 2, 3, 4, 5, 6, tzinfo=dt.timezone(-dt.timedelta(hours=3, minutes=30))),
        dt.datetime(2020, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=1), "CET")),
        dt.datetime(2020, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=5, seconds=30))),
        dt.datetime(2020, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=5, microseconds=7))),
        dt.datetime(2020, 7, 1, 12, tzinfo=_BERLIN),  # summer time: +02:00
        dt.datetime(1850, 1, 1, tzinfo=_BERLIN),  # local mean time: +00:53:28
        _MyDatetime(2020, 1, 1, 1, 2, 3, 4, tzinfo=UTC),
    ],
)
def test_datetimes_encode_exactly_as_isoformat(when: dt.datetime) -> None:
    twice = [when, when]  # the second one after its offset was seen once
    encoded = [serialization.unstructure(merchant.ModificationInfo(created_at=w)) for w in twice]
    assert [e["createdAt"] for e in encoded] == [when.isoformat()] * 2
    assert converter.unstructure(when) == when.isoformat()


def test_naive_datetime_in_a_response_list_is_located() -> None:
    page = serialization.structure(page_payload(), merchant.PagedOutboundResponse)
    page.items[1].modification_info.created_at = dt.datetime(2020, 1, 1)
    with pytest.raises(errors.ValidationError, match="timezone-aware") as info:
        serialization.dumps(page)
    assert info.value.field == "items[1].modification_info.created_at"


def test_members_and_unknown_enum_values_encode_as_plain_strings() -> None:
    page = serialization.structure(
        page_payload(status="TeleportedToCustomer"), merchant.PagedOutboundResponse
    )
    statuses = [item["status"] for item in serialization.unstructure(page)["items"]]
    assert statuses == ["Shipped", "TeleportedToCustomer"]
    assert [type(s) for s in statuses] == [str, str]


def test_decimals_ints_and_floats_where_decimals_are_declared() -> None:
    assert serialization.dumps(merchant.Price(amount=Decimal("-0.000"), currency="EUR")) == (
        b'{"amount":-0.000,"currency":"EUR"}'
    )
    anything: Any = 3
    assert serialization.dumps(merchant.Price(amount=anything, currency="EUR")) == (
        b'{"amount":3,"currency":"EUR"}'
    )
    with pytest.raises(errors.ValidationError, match="finite") as info:
        serialization.unstructure(merchant.Price(amount=Decimal("-Infinity"), currency="EUR"))
    assert info.value.field == "amount"


def warehouse(**extra: Any) -> merchant.Warehouse:
    values: dict[str, Any] = {
        "warehouse_id": "W",
        "fulfiller_id": "F",
        "name": "Main",
        "address": address(),
        "modification_info": merchant.ModificationInfo(
            created_at=dt.datetime(2020, 1, 1, tzinfo=UTC)
        ),
    }
    return merchant.Warehouse(**{**values, **extra})


def test_list_fields_are_copied_and_tuples_accepted() -> None:
    ids = ["NDZ20AG4HTCWN6XW"]
    data = serialization.unstructure(warehouse(shipping_method_ids=ids))
    assert data["shippingMethodIds"] == ids
    assert data["shippingMethodIds"] is not ids
    items: Any = (outbound_item(), outbound_item(jfsku="SHORT"))
    with pytest.raises(errors.ValidationError) as info:
        serialization.unstructure(create_outbound(items=items))
    assert info.value.field == "items[1].jfsku"
    items = (outbound_item(), outbound_item(outbound_item_id="2"))
    assert [
        i["outboundItemId"]
        for i in serialization.unstructure(create_outbound(items=items))["items"]
    ] == ["1", "2"]


def test_wrong_objects_in_fields_are_validation_errors() -> None:
    broken: Any = {"street": "s"}
    with pytest.raises(errors.ValidationError, match="no attribute") as info:
        serialization.unstructure(create_outbound(shipping_address=broken))
    assert info.value.field == "shipping_address.salutation"
    not_a_list: Any = 5
    with pytest.raises(errors.ValidationError, match="expected a list, got int") as info:
        serialization.unstructure(warehouse(shipping_method_ids=not_a_list))
    assert info.value.field == "shipping_method_ids"
    with pytest.raises(errors.ValidationError, match="has no len") as info:
        serialization.unstructure(create_outbound(items=not_a_list))  # min_items checked first
    assert info.value.field == "items"


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"merchant_outbound_number": "x" * 255}, None),
        ({"merchant_outbound_number": "x" * 256}, "merchant_outbound_number"),
        ({"merchant_outbound_number": ""}, "merchant_outbound_number"),
        ({"priority": 5}, None),
        ({"priority": -5}, None),
        ({"priority": -6}, "priority"),
        ({"items": []}, "items"),
        ({"shipping_address": address(country="D")}, "shipping_address.country"),
    ],
)
def test_request_constraints_at_their_bounds(values: dict[str, Any], field: str | None) -> None:
    request = create_outbound(**values)
    if field is None:
        serialization.unstructure(request)
        return
    with pytest.raises(errors.ValidationError) as info:
        serialization.unstructure(request)
    assert info.value.field == field


def test_patch_null_unset_and_values_nested() -> None:
    request = merchant.UpdateReturnRequest(
        customer_address=merchant.UpdateAddressRequest(zip=None, country="DE", email=None),
        contact=None,
    )
    assert orjson.loads(serialization.dumps(request)) == {
        "customerAddress": {"zip": None, "country": "DE", "email": None},
        "contact": None,
    }
    too_short = merchant.UpdateReturnRequest(
        customer_address=merchant.UpdateAddressRequest(zip="", country="DE")
    )
    with pytest.raises(errors.ValidationError, match="at least 1 characters") as info:
        serialization.dumps(too_short)
    assert info.value.field == "customer_address.zip"
    not_nullable: Any = None
    with pytest.raises(errors.ValidationError, match="must not be null") as info:
        serialization.dumps(
            merchant.UpdateReturnRequest(
                customer_address=merchant.UpdateAddressRequest(country=not_nullable)
            )
        )
    assert info.value.field == "customer_address.country"


@attrs.define(kw_only=True)
class _Lists:
    """Not a generated model: list shapes the spec has no example of, through the compiler."""

    when: list[dt.datetime]
    amounts: list[Decimal]
    states: list[ObjectState | str]  # resolved among the models' names
    days: list[dt.date]
    grid: list[list[Decimal]]


def test_lists_of_scalars_and_nested_lists_compile() -> None:
    encode = serialization._unstructure_hook(_Lists, checked=False)
    fast = _wire.encoder(_Lists, False)
    value = _Lists(
        when=[dt.datetime(2020, 1, 1, tzinfo=UTC)],
        amounts=[Decimal("1.10"), Decimal("2")],
        states=[merchant.ObjectState.NEW, "Unknown"],
        days=[dt.date(2020, 1, 2)],
        grid=[[Decimal("0.50")], []],
    )
    assert json.dumps(encode(value), separators=(",", ":")).encode() == (
        b'{"when":["2020-01-01T00:00:00+00:00"],"amounts":["1.10","2"],'
        b'"states":["New","Unknown"],"days":["2020-01-02"],"grid":[["0.50"],[]]}'
    )
    assert fast(value) == (
        b'{"when":["2020-01-01T00:00:00Z"],"amounts":[1.10,2],"states":["New","Unknown"],'
        b'"days":["2020-01-02"],"grid":[[0.50],[]]}'
    )
    back = _wire.decoder(_Lists)(fast(value))
    assert back == value
    assert str(back.grid[0][0]) == "0.50"
    value.grid[1] = [Decimal("1"), Decimal("NaN")]
    with pytest.raises(errors.ValidationError, match="finite") as info:
        encode(value)
    assert info.value.field == "grid[1][1]"
    with pytest.raises(_wire.REFUSED):
        fast(value)
    value.grid[1] = []
    value.when.append(dt.datetime(2020, 1, 1))
    with pytest.raises(errors.ValidationError, match="timezone-aware") as info:
        encode(value)
    assert info.value.field == "when[1]"
    with pytest.raises(_wire.REFUSED):
        fast(value)
