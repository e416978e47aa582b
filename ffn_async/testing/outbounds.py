"""Outbounds: merchant orders, the fulfiller's status changes and shipping notifications,
attachments (``410`` once expired or deleted), shipping labels, creation lock (``423``)."""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from aiohttp import web

from .collection import Collection, check_version
from .files import decode_base64, mime_type
from .http import ApiFailure, invalid, json_response, no_content, read_json, require
from .query import format_time
from .resource import Finder, Handler, feed_handler, numbered_items, patch_changes, read_routes
from .state import OPEN, FakeState
from .views import SIDES, Side, project

__all__ = ["ATTACHMENT_LIFETIME", "Outbounds"]

ATTACHMENT_LIFETIME = timedelta(days=90)
"""Attachments answer 410 this long after their upload (FFN: three months)."""

_READ_ONLY = frozenset(
    {"outboundId", "merchantId", "fulfillerId", "modificationInfo", "status", "statusTimestamp"}
)
_FULFILLER_STATUSES = ("Acknowledged", "Locked", "Pickprocess", "Canceled", "PartiallyCanceled")
_MERCHANT_CANCELABLE = ("Preparation", "Pending", "Acknowledged")
_UPDATABLE = ("Preparation", "Pending")
_LABEL = base64.b64encode(b"%PDF-1.4 shipping label").decode("ascii")


