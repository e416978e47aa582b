"""Every operation of both specs and ``users/current``, through its typed method, over a socket.

One scenario against the fake server (:mod:`ffn_async.testing`) calls each entry of
:data:`ffn_async.api.OPERATIONS` through ``ffn.merchant.…``, ``ffn.fulfiller.…`` or
``ffn.shared.…`` (and each twin: ``iterate``, ``download``), creating what later calls need, as a
user's own test would. The fake logs what it received (:attr:`FakeFFN.received`), so for each
call the test checks what went over the wire: the HTTP method, the path with percent-encoded
parameters (merchant numbers and document ids with a space, a slash and an umlaut), the query
(operation parameters, feed dates, OData paging), the JSON body (the request model encoded), and
that the answer decoded into the operation's declared response model. An operation that the
scenario does not call fails :func:`test_the_scenario_calls_every_operation`.

``test_every_operation.py`` keeps aioresponses for what the fake cannot show (see its docstring).
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import attrs
import orjson

from ffn_async import FFNClient
from ffn_async.api import OPERATIONS, Operation
from ffn_async.api.pagination import TO_DATE_MARGIN, ChangeFeed, ChunkedList, Page, Paginator
from ffn_async.codec import serialization
from ffn_async.models import UNSET
from ffn_async.models._base import to_camel
from ffn_async.testing import ReceivedRequest
from ffn_async.testing.pytest_plugin import RunningFake
from tests.testing.raw_client import (
    ADDRESS,
    INVOICE,
    PICTURE,
    fulfiller_return_body,
    merchant_return_body,
    outbound_body,
    shipping_label_body,
)

from .test_every_operation import resolve, wire_value

# Ids the caller chooses, so they may need percent-encoding in the path.
ORDER = "ORDER 1/ä"
INBOUND = "IN 1/ä"
DOCUMENT = "Rechnung RE-1/ä"
SINCE = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
CEST = dt.timezone(dt.timedelta(hours=2))  # a "+" in the query, which must be encoded
FEED = {"from_date": SINCE, "to_date": lambda ctx: ctx["until"]}

Value = Any | Callable[[dict[str, Any]], Any]


@dataclass
class Call:
    """One operation called through its typed method.

    ``ids`` are the path values in the template's order and ``body`` the request JSON; strings
    in both are formatted from the scenario's context. ``kwargs`` are keyword arguments (a
    callable gets the context). ``save`` stores values of the decoded result in the context.
    """

    key: str
    ids: tuple[str, ...] = ()
    body: Any = None
    kwargs: dict[str, Value] = field(default_factory=dict)
    save: dict[str, Callable[[Any], Any]] = field(default_factory=dict)


def version(r: Any) -> dt.datetime:
    """A return's ``objectVersion``: its last modification time."""
    stamp: dt.datetime = r.modification_info.updated_at
    return stamp


