"""Namespace behaviour beyond "each operation sends the right request": laziness, validation,
scopes, binary answers, and response-shape tolerance.

aioresponses stays here where the answer is one the fake server never gives (bad base64, an
envelope around a bare array, a foreign or repeated ``nextChunkUrl``), where nothing may be
sent at all (validation and scope errors), or where the test inspects request headers
(``Accept`` of a raw download). What the fake shows over a socket (a PATCH body, 423, 410, the
``users/current`` 404 hint, chunk links, a base64 attachment saved to a file) is in
``test_namespaces_live.py``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import typing
from pathlib import Path

import pytest

from ffn_async import FFNClient, StaticToken
from ffn_async.api import fulfiller
from ffn_async.errors import DecodeError, ForeignLinkError, MissingScope, ValidationError
from ffn_async.models import merchant as mm
from ffn_async.retry import NO_RETRY
from tests.http_mock import aioresponses

from .conftest import API, ENV

ANY = re.compile(".*")


def test_namespaces_are_lazy_and_cached(ffn: FFNClient) -> None:
    assert ffn.merchant is ffn.merchant
    outbounds = ffn.merchant.outbounds
    assert outbounds is ffn.merchant.outbounds
    assert outbounds.shipping_notifications is outbounds.shipping_notifications
    assert isinstance(ffn.fulfiller, fulfiller.FulfillerAPI)
    assert "shipping_notifications" in vars(outbounds)
    assert "attachments" not in vars(outbounds)  # never touched, never built


def test_importing_the_package_does_not_load_the_api_or_models() -> None:
    code = (
        "import sys, ffn_async; prefixes = ('ffn_async.api', 'ffn_async.models'); "
        "print(sorted(m for m in sys.modules if m.startswith(prefixes)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert out.stdout.strip() == "[]"


async def test_invalid_body_names_the_field_and_sends_nothing(
    ffn: FFNClient, http: aioresponses
) -> None:
    product = mm.CreateProductRequest(
        name="n",
        merchant_sku="SKU-1",
        identifier=mm.CreateIdentifierRequest(),
        origin_country="DEU",
    )
    with pytest.raises(ValidationError) as info:
        await ffn.merchant.products.create(product)
    assert info.value.field == "origin_country"
    assert http.requests == {}


async def test_invalid_nested_body_names_the_path(ffn: FFNClient, http: aioresponses) -> None:
    outbound = mm.CreateOutboundRequest(
        merchant_outbound_number="ORDER-1",
        warehouse_id="FULF04XX-12345-0001",
        currency="EUR",
        shipping_address=mm.CreateAddressRequest(
            lastname="O'Brien", street="Main 1", city="Berlin", zip="10115", country="DE"
        ),
        items=[],
    )
    with pytest.raises(ValidationError) as info:
        await ffn.merchant.outbounds.create(outbound)
    assert info.value.field == "items"
    assert http.requests == {}


async def test_missing_scope_is_raised_before_sending(http: aioresponses) -> None:
    auth = StaticToken("read-only", scopes=("ffn.merchant.read",))
    async with FFNClient(auth, environment=ENV, retry=NO_RETRY) as ffn:
        with pytest.raises(MissingScope) as info:
            await ffn.merchant.products.delete("VZ9N01SJN9E")
    assert info.value.scope == "ffn.merchant.write"
    assert http.requests == {}


async def test_raw_download_returns_bytes_and_writes_dest(
    ffn: FFNClient, http: aioresponses, tmp_path: Path
) -> None:
    picture = bytes(range(256)) * 10
    http.get(ANY, body=picture, content_type="application/octet-stream")
    dest = tmp_path / "picture.png"
    assert await ffn.fulfiller.products.pictures.download("VZ9N01SJN9E", 2, dest=dest) == dest
    assert dest.read_bytes() == picture
    assert [p.name for p in tmp_path.iterdir()] == ["picture.png"]  # no temp file left behind
    [(key, calls)] = list(http.requests.items())
    assert key[1].raw_path == "/api/v1/fulfiller/products/VZ9N01SJN9E/pictures/2/data"
    assert calls[0].kwargs["headers"]["Accept"].startswith("application/octet-stream")


def test_download_methods_are_typed_bytes_or_the_path_written() -> None:
    """Each ``download`` has two overloads: no ``dest`` gives bytes, a ``dest`` its Path."""
    from ffn_async.api import merchant, shared

    methods = [
        cls.download
        for module in (merchant, fulfiller, shared)
        for cls in vars(module).values()
        if isinstance(cls, type) and cls.__module__ == module.__name__ and "download" in vars(cls)
    ]
    assert len(methods) == 5
    for method in methods:
        hints = [typing.get_type_hints(o) for o in typing.get_overloads(method)]
        shapes = {(h["dest"], h["return"]) for h in hints}
        assert shapes == {(type(None), bytes), (str | os.PathLike[str], Path)}, method


async def test_bad_base64_is_a_decode_error(ffn: FFNClient, http: aioresponses) -> None:
    http.get(ANY, payload={"data": "not base64!", "mimeType": "application/pdf"})
    with pytest.raises(DecodeError, match="base64"):
        await ffn.fulfiller.outbounds.shipping_labels.download("MERC02AXEV", "SHPL-1")


async def test_bare_array_endpoint_tolerates_an_envelope(
    ffn: FFNClient, http: aioresponses
) -> None:
    http.get(ANY, payload={"items": [], "_page": {"total": 0, "limit": 50, "offset": 0}})
    assert await ffn.merchant.outbounds.shipping_notifications.list("MERC02AXEV") == []
    http.get(ANY, payload={"unexpected": True})
    with pytest.raises(DecodeError, match="JSON array"):
        await ffn.merchant.outbounds.shipping_notifications.list("MERC02AXEV")


async def test_list_arguments_are_checked(ffn: FFNClient, http: aioresponses) -> None:
    with pytest.raises(ValueError, match="top"):
        await ffn.merchant.outbounds.list(top=0)
    with pytest.raises(ValueError, match="skip"):
        await ffn.merchant.outbounds.list(skip=-1)
    with pytest.raises(ValueError, match="prefetch"):
        ffn.merchant.outbounds.iterate(prefetch=-1)
    assert http.requests == {}


async def test_raw_filter_strings_are_sent_verbatim(ffn: FFNClient, http: aioresponses) -> None:
    http.get(ANY, payload={"items": [], "_page": {"total": 0, "limit": 50, "offset": 0}})
    await ffn.merchant.inbounds.list(
        filter="items/any(a:contains(a/jfsku,'X'))", order_by="modificationInfo/createdAt desc"
    )
    url = next(iter(http.requests))[1]
    assert url.query["$filter"] == "items/any(a:contains(a/jfsku,'X'))"
    assert url.query["$orderBy"] == "modificationInfo/createdAt desc"


def _stock(jfsku: str) -> dict[str, object]:
    levels = ("stockLevel", "stockLevelReserved", "stockLevelBlocked", "stockLevelAnnounced")
    return {"jfsku": f"MERC0{jfsku}ABCDE", "merchantSku": jfsku, **dict.fromkeys(levels, 1)}


async def test_complete_stock_listing_refuses_a_foreign_next_chunk_url(
    ffn: FFNClient, http: aioresponses
) -> None:
    http.get(
        ANY,
        payload={
            "date": "2024-05-06T07:08:09+00:00",
            "items": [],
            "moreDataAvailable": True,
            "nextChunkUrl": "https://evil.example/api/v1/merchant/stocks/complete?page=2",
        },
    )
    with pytest.raises(ForeignLinkError):
        [s async for s in ffn.merchant.stocks.complete()]
    assert len(http.requests) == 1


async def test_complete_stock_listing_stops_on_a_repeated_next_chunk_url(
    ffn: FFNClient, http: aioresponses
) -> None:
    link = f"{API}/v1/merchant/stocks/complete?page=2"
    answer = {"items": [], "moreDataAvailable": True, "nextChunkUrl": link}
    http.get(ANY, payload=answer, repeat=True)
    with pytest.raises(DecodeError, match="repeated its nextChunkUrl"):
        [s async for s in ffn.merchant.stocks.complete()]
    assert sum(len(calls) for calls in http.requests.values()) == 2
