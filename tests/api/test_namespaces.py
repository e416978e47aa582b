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

from ffn_async import FFNClient, StaticToken, models
from ffn_async.api import fulfiller
from ffn_async.errors import DecodeError, MissingScope, NotFound, ValidationError
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
    product = models.CreateProduct(name="n" * 256, merchant_sku="SKU-1")
    with pytest.raises(ValidationError) as info:
        await ffn.merchant.products.create(product)
    assert info.value.field == "name"
    assert http.requests == {}


async def test_invalid_nested_body_names_the_path(ffn: FFNClient, http: aioresponses) -> None:
    outbound = models.CreateOutbound(
        merchant_outbound_number="ORDER-1",
        warehouse_id="FULF04XX-12345-0001",
        currency="EUR",
        shipping_address=models.Address(
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
    await ffn.merchant.products.update("VZ9N01SJN9E", models.UpdateProduct(name="New name"))
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
    assert isinstance(attachment, models.OutboundAttachmentData)
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