def scenario() -> list[Call]:
    """Every operation, in an order where each finds what it needs."""
    outbound = outbound_body(ORDER)
    merchant_return = merchant_return_body()
    fulfiller_return = fulfiller_return_body()
    incoming = {
        "jfsku": "{jfsku}",
        "warehouseId": "{warehouse}",
        "quantity": 4,
        "fulfillerTimestamp": "2024-05-01T10:00:00+00:00",
    }
    m = "merchant."
    f = "fulfiller."
    return [
        Call("shared.UsersGetCurrent"),
        # ------------------------------------------------------------ merchant: accounts
        Call(m + "FulfillersGetAll", kwargs={"top": 10, "skip": 0}),
        Call(m + "FulfillersGet", ("{fulfiller}",)),
        Call(
            m + "CredentialsPostAmazonSfpCredential",
            body={"sellerId": "A1SELLER", "mwsAuthToken": "amzn.mws.1", "platform": "Amazon_de"},
            save={"credential": lambda r: r.credential_id},
        ),
        Call(m + "CredentialsGetAmazonSfpCredentials"),
        Call(m + "CredentialsGetAmazonSfpCredential", ("{credential}",)),
        Call(m + "WarehousesGetAll"),
        Call(m + "WarehousesGet", ("{warehouse}",)),
        Call(m + "ShippingMethodsGetAll"),
        Call(m + "ShippingMethodsGet", ("{shipping_method}",)),
        # ------------------------------------------------------------ merchant: products
        Call(
            m + "ProductsPost",
            body={
                "merchantSku": "SKU-2",
                "name": "Gadget (used)",
                "identifier": {"ean": "4006381333931"},
                "condition": "Used",
            },
            kwargs={"related_jfsku": "{jfsku}"},
            save={"jfsku2": lambda r: r.jfsku},
        ),
        Call(
            m + "ProductsGetAll",
            kwargs={"referenced_warehouse": "{warehouse}", "referenced_fulfiller": "{fulfiller}"},
        ),
        Call(m + "ProductsGet", ("{jfsku2}",)),
        Call(m + "ProductsPatch", ("{jfsku2}",), body={"name": "Gadget 2"}),
        Call(m + "ProductsPostAuthorization", ("{jfsku2}",), body={"fulfillerId": "{fulfiller}"}),
        Call(m + "ProductsAuthorizeAll", body={"fulfillerId": "{fulfiller}"}),
        Call(m + "ProductsGetAuthorizations", ("{jfsku2}",)),
        Call(
            m + "ProductsPostPicture",
            ("{jfsku}",),
            body={"data": base64.b64encode(PICTURE).decode(), "number": 1},
        ),
        Call(m + "ProductsGetPicture", ("{jfsku}", "1")),
        Call(m + "ProductsGetPictureData", ("{jfsku}", "1")),
        Call(m + "ProductsPostRelated", ("{jfsku}",), body={}),
        # ------------------------------------------------------------ merchant: inbounds
        Call(
            m + "InboundsPost",
            body={
                "merchantInboundNumber": INBOUND,
                "warehouseId": "{warehouse}",
                "items": [{"inboundItemId": "1", "jfsku": "{jfsku}", "quantity": 10}],
            },
            save={"inbound": lambda r: r.inbound_id},
        ),
        Call(m + "InboundsGetAll"),
        Call(m + "InboundsGet", (INBOUND,)),  # by the merchant's own number
        Call(m + "InboundsUpdate", ("{inbound}",), body={"note": "second pallet"}),
        Call(
            m + "InboundsPostShippingNotification",
            ("{inbound}",),
            body={
                "merchantShippingNotificationNumber": "MSN-1",
                "items": [{"jfsku": "{jfsku}", "quantity": 10}],
            },
            save={"inbound_notification": lambda r: r.inbound_shipping_notification_id},
        ),
        Call(m + "InboundsGetShippingNotifications", ("{inbound}",)),
        Call(m + "InboundsGetShippingNotification", ("{inbound}", "{inbound_notification}")),
        Call(
            m + "InboundsUpdateShippingNotification",
            ("{inbound}", "{inbound_notification}"),
            body={"note": "on the way"},
        ),
        # ------------------------------------------------------------ merchant: outbounds
        Call(
            m + "OutboundsPost",
            body=outbound,
            kwargs={"oversale": True, "auto_complete_bill_of_materials": False},
            save={"outbound": lambda r: r.outbound_id},
        ),
        Call(
            m + "OutboundsGetAll",
            kwargs={
                "top": 5,
                "skip": 0,
                "filter": f"merchantOutboundNumber eq '{ORDER}'",
                "order_by": "modificationInfo/createdAt desc",
            },
        ),
        Call(m + "OutboundsGet", (ORDER,)),  # by the merchant's own number
        Call(
            m + "OutboundsUpdate",
            ("{outbound}",),
            body={"internalNote": "gift wrap"},
            kwargs={"oversale": True},
        ),
        Call(
            m + "OutboundsPostOutboundAttachment",
            ("{outbound}",),
            body={
                "merchantDocumentId": DOCUMENT,
                "documentType": "Invoice",
                "data": base64.b64encode(INVOICE).decode(),
            },
        ),
        Call(m + "OutboundsGetOutboundAttachment", ("{outbound}", DOCUMENT)),
        # ------------------------------------------------------------ fulfiller: accounts
        Call(f + "MerchantsGetAll"),
        Call(f + "MerchantsGet", ("{merchant}",)),
        Call(f + "AuthorizationsGetAll"),
        Call(f + "AuthorizationsGet", ("{merchant}",)),
        Call(
            f + "WarehousesPost",
            body={"name": "Second warehouse", "address": ADDRESS},
            save={"warehouse2": lambda r: r.warehouse_id},
        ),
        Call(f + "WarehousesGetAll"),
        Call(f + "WarehousesGet", ("{warehouse2}",)),
        Call(f + "WarehousesUpdate", ("{warehouse2}",), body={"name": "Overflow"}),
        Call(
            f + "ShippingMethodsPost",
            body={
                "name": "DHL Express",
                "fulfillerShippingMethodNumber": "DHL-EXP",
                "shippingType": "Expedited",
                "carrierName": "DHL",
            },
            save={"shipping_method2": lambda r: r.shipping_method_id},
        ),
        Call(f + "ShippingMethodsGetAll"),
        Call(f + "ShippingMethodsGet", ("{shipping_method2}",)),
        Call(f + "ShippingMethodsUpdate", ("{shipping_method2}",), body={"note": "until 14:00"}),
        Call(
            f + "AuthorizationsPostWarehouseAuthorization",
            ("{merchant}",),
            body={
                "warehouseId": "{warehouse2}",
                "shippingMethods": [{"shippingMethodId": "{shipping_method}"}],
            },
        ),
        Call(
            f + "AuthorizationsPostShippingMethodAuthorization",
            ("{merchant}", "{warehouse2}"),
            body={"shippingMethodId": "{shipping_method2}"},
        ),
        Call(
            f + "AuthorizationsDeleteShippingMethodAuthorization",
            ("{merchant}", "{warehouse2}", "{shipping_method2}"),
        ),
        Call(f + "AuthorizationsDeleteWarehouseAuthorization", ("{merchant}", "{warehouse2}")),
        Call(f + "ShippingMethodsDelete", ("{shipping_method2}",)),
        Call(f + "WarehousesDelete", ("{warehouse2}",)),
        # ------------------------------------------------------------ fulfiller: products, stock
        Call(f + "ProductsGetAll", kwargs={"referenced_warehouse": "{warehouse}"}),
        Call(f + "ProductsGet", ("{jfsku}",)),
        Call(f + "ProductsGetPicture", ("{jfsku}", "1")),
        Call(f + "ProductsGetPictureData", ("{jfsku}", "1")),
        Call(f + "ProductsPostRelated", ("{jfsku}",), body={"condition": "Damaged"}),
        Call(
            f + "StocksPostAdjustment",
            body={**incoming, "quantity": 5},
        ),
        Call(f + "InboundsGetAll"),
        Call(f + "InboundsGet", ("{inbound}",)),
        Call(f + "InboundsGetShippingNotifications", ("{inbound}",)),
        Call(f + "InboundsGetShippingNotification", ("{inbound}", "{inbound_notification}")),
        Call(f + "InboundsPostIncomingGoods", ("{inbound}",), body=incoming),
        Call(
            f + "InboundsPostIncomingGoodsBulk",
            ("{inbound}",),
            body={"items": [{**incoming, "quantity": 6}]},
        ),
        Call(f + "InboundsClose", ("{inbound}",)),
        Call(f + "StocksGetStocksAll"),
        Call(f + "StocksGetStock", ("{jfsku}",)),
        Call(f + "StocksGetStockInWarehouse", ("{jfsku}", "{warehouse}")),
        Call(f + "StocksGetStockChangesAll"),
        Call(f + "StocksGetStockChangesInWarehouseAll", ("{warehouse}",)),
        Call(
            f + "StocksGetStocksInWarehouseAll",
            ("{warehouse}",),
            kwargs={"date": dt.datetime(2100, 1, 1, tzinfo=CEST)},
        ),
        # ------------------------------------------------------------ fulfiller: outbounds
        Call(f + "OutboundsGetAll"),
        Call(f + "OutboundsGet", ("{outbound}",), save={"outbound_version": version}),
        Call(f + "OutboundsGetOutboundAttachment", ("{outbound}", DOCUMENT)),
        Call(
            f + "OutboundsChangeStatus",
            ("{outbound}",),
            body={"status": "Acknowledged"},
            kwargs={"object_version": lambda c: c["outbound_version"]},
        ),
        Call(
            f + "OutboundsChangeWarehouse",
            ("{outbound}",),
            body={"warehouseId": "{warehouse}"},
            kwargs={"oversale": False},
        ),
        Call(
            f + "OutboundsChangeStatusBulk",
            body={"items": [{"outboundId": "{outbound}", "status": "Pickprocess"}]},
        ),
        Call(
            f + "OutboundsPostShippingLabelForOutbound",
            ("{outbound}",),
            body=shipping_label_body(),
            save={"label": lambda r: r.shipping_label_id},
        ),
        Call(f + "OutboundsGetShippingLabelForOutbound", ("{outbound}", "{label}")),
        Call(
            f + "OutboundsPostShippingNotification",
            ("{outbound}",),
            body={
                "fulfillerShippingNotificationNumber": "SN-1",
                "items": [{"jfsku": "{jfsku}", "quantity": 2}],
                "packages": [
                    {
                        "freightOption": "Parcel",
                        "identifier": [],
                        "shippingDate": "2024-05-01T12:00:00+00:00",
                        "shippingMethodId": "{shipping_method}",
                    }
                ],
            },
            save={"outbound_notification": lambda r: r.outbound_shipping_notification_id},
        ),
        Call(f + "OutboundsGetShippingNotifications", ("{outbound}",)),
        Call(f + "OutboundsGetShippingNotification", ("{outbound}", "{outbound_notification}")),
        # ------------------------------------------------------------ merchant: after shipping
        Call(m + "OutboundsGetShippingNotifications", ("{outbound}",)),
        Call(m + "OutboundsGetShippingNotification", ("{outbound}", "{outbound_notification}")),
        Call(m + "OutboundsDeleteOutboundAttachment", ("{outbound}", DOCUMENT)),
        Call(
            m + "OutboundsPost",
            body={**outbound, "merchantOutboundNumber": "ORDER-2"},
            save={"outbound2": lambda r: r.outbound_id},
        ),
        Call(
            m + "OutboundsChangeStatus",
            ("ORDER-2",),
            body={"status": "Canceled", "cancelReasonCode": "CustomerRequest"},
        ),
        Call(m + "StocksGetStocksAll", kwargs={"date": dt.datetime(2100, 1, 1, tzinfo=CEST)}),
        Call(
            m + "StocksGetStock",
            ("{jfsku}",),
            kwargs={"date": dt.datetime(2100, 1, 1, tzinfo=CEST)},
        ),
        Call(m + "StocksGetStockInWarehouse", ("{jfsku}", "{warehouse}")),
        Call(m + "StocksGetStockChangesAll"),
        Call(m + "StocksGetStocksComplete", kwargs={"include_bill_of_materials": True}),
        Call(m + "StocksGetStocksInWarehouseAll", ("{warehouse}",)),
        Call(m + "InboundsClose", ("{inbound}",)),
        Call(m + "InboundsDeleteShippingNotification", ("{inbound}", "{inbound_notification}")),
        # ------------------------------------------------------------ merchant: returns
        Call(m + "ReturnsPost", body=merchant_return, save={"return": lambda r: r.return_id}),
        Call(m + "ReturnsGetAll"),
        Call(
            m + "ReturnsGet",
            ("{return}",),
            save={"v1": version, "return_item": lambda r: r.items[0].return_item_id},
        ),
        Call(
            m + "ReturnsPatch",
            ("{return}",),
            body={"internalNote": "customer called"},
            kwargs={"object_version": lambda c: c["v1"]},
        ),
        Call(m + "ReturnsGet", ("{return}",), save={"v2": version}),
        Call(
            m + "ReturnsSplitReturnItem",
            ("{return}", "{return_item}"),
            body={"quantity": 1},
            kwargs={"object_version": lambda c: c["v2"]},
            save={"split_item": lambda r: r.return_item_id},
        ),
        Call(m + "ReturnsGetReturnItem", ("{return}", "{split_item}")),
        Call(
            m + "ReturnsPostReturnItem",
            ("{return}",),
            body={"jfsku": "{jfsku}", "quantity": 1, "reason": "WrongItemSent"},
            save={"added_item": lambda r: r.return_item_id},
        ),
        Call(
            m + "ReturnsPatchReturnItem",
            ("{return}", "{added_item}"),
            body={"reasonNote": "ordered the blue one"},
        ),
        Call(m + "ReturnsDeleteReturnItem", ("{return}", "{added_item}")),
        Call(m + "ReturnsGet", ("{return}",), save={"v3": version}),
        Call(m + "ReturnsLock", ("{return}",), kwargs={"object_version": lambda c: c["v3"]}),
        Call(m + "ReturnsUnlock", ("{return}",)),
        # ------------------------------------------------------------ fulfiller: returns
        Call(f + "ReturnsPost", body=fulfiller_return, save={"f_return": lambda r: r.return_id}),
        Call(f + "ReturnsGetAll"),
        Call(
            f + "ReturnsGet",
            ("{f_return}",),
            save={"f_item": lambda r: r.items[0].return_item_id},
        ),
        Call(f + "ReturnsPatch", ("{f_return}",), body={"externalNote": "box damaged"}),
        Call(f + "ReturnsSplitReturnItem", ("{f_return}", "{f_item}"), body={"quantity": 1}),
        Call(f + "ReturnsGetReturnItem", ("{f_return}", "{f_item}")),
        Call(
            f + "ReturnsPostReturnItem",
            ("{f_return}",),
            body={"jfsku": "{jfsku}", "quantity": 1},
            save={"f_added_item": lambda r: r.return_item_id},
        ),
        Call(f + "ReturnsDeleteReturnItem", ("{f_return}", "{f_added_item}")),
        Call(f + "ReturnsPatchReturnItem", ("{f_return}", "{f_item}"), body={"state": "Arrived"}),
        Call(
            f + "ReturnsPostIncomingReturnItem",
            ("{f_return}", "{f_item}"),
            body={
                "warehouseId": "{warehouse}",
                "quantity": 2,
                "fulfillerTimestamp": "2024-05-02T09:00:00+00:00",
            },
        ),
        Call(f + "ReturnsLock", ("{f_return}",)),
        Call(f + "ReturnsUnlock", ("{f_return}",)),
        # ------------------------------------------------------------ change feeds
        # They come last: the client ends a window TO_DATE_MARGIN before its clock.
        Call(m + "FulfillersGetUpdates", kwargs=FEED),
        Call(m + "WarehousesGetUpdates", kwargs=FEED),
        Call(m + "ShippingMethodsGetUpdates", kwargs=FEED),
        Call(m + "ProductsGetUpdates", kwargs=FEED),
        Call(m + "InboundsGetUpdates", kwargs=FEED),
        Call(m + "InboundsGetInboundShippingNotificationUpdates", kwargs=FEED),
        Call(m + "OutboundsGetUpdates", kwargs=FEED),
        Call(f + "MerchantsGetUpdates", kwargs=FEED),
        Call(f + "AuthorizationsGetUpdates", kwargs=FEED),
        Call(f + "WarehousesGetUpdates", kwargs=FEED),
        Call(f + "ShippingMethodsGetUpdates", kwargs=FEED),
        Call(f + "ProductsGetUpdates", kwargs=FEED),
        Call(f + "InboundsGetUpdates", kwargs=FEED),
        Call(f + "InboundsGetInboundShippingNotificationUpdates", kwargs=FEED),
        Call(f + "StocksGetRecentStockChanges", kwargs=FEED),
        Call(f + "OutboundsGetUpdates", kwargs=FEED),
        Call(m + "OutboundsGetOutboundShippingNotificationUpdates", kwargs=FEED),
        Call(m + "StocksGetRecentStockChanges", kwargs=FEED),
        Call(m + "ReturnsGetUpdates", kwargs=FEED),
        Call(m + "ReturnsGetChanges", kwargs={**FEED, "ignore_own_application_id": False}),
        Call(m + "ReturnsGetChangesFromReturn", ("{return}",), kwargs=FEED),
        Call(f + "ReturnsGetUpdates", kwargs=FEED),
        Call(f + "ReturnsGetChanges", kwargs={**FEED, "ignore_own_user_id": False, "page": 1}),
        Call(f + "ReturnsGetChangesFromReturn", ("{f_return}",), kwargs=FEED),
        # ------------------------------------------------------------ clean-up
        Call(f + "ReturnsDelete", ("{f_return}",)),
        Call(m + "ReturnsDelete", ("{return}",)),
        Call(m + "ProductsDeletePicture", ("{jfsku}", "1")),
        Call(m + "ProductsDeleteAuthorization", ("{jfsku2}", "{fulfiller}")),
        Call(m + "ProductsDelete", ("{jfsku2}",)),
        Call(m + "CredentialsDeleteAmazonSfpCredentials", ("{credential}",)),
    ]


