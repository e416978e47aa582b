"""Namespace behaviour the fake server shows over a real socket: what a PATCH sends, the
creation lock (423), an expired attachment (410), the portal hint on ``users/current`` 404,
the chunked complete-stock listing, and a base64 attachment saved to a file.
``test_namespaces.py`` keeps aioresponses for malformed or foreign answers the fake never
gives."""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path

import pytest

from ffn_async import FFNClient, StaticToken
from ffn_async.errors import Gone, Locked, NotFound
from ffn_async.models import fulfiller as fm
from ffn_async.models import merchant as mm
from ffn_async.retry import NO_RETRY
from ffn_async.testing.pytest_plugin import RunningFake

ADDRESS = mm.CreateAddressRequest(street="Main 1", city="Berlin", zip="10115", country="DE")


def outbound(fake: RunningFake, number: str) -> mm.CreateOutboundRequest:
    jfsku = fake.server.api.add_product(f"SKU-{number}", "Widget")["jfsku"]
    return mm.CreateOutboundRequest(
        merchant_outbound_number=number,
        warehouse_id=fake.server.api.default_warehouse_id,
        currency="EUR",
        shipping_address=ADDRESS,
        items=[mm.CreateOutboundItemRequest(outbound_item_id="1", jfsku=jfsku, quantity=1)],
    )


async def test_patch_sends_only_what_was_set(ffn_fake: RunningFake, live_ffn: FFNClient) -> None:
    jfsku = ffn_fake.server.api.add_product("SKU-1", "Old name")["jfsku"]
    await live_ffn.merchant.products.update(jfsku, mm.UpdateProductRequest(name="New name"))
    [sent] = ffn_fake.received
    assert (sent.method, sent.json()) == ("PATCH", {"name": "New name"})
    product = await live_ffn.merchant.products.get(jfsku)
    assert (product.name, product.merchant_sku) == ("New name", "SKU-1")


async def test_outbound_creation_locked_is_a_typed_error(
    ffn_fake: RunningFake, live_ffn: FFNClient
) -> None:
    body = outbound(ffn_fake, "ORDER 1")
    ffn_fake.server.api.lock_outbound_creation("ORDER 1")
    with pytest.raises(Locked) as info:
        await live_ffn.merchant.outbounds.create(body, oversale=True)
    assert info.value.status == 423
    # A safe create: after the 423 it looked the outbound up; the POSTs carried the parameter.
    posts = [r for r in ffn_fake.received if r.method == "POST"]
    assert posts
    assert all(r.query == (("oversale", "true"),) for r in posts)
    ffn_fake.server.api.lock_outbound_creation("ORDER 1", locked=False)
    created = await live_ffn.merchant.outbounds.create(body, oversale=True)
    assert created.merchant_outbound_number == "ORDER 1"


@pytest.mark.ffn_fake(token_lifetime=dt.timedelta(days=365).total_seconds())
async def test_expired_attachment_is_gone(ffn_fake: RunningFake, live_ffn: FFNClient) -> None:
    created = await live_ffn.merchant.outbounds.create(outbound(ffn_fake, "ORDER-1"))
    upload = mm.CreateOutboundAttachmentDataRequest(
        merchant_document_id="invoice 1", document_type="Invoice", data="JVBERi0="
    )
    await live_ffn.merchant.outbounds.attachments.create(created.outbound_id, upload)
    assert await live_ffn.merchant.outbounds.attachments.download("ORDER-1", "invoice 1")
    ffn_fake.server.clock.advance(dt.timedelta(days=91).total_seconds())
    with pytest.raises(Gone) as info:
        await live_ffn.merchant.outbounds.attachments.get("ORDER-1", "invoice 1")
    assert info.value.status == 410


async def test_users_current_needs_no_scope_and_hints_at_the_portal_on_404(
    ffn_fake: RunningFake,
) -> None:
    auth = StaticToken(ffn_fake.server.token().access_token, scopes=())
    async with FFNClient(auth, environment=ffn_fake.environment, retry=NO_RETRY) as ffn:
        me = await ffn.shared.users.current()
        assert me.user_id == ffn_fake.server.api.merchant_id
        ffn_fake.server.api.user_registered = False
        with pytest.raises(NotFound, match="portal"):
            await ffn.shared.users.current()


@pytest.mark.ffn_fake(chunk_size=2)
async def test_complete_stock_listing_follows_next_chunk_url(
    ffn_fake: RunningFake, live_ffn: FFNClient
) -> None:
    for sku in ("A", "B", "C", "D", "E"):
        ffn_fake.server.api.add_product(sku, f"Article {sku}")
    listing = live_ffn.merchant.stocks.complete(include_bill_of_materials=True)
    assert [s.merchant_sku async for s in listing] == ["A", "B", "C", "D", "E"]
    assert listing.date is not None
    chunks = [(r.route, dict(r.query)) for r in ffn_fake.received]
    assert [q.get("page", "1") for _, q in chunks] == ["1", "2", "3"]
    assert all(route == "/api/v1/merchant/stocks/complete" for route, _ in chunks)


async def test_base64_attachment_download(
    ffn_fake: RunningFake, live_ffn: FFNClient, tmp_path: Path
) -> None:
    pdf = b"%PDF-1.7 invoice"
    created = await live_ffn.merchant.outbounds.create(outbound(ffn_fake, "ORDER-1"))
    upload = mm.CreateOutboundAttachmentDataRequest(
        merchant_document_id="Rechnung RE1",
        document_type="Invoice",
        data=base64.b64encode(pdf).decode(),
    )
    await live_ffn.merchant.outbounds.attachments.create(created.outbound_id, upload)
    attachments = live_ffn.fulfiller.outbounds.attachments
    attachment = await attachments.get(created.outbound_id, "Rechnung RE1")
    assert isinstance(attachment, fm.OutboundAttachmentData)
    dest = tmp_path / "invoice.pdf"
    assert await attachments.download(created.outbound_id, "Rechnung RE1") == pdf
    assert await attachments.download(created.outbound_id, "Rechnung RE1", dest=dest) == dest
    assert dest.read_bytes() == pdf
    assert [p.name for p in tmp_path.iterdir()] == ["invoice.pdf"]  # no temp file left behind
    assert ffn_fake.received[-1].path.endswith("/attachments/Rechnung%20RE1")


async def test_patch_clears_a_nullable_object_and_the_answer_reads_none(
    ffn_fake: RunningFake, live_ffn: FFNClient
) -> None:
    """``None`` on a PATCH field whose schema is nullable is sent as ``null`` (README "Models"),
    and the outbound read back carries ``null`` there, which decodes as ``None``."""
    created = await live_ffn.merchant.outbounds.create(outbound(ffn_fake, "ORDER 2"))
    sender = mm.UpdateAddressRequest(street="Side 2", city="Köln", zip="50667", country="DE")
    await live_ffn.merchant.outbounds.update(
        created.outbound_id, mm.UpdateOutboundRequest(sender_address=sender)
    )
    assert (await live_ffn.merchant.outbounds.get(created.outbound_id)).sender_address is not None
    await live_ffn.merchant.outbounds.update(
        created.outbound_id, mm.UpdateOutboundRequest(sender_address=None)
    )
    patch = [r for r in ffn_fake.received if r.method == "PATCH"][-1]
    assert patch.json() == {"senderAddress": None}
    assert (await live_ffn.merchant.outbounds.get(created.outbound_id)).sender_address is None
