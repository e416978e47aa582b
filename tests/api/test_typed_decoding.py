"""Typed calls read each body once: bytes from the socket straight into the decoder."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import orjson
import pytest

from ffn_async import FFNClient, client, errors
from ffn_async.codec import serialization
from ffn_async.models import merchant
from tests.http_mock import aioresponses

from ..codec.test_serialization import create_outbound, page_payload
from .conftest import API


@pytest.fixture
def no_dicts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Typed calls must not parse the body into dicts (untyped paths are not under test)."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the body was parsed into dicts")

    monkeypatch.setattr(client.Response, "json", refuse)
    monkeypatch.setattr(serialization, "loads", refuse)
    monkeypatch.setattr(serialization, "structure", refuse)


def outbound_bytes(fee: bytes) -> bytes:
    item = page_payload()["items"][0]
    item["shippingFee"] = 0
    return orjson.dumps(item).replace(b'"shippingFee":0', b'"shippingFee":' + fee)


async def test_one_object_goes_from_bytes_to_the_model(
    ffn: FFNClient, http: aioresponses, no_dicts: None
) -> None:
    http.get(f"{API}/v1/merchant/outbounds/X", body=outbound_bytes(b"100000000000000000.01"))
    outbound = await ffn.merchant.outbounds.get("X")
    assert outbound.shipping_fee == Decimal("100000000000000000.01")


async def test_a_page_goes_from_bytes_to_the_models(
    ffn: FFNClient, http: aioresponses, no_dicts: None
) -> None:
    payload = page_payload()
    payload["nextPageLink"] = "?$top=2&$skip=2"
    http.get(re.compile(rf"{re.escape(API)}/v1/merchant/outbounds\?.*"), body=orjson.dumps(payload))
    page = await ffn.merchant.outbounds.list(top=2)
    assert [o.merchant_outbound_number for o in page.items] == ["ORDER-1", "ORDER-1"]
    assert (page.total, page.limit, page.count, page.next_link) == (1, 50, 2, "?$top=2&$skip=2")
    assert page.has_next


async def test_odd_bodies_still_decode_or_name_the_path(ffn: FFNClient, http: aioresponses) -> None:
    pattern = re.compile(rf"{re.escape(API)}/v1/merchant/outbounds(\?.*)?$")
    http.get(pattern, body=orjson.dumps(page_payload(priority=2.0)))
    page = await ffn.merchant.outbounds.list()
    assert page.items[1].priority == 2
    http.get(pattern, body=orjson.dumps(page_payload(priority="x")))
    expected = r"list\[Outbound\]: \[1\]\.priority: expected an integer"
    with pytest.raises(errors.DecodeError, match=expected):
        await ffn.merchant.outbounds.list()
    http.get(pattern, body=b"")
    with pytest.raises(errors.DecodeError, match="expected a paged object"):
        await ffn.merchant.outbounds.list()


async def test_a_create_body_is_validated_and_sent_exactly(
    ffn: FFNClient, http: aioresponses
) -> None:
    http.post(f"{API}/v1/merchant/outbounds", body=outbound_bytes(b"4.90"))
    created = await ffn.merchant.outbounds.create(create_outbound(shipping_fee=Decimal("4.90")))
    assert str(created.shipping_fee) == "4.90"
    ((_, calls),) = [(k, v) for k, v in http.requests.items() if k[0] == "POST"]
    sent = calls[0].kwargs["data"]
    assert b'"shippingFee":4.90' in sent
    with pytest.raises(errors.ValidationError) as info:
        await ffn.merchant.outbounds.create(create_outbound(priority=9))
    assert info.value.field == "priority"


async def test_the_escape_hatch_accepts_models_and_decimals(
    ffn: FFNClient, http: aioresponses
) -> None:
    http.post(f"{API}/v1/anything", payload={"ok": True})
    assert await ffn.request("POST", "/v1/anything", json={"fee": Decimal("12.30")}) == {"ok": True}
    ((_, calls),) = list(http.requests.items())
    assert calls[0].kwargs["data"] == b'{"fee":12.30}'
    assert isinstance(merchant.Address, type)


def stock_bytes(sku: str, level: bytes) -> bytes:
    levels = ("stockLevel", "stockLevelReserved", "stockLevelBlocked", "stockLevelAnnounced")
    stock = {"jfsku": f"MERC0{sku}ABCDE", "merchantSku": sku, **dict.fromkeys(levels, 1)}
    return orjson.dumps(stock).replace(b'"stockLevel":1', b'"stockLevel":' + level, 1)


@pytest.fixture
def no_dict_bodies(monkeypatch: pytest.MonkeyPatch) -> None:
    """Like ``no_dicts``, but scalars may still be converted (a chunk's ``date``)."""
    structure = serialization.structure

    def scalars_only(data: Any, cls: Any) -> Any:
        if isinstance(data, dict | list):
            raise AssertionError("the body was parsed into dicts")
        return structure(data, cls)

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the body was parsed into dicts")

    monkeypatch.setattr(client.Response, "json", refuse)
    monkeypatch.setattr(serialization, "loads", refuse)
    monkeypatch.setattr(serialization, "structure", scalars_only)


async def test_a_chunked_listing_goes_from_bytes_to_the_models(
    ffn: FFNClient, http: aioresponses, no_dict_bodies: None
) -> None:
    first = f"{API}/v1/merchant/stocks/complete"
    second = f"{first}?page=2"
    head = b'{"date": "2024-05-06T07:08:09+00:00", "moreDataAvailable": %s, "items": [%s]%s}'
    link = b', "nextChunkUrl": "' + second.encode() + b'"'
    http.get(first, body=head % (b"true", stock_bytes("A", b"100000000000000000.01"), link))
    http.get(second, body=head % (b"false", stock_bytes("B", b"2.50"), b""))
    listing = ffn.merchant.stocks.complete()
    stocks = [s async for s in listing]
    assert [(s.merchant_sku, str(s.stock_level)) for s in stocks] == [
        ("A", "100000000000000000.01"),
        ("B", "2.50"),
    ]
    assert listing.date is not None
    assert listing.date.isoformat() == "2024-05-06T07:08:09+00:00"


async def test_odd_chunks_still_decode_or_name_the_path(ffn: FFNClient, http: aioresponses) -> None:
    url = f"{API}/v1/merchant/stocks/complete"
    http.get(url, body=b'{"moreDataAvailable": false, "items": [%s]}' % stock_bytes("A", b"3.0"))
    assert [s.stock_level async for s in ffn.merchant.stocks.complete()] == [Decimal("3.0")]
    http.get(url, body=b'{"moreDataAvailable": false, "items": [%s]}' % stock_bytes("A", b'"x"'))
    with pytest.raises(errors.DecodeError, match=r"\[0\]\.stockLevel: expected a decimal"):
        [s async for s in ffn.merchant.stocks.complete()]
    http.get(url, body=b"[]")
    with pytest.raises(errors.DecodeError, match="chunked list: expected an object, got list"):
        [s async for s in ffn.merchant.stocks.complete()]
    http.get(url, body=b"")
    with pytest.raises(errors.DecodeError, match="chunked list: expected an object, got NoneType"):
        [s async for s in ffn.merchant.stocks.complete()]
