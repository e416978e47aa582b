"""Returns: created by either side, items added, split, updated and booked into stock;
``objectVersion`` checks (400 ``Shared_OutdatedObject``), write locks (403
``Returns_ReturnIsLocked``) and the field-by-field change feed (``returns/changes``)."""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from .collection import Collection, check_version
from .http import ApiFailure, invalid, json_response, no_content, read_json, require
from .ledger import StockLedger, quantities
from .resource import Handler, patch_changes, read_routes
from .state import FakeState
from .views import SIDES, Side, project, viewer

__all__ = ["LOCK_DURATION", "Returns"]

LOCK_DURATION = timedelta(hours=1)
"""How long a return lock holds unless released."""

_NUMBER = {"merchant": "merchantReturnNumber", "fulfiller": "fulfillerReturnNumber"}
_READ_ONLY = frozenset(
    {"returnId", "merchantId", "fulfillerId", "modificationInfo", "state", "items", "writeLock"}
)
_UNLOCKED: dict[str, str | None] = {"lockedByUserId": None, "lockedAt": None, "lockedUntil": None}


def _diff(
    old: Mapping[str, Any], new: Mapping[str, Any], nested: tuple[str, ...]
) -> dict[str, Any]:
    """``{field: {value, previousValue}}`` for each changed field (nested objects field-wise)."""
    changes: dict[str, Any] = {}
    for key in sorted(set(old) | set(new)):
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        if key in nested:
            inner = _diff(before or {}, after or {}, ())
            if inner:
                changes[key] = inner
            continue
        change = {}
        if after is not None:
            change["value"] = after
        if before is not None:
            change["previousValue"] = before
        changes[key] = change
    return changes


ItemAction = Callable[[web.Request, dict[str, Any], dict[str, Any]], Awaitable[web.Response]]


def _without_stock(item: Mapping[str, Any] | None) -> dict[str, Any]:
    return {k: v for k, v in (item or {}).items() if k != "stockChanges"}


