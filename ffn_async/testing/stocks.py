"""Stock: levels per product and warehouse, the stock-change journal and its feed, adjustments,
paged listings and the chunked complete-stock feed (``stocks/complete``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .collection import Collection
from .http import ApiFailure, invalid, json_response, read_json, require
from .query import page
from .resource import Handler, feed_handler, list_handler
from .views import SIDES, Side, project

if TYPE_CHECKING:
    from .api import FakeAPI

__all__ = ["BOOKING_FIELDS", "LEVEL_FIELDS", "Stocks"]

LEVEL_FIELDS = ("stockLevel", "stockLevelReserved", "stockLevelBlocked", "stockLevelAnnounced")
_DETAILS: dict[str, list[Any]] = {
    "stockLevelDetails": [],
    "stockReservedDetails": [],
    "stockAnnouncedDetails": [],
}
BOOKING_FIELDS = ("fulfillerStockChangeId", "note", "batch", "bestBefore", "fulfillerTimestamp")
"""Fields of a booking request (adjustment, incoming goods) the stock change keeps."""


class Stocks:
    """Stock levels, the change journal (``stocks/updates``, ``stocks/changes``) and listings."""

    def __init__(self, api: FakeAPI) -> None:
        self.api = api
        self.levels: dict[tuple[str, str], dict[str, float]] = {}
        self.changes = Collection(
            "stockChangeId",
            "Stocks_StockChangeNotFound",
            api.clock,
            key=lambda c: "{warehouseId}|{jfsku}|{stockVersion}".format(**c["stockChangeId"]),
        )

    @property
    def collection(self) -> Collection:
        """The stock-change journal (what the change feed reports)."""
        return self.changes

    def total(self, jfsku: str) -> float:
        """Stock of a product in every warehouse, blocked included."""
        return sum(
            level["stockLevel"] + level["stockLevelBlocked"]
            for (sku, _), level in self.levels.items()
            if sku == jfsku
        )

    def change(
        self,
        jfsku: str,
        warehouse_id: str,
        quantity: float,
        blocked: float,
        change_type: str,
        external: bool,
        **fields: Any,
    ) -> dict[str, Any]:
        """Book a change of stock and journal it; returns the ``StockChange``."""
        level = self.levels.setdefault(
            (jfsku, warehouse_id), {"stockLevel": 0, "stockLevelBlocked": 0, "stockVersion": 0}
        )
        level["stockLevel"] += quantity
        level["stockLevelBlocked"] += blocked
        level["stockVersion"] += 1
        stock = self.in_warehouse(jfsku, warehouse_id)
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
            **{k: stock[k] for k in LEVEL_FIELDS},
        }
        return self.changes.insert(change, external=external)

    def _open_quantities(self, collection: Collection) -> Counter[tuple[str, str]]:
        """Open item quantities per (jfsku, warehouse) of non-final outbounds or inbounds."""
        totals: Counter[tuple[str, str]] = Counter()
        for obj in collection.live():
            if obj["status"] in ("Shipped", "Canceled", "Receipted", "Closed"):
                continue
            for item in obj["items"]:
                if item.get("jfsku"):
                    totals[item["jfsku"], obj["warehouseId"]] += item["quantityOpen"]
        return totals

    def in_warehouse(
        self,
        jfsku: str,
        warehouse_id: str,
        reserved: Counter[tuple[str, str]] | None = None,
        announced: Counter[tuple[str, str]] | None = None,
    ) -> dict[str, Any]:
        """``StockInWarehouse`` of one product."""
        level = self.levels.get((jfsku, warehouse_id), {})
        if reserved is None:
            reserved = self._open_quantities(self.api.outbounds.collection)
        if announced is None:
            announced = self._open_quantities(self.api.inbounds.collection)
        return {
            "jfsku": jfsku,
            "warehouseId": warehouse_id,
            "fulfillerId": self.api.fulfiller_id,
            "merchantSku": self.api.products.collection.get(jfsku)["merchantSku"],
            "stockLevel": level.get("stockLevel", 0),
            "stockLevelReserved": reserved[jfsku, warehouse_id],
            "stockLevelBlocked": level.get("stockLevelBlocked", 0),
            "stockLevelAnnounced": announced[jfsku, warehouse_id],
            **_DETAILS,
        }

    def stocks(self, *, complete: bool = False) -> list[dict[str, Any]]:
        """``Stock`` of every product (``complete``: products without stock too)."""
        reserved = self._open_quantities(self.api.outbounds.collection)
        announced = self._open_quantities(self.api.inbounds.collection)
        warehouses = [w["warehouseId"] for w in self.api.warehouses.collection.live()]
        result = []
        for product in self.api.products.collection.live():
            jfsku = product["jfsku"]
            per_warehouse = [
                self.in_warehouse(jfsku, w, reserved, announced)
                for w in warehouses
                if (jfsku, w) in self.levels or reserved[jfsku, w] or announced[jfsku, w]
            ]
            if not per_warehouse and not complete:
                continue
            sums = {k: sum(s[k] for s in per_warehouse) for k in LEVEL_FIELDS}
            result.append(
                {
                    "jfsku": jfsku,
                    "merchantSku": product["merchantSku"],
                    **sums,
                    **_DETAILS,
                    "warehouses": per_warehouse,
                    "fulfiller": [
                        {
                            "fulfillerId": self.api.fulfiller_id,
                            "jfsku": jfsku,
                            "merchantSku": product["merchantSku"],
                            **sums,
                            **_DETAILS,
                        }
                    ],
                }
            )
        return result

    # ------------------------------------------------------------------ routes

    def routes(self) -> list[web.RouteDef]:
        chunk = lambda: self.api.chunk_size  # noqa: E731
        routes = []
        for side in SIDES:
            base = f"/v1/{side}/stocks"
            routes += [
                web.get(base, self._list(side)),
                web.get(f"{base}/updates", feed_handler(side, "StockChange", self.changes, chunk)),
                web.get(
                    f"{base}/changes",
                    list_handler(side, "StockChangeWithProduct", self.changes),
                ),
                web.get(f"{base}/warehouse/{{warehouseId}}", self._in_warehouse_list(side)),
                web.get(f"{base}/{{jfsku}}", self._one(side)),
                web.get(f"{base}/{{jfsku}}/{{warehouseId}}", self._one_in_warehouse(side)),
            ]
        return [
            web.get("/v1/merchant/stocks/complete", self._complete),
            web.post("/v1/fulfiller/stocks/adjustments", self._adjust),
            web.get("/v1/fulfiller/stocks/changes/{warehouseId}", self._changes_in_warehouse),
            *routes,
        ]

    def _list(self, side: Side) -> Handler:
        async def handler(request: web.Request) -> web.Response:
            return json_response(page(project(side, "Stock", self.stocks()), request.query))

        return handler

    def _one(self, side: Side) -> Handler:
        async def handler(request: web.Request) -> web.Response:
            jfsku = self.api.products.collection.get(request.match_info["jfsku"])["jfsku"]
            stock = next(s for s in self.stocks(complete=True) if s["jfsku"] == jfsku)
            return json_response(project(side, "Stock", stock))

        return handler

    def _one_in_warehouse(self, side: Side) -> Handler:
        async def handler(request: web.Request) -> web.Response:
            jfsku = self.api.products.collection.get(request.match_info["jfsku"])["jfsku"]
            warehouse_id = self.api.warehouses.collection.get(request.match_info["warehouseId"])[
                "warehouseId"
            ]
            return json_response(
                project(side, "StockInWarehouse", self.in_warehouse(jfsku, warehouse_id))
            )

        return handler

    def _in_warehouse_list(self, side: Side) -> Handler:
        async def handler(request: web.Request) -> web.Response:
            warehouse_id = self.api.warehouses.collection.get(request.match_info["warehouseId"])[
                "warehouseId"
            ]
            rows = [
                w
                for s in self.stocks()
                for w in s["warehouses"]
                if w["warehouseId"] == warehouse_id
            ]
            # Always a paged envelope, even when the client asks for no page.
            return json_response(page(project(side, "StockInWarehouse", rows), request.query))

        return handler

    async def _changes_in_warehouse(self, request: web.Request) -> web.Response:
        warehouse_id = self.api.warehouses.collection.get(request.match_info["warehouseId"])[
            "warehouseId"
        ]
        rows = [c for c in self.changes.live() if c["stockChangeId"]["warehouseId"] == warehouse_id]
        return json_response(page(project("fulfiller", "StockChange", rows), request.query))

    async def _complete(self, request: web.Request) -> web.Response:
        """``stocks/complete``: every product, in chunks linked by an absolute ``nextChunkUrl``."""
        raw_page = request.query.get("page", "1")
        if not raw_page.isdigit() or int(raw_page) < 1:
            raise invalid("page must be a positive integer", "page")
        number = int(raw_page)
        size = self.api.chunk_size
        stocks = self.stocks(complete=True)
        chunk = stocks[(number - 1) * size : number * size]
        more = len(stocks) > number * size
        body: dict[str, Any] = {
            "date": request.query.get("date") or self.api.now(),
            "items": project("merchant", "Stock", chunk),
            "moreDataAvailable": more,
        }
        if more:
            query = {**request.query, "date": body["date"], "page": str(number + 1)}
            body["nextChunkUrl"] = str(request.url.with_query(query))
        return json_response(body)

    async def _adjust(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        require(body, "jfsku", "warehouseId", "fulfillerTimestamp")
        # This operation answers 404 for a product or warehouse that does not exist.
        self.api.products.collection.get(str(body["jfsku"]))
        self.api.warehouses.collection.get(str(body["warehouseId"]))
        quantity = body.get("quantity") or 0
        blocked = body.get("quantityBlocked") or 0
        if not quantity and not blocked:
            raise ApiFailure(
                400,
                "Stocks_QuantityAndBlockedIsZero",
                "quantity and quantityBlocked are both zero",
                _stock_meta(body),
            )
        change = self.change(
            body["jfsku"],
            body["warehouseId"],
            quantity,
            blocked,
            "Adjustment",
            False,
            **{k: body[k] for k in BOOKING_FIELDS if k in body},
        )
        return json_response(project("fulfiller", "StockChange", change), 201)


def _stock_meta(body: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "Jfsku": body.get("jfsku"),
        "FulfillerStockChangeId": body.get("fulfillerStockChangeId"),
        "WarehouseId": body.get("warehouseId"),
    }
