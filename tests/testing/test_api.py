"""The fake's API over a real socket, driven with plain aiohttp (not the ffn client)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from yarl import URL

from ffn_async.testing import FakeFFN
from ffn_async.testing.pytest_plugin import RunningFake


class Api:
    """A tiny authenticated JSON client for the tests."""

    def __init__(self, fake: RunningFake, session: aiohttp.ClientSession, token: str) -> None:
        self.fake, self.session, self.token = fake, session, token
        self.base = fake.environment.api_url

    async def call(
        self, method: str, path: str, *, json: Any = None, params: Any = None
    ) -> tuple[int, Any]:
        url = URL(path) if path.startswith("http") else URL(f"{self.base}{path}")
        async with self.session.request(
            method,
            url,
            json=json,
            params=params,
            headers={"Authorization": f"Bearer {self.token}"},
        ) as resp:
            body = await resp.read()
            if resp.content_type == "application/json" and body:
                return resp.status, await resp.json()
            return resp.status, body.decode()


@pytest.fixture
async def api(ffn_fake: RunningFake) -> AsyncIterator[Api]:
    # The product the `outbound()` bodies below order (outbound items must name a product).
    ffn_fake.server.api.add_product("SKU-A", "Article A")
    token = ffn_fake.server.issue_token()["access_token"]
    async with aiohttp.ClientSession() as session:
        yield Api(ffn_fake, session, str(token))


def outbound(number: str, warehouse: str, **extra: Any) -> dict[str, Any]:
    return {
        "merchantOutboundNumber": number,
        "warehouseId": warehouse,
        "currency": "EUR",
        "shippingAddress": {"street": "Hauptstr. 1", "city": "Köln", "country": "DE"},
        "items": [{"merchantSku": "SKU-A", "quantity": 2}],
        **extra,
    }


async def test_users_current_and_the_portal_404(api: Api) -> None:
    assert await api.call("GET", "/v1/users/current") == (
        200,
        {"userId": "MERC", "role": "Merchant"},
    )
    api.fake.server.api.user_registered = False
    status, body = await api.call("GET", "/v1/users/current")
    assert status == 404
    assert body["errorCode"]["code"] == "Shared_UserNotFound"
    assert body["errorMessages"][0]["message"]
    assert "errorMetaData" in body


async def test_api_auth_401_without_body_and_403_for_scope(api: Api) -> None:
    api.token = "garbage"
    assert await api.call("GET", "/v1/users/current") == (401, "")
    # Expired on the server's clock.
    api.token = str(api.fake.server.issue_token()["access_token"])
    api.fake.server.clock.advance(1801)
    assert (await api.call("GET", "/v1/merchant/outbounds"))[0] == 401
    api.token = str(api.fake.server.issue_token(["ffn.merchant.read"])["access_token"])
    assert (await api.call("GET", "/v1/merchant/outbounds"))[0] == 200
    status, body = await api.call("POST", "/v1/merchant/products", json={"name": "x"})
    assert status == 403
    assert body["errorMetaData"] == {"RequiredScope": "ffn.merchant.write"}
    status, _ = await api.call("GET", "/v1/fulfiller/outbounds")
    assert status == 403


async def test_products_crud_and_duplicate(api: Api) -> None:
    status, product = await api.call(
        "POST", "/v1/merchant/products", json={"name": "Shirt", "merchantSku": "SKU-1"}
    )
    assert status == 201
    jfsku = product["jfsku"]
    assert len(jfsku) == 11
    assert jfsku.startswith("MERC01")
    assert product["modificationInfo"]["state"] == "New"
    status, dup = await api.call(
        "POST", "/v1/merchant/products", json={"name": "Shirt", "merchantSku": "SKU-1"}
    )
    assert status == 400
    assert dup["errorCode"]["code"] == "Products_DuplicateProduct"
    assert dup["errorMetaData"] == {"MerchantSku": "SKU-1", "Jfsku": jfsku}
    assert await api.call("PATCH", f"/v1/merchant/products/{jfsku}", json={"note": "n"}) == (
        204,
        "",
    )
    status, got = await api.call("GET", f"/v1/merchant/products/{jfsku}")
    assert (status, got["note"], got["modificationInfo"]["state"]) == (200, "n", "Modified")
    assert (await api.call("GET", f"/v1/fulfiller/products/{jfsku}"))[0] == 200
    assert (await api.call("DELETE", f"/v1/merchant/products/{jfsku}"))[0] == 204
    status, missing = await api.call("GET", f"/v1/merchant/products/{jfsku}")
    assert (status, missing["errorCode"]["code"]) == (404, "Products_ProductNotFound")
    status, invalid = await api.call("POST", "/v1/merchant/products", json={"name": "no sku"})
    assert (status, invalid["errorMetaData"]) == (400, {"Field": "merchantSku"})


async def test_outbound_create_views_duplicates_and_counters(api: Api) -> None:
    warehouse = api.fake.server.api.default_warehouse_id
    status, created = await api.call(
        "POST", "/v1/merchant/outbounds", json=outbound("A-1", warehouse)
    )
    assert status == 201
    assert created["outboundId"].startswith("MERC02")
    assert len(created["outboundId"]) == 10
    assert created["status"] == "Pending"
    assert created["fulfillerId"] == "FULF"
    assert "merchantId" not in created
    assert created["items"][0]["quantityOpen"] == 2
    status, dup = await api.call("POST", "/v1/merchant/outbounds", json=outbound("A-1", warehouse))
    assert (status, dup["errorCode"]["code"]) == (400, "Outbounds_NotCanceledOutboundExists")
    assert dup["errorMetaData"]["OutboundId"] == created["outboundId"]
    status, seen = await api.call("GET", f"/v1/fulfiller/outbounds/{created['outboundId']}")
    assert seen["merchantId"] == "MERC"
    assert "fulfillerId" not in seen
    status, both = await api.call(
        "POST",
        "/v1/merchant/outbounds",
        json=outbound("A-2", warehouse, shippingMethodId="X", shippingType="Standard"),
    )
    assert both["errorCode"]["code"] == "Outbounds_OutboundShippingMethodAndShippingTypeSet"
    stats = api.fake.stats
    assert stats.outbound_creates == {"A-1": 2, "A-2": 1}
    assert stats.duplicate_outbound_creates == 1
    assert stats.requests["POST /api/v1/merchant/outbounds"] == 3


async def test_paging_follows_next_page_link(api: Api) -> None:
    warehouse = api.fake.server.api.default_warehouse_id
    for n in range(120):
        assert (
            await api.call("POST", "/v1/merchant/outbounds", json=outbound(f"P-{n:03}", warehouse))
        )[0] == 201
    status, first = await api.call("GET", "/v1/merchant/outbounds")
    assert len(first["items"]) == 50
    assert first["count"] == 120
    assert first["_page"] == {"total": 3, "limit": 50, "offset": 0}
    assert first["nextPageLink"].startswith("?")
    numbers = [o["merchantOutboundNumber"] for o in first["items"]]
    link = first["nextPageLink"]
    while link:
        status, body = await api.call("GET", f"/v1/merchant/outbounds{link}")
        numbers += [o["merchantOutboundNumber"] for o in body["items"]]
        link = body.get("nextPageLink")
    assert numbers == [f"P-{n:03}" for n in range(120)]
    assert body["_links"]["previous"] == "?$top=50&$skip=50"

    # Plain query parameters are ignored, as on the real API.
    status, ignored = await api.call("GET", "/v1/merchant/outbounds", params={"status": "Shipped"})
    assert ignored["count"] == 120
    status, ordered = await api.call(
        "GET",
        "/v1/merchant/outbounds",
        params={
            "$orderBy": "merchantOutboundNumber desc",
            "$top": "3",
            "$select": "merchantOutboundNumber",
        },
    )
    assert ordered["items"] == [{"merchantOutboundNumber": f"P-{n}"} for n in (119, 118, 117)]
    assert "%24orderBy" not in ordered["nextPageLink"]
    assert "$orderBy=" in ordered["nextPageLink"]
    status, bad = await api.call("GET", "/v1/merchant/outbounds", params={"$top": "zero"})
    assert (status, bad["errorCode"]["code"]) == (400, "Shared_ModelValidation")


async def test_filter_over_http(api: Api) -> None:
    server = api.fake.server
    server.api.add_product("O'Brien", "Irish")
    server.api.add_product("Plain", "Plain")
    status, body = await api.call(
        "GET", "/v1/merchant/products", params={"$filter": "merchantSku eq 'O''Brien'"}
    )
    assert [p["name"] for p in body["items"]] == ["Irish"]
    status, body = await api.call(
        "GET",
        "/v1/merchant/products",
        params={"$filter": "startswith(name,'P') or contains(merchantSku,'Bri')"},
    )
    assert body["count"] == 2
    cutoff = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    status, body = await api.call(
        "GET",
        "/v1/merchant/products",
        params={"$filter": f"modificationInfo/createdAt gt {cutoff}"},
    )
    assert body["count"] == 0
    status, body = await api.call("GET", "/v1/merchant/products", params={"$filter": "name eq"})
    assert (status, body["errorMetaData"]) == (400, {"Parameter": "$filter"})


@pytest.mark.ffn_fake(chunk_size=4)
async def test_updates_feed_windows_chunks_and_future_to_date(api: Api) -> None:
    server = api.fake.server
    before = server.clock.now_datetime()
    warehouse = server.api.default_warehouse_id
    ids = []
    for n in range(10):
        ids.append(
            (await api.call("POST", "/v1/merchant/outbounds", json=outbound(f"F-{n}", warehouse)))[
                1
            ]["outboundId"]
        )
    server.api.ship_outbound(ids[0])
    now = server.clock.now_datetime()
    params = {"fromDate": before.isoformat(), "toDate": now.isoformat()}
    status, chunk = await api.call("GET", "/v1/merchant/outbounds/updates", params=params)
    assert status == 200
    assert set(chunk) == {"from", "to", "data", "moreDataAvailable", "nextChunkUrl"}
    seen = [o["outboundId"] for o in chunk["data"]]
    while chunk["moreDataAvailable"]:
        assert chunk["nextChunkUrl"].startswith(api.fake.environment.api_url.human_repr())
        status, chunk = await api.call("GET", chunk["nextChunkUrl"])
        seen += [o["outboundId"] for o in chunk["data"]]
    assert "nextChunkUrl" not in chunk
    # Whole objects, ordered by last change: the shipped one moved to the end.
    assert seen == ids[1:] + ids[:1]
    assert chunk["data"][-1]["status"] == "Shipped"

    # ignoreOwnApplicationId hides what this client did through the API.
    status, others = await api.call(
        "GET", "/v1/merchant/outbounds/updates", params={**params, "ignoreOwnApplicationId": "true"}
    )
    assert [o["outboundId"] for o in others["data"]] == [ids[0]]
    # The next window starts at the old `to`: nothing is seen twice.
    later = server.clock.now_datetime()
    status, empty = await api.call(
        "GET",
        "/v1/fulfiller/outbounds/updates",
        params={"fromDate": chunk["to"], "toDate": later.isoformat()},
    )
    assert empty["data"] == []
    assert empty["moreDataAvailable"] is False

    future = (server.clock.now_datetime() + timedelta(minutes=5)).isoformat()
    status, body = await api.call(
        "GET",
        "/v1/merchant/outbounds/updates",
        params={"fromDate": before.isoformat(), "toDate": future},
    )
    assert (status, body["errorCode"]["code"]) == (400, "Shared_ModelValidation")


async def test_fulfiller_drives_status_and_shipping(api: Api) -> None:
    warehouse = api.fake.server.api.default_warehouse_id
    _, created = await api.call("POST", "/v1/merchant/outbounds", json=outbound("S-1", warehouse))
    oid = created["outboundId"]
    path = f"/v1/fulfiller/outbounds/{oid}"
    assert await api.call("PUT", f"{path}/status", json={"status": "Acknowledged"}) == (204, "")
    assert await api.call("PUT", f"{path}/status", json={"status": "Pickprocess"}) == (204, "")
    # Too late for the merchant to cancel: 403 on the merchant API, as its spec documents.
    status, body = await api.call(
        "PUT", f"/v1/merchant/outbounds/{oid}/status", json={"status": "Canceled"}
    )
    assert (status, body["errorCode"]["code"]) == (403, "Outbounds_OutboundStatusChangeForbidden")
    assert body["errorMetaData"] == {"From": "Pickprocess", "To": "Canceled"}
    status, note = await api.call(
        "POST",
        f"{path}/shipping-notifications",
        json={
            "fulfillerShippingNotificationNumber": "SN1",
            "items": [{"merchantSku": "SKU-A", "quantity": 1}],
        },
    )
    assert (status, note["outboundStatus"]) == (201, "PartiallyShipped")
    api.fake.server.api.ship_outbound(oid)
    status, got = await api.call("GET", f"/v1/merchant/outbounds/{oid}")
    assert got["status"] == "Shipped"
    assert set(got["statusTimestamp"]) == {
        "pending",
        "acknowledged",
        "pickprocess",
        "partiallyShipped",
        "shipped",
    }
    status, notes = await api.call("GET", f"/v1/merchant/outbounds/{oid}/shipping-notifications")
    assert isinstance(notes, list)
    assert len(notes) == 2
    assert notes[0]["fulfillerId"] == "FULF"


async def test_inbound_stock_and_warehouses(api: Api) -> None:
    server = api.fake.server
    product = server.api.add_product("SKU-S", "Stocked")
    warehouse = server.api.default_warehouse_id
    status, inbound = await api.call(
        "POST",
        "/v1/merchant/inbounds",
        json={
            "merchantInboundNumber": "IN-1",
            "warehouseId": warehouse,
            "items": [{"jfsku": product["jfsku"], "quantity": 10}],
        },
    )
    assert status == 201
    assert inbound["inboundId"].startswith("MERC03")
    _, stock = await api.call("GET", f"/v1/merchant/stocks/{product['jfsku']}")
    assert (stock["stockLevel"], stock["stockLevelAnnounced"]) == (0, 10)
    server.api.receive_inbound(inbound["inboundId"])
    status, adj = await api.call(
        "POST",
        "/v1/fulfiller/stocks/adjustments",
        json={
            "jfsku": product["jfsku"],
            "warehouseId": warehouse,
            "quantity": -3,
            "fulfillerTimestamp": "2024-01-01T00:00:00Z",
        },
    )
    assert (status, adj["changeType"], adj["stockLevel"]) == (201, "Adjustment", 7)
    _, stock = await api.call("GET", f"/v1/merchant/stocks/{product['jfsku']}")
    assert (stock["stockLevel"], stock["stockLevelAnnounced"]) == (7, 0)
    assert stock["warehouses"][0]["warehouseId"] == warehouse
    _, listed = await api.call("GET", f"/v1/merchant/stocks/warehouse/{warehouse}")
    assert listed["items"][0]["stockLevel"] == 7
    _, changes = await api.call("GET", "/v1/merchant/stocks/updates")
    assert [c["changeType"] for c in changes["data"]] == ["Inbound", "Adjustment"]

    status, created = await api.call(
        "POST",
        "/v1/fulfiller/warehouses",
        json={"name": "Second", "address": {"street": "s", "city": "c", "country": "DE"}},
    )
    assert status == 201
    assert created["warehouseId"].startswith("FULF04")
    _, merchant_view = await api.call("GET", f"/v1/merchant/warehouses/{created['warehouseId']}")
    assert merchant_view["shippingMethodIds"] == []
    _, listed = await api.call("GET", "/v1/merchant/warehouses")
    assert listed["count"] == 2
    _, default_view = await api.call("GET", f"/v1/merchant/warehouses/{warehouse}")
    assert default_view["shippingMethodIds"] == [server.api.default_shipping_method_id]


@pytest.mark.ffn_fake(auto_ship_after=0.0)
async def test_auto_ship(api: Api) -> None:
    warehouse = api.fake.server.api.default_warehouse_id
    _, created = await api.call("POST", "/v1/merchant/outbounds", json=outbound("AUTO", warehouse))
    assert api.fake.server.api.ship_due() == 1
    _, got = await api.call("GET", f"/v1/merchant/outbounds/{created['outboundId']}")
    assert got["status"] == "Shipped"


async def test_stats_endpoint(api: Api) -> None:
    await api.call("GET", "/v1/users/current")
    async with api.session.get(api.fake.environment.api_url.with_path("/_fake/stats")) as resp:
        stats = await resp.json()
    assert stats["requests"] == {"GET /api/v1/users/current": 1}
    assert stats["api_requests"] == 1


def test_run_in_thread_serves_synchronous_callers() -> None:
    import urllib.request

    fake = FakeFFN()
    token = fake.issue_token()["access_token"]
    with fake.run_in_thread() as env:
        request = urllib.request.Request(
            f"{env.api_url}/v1/users/current", headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(request) as resp:
            assert resp.status == 200
    assert fake.stats.api_requests == 1


async def test_an_outbound_with_merchant_skus_only_ships(api: Api) -> None:
    """Regression: shipping used to match open lines by jfsku only and failed on these."""
    server = api.fake.server.api
    status, created = await api.call(
        "POST",
        "/v1/merchant/outbounds",
        json={
            "merchantOutboundNumber": "SKU-ONLY-1",
            "warehouseId": server.default_warehouse_id,
            "currency": "EUR",
            "shippingAddress": {
                "lastname": "Doe",
                "street": "Main 1",
                "city": "X",
                "zip": "1",
                "country": "DE",
            },
            "items": [{"merchantSku": "SKU-A", "quantity": 2}],
        },
    )
    assert status == 201, created
    notification = server.ship_outbound(created["outboundId"])
    assert notification["items"][0]["quantity"] == 2
    _, outbound = await api.call("GET", f"/v1/merchant/outbounds/{created['outboundId']}")
    assert outbound["status"] == "Shipped"


async def test_a_product_created_bare_follows_the_spec(api: Api) -> None:
    """Regression: the fake stored ``specifications: {}``, which the spec forbids."""
    from .spec_check import validation_errors

    status, created = await api.call(
        "POST", "/v1/merchant/products", json={"name": "Bare", "merchantSku": "BARE-1"}
    )
    assert status == 201, created
    _, product = await api.call("GET", f"/v1/merchant/products/{created['jfsku']}")
    assert product["specifications"]["isBatch"] is False
    for side in ("merchant", "fulfiller"):
        _, seen = await api.call("GET", f"/v1/{side}/products/{created['jfsku']}")
        assert validation_errors(side, {"$ref": "#/components/schemas/Product"}, seen) == []


@pytest.mark.ffn_fake(received_size=3)
async def test_received_logs_each_api_request_as_sent(api: Api) -> None:
    status, _ = await api.call("GET", "/v1/merchant/outbounds/A%2F1%20x", params={"a": "b c"})
    assert status == 404
    status, _ = await api.call("POST", "/v1/merchant/products", json={"name": "no sku"})
    assert status == 400
    status, _ = await api.call("DELETE", "/v1/merchant/nowhere")
    assert status == 404
    await api.call("GET", "/v1/merchant/warehouses")
    log = list(api.fake.received)
    assert len(log) == 3  # bounded: the oldest went
    post, nowhere, listing = log
    assert (post.method, post.path, post.status) == ("POST", "/api/v1/merchant/products", 400)
    assert post.json() == {"name": "no sku"}
    assert (nowhere.route, nowhere.status, nowhere.body) == ("/api/v1/merchant/nowhere", 404, b"")
    assert (listing.json(), listing.status) == (None, 200)
    api.fake.received.clear()
    await api.call("GET", "/v1/merchant/outbounds/A%2F1%20x", params={"a": "b c"})
    [get] = api.fake.received
    assert get.path == "/api/v1/merchant/outbounds/A%2F1%20x"
    assert get.query == (("a", "b c"),)
    assert get.route == "/api/v1/merchant/outbounds/{outboundId}"
