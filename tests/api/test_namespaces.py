"""Namespace behaviour beyond "each operation sends the right request": laziness, validation,
scopes, binary answers, and response-shape tolerance."""

from __future__ import annotations

import base64
import re
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from ffn_async import FFNClient, StaticToken
from ffn_async.api import fulfiller
from ffn_async.errors import (
    DecodeError,
    ForeignLinkError,
    Gone,
    Locked,
    MissingScope,
    NotFound,
    ValidationError,
)
from ffn_async.models import fulfiller as fm
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


async def test_patch_sends_only_what_was_set(ffn: FFNClient, http: aioresponses) -> None:
    http.patch(ANY, status=204)
    await ffn.merchant.products.update("VZ9N01SJN9E", mm.UpdateProductRequest(name="New name"))
    [(key, calls)] = list(http.requests.items())
    assert key[1].raw_path == "/api/v1/merchant/products/VZ9N01SJN9E"
    assert orjson.loads(calls[0].kwargs["data"]) == {"name": "New name"}


async def test_missing_scope_is_raised_before_sending(http: aioresponses) -> None:
    auth = StaticToken("read-only", scopes=("ffn.merchant.read",))
    async with FFNClient(auth, environment=ENV, retry=NO_RETRY) as ffn:
        with pytest.raises(MissingScope) as info:
            await ffn.merchant.products.delete("VZ9N01SJN9E")
    assert info.value.scope == "ffn.merchant.write"
    assert http.requests == {}


async def test_users_current_needs_no_scope_and_hints_on_404(http: aioresponses) -> None:
    async with FFNClient(StaticToken("t", scopes=()), environment=ENV, retry=NO_RETRY) as ffn:
        http.get(f"{API}/v1/users/current", payload={"userId": "MERC", "role": "Merchant"})
        me = await ffn.shared.users.current()
        assert (me.user_id, me.role) == ("MERC", "Merchant")
        http.get(f"{API}/v1/users/current", status=404)
        with pytest.raises(NotFound, match="portal"):
            await ffn.shared.users.current()


async def test_raw_download_returns_bytes_and_writes_dest(
    ffn: FFNClient, http: aioresponses, tmp_path: Path
) -> None:
    picture = bytes(range(256)) * 10
    http.get(ANY, body=picture, content_type="application/octet-stream")
    dest = tmp_path / "picture.png"
    assert await ffn.fulfiller.products.pictures.download("VZ9N01SJN9E", 2, dest=dest) == picture
    assert dest.read_bytes() == picture
    assert [p.name for p in tmp_path.iterdir()] == ["picture.png"]  # no temp file left behind
    [(key, calls)] = list(http.requests.items())
    assert key[1].raw_path == "/api/v1/fulfiller/products/VZ9N01SJN9E/pictures/2/data"
    assert calls[0].kwargs["headers"]["Accept"].startswith("application/octet-stream")


async def test_base64_attachment_download(
    ffn: FFNClient, http: aioresponses, tmp_path: Path
) -> None:
    pdf = b"%PDF-1.7 invoice"
    body = {
        "data": base64.b64encode(pdf).decode(),
        "size": len(pdf),
        "mimeType": "application/pdf",
        "merchantDocumentId": "Rechnung RE1",
        "documentType": "Invoice",
    }
    http.get(ANY, payload=body, repeat=True)
    attachment = await ffn.fulfiller.outbounds.attachments.get("MERC02AXEV", "Rechnung RE1")
    assert isinstance(attachment, fm.OutboundAttachmentData)
    dest = tmp_path / "invoice.pdf"
    assert (
        await ffn.fulfiller.outbounds.attachments.download("MERC02AXEV", "Rechnung RE1", dest=dest)
        == pdf
    )
    assert dest.read_bytes() == pdf
    key = next(iter(http.requests))
    assert key[1].raw_path == "/api/v1/fulfiller/outbounds/MERC02AXEV/attachments/Rechnung%20RE1"


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


def _outbound_request() -> mm.CreateOutboundRequest:
    return mm.CreateOutboundRequest(
        merchant_outbound_number="ORDER-1",
        warehouse_id="FULF04XX-12345-0001",
        currency="EUR",
        shipping_address=mm.CreateAddressRequest(street="Main 1", city="Berlin", country="DE"),
        items=[mm.CreateOutboundItemRequest(outbound_item_id="1", jfsku="VZ9N01SJN9E", quantity=1)],
    )


async def test_outbound_create_sends_oversale_and_answers_locked_with_a_typed_error(
    ffn: FFNClient, http: aioresponses
) -> None:
    error = {"errorCode": {"code": "Outbounds_CreationLocked"}, "errorMessages": []}
    http.post(ANY, status=423, payload=error)
    with pytest.raises(Locked) as info:
        await ffn.merchant.outbounds.create(_outbound_request(), oversale=True)
    assert info.value.status == 423
    # The create is safe: after the 423 it looked the outbound up by its number.
    [key] = [k for k in http.requests if k[0] == "POST"]
    assert key[1].query["oversale"] == "true"


async def test_expired_attachment_is_gone(ffn: FFNClient, http: aioresponses) -> None:
    http.get(ANY, status=410, payload={"errorCode": {"code": "Outbounds_AttachmentExpired"}})
    with pytest.raises(Gone):
        await ffn.merchant.outbounds.attachments.get("ORDER-1", "invoice")


async def test_picture_upload_answers_201_with_the_picture(
    ffn: FFNClient, http: aioresponses
) -> None:
    http.post(
        ANY,
        status=201,
        payload={
            "number": 1,
            "url": "https://x/1.png",
            "publicUrl": "https://x/p/1.png",
            "size": 5,
            "mimeType": "image/png",
        },
    )
    picture = await ffn.merchant.products.pictures.create(
        "VZ9N01SJN9E", mm.CreatePictureDataRequest(data="aGVsbG8=", number=1)
    )
    assert isinstance(picture, mm.Picture)
    assert picture.number == 1


def _stock(jfsku: str) -> dict[str, object]:
    levels = ("stockLevel", "stockLevelReserved", "stockLevelBlocked", "stockLevelAnnounced")
    return {"jfsku": f"MERC0{jfsku}ABCDE", "merchantSku": jfsku, **dict.fromkeys(levels, 1)}


async def test_complete_stock_listing_follows_next_chunk_url(
    ffn: FFNClient, http: aioresponses
) -> None:
    first = f"{API}/v1/merchant/stocks/complete"
    second = f"{first}?date=2024-05-06T07%3A08%3A09%2B00%3A00&page=2"
    http.get(
        re.compile(re.escape(first) + r"\?includeBillOfMaterials=true$"),
        payload={
            "date": "2024-05-06T07:08:09+00:00",
            "items": [_stock("A"), _stock("B")],
            "moreDataAvailable": True,
            "nextChunkUrl": second,
        },
    )
    http.get(
        second,
        payload={
            "date": "2024-05-06T07:08:09+00:00",
            "items": [_stock("C")],
            "moreDataAvailable": False,
        },
    )
    listing = ffn.merchant.stocks.complete(include_bill_of_materials=True)
    assert [s.merchant_sku async for s in listing] == ["A", "B", "C"]
    assert listing.date is not None
    assert listing.date.isoformat() == "2024-05-06T07:08:09+00:00"


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