def model(op: Operation, name: str | None) -> type:
    """A model class of the operation's API (``ffn_async.models.<api>``)."""
    assert name is not None, op.id
    cls: type = getattr(importlib.import_module(f"ffn_async.models.{op.api}"), name)
    return cls


def fill(value: Any, ctx: dict[str, Any]) -> Any:
    """``value`` with each ``{name}`` in its strings taken from the context."""
    if isinstance(value, str):
        return value.format_map(ctx) if "{" in value else value
    if isinstance(value, list):
        return [fill(v, ctx) for v in value]
    if isinstance(value, dict):
        return {k: fill(v, ctx) for k, v in value.items()}
    return value(ctx) if callable(value) else value


def request_body(cls: type, data: dict[str, Any]) -> Any:
    """The request model of ``data``; PATCH fields it leaves out stay ``UNSET`` (not sent)."""
    body = serialization.structure(data, cls)
    left_out = {
        a.name: UNSET
        for a in attrs.fields(cls)
        if a.default is UNSET and a.metadata.get("wire", to_camel(a.name)) not in data
    }
    return attrs.evolve(body, **left_out)


async def settled() -> dt.datetime:
    """Wait until what the scenario made is older than the client's feed margin.

    The client ends a change-feed window :data:`TO_DATE_MARGIN` before its own clock (FFN
    rejects a later ``toDate``), so objects made just now are not in any window yet. Returns
    the window end for the feeds: the moment before waiting.
    """
    made = dt.datetime.now(dt.UTC)
    await asyncio.sleep((TO_DATE_MARGIN + dt.timedelta(seconds=1)).total_seconds())
    return made.astimezone(CEST)


