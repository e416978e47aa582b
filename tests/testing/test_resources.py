"""Stateful behaviour of the fake's resource families, over a real socket (raw HTTP)."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from yarl import URL

from ffn_async.testing.pytest_plugin import RunningFake

from .raw_client import ADDRESS, Caller, seed

M, F = "/v1/merchant", "/v1/fulfiller"
FEED = {"fromDate": "2020-01-01T00:00:00Z"}


def order(number: str, ctx: dict[str, str], quantity: int = 1) -> dict[str, Any]:
    return {
        "merchantOutboundNumber": number,
        "warehouseId": ctx["warehouse"],
        "currency": "EUR",
        "shippingAddress": ADDRESS,
        "items": [{"jfsku": ctx["jfsku"], "quantity": quantity}],
    }


async def new_return(call: Caller, ctx: dict[str, str], quantity: int = 3) -> dict[str, Any]:
    status, created = await call.json(
        "POST",
        f"{M}/returns",
        body={
            "merchantReturnNumber": "R-1",
            "warehouseId": ctx["warehouse"],
            "customerAddress": ADDRESS,
            "items": [{"jfsku": ctx["jfsku"], "quantity": quantity}],
        },
    )
    assert status == 201, created
    return created


async def test_outbounds_are_found_by_the_merchants_number_on_the_merchant_api_only(
    ffn_fake: RunningFake, call: Caller
) -> None:
    ctx = seed(ffn_fake)
    _, created = await call.json("POST", f"{M}/outbounds", body=order("SHOP 1/2", ctx))
    encoded = "SHOP%201%2F2"  # a merchant number may need escaping in the path
    status, found = await call.json("GET", f"{M}/outbounds/{encoded}")
    assert (status, found["outboundId"]) == (200, created["outboundId"])
    assert (await call("PATCH", f"{M}/outbounds/{encoded}", None, {"externalNote": "x"}))[0] == 204
    status, _ = await call.json("GET", f"{F}/outbounds/{encoded}")
    assert status == 404  # the fulfiller spec speaks of FFN's id only
    # Canceled, the number is free again; the duplicate check names the live outbound.
    cancel = {"status": "Canceled", "cancelReasonCode": "x"}
    assert (await call("PUT", f"{M}/outbounds/{encoded}/status", None, cancel))[0] == 204
    status, again = await call.json("POST", f"{M}/outbounds", body=order("SHOP 1/2", ctx))
    assert status == 201
    status, duplicate = await call.json("POST", f"{M}/outbounds", body=order("SHOP 1/2", ctx))
    assert duplicate["errorCode"]["code"] == "Outbounds_NotCanceledOutboundExists"
    assert duplicate["errorMetaData"] == {"OutboundId": again["outboundId"]}


async def test_inbounds_by_number_and_their_shipping_notification_feed(
    ffn_fake: RunningFake, call: Caller
) -> None:
    ctx = seed(ffn_fake)
    body = {
        "merchantInboundNumber": "PO-7",
        "warehouseId": ctx["warehouse"],
        "items": [{"inboundItemId": "1", "merchantSku": "SKU-1", "quantity": 4}],
    }
    status, inbound = await call.json("POST", f"{M}/inbounds", body=body)
    assert (status, inbound["items"][0]["jfsku"]) == (201, ctx["jfsku"])
    path = f"{M}/inbounds/PO-7/shipping-notifications"
    status, note = await call.json(
        "POST",
        path,
        body={
            "merchantShippingNotificationNumber": "ASN-1",
            "items": [{"jfsku": ctx["jfsku"], "quantity": 4}],
        },
    )
    assert status == 201
    note_path = f"{path}/{note['inboundShippingNotificationId']}"
    assert (await call("PATCH", note_path, None, {"note": "late"}))[0] == 204
    assert (await call("DELETE", note_path))[0] == 204
    status, feed = await call.json("GET", f"{M}/inbounds/shipping-notifications/updates", FEED)
    assert [n["modificationInfo"]["state"] for n in feed["data"]] == ["Deleted"]
    assert (await call("GET", note_path))[0] == 404
    # The fulfiller books the goods; the stock and the inbound follow.
    line = {
        "jfsku": ctx["jfsku"],
        "warehouseId": ctx["warehouse"],
        "quantity": 4,
        "fulfillerTimestamp": "2024-01-01T00:00:00Z",
    }
    status, booked = await call.json(
        "POST", f"{F}/inbounds/{inbound['inboundId']}/incoming-goods", body=line
    )
    assert (status, booked["status"], booked["items"][0]["quantityOpen"]) == (201, "Receipted", 0)
    _, stock = await call.json("GET", f"{M}/stocks/{ctx['jfsku']}/{ctx['warehouse']}")
    assert stock["stockLevel"] == 20 + 4


async def test_return_split_lock_version_and_change_feed(
    ffn_fake: RunningFake, call: Caller
) -> None:
    ctx = seed(ffn_fake)
    created = await new_return(call, ctx)
    rid, item_id = created["returnId"], created["items"][0]["returnItemId"]
    version = created["modificationInfo"]["createdAt"]
    status, split = await call.json(
        "POST", f"{M}/returns/{rid}/items/{item_id}", {"objectVersion": version}, {"quantity": 1}
    )
    assert (status, split["quantity"]) == (201, 1)
    _, ret = await call.json("GET", f"{M}/returns/{rid}")
    assert sorted(i["quantity"] for i in ret["items"]) == [1, 2]
    # The old version is outdated now.
    status, stale = await call.json(
        "PATCH", f"{M}/returns/{rid}", {"objectVersion": version}, {"internalNote": "x"}
    )
    assert (status, stale["errorCode"]["code"]) == (400, "Shared_OutdatedObject")
    assert stale["errorMetaData"]["CurrentObjectVersion"] == ret["modificationInfo"]["updatedAt"]
    # The merchant's lock stops the fulfiller, not the merchant.
    assert (await call("PUT", f"{M}/returns/{rid}/lock"))[0] == 204
    _, locked = await call.json("GET", f"{F}/returns/{rid}")
    assert locked["writeLock"]["lockedByUserId"] == "MERC"
    status, refused = await call.json("PATCH", f"{F}/returns/{rid}", body={"externalNote": "y"})
    assert (status, refused["errorCode"]["code"]) == (403, "Returns_ReturnIsLocked")
    assert (await call("PATCH", f"{M}/returns/{rid}", None, {"internalNote": "mine"}))[0] == 204
    assert (await call("PUT", f"{M}/returns/{rid}/unlock"))[0] == 204
    assert (await call("PATCH", f"{F}/returns/{rid}", None, {"externalNote": "y"}))[0] == 204
    # The change feed reports field changes with the previous value.
    _, feed = await call.json("GET", f"{F}/returns/{rid}/changes", FEED)
    states = [c["modificationState"] for c in feed["data"]]
    assert states[0] == "New"
    note_change = next(c for c in feed["data"] if "internalNote" in c["changes"])
    assert note_change["changes"]["internalNote"] == {"value": "mine"}
    assert note_change["modifiedFrom"] == "MERC"
    creation, split_change = [c for c in feed["data"] if "items" in c["changes"]][:2]
    assert [i["modificationState"] for i in creation["changes"]["items"]] == ["New"]
    assert {i["modificationState"] for i in split_change["changes"]["items"]} == {"New", "Modified"}


@pytest.mark.ffn_fake(chunk_size=2)
async def test_complete_stock_comes_in_chunks_and_warehouse_stock_is_always_paged(
    ffn_fake: RunningFake, call: Caller
) -> None:
    ctx = seed(ffn_fake)
    for n in range(4):
        ffn_fake.server.api.add_product(f"ZERO-{n}", "No stock yet")
    status, chunk = await call.json("GET", f"{M}/stocks/complete")
    seen = [s["merchantSku"] for s in chunk["items"]]
    while chunk["moreDataAvailable"]:
        url = URL(chunk["nextChunkUrl"])
        assert url.is_absolute()
        status, chunk = await call.json("GET", url.path.removeprefix("/api"), dict(url.query))
        seen += [s["merchantSku"] for s in chunk["items"]]
    assert seen == ["SKU-1", "ZERO-0", "ZERO-1", "ZERO-2", "ZERO-3"]  # zero stock included
    # Only products with stock in the listing; an empty warehouse still answers a page.
    _, listed = await call.json("GET", f"{M}/stocks")
    assert [s["jfsku"] for s in listed["items"]] == [ctx["jfsku"]]
    _, second = await call.json(
        "POST", f"{F}/warehouses", body={"name": "Empty", "address": ADDRESS}
    )
    _, empty = await call.json("GET", f"{M}/stocks/warehouse/{second['warehouseId']}")
    assert (empty["items"], empty["count"]) == ([], 0)


async def test_pictures_keep_their_bytes(ffn_fake: RunningFake, call: Caller) -> None:
    ctx = seed(ffn_fake)
    data = b"\xff\xd8\xff\xe0 jpeg bytes"
    body = {"data": base64.b64encode(data).decode()}
    status, picture = await call.json("POST", f"{M}/products/{ctx['jfsku']}/pictures", body=body)
    assert (status, picture["number"], picture["mimeType"], picture["size"]) == (
        201,
        1,
        "image/jpeg",
        len(data),
    )
    status, content_type, raw = await call("GET", f"{F}/products/{ctx['jfsku']}/pictures/1/data")
    assert (status, content_type, raw) == (200, "application/octet-stream", data)
    _, product = await call.json("GET", f"{M}/products/{ctx['jfsku']}")
    assert [p["number"] for p in product["pictures"]] == [1]
    assert (await call("DELETE", f"{M}/products/{ctx['jfsku']}/pictures/1"))[0] == 204
    assert (await call("GET", f"{M}/products/{ctx['jfsku']}/pictures/1/data"))[0] == 404
    status, bad = await call.json(
        "POST", f"{M}/products/{ctx['jfsku']}/pictures", body={"data": "%%%"}
    )
    assert (status, bad["errorCode"]["code"]) == (400, "Shared_ModelValidation")


async def test_product_authorizations_and_condition_variants(
    ffn_fake: RunningFake, call: Caller
) -> None:
    ctx = seed(ffn_fake)
    path = f"{M}/products/{ctx['jfsku']}/authorizations"
    assert await call.json("GET", path) == (200, [])
    status, granted = await call.json("POST", path, body={"fulfillerId": "FULF"})
    assert (status, granted["fulfillerId"]) == (201, "FULF")
    _, listed = await call.json("GET", path)
    assert [a["fulfillerId"] for a in listed] == ["FULF"]
    status, again = await call.json("POST", path, body={"fulfillerId": "FULF"})
    assert again["errorCode"]["code"] == "Products_ProductAlreadyAuthorized"
    status, unknown = await call.json("POST", path, body={"fulfillerId": "NOPE"})
    assert (status, unknown["errorCode"]["code"]) == (400, "Users_UserNotFound")
    assert (await call("DELETE", f"{path}/FULF"))[0] == 204
    assert (await call.json("GET", path)) == (200, [])

    status, used = await call.json(
        "POST", f"{M}/products/{ctx['jfsku']}/related-products/condition", body={}
    )
    assert (status, used["condition"]) == (201, "Used")
    _, base = await call.json("GET", f"{M}/products/{ctx['jfsku']}")
    assert base["relatedProducts"] == [
        {"jfsku": used["jfsku"], "condition": "Used", "kindOfRelation": "Condition"}
    ]


async def test_amazon_sfp_credentials_never_answer_the_token(
    ffn_fake: RunningFake, call: Caller
) -> None:
    seed(ffn_fake)
    path = f"{M}/credentials/amazonSfp"
    body = {"sellerId": "A1", "mwsAuthToken": "amzn.mws.secret", "platform": "Amazon_de"}
    status, created = await call.json("POST", path, body=body)
    assert status == 201
    assert "amzn.mws.secret" not in str(await call("GET", path))
    assert "mwsAuthToken" not in created
    assert (await call("DELETE", f"{path}/{created['credentialId']}"))[0] == 204
    assert (await call("GET", f"{path}/{created['credentialId']}"))[0] == 404
    assert await call.json("GET", path) == (200, [])


async def test_warehouse_authorizations_show_in_the_merchants_warehouse(
    ffn_fake: RunningFake, call: Caller
) -> None:
    ctx = seed(ffn_fake)
    _, second = await call.json("POST", f"{F}/warehouses", body={"name": "Two", "address": ADDRESS})
    wid = second["warehouseId"]
    _, before = await call.json("GET", f"{M}/warehouses/{wid}")
    assert before["shippingMethodIds"] == []
    auth = f"{F}/authorizations/MERC/warehouses"
    body = {"warehouseId": wid, "shippingMethods": [{"shippingMethodId": ctx["shippingMethodId"]}]}
    assert (await call("POST", auth, None, body))[0] == 201
    _, after = await call.json("GET", f"{M}/warehouses/{wid}")
    assert after["shippingMethodIds"] == [ctx["shippingMethodId"]]
    status, still = await call.json("DELETE", f"{F}/warehouses/{wid}")
    assert (status, still["errorCode"]["code"]) == (400, "Warehouses_WarehouseStillAuthorized")
    assert (await call("DELETE", f"{auth}/{wid}"))[0] == 204
    assert (await call("DELETE", f"{F}/warehouses/{wid}"))[0] == 204


async def test_bulk_status_reports_each_outbound(ffn_fake: RunningFake, call: Caller) -> None:
    ctx = seed(ffn_fake)
    _, one = await call.json("POST", f"{M}/outbounds", body=order("B-1", ctx))
    items = [
        {"outboundId": one["outboundId"], "status": "Acknowledged"},
        {"outboundId": "MERC02NOPE", "status": "Acknowledged"},
    ]
    status, results = await call.json("POST", f"{F}/outbounds/status", body={"items": items})
    assert status == 200
    assert [(r["status"], r["errorCode"]) for r in results] == [
        ("Acknowledged", None),
        ("Acknowledged", "Outbounds_OutboundNotFound"),
    ]


async def test_a_return_lock_runs_out(ffn_fake: RunningFake, call: Caller) -> None:
    ctx = seed(ffn_fake)
    rid = (await new_return(call, ctx))["returnId"]
    assert (await call("PUT", f"{F}/returns/{rid}/lock"))[0] == 204
    assert (await call("PUT", f"{M}/returns/{rid}/lock"))[0] == 403
    ffn_fake.server.clock.advance(2 * 3600)
    call.token = str(ffn_fake.server.issue_token()["access_token"])
    assert (await call("PUT", f"{M}/returns/{rid}/lock"))[0] == 204
    _, ret = await call.json("GET", f"{M}/returns/{rid}")
    assert ret["writeLock"]["lockedByUserId"] == "MERC"


async def test_return_goods_are_booked_once_arrived(ffn_fake: RunningFake, call: Caller) -> None:
    ctx = seed(ffn_fake)
    created = await new_return(call, ctx, quantity=2)
    rid, item = created["returnId"], created["items"][0]["returnItemId"]
    goods = f"{F}/returns/{rid}/items/{item}/incomming-goods"  # sic: the spec's path
    booking = {
        "warehouseId": ctx["warehouse"],
        "quantity": 2,
        "fulfillerTimestamp": "2024-01-01T00:00:00Z",
    }
    status, early = await call.json("POST", goods, body=booking)
    assert (status, early["errorCode"]["code"]) == (400, "Returns_NotAllowedItemState")
    assert (await call("PATCH", f"{F}/returns/{rid}/items/{item}", None, {"state": "Arrived"}))[
        0
    ] == 204
    status, wrong = await call.json("POST", goods, body={**booking, "quantity": 1})
    assert wrong["errorCode"]["code"] == "Returns_QuantityDoesNotCorresond"
    status, change = await call.json("POST", goods, body=booking)
    assert (status, change["changeType"], change["stockLevel"]) == (201, "Return", 22)
    _, ret = await call.json("GET", f"{M}/returns/{rid}")
    assert ret["state"] == "Completed"
    assert ret["items"][0]["stockChanges"][0]["stockChangeId"] == change["stockChangeId"]
    status, refused = await call.json("DELETE", f"{M}/returns/{rid}")
    assert (status, refused["errorCode"]["code"]) == (400, "Returns_NotAllowedState")
