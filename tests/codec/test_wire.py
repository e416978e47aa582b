"""The bytes path (msgspec wire Structs): exact decimals, lenient edges, errors, encoding."""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import json
import linecache
import sys
import textwrap
import threading
import traceback
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import orjson
import pytest

from ffn_async import errors, models
from ffn_async.codec import _wire, serialization
from ffn_async.codec._modelinfo import fields
from ffn_async.models import merchant

from .test_serialization import create_outbound, outbound_item, page_payload

UTC = dt.UTC


def body(payload: Any) -> bytes:
    return orjson.dumps(payload)


@pytest.fixture
def no_dict_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail if the dict path is used: the bytes went through the fast path alone."""

    def refuse(*args: Any) -> Any:
        raise AssertionError("the dict path ran")

    monkeypatch.setattr(serialization, "structure", refuse)
    monkeypatch.setattr(serialization, "_unstructure_hook", refuse)


def price(raw: bytes) -> merchant.Price:
    return serialization.decode(b'{"amount": %s, "currency": "EUR"}' % raw, merchant.Price)


# --------------------------------------------------------------------------- exact decimals


@pytest.mark.parametrize(
    "literal",
    [
        "12.30",
        "100000000000000000.01",
        "0.000000000000000000000000000001",
        "-0.000",
        "123456789012345678901234567890.123456789",
        "1E+400",
        "19",
    ],
)
def test_decimals_are_exact_at_any_size_and_scale(literal: str, no_dict_path: None) -> None:
    amount = price(literal.encode()).amount
    assert str(amount) == str(Decimal(literal))
    assert serialization.dumps(merchant.Price(amount=amount, currency="EUR")) == (
        b'{"amount":%s,"currency":"EUR"}' % str(Decimal(literal)).encode()
    )


def test_decimals_stay_exact_when_the_dict_path_decodes_the_body() -> None:
    # priority 3.0 sends the page down the lenient dict path: decimals must survive it too
    payload = page_payload(priority=3.0, shippingFee=1)
    raw = body(payload).replace(b'"shippingFee":1', b'"shippingFee":100000000000000000.01')
    page = serialization.decode(raw, merchant.PagedOutboundResponse)
    assert page.items[1].priority == 3
    assert page.items[1].shipping_fee == Decimal("100000000000000000.01")


def test_decimal_from_a_string_is_exact() -> None:
    assert str(
        serialization.decode(b'{"amount": "12.30", "currency": "EUR"}', merchant.Price).amount
    ) == ("12.30")


@pytest.mark.parametrize("text", ['"NaN"', '"Infinity"', '"-inf"', '"sNaN"'])
def test_non_finite_decimals_are_refused(text: str) -> None:
    with pytest.raises(errors.DecodeError, match="amount: must be a finite number"):
        price(text.encode())
    with pytest.raises(errors.DecodeError, match="finite"):
        serialization.structure({"amount": float("inf"), "currency": "EUR"}, merchant.Price)


def test_json_non_finite_literals_are_invalid_json() -> None:
    with pytest.raises(errors.DecodeError, match="not valid JSON"):
        price(b"NaN")


@pytest.mark.parametrize("amount", [Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity")])
def test_non_finite_decimals_are_not_sent(amount: Decimal) -> None:
    items = [outbound_item(), outbound_item(price=amount)]
    with pytest.raises(errors.ValidationError, match="finite") as info:
        serialization.dumps(create_outbound(items=items))
    assert info.value.field == "items[1].price"
    with pytest.raises(errors.ValidationError, match="finite"):
        serialization.dumps({"amount": amount})


def test_plain_data_with_decimals_and_models_is_exact() -> None:
    data = {"fee": Decimal("4.90"), "address": merchant.Address(street="s", city="c", country="DE")}
    assert serialization.dumps(data) == (
        b'{"fee":4.90,"address":{"street":"s","city":"c","country":"DE"}}'
    )
    assert (
        serialization.dumps([create_outbound()])
        == b"[" + serialization.dumps(create_outbound()) + b"]"
    )


# --------------------------------------------------------------------------- lenient edges


def test_an_integral_float_is_accepted_for_an_integer() -> None:
    page = serialization.decode(body(page_payload(priority=3.0)), merchant.PagedOutboundResponse)
    assert page.items[1].priority == 3
    assert type(page.items[1].priority) is int
    assert serialization.structure(page_payload(priority=3.0), merchant.PagedOutboundResponse)


def test_a_fractional_number_is_refused_for_an_integer() -> None:
    with pytest.raises(errors.DecodeError) as info:
        serialization.decode(body(page_payload(priority=3.5)), merchant.PagedOutboundResponse)
    assert "items[1].priority: expected an integer, got number 3.5" in str(info.value)


def test_a_date_only_value_is_midnight_utc() -> None:
    info = serialization.decode(b'{"createdAt": "2020-02-11"}', merchant.ModificationInfo)
    assert info.created_at == dt.datetime(2020, 2, 11, tzinfo=UTC)


def test_naive_date_times_are_utc_on_both_paths(no_dict_path: None) -> None:
    raw = b'{"createdAt": "2020-02-11T16:05:06", "updatedAt": "2020-02-11T16:05:06+02:00"}'
    info = serialization.decode(raw, merchant.ModificationInfo)
    assert info.created_at == dt.datetime(2020, 2, 11, 16, 5, 6, tzinfo=UTC)
    assert info.updated_at is not None
    assert info.updated_at.utcoffset() == dt.timedelta(hours=2)


@pytest.mark.parametrize(
    ("fraction", "micro", "second"),
    [(".8341234", 834123, 6), (".8341235", 834124, 6), (".9999996", 0, 7), (".5", 500000, 6)],
)
def test_dotnet_fractions_round_the_same_on_both_paths(
    fraction: str, micro: int, second: int
) -> None:
    text = f"2020-02-11T16:05:06{fraction}+00:00"
    expected = dt.datetime(2020, 2, 11, 16, 5, second, micro, tzinfo=UTC)
    raw = json.dumps({"createdAt": text}).encode()
    assert serialization.decode(raw, merchant.ModificationInfo).created_at == expected
    assert serialization.structure({"createdAt": text}, merchant.ModificationInfo).created_at == (
        expected
    )


def test_unknown_enum_values_and_naive_times_switch_to_the_tolerant_stage() -> None:
    raw = body(page_payload(status="TeleportedToCustomer"))
    for _ in range(2):  # the strict stage refuses, the tolerant one decodes; then it stays
        page = serialization.decode(raw, merchant.PagedOutboundResponse)
        assert page.items[0].status is merchant.OutboundStatusType.SHIPPED
        assert page.items[1].status == "TeleportedToCustomer"
        assert type(page.items[1].status) is str
    assert page == serialization.structure(
        serialization._loads_exact(raw), merchant.PagedOutboundResponse
    )


def test_a_normal_page_never_touches_the_dict_path(no_dict_path: None) -> None:
    page = serialization.decode(body(page_payload()), merchant.PagedOutboundResponse)
    assert page.items[1].modification_info.created_at == dt.datetime(
        2020, 2, 11, 16, 5, 6, 834123, tzinfo=UTC
    )
    assert serialization.dumps(page)


def test_patch_models_decode_absent_as_unset_and_null_as_none() -> None:
    for decoded in (
        serialization.decode(b'{"name": "x", "note": null}', merchant.UpdateProductRequest),
        serialization.structure({"name": "x", "note": None}, merchant.UpdateProductRequest),
    ):
        assert decoded.name == "x"
        assert decoded.note is None
        assert decoded.dimensions is models.UNSET


# --------------------------------------------------------------------------- decode errors


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"priority": "high"}, "items[1].priority: expected an integer, got str 'high'"),
        ({"currency": None}, "items[1].currency: must not be null"),
        (
            {"shippingAddress": {"street": "s", "city": 5, "country": "DE"}},
            "items[1].shippingAddress.city: expected a string, got int 5",
        ),
        (
            {
                "items": [
                    {
                        "outboundItemId": "1",
                        "itemType": "Product",
                        "quantity": "lots",
                        "quantityOpen": 1,
                    }
                ]
            },
            "items[1].items[0].quantity: expected a decimal",
        ),
        (
            {"modificationInfo": {"createdAt": "yesterday"}},
            "items[1].modificationInfo.createdAt: expected an ISO-8601 date-time",
        ),
        ({"modificationInfo": {}}, "items[1].modificationInfo.createdAt: is required but missing"),
    ],
)
def test_decode_errors_from_bytes_name_the_path(change: dict[str, Any], message: str) -> None:
    with pytest.raises(errors.DecodeError) as info:
        serialization.decode(body(page_payload(**change)), merchant.PagedOutboundResponse)
    assert "PagedOutboundResponse" in str(info.value)
    assert message in str(info.value)


def test_invalid_and_empty_bodies() -> None:
    with pytest.raises(errors.DecodeError, match="not valid JSON") as info:
        serialization.decode(b"<html>503</html>", merchant.Address)
    assert info.value.body == b"<html>503</html>"
    with pytest.raises(errors.DecodeError, match=r"Address: \(root\): expected an object"):
        serialization.decode(b"[1]", merchant.Address)


def test_lists_decode_from_bytes(no_dict_path: None) -> None:
    raw = body([{"street": "s", "city": "c", "country": "DE"}] * 3)
    addresses = serialization.decode(raw, list[merchant.Address])
    assert [a.country for a in addresses] == ["DE"] * 3


# --------------------------------------------------------------------------- encode


def test_a_valid_create_body_encodes_without_the_dict_path(no_dict_path: None) -> None:
    request = create_outbound(
        items=[outbound_item(outbound_item_id=str(i)) for i in range(100)],
        shipping_fee=Decimal("4.90"),
        desired_delivery_date=dt.datetime(
            2020, 3, 2, 8, 49, tzinfo=dt.timezone(dt.timedelta(hours=1))
        ),
    )
    data = orjson.loads(serialization.dumps(request))
    assert len(data["items"]) == 100
    assert data["desiredDeliveryDate"] == "2020-03-02T08:49:00+01:00"
    assert b'"shippingFee":4.90' in serialization.dumps(request)


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"merchant_outbound_number": "x" * 256}, "merchant_outbound_number", "at most 255"),
        ({"priority": 6}, "priority", "must be <= 5"),
        ({"merchant_outbound_number": "line\nbreak"}, "merchant_outbound_number", "pattern"),
        ({"items": []}, "items", "at least 1 items"),
        ({"currency": None}, "currency", "is required"),
        ({"desired_delivery_date": dt.datetime(2020, 1, 1)}, "desired_delivery_date", "aware"),
        ({"items": 5}, "items", "has no len"),
    ],
)
def test_encode_errors_name_the_field(values: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(errors.ValidationError, match=message) as info:
        serialization.dumps(create_outbound(**values))
    assert info.value.field == field


def test_encode_error_in_a_list_item_names_the_index() -> None:
    items = [outbound_item(), outbound_item(), outbound_item(jfsku="TOO-SHORT")]
    with pytest.raises(errors.ValidationError, match="at least 11 characters") as info:
        serialization.dumps(create_outbound(items=items))
    assert info.value.field == "items[2].jfsku"


def test_patch_unset_null_and_values_through_dumps() -> None:
    assert serialization.dumps(merchant.UpdateReturnRequest()) == b"{}"
    assert orjson.loads(
        serialization.dumps(
            merchant.UpdateReturnRequest(
                customer_address=merchant.UpdateAddressRequest(zip=None, country="DE"),
                contact=None,
            )
        )
    ) == {"customerAddress": {"zip": None, "country": "DE"}, "contact": None}
    not_nullable: Any = None
    with pytest.raises(errors.ValidationError, match="must not be null") as info:
        serialization.dumps(merchant.UpdateReturnRequest(warehouse_id=not_nullable))
    assert info.value.field == "warehouse_id"


def test_date_times_go_out_exactly() -> None:
    zones = [
        UTC,
        dt.timezone(dt.timedelta(hours=-3, minutes=-30)),
        dt.timezone(dt.timedelta(hours=5, seconds=30)),  # not RFC 3339: written by isoformat
    ]
    for tz in zones:
        when = dt.datetime(2020, 2, 11, 16, 5, 6, 834123, tzinfo=tz)
        sent = orjson.loads(serialization.dumps(merchant.ModificationInfo(created_at=when)))
        assert dt.datetime.fromisoformat(sent["createdAt"]) == when
        assert dt.datetime.fromisoformat(sent["createdAt"]).utcoffset() == when.utcoffset()


# --------------------------------------------------------------------------- unstructure


def test_unstructure_gives_plain_json_that_structures_back_exactly() -> None:
    request = create_outbound(
        shipping_fee=Decimal("100000000000000000.01"),
        items=[outbound_item(price=Decimal("12.30"))],
        desired_delivery_date=dt.datetime(2020, 1, 1, tzinfo=UTC),
    )
    data = serialization.unstructure(request)
    text = json.dumps(data)  # plain JSON types only
    assert data["shippingFee"] == "100000000000000000.01"
    back = serialization.structure(json.loads(text), merchant.CreateOutboundRequest)
    assert back == request
    assert str(back.items[0].price) == "12.30"


# --------------------------------------------------------------------------- generated code


def test_generated_code_is_in_linecache_and_in_tracebacks() -> None:
    serialization.decode(body(page_payload()), merchant.PagedOutboundResponse)
    names = [n for n in linecache.cache if n.startswith("<ffn_async generated decode")]
    assert any("models.merchant.Outbound strict" in n for n in names)
    source = "".join(linecache.getlines(names[0]))
    assert "class _w" in source
    assert "def _d" in source


def test_same_named_classes_in_two_modules_get_their_own_code(tmp_path: Path) -> None:
    package = tmp_path / "layout_probe"
    package.mkdir()
    (package / "__init__.py").write_text("")
    for api, extra in (("merchant", "fulfiller_id: str"), ("fulfiller", "merchant_id: str")):
        (package / f"{api}.py").write_text(
            textwrap.dedent(
                f"""
                from __future__ import annotations
                import attrs
                from .shared_{api} import Note

                @attrs.define(kw_only=True)
                class Thing:
                    {extra}
                    notes: list[Note] = attrs.field(factory=list)
                """
            )
        )
        (package / f"shared_{api}.py").write_text(
            "import attrs\n\n@attrs.define(kw_only=True)\nclass Note:\n    text: str\n"
        )
    sys.path.insert(0, str(tmp_path))
    try:
        import layout_probe.fulfiller as fulfiller  # type: ignore[import-not-found]
        import layout_probe.merchant as merchant  # type: ignore[import-not-found]

        m = _wire.decoder(merchant.Thing)(b'{"fulfillerId": "F", "notes": [{"text": "a"}]}')
        f = _wire.decoder(fulfiller.Thing)(b'{"merchantId": "M"}')
        assert (type(m), m.fulfiller_id, m.notes[0].text) == (merchant.Thing, "F", "a")
        assert (type(f), f.merchant_id, f.notes) == (fulfiller.Thing, "M", [])
        assert [x.name for x in fields(merchant.Thing)] == ["fulfiller_id", "notes"]
        assert _wire.encoder(fulfiller.Thing, False)(f) == b'{"merchantId":"M","notes":[]}'
    finally:
        sys.path.remove(str(tmp_path))
        for name in [n for n in sys.modules if n.startswith("layout_probe")]:
            del sys.modules[name]


def test_a_name_imported_only_for_type_checkers_is_refused_clearly(tmp_path: Path) -> None:
    # Annotations resolve in the class's module (the generated models import every name they
    # use at run time): nothing re-reads a module's source for its TYPE_CHECKING imports.
    (tmp_path / "hidden_probe.py").write_text(
        textwrap.dedent(
            """
            from __future__ import annotations
            from typing import TYPE_CHECKING
            import attrs
            if TYPE_CHECKING:
                from decimal import Decimal

            @attrs.define(kw_only=True)
            class Priced:
                price: Decimal
            """
        )
    )
    sys.path.insert(0, str(tmp_path))
    try:
        import hidden_probe  # type: ignore[import-not-found]

        with pytest.raises(TypeError, match="Priced: name 'Decimal' is not defined; the names"):
            _wire.decoder(hidden_probe.Priced)
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("hidden_probe", None)


def test_an_error_in_generated_code_shows_its_source_line() -> None:
    frozen_note: Any = object()
    try:
        _wire.encoder(merchant.Address, True)(frozen_note)
    except AttributeError:
        text = traceback.format_exc()
    assert "<ffn_async generated encode checked ffn_async.models.merchant.Address>" in text
    assert "v = o.salutation" in text


@attrs.define(kw_only=True)
class _Leaf:
    text: str
    amount: Decimal | None = None


@attrs.define(kw_only=True)
class _Tree:
    name: str
    leaves: list[_Leaf] = attrs.field(factory=list)
    first: _Leaf | None = None


def test_threads_compiling_the_same_classes_at_once() -> None:
    raw = b'{"name": "t", "leaves": [{"text": "a", "amount": 1.50}], "first": {"text": "b"}}'
    barrier = threading.Barrier(8)

    def work() -> Any:
        barrier.wait()
        return _wire.decoder(_Tree)(raw), _wire.encoder(_Tree, True)(_Tree(name="x"))

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: work(), range(8)))
    assert all(r == results[0] for r in results)
    assert str(results[0][0].leaves[0].amount) == "1.50"


@attrs.define(kw_only=True)
class _Measure:
    weight: float
    readings: list[float] = attrs.field(factory=list)


@pytest.mark.parametrize(
    "data",
    [
        {"weight": float("inf")},
        {"weight": float("nan")},
        {"weight": 1.0, "readings": [2.0, float("-inf")]},
    ],
)
def test_non_finite_floats_are_refused_on_the_dict_path(data: dict[str, Any]) -> None:
    structure = serialization._structure_hook(_Measure)
    with pytest.raises(errors.DecodeError, match="finite"):
        structure(data, _Measure)


def test_floats_from_bytes_refuse_out_of_range_numbers() -> None:
    assert _wire.decoder(_Measure)(b'{"weight": 3, "readings": [1.5]}') == _Measure(
        weight=3.0, readings=[1.5]
    )
    with pytest.raises(_wire.REFUSED):
        _wire.decoder(_Measure)(b'{"weight": 1e999}')
    exact = serialization._loads_exact(b'{"weight": 1e999}')
    with pytest.raises(errors.DecodeError, match="weight: must be a finite number"):
        serialization._structure_hook(_Measure)(exact, _Measure)