class Returns:
    """``/returns`` of both APIs."""

    def __init__(self, state: FakeState, ledger: StockLedger) -> None:
        self.state = state
        self.ledger = ledger
        self.collection = Collection("returnId", "Returns_ReturnNotFound", state.clock)
        self.changes = Collection("changeId", "Returns_ReturnNotFound", state.clock)
        self._serial = 0

    # ------------------------------------------------------------------ state

    def _find(self, request: web.Request) -> dict[str, Any]:
        return self.collection.get(request.match_info["returnId"])

    def _item(self, ret: Mapping[str, Any], item_id: str) -> dict[str, Any]:
        items: list[dict[str, Any]] = ret["items"]
        for item in items:
            if item["returnItemId"] == item_id:
                return item
        raise ApiFailure(
            404,
            "Returns_ReturnItemNotFound",
            f"return {ret['returnId']} has no item {item_id!r}",
            {"ReturnId": ret["returnId"], "ReturnItemId": item_id},
        )

    def _writable(self, request: web.Request, side: Side) -> dict[str, Any]:
        """The request's return if ``side`` may change it now: 403 if the other side holds the
        lock; 400 if the request's ``objectVersion`` is outdated."""
        ret = self._find(request)
        lock = ret.get("writeLock") or _UNLOCKED
        holder = lock.get("lockedByUserId")
        if holder and holder != self.state.user_id(side):
            until = datetime.fromisoformat(str(lock["lockedUntil"]))
            if until > self.state.clock.now_datetime():
                raise ApiFailure(
                    403,
                    "Returns_ReturnIsLocked",
                    f"This return is locked by User {holder} until {lock['lockedUntil']}",
                    {
                        "LockedByUserId": holder,
                        "LockedUntil": lock["lockedUntil"],
                        "ReturnId": ret["returnId"],
                    },
                )
        check_version(ret, request.query.get("objectVersion"), ret["returnId"])
        return ret

    def _record(
        self, before: Mapping[str, Any] | None, after: Mapping[str, Any], side: Side, state: str
    ) -> None:
        """Journal one change of a return for ``returns/changes``."""
        old = before or {}
        changes = _diff(
            {k: v for k, v in old.items() if k not in ("items", "modificationInfo")},
            {k: v for k, v in after.items() if k not in ("items", "modificationInfo")},
            ("customerAddress", "writeLock"),
        )
        now = after["modificationInfo"].get("updatedAt") or after["modificationInfo"]["createdAt"]
        old_items = {i["returnItemId"]: i for i in old.get("items", [])}
        new_items = {i["returnItemId"]: i for i in after.get("items", [])}
        item_changes = []
        for item_id in sorted(set(old_items) | set(new_items)):
            a, b = old_items.get(item_id), new_items.get(item_id)
            if a == b:
                continue
            item_state = "New" if a is None else "Deleted" if b is None else "Modified"
            item_changes.append(
                {
                    "id": item_id,
                    "modificationState": item_state,
                    "modifiedFrom": self.state.user_id(side),
                    "updatedAt": now,
                    "changes": _diff(_without_stock(a), _without_stock(b), ()),
                }
            )
        if item_changes:
            changes["items"] = item_changes
        self._serial += 1
        record = {
            "changeId": str(self._serial),
            "id": after["returnId"],
            "modificationState": state,
            "modifiedFrom": self.state.user_id(side),
            "updatedAt": now,
            "changes": changes,
        }
        self.changes.insert(record)

    def _update(
        self, ret: dict[str, Any], changes: Mapping[str, Any], side: Side
    ) -> dict[str, Any]:
        before = copy.deepcopy(ret)
        after = self.collection.update(ret["returnId"], changes)
        self._record(before, after, side, "Modified")
        return after

    def _new_item(self, body: Mapping[str, Any], number: int) -> dict[str, Any]:
        require(body, "quantity")
        product = self.state.product_for(body)
        return {
            **{k: body[k] for k in ("outboundId", "outboundItemId", "reasonNote") if k in body},
            "returnItemId": str(body.get("returnItemId") or number),
            "jfsku": product["jfsku"],
            "merchantSku": product["merchantSku"],
            "name": product["name"],
            "quantity": body["quantity"],
            "reason": body.get("reason") or "NoReason",
            "condition": "Unknown",
            "state": "Announced",
            "stockChanges": [],
        }

    @staticmethod
    def _next_number(ret: Mapping[str, Any]) -> int:
        return (
            max(
                (int(i["returnItemId"]) for i in ret["items"] if i["returnItemId"].isdigit()),
                default=0,
            )
            + 1
        )

    # ------------------------------------------------------------------ routes

    def routes(self) -> list[web.RouteDef]:
        routes = []
        for side in SIDES:
            base = f"/v1/{side}/returns"
            one = f"{base}/{{returnId}}"
            item = f"{one}/items/{{returnItemId}}"
            routes += [
                web.post(base, self._create(side)),
                web.get(f"{base}/changes", self._changes(side, all_returns=True)),
                *read_routes(self.state, side, base, "Return", self.collection, "returnId"),
                web.patch(one, self._patch(side)),
                web.delete(one, self._delete(side)),
                web.get(f"{one}/changes", self._changes(side, all_returns=False)),
                web.put(f"{one}/lock", self._lock(side, True)),
                web.put(f"{one}/unlock", self._lock(side, False)),
                web.post(f"{one}/items", self._post_item(side)),
                web.post(item, self._split_item(side)),
                web.get(item, self._get_item(side)),
                web.patch(item, self._patch_item(side)),
                web.delete(item, self._delete_item(side)),
            ]
        routes.append(
            web.post(
                "/v1/fulfiller/returns/{returnId}/items/{returnItemId}/incomming-goods",
                self._incoming_goods,
            )
        )
        return routes

    def _create(self, side: Side) -> Handler:
        async def handler(request: web.Request) -> web.Response:
            body = await read_json(request)
            number_field = _NUMBER[side]
            require(body, number_field, "warehouseId", "customerAddress", "items")
            self.state.warehouses.known(body["warehouseId"])
            number = body[number_field]
            if self.collection.find(number_field, number) is not None:
                raise ApiFailure(
                    400,
                    "Returns_DuplicateReturn",
                    f"a return with {number_field} {number!r} already exists",
                    {number_field[0].upper() + number_field[1:]: number},
                )
            items = body["items"]
            if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
                raise invalid("items must be a list of objects", "items")
            ret = {
                **{k: v for k, v in body.items() if k not in _READ_ONLY},
                "returnId": self.state.new_id(self.state.merchant_id, "05", 5),
                "merchantId": self.state.merchant_id,
                "fulfillerId": self.state.fulfiller_id,
                "state": "Announced",
                "writeLock": dict(_UNLOCKED),
                "items": [self._new_item(item, n) for n, item in enumerate(items, 1)],
            }
            self.collection.insert(ret)
            self._record(None, ret, side, "New")
            return json_response(project(side, "Return", ret), 201)

        return handler

    def _patch(self, side: Side) -> Handler:
        async def handler(request: web.Request) -> web.Response:
            ret = self._writable(request, side)
            body = await read_json(request)
            if "warehouseId" in body:
                self.state.warehouses.known(body["warehouseId"])
            changes = patch_changes(ret, body, _READ_ONLY, ("customerAddress",))
            self._update(ret, changes, side)
            return no_content()

        return handler

    def _delete(self, side: Side) -> Handler:
        async def handler(request: web.Request) -> web.Response:
            ret = self._find(request)
            if ret["state"] != "Announced":
                raise ApiFailure(
                    400,
                    "Returns_NotAllowedState",
                    f"a return in state {ret['state']} cannot be deleted",
                    {
                        "currentState": ret["state"],
                        "allowedStates": ["Announced"],
                        "ReturnId": ret["returnId"],
                    },
                )
            before = copy.deepcopy(ret)
            self.collection.delete(ret["returnId"])
            self._record(before, ret, side, "Deleted")
            return no_content()

        return handler

    def _changes(self, side: Side, all_returns: bool) -> Handler:
        view = viewer(side, "ReturnChange")

        async def handler(request: web.Request) -> web.Response:
            keep = None
            if not all_returns:
                return_id = self._find(request)["returnId"]
                keep = lambda change: change["id"] == return_id  # noqa: E731
            body = self.changes.feed(request.query, request.url, self.state.chunk_size, view, keep)
            return json_response(body)

        return handler

    def _lock(self, side: Side, lock: bool) -> Handler:
        async def handler(request: web.Request) -> web.Response:
            ret = self._writable(request, side)
            state: dict[str, str | None] = {**_UNLOCKED}
            if lock:
                now = self.state.clock.now_datetime()
                state = {
                    "lockedByUserId": self.state.user_id(side),
                    "lockedAt": self.state.now(),
                    "lockedUntil": (now + LOCK_DURATION).isoformat(timespec="microseconds"),
                }
            self._update(ret, {"writeLock": state}, side)
            return no_content()

        return handler

    def _item_handler(self, side: Side, writes: bool, action: ItemAction) -> Handler:
        async def handler(request: web.Request) -> web.Response:
            ret = self._writable(request, side) if writes else self._find(request)
            item = self._item(ret, request.match_info["returnItemId"])
            return await action(request, ret, item)

        return handler

    def _post_item(self, side: Side) -> Handler:
        async def handler(request: web.Request) -> web.Response:
            ret = self._writable(request, side)
            body = await read_json(request)
            new = self._new_item(body, self._next_number(ret))
            if any(i["returnItemId"] == new["returnItemId"] for i in ret["items"]):
                raise ApiFailure(
                    400,
                    "Returns_DuplicateReturnItem",
                    f"return {ret['returnId']} already has item {new['returnItemId']}",
                    {"ReturnId": ret["returnId"], "ReturnItemId": new["returnItemId"]},
                )
            self._update(ret, {"items": [*copy.deepcopy(ret["items"]), new]}, side)
            return json_response(project(side, "ReturnItem", new), 201)

        return handler

    def _split_item(self, side: Side) -> Handler:
        async def action(
            request: web.Request, ret: dict[str, Any], item: dict[str, Any]
        ) -> web.Response:
            body = await read_json(request)
            require(body, "quantity")
            quantity = body["quantity"]
            if not isinstance(quantity, int | float) or not 0 < quantity < item["quantity"]:
                raise ApiFailure(
                    400,
                    "Returns_NotEnoughQuantity",
                    "the split quantity must be positive and less than the item's quantity",
                    {"ReturnId": ret["returnId"], "ReturnItemId": item["returnItemId"]},
                )
            items = copy.deepcopy(ret["items"])
            for existing in items:
                if existing["returnItemId"] == item["returnItemId"]:
                    existing["quantity"] -= quantity
            split = {
                **copy.deepcopy(item),
                "returnItemId": str(body.get("returnItemId") or self._next_number(ret)),
                "quantity": quantity,
                "stockChanges": [],
            }
            self._update(ret, {"items": [*items, split]}, side)
            return json_response(project(side, "ReturnItem", split), 201)

        return self._item_handler(side, True, action)

    def _get_item(self, side: Side) -> Handler:
        async def action(
            request: web.Request, ret: dict[str, Any], item: dict[str, Any]
        ) -> web.Response:
            return json_response(project(side, "ReturnItem", item))

        return self._item_handler(side, False, action)

    def _patch_item(self, side: Side) -> Handler:
        async def action(
            request: web.Request, ret: dict[str, Any], item: dict[str, Any]
        ) -> web.Response:
            body = await read_json(request)
            allowed = ("quantity", "reason", "reasonNote", "state", "condition", "conditionNote")
            changes = {k: body[k] for k in allowed if k in body}
            items = [
                {**copy.deepcopy(i), **changes}
                if i["returnItemId"] == item["returnItemId"]
                else copy.deepcopy(i)
                for i in ret["items"]
            ]
            self._update(ret, {"items": items}, side)
            return no_content()

        return self._item_handler(side, True, action)

    def _delete_item(self, side: Side) -> Handler:
        async def action(
            request: web.Request, ret: dict[str, Any], item: dict[str, Any]
        ) -> web.Response:
            if len(ret["items"]) == 1:
                raise ApiFailure(
                    404,
                    "Returns_ItemListIsEmpty",
                    "a return keeps at least one item",
                    {"ReturnId": ret["returnId"]},
                )
            if item["state"] != "Announced":
                raise ApiFailure(
                    404,
                    "Returns_NotAllowedItemState",
                    f"an item in state {item['state']} cannot be deleted",
                    {
                        "currentState": item["state"],
                        "allowedStates": ["Announced"],
                        "ReturnId": ret["returnId"],
                        "ReturnItemId": item["returnItemId"],
                    },
                )
            items = [
                copy.deepcopy(i) for i in ret["items"] if i["returnItemId"] != item["returnItemId"]
            ]
            self._update(ret, {"items": items}, side)
            return no_content()

        return self._item_handler(side, True, action)

    async def _incoming_goods(self, request: web.Request) -> web.Response:
        """Book an arrived return item into stock (``state`` must be ``Arrived``)."""
        ret = self._writable(request, "fulfiller")
        item = self._item(ret, request.match_info["returnItemId"])
        body = await read_json(request)
        require(body, "warehouseId", "fulfillerTimestamp")
        meta = {"ReturnId": ret["returnId"], "ReturnItemId": item["returnItemId"]}
        if item["state"] != "Arrived":
            raise ApiFailure(
                400,
                "Returns_NotAllowedItemState",
                f"an item in state {item['state']} cannot be booked",
                {"currentState": item["state"], "allowedStates": ["Arrived"], **meta},
            )
        quantity, blocked = quantities(body)
        if quantity + blocked != item["quantity"]:
            raise ApiFailure(
                400,
                "Returns_QuantityDoesNotCorresond",  # sic: the spec's spelling
                "quantity and quantityBlocked must add up to the item's quantity",
                {
                    "Quantity": quantity,
                    "QuantityBlocked": blocked,
                    "ExpectedQuantity": item["quantity"],
                    **meta,
                },
            )
        self.state.warehouses.known(body["warehouseId"])
        return_item = {"returnId": ret["returnId"], "returnItemId": item["returnItemId"]}
        change = self.ledger.book(
            body, item["jfsku"], body["warehouseId"], "Return", returnItem=return_item
        )
        booked = {
            "merchantSku": item["merchantSku"],
            "quantity": quantity,
            "quantityBlocked": blocked,
            "stockChangeId": change["stockChangeId"],
        }
        items = [
            {**copy.deepcopy(i), "state": "Completed", "stockChanges": [*i["stockChanges"], booked]}
            if i["returnItemId"] == item["returnItemId"]
            else copy.deepcopy(i)
            for i in ret["items"]
        ]
        state = "Completed" if all(i["state"] == "Completed" for i in items) else ret["state"]
        self._update(ret, {"items": items, "state": state}, "fulfiller")
        return json_response(project("fulfiller", "StockChange", change), 201)
