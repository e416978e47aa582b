"""Inbounds: the merchant announces deliveries and ships them (inbound shipping notifications);
the fulfiller books incoming goods into stock and closes them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from .collection import Collection
from .http import ApiFailure, json_response, no_content, read_json, require
from .ledger import StockLedger
from .resource import Finder, Handler, feed_handler, numbered_items, patch_changes, read_routes
from .state import FakeState
from .views import SIDES, Side, project

__all__ = ["Inbounds"]

_READ_ONLY = frozenset({"inboundId", "merchantId", "fulfillerId", "modificationInfo", "status"})
_UPDATABLE = ("Preparation", "Pending")


class Inbounds:
    """``/inbounds`` of both APIs, their shipping notifications and incoming goods."""

    def __init__(self, state: FakeState, ledger: StockLedger) -> None:
        self.state = state
        self.ledger = ledger
        self.collection = state.inbounds
        self.notifications = Collection(
            "inboundShippingNotificationId",
            "Inbounds_InboundShippingNotificationNotFound",
            state.clock,
        )

    def find(self, key: str, side: Side = "merchant") -> dict[str, Any]:
        """By FFN id or, on the merchant API, by the merchant's own inbound number."""
        try:
            return self.collection.get(key)
        except ApiFailure as exc:
            if side == "merchant":
                found = self.collection.find("merchantInboundNumber", key)
                if found is not None:
                    return found
            raise ApiFailure(404, exc.code, exc.message, {"MerchantInboundNumber": key}) from None

    def _finder(self, side: Side) -> Finder:
        return lambda request: self.find(request.match_info["inboundId"], side)

    def routes(self) -> list[web.RouteDef]:
        routes = []
        for side in SIDES:
            base = f"/v1/{side}/inbounds"
            one = f"{base}/{{inboundId}}"
            routes += [
                web.get(
                    f"{base}/shipping-notifications/updates",
                    feed_handler(
                        self.state, side, "InboundShippingNotification", self.notifications
                    ),
                ),
                *read_routes(
                    self.state,
                    side,
                    base,
                    "Inbound",
                    self.collection,
                    "inboundId",
                    self._finder(side),
                ),
                web.put(f"{one}/close", self._close(side)),
                web.get(f"{one}/shipping-notifications", self._list_notifications(side)),
                web.get(
                    f"{one}/shipping-notifications/{{shippingNotificationId}}",
                    self._get_notification(side),
                ),
            ]
        merchant, fulfiller = "/v1/merchant/inbounds", "/v1/fulfiller/inbounds"
        notification = f"{merchant}/{{inboundId}}/shipping-notifications/{{shippingNotificationId}}"
        return [
            *routes,
            web.post(merchant, self._create),
            web.patch(f"{merchant}/{{inboundId}}", self._patch),
            web.post(f"{merchant}/{{inboundId}}/shipping-notifications", self._post_notification),
            web.patch(notification, self._patch_notification),
            web.delete(notification, self._delete_notification),
            web.post(f"{fulfiller}/{{inboundId}}/incoming-goods", self._incoming_goods),
            web.post(f"{fulfiller}/{{inboundId}}/incoming-goods/bulk", self._incoming_goods_bulk),
        ]

    # ------------------------------------------------------------------ inbounds

    async def _create(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        require(body, "merchantInboundNumber", "warehouseId", "items")
        self.state.warehouses.known(body["warehouseId"])
        number = body["merchantInboundNumber"]
        if self.collection.find("merchantInboundNumber", number) is not None:
            raise ApiFailure(
                400,
                "Inbounds_DuplicateInbound",
                f"an inbound with merchantInboundNumber {number!r} already exists",
                {"MerchantInboundNumber": number},
            )
        inbound = {
            "attributes": [],
            **{k: v for k, v in body.items() if k not in _READ_ONLY},
            "items": numbered_items(body["items"], "inboundItemId", self.state.product_for),
            "inboundId": self.state.new_id(self.state.merchant_id, "03", 4),
            "merchantId": self.state.merchant_id,
            "fulfillerId": self.state.fulfiller_id,
            "status": "Pending",
        }
        self.collection.insert(inbound)
        return json_response(project("merchant", "Inbound", inbound), 201)

    async def _patch(self, request: web.Request) -> web.Response:
        inbound = self.find(request.match_info["inboundId"])
        body = await read_json(request)
        if inbound["status"] not in _UPDATABLE:
            raise ApiFailure(
                403,
                "Inbounds_InboundUpdateForbidden",
                f"an inbound in status {inbound['status']} cannot be changed",
                {"MerchantInboundNumber": inbound["merchantInboundNumber"]},
            )
        changes = patch_changes(inbound, body, _READ_ONLY | {"warehouseId"})
        if "items" in changes:
            changes["items"] = numbered_items(
                changes["items"], "inboundItemId", self.state.product_for
            )
        self.collection.update(inbound["inboundId"], changes)
        return no_content()

    def _close(self, side: Side) -> Handler:
        async def handler(request: web.Request) -> web.Response:
            inbound = self.find(request.match_info["inboundId"], side)
            if inbound["status"] == "Closed":
                return no_content()  # closing twice changes nothing
            self.collection.update(inbound["inboundId"], {"status": "Closed"})
            return no_content()

        return handler

    # ------------------------------------------------------------------ incoming goods

    def book(self, inbound: dict[str, Any], line: Mapping[str, Any], external: bool) -> None:
        """Book one arrived line into stock and lower the matching item's open quantity."""
        jfsku = self.state.products.known(line.get("jfsku"))["jfsku"]
        warehouse_id = str(line.get("warehouseId") or inbound["warehouseId"])
        self.state.warehouses.known(warehouse_id)
        items = [dict(i) for i in inbound["items"]]
        item = next((i for i in items if i["jfsku"] == jfsku), None)
        if item is None:
            raise ApiFailure(
                400,
                "Stocks_InvalidInboundItem",
                f"inbound {inbound['inboundId']} has no item {jfsku}",
                {"Jfsku": jfsku, "FulfillerStockChangeId": None, "WarehouseId": warehouse_id},
            )
        inbound_item = {
            "inboundId": inbound["inboundId"],
            "inboundItemId": item["inboundItemId"],
            "merchantInboundNumber": inbound["merchantInboundNumber"],
        }
        change = self.ledger.book(
            line, jfsku, warehouse_id, "Inbound", external=external, inboundItem=inbound_item
        )
        booked = change["quantity"] + change["quantityBlocked"]
        item["quantityOpen"] = max(item["quantityOpen"] - booked, 0)
        done = all(i["quantityOpen"] == 0 for i in items)
        status = "Receipted" if done else "PartiallyReceipted"
        self.collection.update(
            inbound["inboundId"], {"items": items, "status": status}, external=external
        )

    def receive_all(self, inbound_id: str) -> dict[str, Any]:
        inbound = self.collection.get(inbound_id)
        for item in list(inbound["items"]):
            if item["quantityOpen"]:
                line = {"jfsku": item["jfsku"], "quantity": item["quantityOpen"]}
                self.book(inbound, line, external=True)
        return self.collection.get(inbound_id)

    async def _incoming_goods(self, request: web.Request) -> web.Response:
        inbound = self.find(request.match_info["inboundId"], "fulfiller")
        body = await read_json(request)
        require(body, "jfsku", "warehouseId", "fulfillerTimestamp")
        self.book(inbound, body, external=False)
        return json_response(project("fulfiller", "Inbound", inbound), 201)

    async def _incoming_goods_bulk(self, request: web.Request) -> web.Response:
        inbound = self.find(request.match_info["inboundId"], "fulfiller")
        body = await read_json(request)
        require(body, "items")
        for line in body["items"]:
            require(line, "jfsku", "warehouseId", "fulfillerTimestamp")
            self.book(inbound, line, external=False)
        return json_response(project("fulfiller", "Inbound", inbound), 201)

    # ------------------------------------------------------------------ shipping notifications

    def _notification_items(self, items: Any) -> list[dict[str, Any]]:
        result = []
        for number, item in enumerate(items or [], 1):
            require(item, "quantity")
            product = self.state.product_for(item)
            result.append(
                {
                    **{k: v for k, v in item.items() if k != "merchantSku"},
                    "inboundShippingNotificationItemId": str(number),
                    "jfsku": product["jfsku"],
                    "serialnumbers": item.get("serialnumbers") or [],
                }
            )
        return result

    def _packages(self, packages: Any) -> list[dict[str, Any]]:
        now = self.state.now()
        return [
            {"identifier": [], "freightOption": "Parcel", "shippingDate": now, **package}
            for package in packages or []
        ]

    async def _post_notification(self, request: web.Request) -> web.Response:
        inbound = self.find(request.match_info["inboundId"])
        body = await read_json(request)
        require(body, "merchantShippingNotificationNumber")
        number = body["merchantShippingNotificationNumber"]
        for existing in self.notifications.live():
            if existing["inboundId"] == inbound["inboundId"] and (
                existing["merchantShippingNotificationNumber"] == number
            ):
                raise ApiFailure(
                    400,
                    "Inbounds_DuplicateMerchantShippingNotificationNumber",
                    f"inbound {inbound['inboundId']} already has shipping notification {number!r}",
                    {
                        "MerchantShippingNotificationNumber": number,
                        "MerchantInboundNumber": inbound["merchantInboundNumber"],
                    },
                )
        notification = {
            **{k: body[k] for k in ("note",) if k in body},
            "inboundShippingNotificationId": self.state.new_id(self.state.merchant_id, "06", 4),
            "inboundId": inbound["inboundId"],
            "merchantId": self.state.merchant_id,
            "fulfillerId": self.state.fulfiller_id,
            "merchantInboundNumber": inbound["merchantInboundNumber"],
            "merchantShippingNotificationNumber": number,
            "items": self._notification_items(body.get("items")),
            "packages": self._packages(body.get("packages")),
        }
        self.notifications.insert(notification)
        return json_response(project("merchant", "InboundShippingNotification", notification), 201)

    def _notification(self, request: web.Request, side: Side) -> dict[str, Any]:
        inbound = self.find(request.match_info["inboundId"], side)
        key = request.match_info["shippingNotificationId"]
        for note in self.notifications.live():
            if note["inboundId"] == inbound["inboundId"] and key in (
                note["inboundShippingNotificationId"],
                note["merchantShippingNotificationNumber"],
            ):
                return note
        raise ApiFailure(
            404,
            "Inbounds_InboundShippingNotificationNotFound",
            f"inbound {inbound['inboundId']} has no shipping notification {key!r}",
            {
                "MerchantShippingNotificationNumber": key,
                "MerchantInboundNumber": inbound["merchantInboundNumber"],
            },
        )

    def _list_notifications(self, side: Side) -> Handler:
        async def handler(request: web.Request) -> web.Response:
            inbound_id = self.find(request.match_info["inboundId"], side)["inboundId"]
            notes = [n for n in self.notifications.live() if n["inboundId"] == inbound_id]
            return json_response(project(side, "InboundShippingNotification", notes))

        return handler

    def _get_notification(self, side: Side) -> Handler:
        async def handler(request: web.Request) -> web.Response:
            note = self._notification(request, side)
            return json_response(project(side, "InboundShippingNotification", note))

        return handler

    async def _patch_notification(self, request: web.Request) -> web.Response:
        note = self._notification(request, "merchant")
        body = await read_json(request)
        changes: dict[str, Any] = {k: body[k] for k in ("note",) if k in body}
        if body.get("items") is not None:
            changes["items"] = self._notification_items(body["items"])
        if body.get("packages") is not None:
            changes["packages"] = self._packages(body["packages"])
        self.notifications.update(note["inboundShippingNotificationId"], changes)
        return no_content()

    async def _delete_notification(self, request: web.Request) -> web.Response:
        note = self._notification(request, "merchant")
        self.notifications.delete(note["inboundShippingNotificationId"])
        return no_content()
