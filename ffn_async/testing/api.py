"""The fake's API: one merchant and one fulfiller account sharing products, outbounds,
inbounds, warehouses and stock, seen through the merchant (``/v1/merchant/…``) and fulfiller
(``/v1/fulfiller/…``) views.

Merchant views carry ``fulfillerId`` where fulfiller views carry ``merchantId``. Changes made
through the API count as the caller's own (``ignoreOwn…`` hides them); changes made through the
Python helpers (:meth:`FakeAPI.ship_outbound`, …) come from "someone else".
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, Literal

import attrs
from aiohttp import web

from .clock import FakeClock
from .collection import Collection
from .http import ApiFailure, json_response
from .query import format_time, page
from .stats import FakeStats

__all__ = ["FakeAPI", "Side"]

Side = Literal["merchant", "fulfiller"]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_ALPHABET = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"
_READ_ONLY = frozenset(
    {"merchantId", "fulfillerId", "modificationInfo", "status", "statusTimestamp"}
)
_OPEN = ("Preparation", "Pending", "Acknowledged", "Pickprocess", "Locked", "PartiallyShipped")
_FULFILLER_STATUSES = ("Acknowledged", "Locked", "Pickprocess", "Canceled", "PartiallyCanceled")
_MERCHANT_CANCELABLE = ("Preparation", "Pending", "Acknowledged")


@attrs.frozen
class _Resource:
    """A collection and which fields each side does not see."""

    collection: Collection
    hidden: Mapping[Side, tuple[str, ...]] = attrs.field(factory=dict)

    def view(self, side: Side) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
        hidden = self.hidden.get(side, ())
        return lambda obj: {k: v for k, v in obj.items() if k not in hidden}


def _invalid(message: str, field: str) -> ApiFailure:
    return ApiFailure(400, "Shared_ModelValidation", message, {"Field": field})


def _require(body: Mapping[str, Any], *fields: str) -> None:
    for field in fields:
        if body.get(field) in (None, "", []):
            raise _invalid(f"{field} is required", field)


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise _invalid("the body is not valid JSON", "body") from None
    if not isinstance(body, dict):
        raise _invalid("the body must be a JSON object", "body")
    return body


_DEFAULT_SPECIFICATIONS = {
    "isBatch": False,
    "isDivisible": False,
    "isBestBefore": False,
    "isSerialNumber": False,
    "isBillOfMaterials": False,
    "isPackaging": False,
    "billOfMaterialsComponents": [],
}


def _items(body: Mapping[str, Any], id_field: str) -> list[dict[str, Any]]:
    """Copy the ``items`` of a create body, numbering them and setting ``quantityOpen``."""
    items = body.get("items")
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise _invalid("items must be a list of objects", "items")
    result = []
    for number, item in enumerate(items, 1):
        _require(item, "quantity")
        if not (item.get("jfsku") or item.get("merchantSku")):
            raise _invalid("each item needs a jfsku or merchantSku", "items")
        result.append({id_field: str(number), **item, "quantityOpen": item["quantity"]})
    return result


class FakeAPI:
    """State of the two accounts and the API routes over it.

    Python helpers drive what the real fulfiller or warehouse would do: :meth:`add_warehouse`,
    :meth:`add_product`, :meth:`set_outbound_status`, :meth:`ship_outbound`,
    :meth:`receive_inbound`, :meth:`adjust_stock`. Set :attr:`auto_ship_after` (seconds) to
    have outbounds shipped automatically while the server runs. A default warehouse exists
    (:attr:`default_warehouse_id`). Set :attr:`user_registered` to ``False`` to answer
    ``users/current`` with 404, as for a user who never logged into the portal.
    """

    def __init__(
        self,
        *,
        merchant_id: str = "MERC",
        fulfiller_id: str = "FULF",
        chunk_size: int = 100,
        clock: FakeClock | None = None,
        stats: FakeStats | None = None,
    ) -> None:
        self.merchant_id = merchant_id
        self.fulfiller_id = fulfiller_id
        self.chunk_size = chunk_size
        self.clock = clock or FakeClock()
        self.stats = stats or FakeStats()
        self.user_registered = True
        self.auto_ship_after: float | None = None
        self._serials: Counter[str] = Counter()
        self._levels: dict[tuple[str, str], dict[str, float]] = {}
        self.shipping_notifications: dict[str, list[dict[str, Any]]] = {}

        def resource(id_field: str, not_found: str, **hidden: tuple[str, ...]) -> _Resource:
            return _Resource(Collection(id_field, not_found, self.clock), hidden)  # type: ignore[arg-type]

        both_ids = {"merchant": ("merchantId",), "fulfiller": ("fulfillerId",)}
        self.products = resource("jfsku", "Products_ProductNotFound")
        self.outbounds = resource("outboundId", "Outbounds_OutboundNotFound", **both_ids)
        self.inbounds = resource("inboundId", "Inbounds_InboundNotFound", **both_ids)
        self.warehouses = resource(
            "warehouseId", "Warehouses_WarehouseNotFound", fulfiller=("shippingMethodIds",)
        )
        self.stock_changes = _Resource(
            Collection(
                "stockChangeId",
                "Stocks_StockChangeNotFound",
                self.clock,
                key=lambda c: "{warehouseId}|{jfsku}|{stockVersion}".format(**c["stockChangeId"]),
            )
        )
        self.default_warehouse_id = self.add_warehouse("Main warehouse")["warehouseId"]

    # ------------------------------------------------------------------ routes

    def routes(self) -> list[web.RouteDef]:
        """The route table (paths relative to ``/api``)."""
        routes = [web.get("/v1/users/current", self.current_user)]
        resources = {
            "products": self.products,
            "outbounds": self.outbounds,
            "inbounds": self.inbounds,
            "warehouses": self.warehouses,
        }
        sides: tuple[Side, Side] = ("merchant", "fulfiller")
        for side in sides:
            base = f"/v1/{side}"
            # Fixed paths first: `/updates` must not be taken for an id.
            routes += [
                web.get(f"{base}/stocks", self._stock_list),
                web.get(f"{base}/stocks/updates", self._feed(self.stock_changes, side)),
                web.get(f"{base}/stocks/warehouse/{{warehouseId}}", self._warehouse_stock),
                web.get(f"{base}/stocks/{{jfsku}}", self._stock_one),
                web.get(
                    f"{base}/outbounds/{{outboundId}}/shipping-notifications",
                    self._notifications(side),
                ),
            ]
            for name, res in resources.items():
                id_field = res.collection.id_field
                routes += [
                    web.get(f"{base}/{name}", self._list(res, side)),
                    web.get(f"{base}/{name}/updates", self._feed(res, side)),
                    web.get(f"{base}/{name}/{{{id_field}}}", self._one(res, side)),
                ]
        merchant, fulfiller = "/v1/merchant", "/v1/fulfiller"
        routes += [
            web.post(f"{merchant}/products", self._create_product),
            web.patch(f"{merchant}/products/{{jfsku}}", self._patch_product),
            web.delete(f"{merchant}/products/{{jfsku}}", self._delete(self.products)),
            web.post(f"{merchant}/outbounds", self._create_outbound),
            web.put(f"{merchant}/outbounds/{{outboundId}}/status", self._cancel_outbound),
            web.post(f"{merchant}/inbounds", self._create_inbound),
            web.put(f"{fulfiller}/outbounds/{{outboundId}}/status", self._change_status),
            web.post(
                f"{fulfiller}/outbounds/{{outboundId}}/shipping-notifications",
                self._create_notification,
            ),
            web.put(f"{fulfiller}/inbounds/{{inboundId}}/close", self._close_inbound),
            web.post(f"{fulfiller}/stocks/adjustments", self._create_adjustment),
            web.post(f"{fulfiller}/warehouses", self._create_warehouse),
            web.patch(f"{fulfiller}/warehouses/{{warehouseId}}", self._patch_warehouse),
            web.delete(f"{fulfiller}/warehouses/{{warehouseId}}", self._delete(self.warehouses)),
        ]
        return routes

    async def current_user(self, request: web.Request) -> web.Response:
        """``GET /v1/users/current``."""
        if not self.user_registered:
            raise ApiFailure(
                404,
                "Shared_UserNotFound",
                "the user has never logged into the FFN portal of this environment",
            )
        return json_response({"userId": self.merchant_id, "role": "Merchant"})

    # ------------------------------------------------------------------ generic handlers

    def _list(self, res: _Resource, side: Side) -> Handler:
        async def handler(request: web.Request) -> web.Response:
            view = res.view(side)
            return json_response(page([view(o) for o in res.collection.live()], request.query))

        return handler

    def _one(self, res: _Resource, side: Side) -> Handler:
        async def handler(request: web.Request) -> web.Response:
            key = request.match_info[res.collection.id_field]
            return json_response(res.view(side)(res.collection.get(key)))

        return handler

    def _feed(self, res: _Resource, side: Side) -> Handler:
        async def handler(request: web.Request) -> web.Response:
            body = res.collection.feed(request.query, request.url, self.chunk_size, res.view(side))
            return json_response(body)

        return handler

    def _delete(self, res: _Resource) -> Handler:
        async def handler(request: web.Request) -> web.Response:
            res.collection.delete(request.match_info[res.collection.id_field])
            return web.Response(status=204)

        return handler

    # ------------------------------------------------------------------ products

    def _new_id(self, owner: str, code: str, width: int) -> str:
        number = self._serials[owner + code] = self._serials[owner + code] + 1
        digits = []
        for _ in range(width):
            number, rest = divmod(number, len(_ALPHABET))
            digits.append(_ALPHABET[rest])
        return f"{owner}{code}{''.join(reversed(digits))}"

    def add_product(self, merchant_sku: str, name: str, **fields: Any) -> dict[str, Any]:
        """Create a product as the merchant would (``fields`` in camelCase)."""
        return self._insert_product({"merchantSku": merchant_sku, "name": name, **fields}, True)

    def _insert_product(self, body: Mapping[str, Any], external: bool) -> dict[str, Any]:
        _require(body, "name", "merchantSku")
        self._check_unique_sku(body["merchantSku"])
        product = {
            "attributes": [],
            "bundles": [],
            "identifier": {},
            "pictures": [],
            "relatedProducts": [],
            **{k: v for k, v in body.items() if k not in _READ_ONLY},
            # The server fills what the spec marks required, as the real one answers.
            "specifications": {**_DEFAULT_SPECIFICATIONS, **(body.get("specifications") or {})},
            "jfsku": self._new_id(self.merchant_id, "01", 5),
            "merchantId": self.merchant_id,
        }
        return self.products.collection.insert(product, external=external)

    def _check_unique_sku(self, sku: str, allowed: str | None = None) -> None:
        existing = self.products.collection.find("merchantSku", sku)
        if existing is not None and existing["jfsku"] != allowed:
            raise ApiFailure(
                400,
                "Products_DuplicateProduct",
                f"a product with merchantSku {sku!r} already exists",
                {"MerchantSku": sku, "Jfsku": existing["jfsku"]},
            )

    async def _create_product(self, request: web.Request) -> web.Response:
        product = self._insert_product(await _body(request), external=False)
        return json_response(product, 201)

    async def _patch_product(self, request: web.Request) -> web.Response:
        jfsku = request.match_info["jfsku"]
        body = await _body(request)
        self.products.collection.get(jfsku)
        if "merchantSku" in body:
            self._check_unique_sku(body["merchantSku"], allowed=jfsku)
        changes = {k: v for k, v in body.items() if k not in _READ_ONLY and k != "jfsku"}
        self.products.collection.update(jfsku, changes)
        return web.Response(status=204)

    # ------------------------------------------------------------------ warehouses

    def add_warehouse(self, name: str, **fields: Any) -> dict[str, Any]:
        """Create a warehouse of the fulfiller (``address`` defaults to a placeholder)."""
        return self._insert_warehouse({"name": name, **fields}, external=True)

    def _insert_warehouse(self, body: Mapping[str, Any], external: bool) -> dict[str, Any]:
        _require(body, "name")
        serial = self._new_id("", "", 5)
        warehouse = {
            "address": {"street": "Lagerstraße 1", "city": "Hückelhoven", "country": "DE"},
            "shippingMethodIds": [],
            **{k: v for k, v in body.items() if k not in _READ_ONLY},
            "warehouseId": f"{self.fulfiller_id}04{serial[:2]}-{serial}-0001",
            "fulfillerId": self.fulfiller_id,
        }
        return self.warehouses.collection.insert(warehouse, external=external)

    async def _create_warehouse(self, request: web.Request) -> web.Response:
        body = await _body(request)
        _require(body, "name", "address")
        warehouse = self._insert_warehouse(body, external=False)
        return json_response(self.warehouses.view("fulfiller")(warehouse), 201)

    async def _patch_warehouse(self, request: web.Request) -> web.Response:
        body = await _body(request)
        changes = {k: v for k, v in body.items() if k not in _READ_ONLY and k != "warehouseId"}
        self.warehouses.collection.update(request.match_info["warehouseId"], changes)
        return web.Response(status=204)

    def _known(self, res: _Resource, key: Any, field: str) -> dict[str, Any]:
        """A referenced object; a reference to nothing is a 400 naming the field."""
        try:
            return res.collection.get(str(key))
        except ApiFailure as exc:
            raise ApiFailure(400, exc.code, exc.message, {"Field": field}) from None

    # ------------------------------------------------------------------ outbounds

    async def _create_outbound(self, request: web.Request) -> web.Response:
        body = await _body(request)
        _require(body, "merchantOutboundNumber")
        number = str(body["merchantOutboundNumber"])
        self.stats.outbound_creates[number] += 1
        _require(body, "warehouseId", "currency", "shippingAddress", "items")
        if body.get("shippingMethodId") and body.get("shippingType"):
            raise ApiFailure(
                400,
                "Outbounds_OutboundShippingMethodAndShippingTypeSet",
                "set shippingMethodId or shippingType, not both",
            )
        self._known(self.warehouses, body["warehouseId"], "warehouseId")
        existing = self.outbounds.collection.find("merchantOutboundNumber", number)
        if existing is not None:
            raise ApiFailure(
                400,
                "Shared_DuplicateKey",
                f"an outbound with merchantOutboundNumber {number!r} already exists",
                {"MerchantOutboundNumber": number, "OutboundId": existing["outboundId"]},
            )
        items = _items(body, "outboundItemId")
        for item in items:
            item.setdefault("itemType", "Product")
        outbound = {
            "priority": 0,
            "attributes": [],
            "attachments": [],
            "relatedReturns": [],
            **{k: v for k, v in body.items() if k not in _READ_ONLY},
            "items": items,
            "outboundId": self._new_id(self.merchant_id, "02", 4),
            "merchantId": self.merchant_id,
            "fulfillerId": self.fulfiller_id,
            "status": "Pending",
            "statusTimestamp": {"pending": format_time(self.clock.now_datetime())},
        }
        self.outbounds.collection.insert(outbound)
        return json_response(self.outbounds.view("merchant")(outbound), 201)

    def set_outbound_status(
        self, outbound_id: str, status: str, *, external: bool = True, **fields: Any
    ) -> dict[str, Any]:
        """Move an outbound to ``status`` (no transition check), as the fulfiller would."""
        outbound = self.outbounds.collection.get(outbound_id)
        stamp_key = status[0].lower() + status[1:]
        stamps = {**outbound.get("statusTimestamp", {}), stamp_key: self._now()}
        changes = {"status": status, "statusTimestamp": stamps, **fields}
        return self.outbounds.collection.update(outbound_id, changes, external=external)

    async def _change_status(self, request: web.Request) -> web.Response:
        """Fulfiller ``PUT …/outbounds/{id}/status`` (``ChangeStatusRequest``)."""
        outbound = self.outbounds.collection.get(request.match_info["outboundId"])
        body = await _body(request)
        status = body.get("status")
        if status not in _FULFILLER_STATUSES:
            raise _invalid(f"status must be one of {', '.join(_FULFILLER_STATUSES)}", "status")
        self._check_open(outbound, _OPEN, status)
        reason = {k: body[k] for k in ("cancelReason", "cancelReasonCode") if k in body}
        self.set_outbound_status(outbound["outboundId"], status, external=False, **reason)
        return web.Response(status=204)

    async def _cancel_outbound(self, request: web.Request) -> web.Response:
        """Merchant ``PUT …/outbounds/{id}/status``: only ``Canceled``, only before picking."""
        outbound = self.outbounds.collection.get(request.match_info["outboundId"])
        body = await _body(request)
        if body.get("status") != "Canceled":
            raise _invalid("a merchant can only set the status Canceled", "status")
        self._check_open(outbound, _MERCHANT_CANCELABLE, "Canceled")
        reason = {k: body[k] for k in ("cancelReason", "cancelReasonCode") if k in body}
        self.set_outbound_status(outbound["outboundId"], "Canceled", external=False, **reason)
        return web.Response(status=204)

    @staticmethod
    def _check_open(outbound: Mapping[str, Any], allowed: Iterable[str], target: str) -> None:
        if outbound["status"] not in allowed:
            raise ApiFailure(
                400,
                "Outbounds_OutboundStatusChangeForbidden",
                f"cannot change status from {outbound['status']} to {target}",
                {"OutboundId": outbound["outboundId"], "Status": outbound["status"]},
            )

    def ship_outbound(
        self, outbound_id: str, items: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        """Ship an outbound (all open quantities unless ``items`` say otherwise).

        Returns the ``OutboundShippingNotification``; the outbound becomes ``Shipped`` or,
        with quantities left open, ``PartiallyShipped``.
        """
        body = {"fulfillerShippingNotificationNumber": f"SN-{outbound_id}", "items": items}
        return self._ship(self.outbounds.collection.get(outbound_id), body, external=True)

    def _ship(
        self, outbound: dict[str, Any], body: Mapping[str, Any], external: bool
    ) -> dict[str, Any]:
        self._check_open(outbound, _OPEN, "Shipped")
        open_items = [dict(i) for i in outbound["items"]]
        requested = body.get("items") or [
            {
                "jfsku": i.get("jfsku"),
                "merchantSku": i.get("merchantSku"),
                "quantity": i["quantityOpen"],
            }
            for i in open_items
            if i["quantityOpen"]
        ]
        shipped = []
        for number, line in enumerate(requested, 1):
            match = next((i for i in open_items if i["quantityOpen"] and _same(i, line)), None)
            if match is None:
                raise _invalid("a shipped item matches no open outbound item", "items")
            quantity = min(line.get("quantity", 0), match["quantityOpen"])
            match["quantityOpen"] -= quantity
            shipped.append(
                {
                    "outboundShippingNotificationItemId": str(number),
                    "jfsku": match.get("jfsku"),
                    "quantity": quantity,
                    "serialnumbers": line.get("serialnumbers", []),
                }
            )
        status = (
            "Shipped" if all(i["quantityOpen"] == 0 for i in open_items) else "PartiallyShipped"
        )
        outbound_id = outbound["outboundId"]
        notifications = self.shipping_notifications.setdefault(outbound_id, [])
        notification = {
            "outboundShippingNotificationId": f"{outbound_id}-{len(notifications) + 1}",
            "outboundId": outbound_id,
            "merchantId": self.merchant_id,
            "fulfillerId": self.fulfiller_id,
            "merchantOutboundNumber": outbound.get("merchantOutboundNumber"),
            "fulfillerShippingNotificationNumber": body.get("fulfillerShippingNotificationNumber"),
            "items": shipped,
            "packages": body.get("packages") or [],
            "outboundStatus": status,
            "modificationInfo": {"createdAt": self._now(), "state": "New"},
        }
        notifications.append(notification)
        self.set_outbound_status(outbound_id, status, external=external, items=open_items)
        return notification

    async def _create_notification(self, request: web.Request) -> web.Response:
        outbound = self.outbounds.collection.get(request.match_info["outboundId"])
        body = await _body(request)
        _require(body, "fulfillerShippingNotificationNumber")
        notification = self._ship(outbound, body, external=False)
        return json_response(_hide(notification, *_NOTIFICATION_HIDDEN["fulfiller"]), 201)

    def _notifications(self, side: Side) -> Handler:
        hidden = (
            ("merchantId",) if side == "merchant" else ("fulfillerId", "merchantOutboundNumber")
        )

        async def handler(request: web.Request) -> web.Response:
            outbound_id = self.outbounds.collection.get(request.match_info["outboundId"])[
                "outboundId"
            ]
            notes = self.shipping_notifications.get(outbound_id, [])
            return json_response([_hide(n, *hidden) for n in notes])  # a bare array, as FFN

        return handler

    def ship_due(self) -> int:
        """Ship every open outbound older than :attr:`auto_ship_after`; return how many."""
        if self.auto_ship_after is None:
            return 0
        cutoff = self.clock.now() - self.auto_ship_after
        due = [
            o["outboundId"]
            for o in self.outbounds.collection.live()
            if o["status"] in _OPEN
            and datetime.fromisoformat(o["modificationInfo"]["createdAt"]).timestamp() <= cutoff
        ]
        for outbound_id in due:
            self.ship_outbound(outbound_id)
        return len(due)

    async def auto_ship(self, interval: float = 0.1) -> None:
        """Run :meth:`ship_due` every ``interval`` seconds until cancelled."""
        while True:
            self.ship_due()
            await asyncio.sleep(interval)

    # ------------------------------------------------------------------ inbounds

    async def _create_inbound(self, request: web.Request) -> web.Response:
        body = await _body(request)
        _require(body, "merchantInboundNumber", "warehouseId", "items")
        self._known(self.warehouses, body["warehouseId"], "warehouseId")
        number = body["merchantInboundNumber"]
        existing = self.inbounds.collection.find("merchantInboundNumber", number)
        if existing is not None:
            raise ApiFailure(
                400,
                "Shared_DuplicateKey",
                f"an inbound with merchantInboundNumber {number!r} already exists",
                {"MerchantInboundNumber": number, "InboundId": existing["inboundId"]},
            )
        inbound = {
            "attributes": [],
            **{k: v for k, v in body.items() if k not in _READ_ONLY},
            "items": _items(body, "inboundItemId"),
            "inboundId": self._new_id(self.merchant_id, "03", 4),
            "merchantId": self.merchant_id,
            "fulfillerId": self.fulfiller_id,
            "status": "Pending",
        }
        self.inbounds.collection.insert(inbound)
        return json_response(self.inbounds.view("merchant")(inbound), 201)

    def receive_inbound(self, inbound_id: str) -> dict[str, Any]:
        """Book every open quantity of an inbound into stock; it becomes ``Receipted``."""
        inbound = self.inbounds.collection.get(inbound_id)
        items = [dict(i) for i in inbound["items"]]
        for item in items:
            if item["quantityOpen"]:
                self._change_stock(
                    item["jfsku"], inbound["warehouseId"], item["quantityOpen"], 0, "Inbound", True
                )
                item["quantityOpen"] = 0
        return self.inbounds.collection.update(
            inbound_id, {"items": items, "status": "Receipted"}, external=True
        )

    async def _close_inbound(self, request: web.Request) -> web.Response:
        self.inbounds.collection.update(request.match_info["inboundId"], {"status": "Closed"})
        return web.Response(status=204)

    # ------------------------------------------------------------------ stock

    def adjust_stock(
        self, jfsku: str, quantity: float, warehouse_id: str | None = None, blocked: float = 0
    ) -> dict[str, Any]:
        """Add (or remove, if negative) stock of a product; returns the ``StockChange``."""
        warehouse = warehouse_id or self.default_warehouse_id
        self.products.collection.get(jfsku)
        self.warehouses.collection.get(warehouse)
        return self._change_stock(jfsku, warehouse, quantity, blocked, "Adjustment", True)

    def _change_stock(
        self,
        jfsku: str,
        warehouse_id: str,
        quantity: float,
        blocked: float,
        change_type: str,
        external: bool,
        **fields: Any,
    ) -> dict[str, Any]:
        level = self._levels.setdefault(
            (jfsku, warehouse_id), {"stockLevel": 0, "stockLevelBlocked": 0, "stockVersion": 0}
        )
        level["stockLevel"] += quantity
        level["stockLevelBlocked"] += blocked
        level["stockVersion"] += 1
        stock = self._stock_in_warehouse(jfsku, warehouse_id)
        change = {
            **fields,
            "stockChangeId": {
                "warehouseId": warehouse_id,
                "jfsku": jfsku,
                "stockVersion": int(level["stockVersion"]),
            },
            "merchantSku": stock["merchantSku"],
            "changeType": change_type,
            "quantity": quantity,
            "quantityBlocked": blocked,
            "quantityReserved": 0,
            "quantityAnnounced": 0,
            "current": True,
            **{k: stock[k] for k in _LEVEL_FIELDS},
        }
        return self.stock_changes.collection.insert(change, external=external)

    async def _create_adjustment(self, request: web.Request) -> web.Response:
        body = await _body(request)
        _require(body, "jfsku", "warehouseId")
        self._known(self.products, body["jfsku"], "jfsku")
        self._known(self.warehouses, body["warehouseId"], "warehouseId")
        extra = {
            k: body[k]
            for k in ("fulfillerStockChangeId", "note", "batch", "fulfillerTimestamp")
            if k in body
        }
        change = self._change_stock(
            body["jfsku"],
            body["warehouseId"],
            body.get("quantity") or 0,
            body.get("quantityBlocked") or 0,
            "Adjustment",
            False,
            **extra,
        )
        return json_response(change, 201)

    def _open_quantities(self, res: _Resource) -> Counter[tuple[str, str]]:
        """Open item quantities per (jfsku, warehouse) of non-final outbounds or inbounds."""
        totals: Counter[tuple[str, str]] = Counter()
        for obj in res.collection.live():
            if obj["status"] in ("Shipped", "Canceled", "Receipted", "Closed"):
                continue
            for item in obj["items"]:
                if item.get("jfsku"):
                    totals[item["jfsku"], obj["warehouseId"]] += item["quantityOpen"]
        return totals

    def _stock_in_warehouse(
        self,
        jfsku: str,
        warehouse_id: str,
        reserved: Counter[tuple[str, str]] | None = None,
        announced: Counter[tuple[str, str]] | None = None,
    ) -> dict[str, Any]:
        level = self._levels.get((jfsku, warehouse_id), {})
        reserved = self._open_quantities(self.outbounds) if reserved is None else reserved
        announced = self._open_quantities(self.inbounds) if announced is None else announced
        return {
            "jfsku": jfsku,
            "warehouseId": warehouse_id,
            "merchantSku": self.products.collection.get(jfsku)["merchantSku"],
            "stockLevel": level.get("stockLevel", 0),
            "stockLevelReserved": reserved[jfsku, warehouse_id],
            "stockLevelBlocked": level.get("stockLevelBlocked", 0),
            "stockLevelAnnounced": announced[jfsku, warehouse_id],
            "stockLevelDetails": [],
            "stockReservedDetails": [],
            "stockAnnouncedDetails": [],
        }

    def _stocks(self) -> list[dict[str, Any]]:
        """``Stock`` of every product, summed over warehouses."""
        reserved = self._open_quantities(self.outbounds)
        announced = self._open_quantities(self.inbounds)
        warehouses = [w["warehouseId"] for w in self.warehouses.collection.live()]
        stocks = []
        for product in self.products.collection.live():
            jfsku = product["jfsku"]
            per_warehouse = [
                self._stock_in_warehouse(jfsku, w, reserved, announced)
                for w in warehouses
                if (jfsku, w) in self._levels or reserved[jfsku, w] or announced[jfsku, w]
            ]
            stock = {
                "jfsku": jfsku,
                "merchantSku": product["merchantSku"],
                **{k: sum(s[k] for s in per_warehouse) for k in _LEVEL_FIELDS},
                "stockLevelDetails": [],
                "stockReservedDetails": [],
                "stockAnnouncedDetails": [],
                "warehouses": per_warehouse,
            }
            stocks.append(stock)
        return stocks

    async def _stock_list(self, request: web.Request) -> web.Response:
        return json_response(page(self._stocks(), request.query))

    async def _stock_one(self, request: web.Request) -> web.Response:
        jfsku = request.match_info["jfsku"]
        self.products.collection.get(jfsku)
        return json_response(next(s for s in self._stocks() if s["jfsku"] == jfsku))

    async def _warehouse_stock(self, request: web.Request) -> web.Response:
        warehouse_id = self.warehouses.collection.get(request.match_info["warehouseId"])[
            "warehouseId"
        ]
        rows = [
            w for s in self._stocks() for w in s["warehouses"] if w["warehouseId"] == warehouse_id
        ]
        return json_response(page(rows, request.query))

    def _now(self) -> str:
        return format_time(self.clock.now_datetime())


_LEVEL_FIELDS = ("stockLevel", "stockLevelReserved", "stockLevelBlocked", "stockLevelAnnounced")
_ADJUSTMENT_EXTRAS = ("fulfillerStockChangeId", "note", "batch", "fulfillerTimestamp")
_NOTIFICATION_HIDDEN: dict[Side, tuple[str, ...]] = {
    "merchant": ("merchantId",),
    "fulfiller": ("fulfillerId", "merchantOutboundNumber"),
}


def _same(item: Mapping[str, Any], line: Mapping[str, Any]) -> bool:
    """Whether a shipped line names this outbound item (by jfsku or merchantSku)."""
    return any(line.get(k) and item.get(k) == line.get(k) for k in ("jfsku", "merchantSku"))


def _hide(obj: Mapping[str, Any], *fields: str) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in fields}