def expected_path(op: Operation, ids: list[str]) -> str:
    """The operation's path with each parameter percent-encoded (``/`` too)."""
    values = iter(ids)
    path = re.sub(r"{\w+}", lambda _: quote(next(values), safe=""), op.path)
    assert next(values, None) is None, f"{op.id}: more ids than parameters"
    return "/api" + path


def expected_query(op: Operation, kwargs: dict[str, Any]) -> dict[str, str]:
    names = {"top": "$top", "skip": "$skip", "filter": "$filter", "order_by": "$orderBy"}
    query = {names.get(k, to_camel(k)): wire_value(v) for k, v in kwargs.items()}
    return query


async def outcome(result: Any) -> Any:
    """Await a call, or walk what it returns (a paginator, feed or chunked listing)."""
    if isinstance(result, Paginator | ChangeFeed | ChunkedList):
        return [item async for item in result]
    return await result


def check_result(op: Operation, name: str, result: Any) -> list[str]:
    """Problems with a decoded result: not the declared type, or nothing where there is data."""
    if name.endswith(".download") or op.kind == "raw":
        return [] if isinstance(result, bytes) and result else [f"no bytes: {result!r}"]
    if op.kind == "none":
        return [] if result is None else [f"{result!r} instead of None"]
    if op.kind == "model":
        cls = model(op, op.response_model)
        return [] if isinstance(result, cls) else [f"{type(result)} is not {cls}"]
    items = result.items if isinstance(result, Page) else result
    cls = model(op, op.response_model)
    problems = [f"item {type(i)} is not {cls}" for i in items if not isinstance(i, cls)]
    if not items:  # the scenario made something for every list and feed to show
        problems.append("no items")
    return problems