class Outbounds:
    """``/outbounds`` of both APIs and everything below them."""

    def __init__(self, state: FakeState) -> None:
        self.state = state
        self.collection = state.outbounds
        self.notifications = Collection(
            "outboundShippingNotificationId",
            "Outbounds_OutboundShippingNotificationNotFound",
            state.clock,
        )
        self.attachment_data: dict[tuple[str, str], dict[str, Any]] = {}
        self.labels: dict[tuple[str, str], dict[str, Any]] = {}
        self.creation_locked: set[str] = set()

    # ------------------------------------------------------------------ lookups

    def find(self, key: str, side: Side = "merchant") -> dict[str, Any]:
        """By FFN id or, on the merchant API, by the merchant's own outbound number."""
        try:
            return self.collection.get(key)
        except ApiFailure:
            if side == "merchant":
                for outbound in self.collection.live():
                    if outbound.get("merchantOutboundNumber") == key:
                        return outbound
            raise

    def _finder(self, side: Side) -> Finder:
        return lambda request: self.find(request.match_info["outboundId"], side)

    def _items(self, items: Any) -> list[dict[str, Any]]:
        """An outbound's items as sent, numbered, each an ``itemType: Product`` unless set."""
        numbered = numbered_items(items, "outboundItemId", self._product_of)
        for item in numbered:
            item.setdefault("itemType", "Product")
        return numbered

    def _product_of(self, item: Mapping[str, Any]) -> dict[str, Any] | None:
        """The ordered product; lenient where FFN is strict: an item naming no known product
        is kept as sent, so tests need not create every product they order."""
        if not (item.get("jfsku") or item.get("merchantSku")):
            raise invalid("each item needs a jfsku or merchantSku", "items")
        try:
            return self.state.product_for(item)
        except ApiFailure:
            return None

    # ------------------------------------------------------------------ routes

    def routes(self) -> list[web.RouteDef]:
        routes = []
        for side in SIDES:
            base = f"/v1/{side}/outbounds"
            one = f"{base}/{{outboundId}}"
            routes += [
                *read_routes(
                    self.state,
                    side,
                    base,
                    "Outbound",
                    self.collection,
                    "outboundId",
                    self._finder(side),
                ),
                web.get(f"{one}/shipping-notifications", self._list_notifications(side)),
                web.get(
                    f"{one}/shipping-notifications/{{shippingNotificationId}}",
                    self._get_notification(side),
                ),
                web.get(f"{one}/attachments/{{merchantDocumentId}}", self._get_attachment(side)),
            ]
        merchant, fulfiller = "/v1/merchant/outbounds", "/v1/fulfiller/outbounds"
        notifications = feed_handler(
            self.state, "merchant", "OutboundShippingNotification", self.notifications
        )
        return [
            # Only the merchant spec has this feed.
            web.get(f"{merchant}/shipping-notifications/updates", notifications),
            web.post(f"{fulfiller}/status", self._change_status_bulk),
            *routes,
            web.post(merchant, self._create),
            web.patch(f"{merchant}/{{outboundId}}", self._patch),
            web.put(f"{merchant}/{{outboundId}}/status", self._merchant_status),
            web.post(f"{merchant}/{{outboundId}}/attachments", self._post_attachment),
            web.delete(
                f"{merchant}/{{outboundId}}/attachments/{{merchantDocumentId}}",
                self._delete_attachment,
            ),
            web.put(f"{fulfiller}/{{outboundId}}/status", self._fulfiller_status),
            web.put(f"{fulfiller}/{{outboundId}}/warehouse", self._change_warehouse),
            web.post(f"{fulfiller}/{{outboundId}}/shipping-notifications", self._post_notification),
            web.post(f"{fulfiller}/{{outboundId}}/shipping-labels", self._post_label),
            web.get(
                f"{fulfiller}/{{outboundId}}/shipping-labels/{{shippingLabelId}}", self._get_label
            ),
        ]

    # ------------------------------------------------------------------ create, update

    def _check_shipping(self, body: Mapping[str, Any]) -> None:
        if body.get("shippingMethodId") and body.get("shippingType"):
            raise ApiFailure(
                400,
                "Outbounds_OutboundShippingMethodAndShippingTypeSet",
                "set shippingMethodId or shippingType, not both",
            )
        if body.get("shippingMethodId"):
            self.state.shipping_methods.known(body["shippingMethodId"])

    async def _create(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        require(body, "merchantOutboundNumber")
        number = str(body["merchantOutboundNumber"])
        self.state.stats.outbound_creates[number] += 1
        if number in self.creation_locked:
            raise ApiFailure(
                423,
                "Outbounds_OutboundCreationIsLocked",
                f"an outbound with number {number!r} is being created right now",
                {"MerchantOutboundNumber": number},
            )
        require(body, "warehouseId", "currency", "shippingAddress", "items")
        self._check_shipping(body)
        self.state.warehouses.known(body["warehouseId"])
        for existing in self.collection.live():
            if existing["merchantOutboundNumber"] == number and existing["status"] != "Canceled":
                raise ApiFailure(
                    400,
                    "Outbounds_NotCanceledOutboundExists",
                    f"an outbound with merchantOutboundNumber {number!r} already exists",
                    {"OutboundId": existing["outboundId"]},
                )
        items = self._items(body["items"])
        now = self.state.now()
        outbound = {
            "priority": 0,
            "attributes": [],
            **{k: v for k, v in body.items() if k not in _READ_ONLY},
            "attachments": [],
            "relatedReturns": [],  # required by both specs but never defined there
            "items": items,
            "outboundId": self.state.new_id(self.state.merchant_id, "02", 4),
            "merchantId": self.state.merchant_id,
            "fulfillerId": self.state.fulfiller_id,
            "status": "Pending",
            "statusTimestamp": {"pending": now},
        }
        if outbound.get("priority") is None:
            outbound["priority"] = 0
        self.collection.insert(outbound)
        return json_response(project("merchant", "Outbound", outbound), 201)

    async def _patch(self, request: web.Request) -> web.Response:
        outbound = self.find(request.match_info["outboundId"])
        body = await read_json(request)
        if outbound["status"] not in _UPDATABLE:
            raise ApiFailure(
                403,
                "Outbounds_OutboundUpdateForbidden",
                f"an outbound in status {outbound['status']} cannot be changed",
                {"OutboundId": outbound["outboundId"]},
            )
        self._check_shipping(body)
        if "warehouseId" in body:
            self.state.warehouses.known(body["warehouseId"])
        changes = patch_changes(outbound, body, _READ_ONLY, ("shippingAddress", "senderAddress"))
        if "items" in changes:
            changes["items"] = self._items(changes["items"])
        self.collection.update(outbound["outboundId"], changes)
        return no_content()

    # ------------------------------------------------------------------ status

    def set_status(
        self, outbound_id: str, status: str, *, external: bool = True, **fields: Any
    ) -> dict[str, Any]:
        outbound = self.collection.get(outbound_id)
        stamp_key = status[0].lower() + status[1:]
        stamps = {**outbound.get("statusTimestamp", {}), stamp_key: self.state.now()}
        changes = {"status": status, "statusTimestamp": stamps, **fields}
        return self.collection.update(outbound_id, changes, external=external)

    @staticmethod
    def _check_open(
        outbound: Mapping[str, Any], allowed: Iterable[str], target: str, code: int
    ) -> None:
        if outbound["status"] not in allowed:
            raise ApiFailure(
                code,
                "Outbounds_OutboundStatusChangeForbidden",
                f"cannot change status from {outbound['status']} to {target}",
                {"From": outbound["status"], "To": target},
            )

    async def _merchant_status(self, request: web.Request) -> web.Response:
        """Merchant ``PUT …/status``: only ``Canceled``, only before picking (else 403)."""
        outbound = self.find(request.match_info["outboundId"])
        body = await read_json(request)
        require(body, "status")
        self._check_open(
            outbound,
            _MERCHANT_CANCELABLE if body["status"] == "Canceled" else (),
            body["status"],
            403,
        )
        reason = {k: body[k] for k in ("cancelReason", "cancelReasonCode") if k in body}
        self.set_status(outbound["outboundId"], "Canceled", external=False, **reason)
        return no_content()

    def _fulfiller_change(
        self, outbound: dict[str, Any], body: Mapping[str, Any], version: str | None
    ) -> None:
        status = body.get("status")
        if status not in _FULFILLER_STATUSES:
            raise invalid(f"status must be one of {', '.join(_FULFILLER_STATUSES)}", "status")
        check_version(outbound, version, outbound["outboundId"])
        self._check_open(outbound, OPEN, str(status), 400)
        reason = {k: body[k] for k in ("cancelReason", "cancelReasonCode") if k in body}
        self.set_status(outbound["outboundId"], str(status), external=False, **reason)

    async def _fulfiller_status(self, request: web.Request) -> web.Response:
        outbound = self.collection.get(request.match_info["outboundId"])
        body = await read_json(request)
        self._fulfiller_change(outbound, body, request.query.get("objectVersion"))
        return no_content()

    async def _change_status_bulk(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        require(body, "items")
        results = []
        for item in body["items"]:
            outbound_id = str(item.get("outboundId"))
            try:
                outbound = self.collection.get(outbound_id)
                self._fulfiller_change(outbound, item, item.get("objectVersion"))
            except ApiFailure as failure:
                current = self.collection.find("outboundId", outbound_id)
                results.append(
                    {
                        "outboundId": outbound_id,
                        "status": current["status"] if current else item.get("status"),
                        "errorCode": failure.code,
                        "objectVersion": current["modificationInfo"]["updatedAt"]
                        if current
                        else None,
                    }
                )
                continue
            results.append(
                {
                    "outboundId": outbound_id,
                    "status": outbound["status"],
                    "objectVersion": outbound["modificationInfo"]["updatedAt"],
                    "errorCode": None,
                }
            )
        return json_response(project("fulfiller", "ChangedOutboundStatus", results))

    async def _change_warehouse(self, request: web.Request) -> web.Response:
        outbound = self.collection.get(request.match_info["outboundId"])
        body = await read_json(request)
        require(body, "warehouseId")
        self.state.warehouses.known(body["warehouseId"])
        self.collection.update(outbound["outboundId"], {"warehouseId": body["warehouseId"]})
        return no_content()

    # ------------------------------------------------------------------ shipping

    def ship_helper(self, outbound_id: str, items: list[dict[str, Any]] | None) -> dict[str, Any]:
        body = {"fulfillerShippingNotificationNumber": f"SN-{outbound_id}", "items": items}
        return self._ship(self.collection.get(outbound_id), body, external=True)

    def ship_older_than(self, cutoff: float) -> int:
        due = [
            o["outboundId"]
            for o in self.collection.live()
            if o["status"] in OPEN
            and datetime.fromisoformat(o["modificationInfo"]["createdAt"]).timestamp() <= cutoff
        ]
        for outbound_id in due:
            self.ship_helper(outbound_id, None)
        return len(due)

    def _ship(
        self, outbound: dict[str, Any], body: Mapping[str, Any], external: bool
    ) -> dict[str, Any]:
        if outbound["status"] not in OPEN:
            raise ApiFailure(
                403,
                "Outbounds_OutboundShippingNotificationStatusForbidden",
                f"an outbound in status {outbound['status']} cannot be shipped",
                {"OutboundId": outbound["outboundId"], "Status": outbound["status"]},
            )
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
            quantity = line.get("quantity", 0)
            if match is None or quantity > match["quantityOpen"]:
                raise ApiFailure(
                    400,
                    "Outbounds_OutboundShippingNotificationNotEnoughQuantityOpen",
                    "a shipped line exceeds what is open of the outbound's items",
                    {
                        "OutboundId": outbound["outboundId"],
                        "Jfsku": line.get("jfsku"),
                        "MerchantSku": line.get("merchantSku"),
                        "QuantityOpen": match["quantityOpen"] if match else 0,
                    },
                )
            match["quantityOpen"] -= quantity
            shipped.append(
                {
                    **{k: line[k] for k in ("batch", "bestBefore", "note") if k in line},
                    "outboundShippingNotificationItemId": str(number),
                    "jfsku": match.get("jfsku"),
                    "quantity": quantity,
                    "serialnumbers": line.get("serialnumbers") or [],
                }
            )
        status = (
            "Shipped" if all(i["quantityOpen"] == 0 for i in open_items) else "PartiallyShipped"
        )
        outbound_id = outbound["outboundId"]
        now = self.state.now()
        packages = [
            {
                "identifier": [],
                "freightOption": "Parcel",
                "shippingDate": now,
                "shippingMethodId": outbound.get("shippingMethodId")
                or self.state.default_shipping_method_id,
                **package,
            }
            for package in (body.get("packages") or [{}])
        ]
        count = sum(1 for n in self.notifications.live() if n["outboundId"] == outbound_id)
        notification = {
            **{k: body[k] for k in ("note",) if k in body},
            "outboundShippingNotificationId": f"{outbound_id}-{count + 1}",
            "outboundId": outbound_id,
            "merchantId": self.state.merchant_id,
            "fulfillerId": self.state.fulfiller_id,
            "merchantOutboundNumber": outbound.get("merchantOutboundNumber"),
            "fulfillerShippingNotificationNumber": body.get("fulfillerShippingNotificationNumber"),
            "items": shipped,
            "packages": packages,
            "outboundStatus": status,
        }
        self.notifications.insert(notification, external=external)
        self.set_status(outbound_id, status, external=external, items=open_items)
        return notification

    async def _post_notification(self, request: web.Request) -> web.Response:
        outbound = self.collection.get(request.match_info["outboundId"])
        body = await read_json(request)
        require(body, "fulfillerShippingNotificationNumber")
        notification = self._ship(outbound, body, external=False)
        return json_response(
            project("fulfiller", "OutboundShippingNotification", notification), 201
        )

    def _list_notifications(self, side: Side) -> Handler:
        async def handler(request: web.Request) -> web.Response:
            outbound_id = self.find(request.match_info["outboundId"], side)["outboundId"]
            notes = [n for n in self.notifications.live() if n["outboundId"] == outbound_id]
            # A bare array, as FFN answers this list.
            return json_response(project(side, "OutboundShippingNotification", notes))

        return handler

    def _get_notification(self, side: Side) -> Handler:
        async def handler(request: web.Request) -> web.Response:
            outbound = self.find(request.match_info["outboundId"], side)
            key = request.match_info["shippingNotificationId"]
            for note in self.notifications.live():
                if note["outboundId"] == outbound["outboundId"] and key in (
                    note["outboundShippingNotificationId"],
                    note.get("fulfillerShippingNotificationNumber"),
                ):
                    return json_response(project(side, "OutboundShippingNotification", note))
            raise ApiFailure(
                404,
                "Outbounds_OutboundShippingNotificationNotFound",
                f"outbound {outbound['outboundId']} has no shipping notification {key!r}",
                {"OutboundId": outbound["outboundId"], "FulfillerShippingNotificationNumber": key},
            )

        return handler

    # ------------------------------------------------------------------ attachments

    async def _post_attachment(self, request: web.Request) -> web.Response:
        outbound = self.find(request.match_info["outboundId"])
        body = await read_json(request)
        require(body, "merchantDocumentId", "documentType", "data")
        data = decode_base64(body["data"], "data")
        outbound_id = outbound["outboundId"]
        document_id = str(body["merchantDocumentId"])
        if (outbound_id, document_id) in self.attachment_data:
            raise ApiFailure(
                400,
                "Outbounds_DuplicateAttachmentId",
                f"outbound {outbound_id} already has an attachment {document_id!r}",
                {"MerchantDocumentId": document_id},
            )
        expires = self.state.clock.now_datetime() + ATTACHMENT_LIFETIME
        attachment = {
            "merchantDocumentId": document_id,
            "documentType": body["documentType"],
            "mimeType": mime_type(data),
            "size": len(data),
            "url": f"{request.url.origin()}/api/v1/merchant/outbounds/{quote(outbound_id)}"
            f"/attachments/{quote(document_id, safe='')}",
            "expiredAt": format_time(expires),
        }
        self.attachment_data[outbound_id, document_id] = {
            **attachment,
            "data": base64.b64encode(data).decode("ascii"),
            "deleted": False,
        }
        attachments = [*outbound["attachments"], attachment]
        self.collection.update(outbound_id, {"attachments": attachments})
        return json_response(project("merchant", "OutboundAttachment", attachment), 201)

    def _attachment(
        self, outbound: Mapping[str, Any], document_id: str, side: Side = "merchant"
    ) -> dict[str, Any]:
        outbound_id = outbound["outboundId"]
        meta = {"OutboundId": outbound_id, "MerchantDocumentId": document_id}
        stored = self.attachment_data.get((outbound_id, document_id))
        if stored is None:
            raise ApiFailure(
                404,
                # The two specs name this error differently.
                "Outbounds_AttachmentNotFound"
                if side == "merchant"
                else "Outbounds_OutboundAttachmentNotFound",
                f"attachment {document_id!r} not found",
                meta,
            )
        if stored["deleted"]:
            raise ApiFailure(
                410,
                "Outbounds_OutboundAttachmentDeleted",
                f"attachment {document_id!r} was deleted",
                meta,
            )
        if self.state.clock.now_datetime() >= datetime.fromisoformat(stored["expiredAt"]):
            raise ApiFailure(
                410,
                "Outbounds_AttachmentIsNoLongerAvailable",
                f"attachment {document_id!r} has expired",
                {**meta, "OutboundAttachmentsExpireAfterMonth": 3},
            )
        return stored

    def _get_attachment(self, side: Side) -> Handler:
        async def handler(request: web.Request) -> web.Response:
            outbound = self.find(request.match_info["outboundId"], side)
            stored = self._attachment(outbound, request.match_info["merchantDocumentId"], side)
            return json_response(project(side, "OutboundAttachmentData", stored))

        return handler

    async def _delete_attachment(self, request: web.Request) -> web.Response:
        outbound = self.find(request.match_info["outboundId"])
        document_id = request.match_info["merchantDocumentId"]
        self._attachment(outbound, document_id)["deleted"] = True
        attachments = [a for a in outbound["attachments"] if a["merchantDocumentId"] != document_id]
        self.collection.update(outbound["outboundId"], {"attachments": attachments})
        return no_content()

    # ------------------------------------------------------------------ shipping labels

    async def _post_label(self, request: web.Request) -> web.Response:
        outbound = self.collection.get(request.match_info["outboundId"])
        body = await read_json(request)
        require(body, "amazonSfpShippingLabelData")
        label_id = self.state.new_id(self.state.fulfiller_id, "08", 6)
        label = {
            "shippingLabelId": label_id,
            "trackingId": f"TRK{label_id}",
            "mimeType": "application/pdf",
            "size": len(base64.b64decode(_LABEL)),
            "data": _LABEL,
        }
        self.labels[outbound["outboundId"], label_id] = label
        return json_response(project("fulfiller", "OutboundShippingLabel", label), 201)

    async def _get_label(self, request: web.Request) -> web.Response:
        outbound = self.collection.get(request.match_info["outboundId"])
        label_id = request.match_info["shippingLabelId"]
        label = self.labels.get((outbound["outboundId"], label_id))
        if label is None:
            raise ApiFailure(
                404,
                "Outbounds_OutboundShippingLabelNotFound",
                f"outbound {outbound['outboundId']} has no shipping label {label_id!r}",
                {"OutboundId": outbound["outboundId"], "ShippingLabelId": label_id},
            )
        return json_response(project("fulfiller", "OutboundShippingLabel", label))


def _same(item: Mapping[str, Any], line: Mapping[str, Any]) -> bool:
    """Whether a shipped line names this outbound item (by jfsku or merchantSku)."""
    return any(line.get(k) and item.get(k) == line.get(k) for k in ("jfsku", "merchantSku"))