def check_requests(
    op: Operation, received: list[ReceivedRequest], path: str, query: dict[str, str], body: Any
) -> list[str]:
    """Problems with what reached the server for one call."""
    if not received:
        return ["nothing reached the server"]
    first, *more = received
    problems = []
    if first.method != op.method:
        problems.append(f"method {first.method}")
    if first.path != path:
        problems.append(f"path {first.path} instead of {path}")
    if dict(first.query) != query or len(first.query) != len(query):
        problems.append(f"query {first.query} instead of {query}")
    sent = first.json()
    expected = None if body is None else orjson.loads(serialization.dumps(body))
    if sent != expected:
        problems.append(f"body {sent} instead of {expected}")
    if more and op.kind not in ("feed", "chunks"):
        problems.append(f"{len(received)} requests")
    problems += [f"status {r.status}" for r in received if r.status >= 400]
    return problems


def test_the_scenario_calls_every_operation() -> None:
    called = {call.key for call in scenario()}
    assert called == set(OPERATIONS), {
        "not called": sorted(set(OPERATIONS) - called),
        "unknown": sorted(called - set(OPERATIONS)),
    }


async def test_every_operation_over_a_socket(ffn_fake: RunningFake, live_ffn: FFNClient) -> None:
    api = ffn_fake.server.api
    product = api.add_product("SKU-1", "Widget")
    api.adjust_stock(product["jfsku"], 20)
    ctx: dict[str, Any] = {
        "jfsku": product["jfsku"],
        "warehouse": api.default_warehouse_id,
        "merchant": api.merchant_id,
        "fulfiller": api.fulfiller_id,
        "shipping_method": api.default_shipping_method_id,
    }
    downloads = {"ProductsGetPictureData": PICTURE, "OutboundsGetOutboundAttachment": INVOICE}
    failures: list[str] = []
    checked: set[str] = set()
    for call in scenario():
        op = OPERATIONS[call.key]
        if op.kind == "feed" and "until" not in ctx:
            ctx["until"] = await settled()
        try:
            ids = [fill(value, ctx) for value in call.ids]
            kwargs = {k: fill(v, ctx) for k, v in call.kwargs.items()}
            data = fill(call.body, ctx)
        except KeyError as exc:  # an earlier call that should have made it failed
            failures.append(f"{op.id}: not called, {exc} is missing")
            continue
        body = None
        if op.request_model is not None:
            body = request_body(model(op, op.request_model), data)
            ids.append(body)
        path_ids = [str(i) for i in ids if i is not body]
        query = expected_query(op, kwargs)
        for name in (op.python, *op.also):
            method = resolve(live_ffn, name)
            ffn_fake.server.received.clear()
            label = f"{op.id} via {name}"
            try:
                result = await outcome(method(*ids, **kwargs))
            except Exception as exc:  # collect every failure, not just the first
                failures.append(f"{label}: {type(exc).__name__}: {exc}")
                continue
            sent = list(ffn_fake.server.received)
            problems = check_requests(op, sent, expected_path(op, path_ids), query, body)
            problems += check_result(op, name, result)
            expected_bytes = downloads.get(op.operation_id)
            is_download = name.endswith(".download") or op.kind == "raw"
            if is_download and expected_bytes is not None and result != expected_bytes:
                problems.append(f"downloaded {result!r}")
            failures += [f"{label}: {p}" for p in problems]
            if name == op.python:
                checked.add(op.id)
                for key, get in call.save.items():
                    ctx[key] = get(result)
    assert not failures, "\n".join(failures)
    assert checked == set(OPERATIONS)
