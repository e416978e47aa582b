"""Stock routes: levels per product and warehouse and the stock-change journal with its feed
(both kept by :mod:`.ledger`), adjustments, paged listings and the chunked complete-stock feed
(``stocks/complete``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from .http import ApiFailure, invalid, json_response, read_json, require
from .ledger import StockLedger, quantities
from .query import page
from .resource import Handler, feed_handler, list_handler
from .state import FakeState
from .views import SIDES, Side, project

__all__ = ["Stocks"]


class Stocks:
    """``/stocks`` of both APIs: what the ledger keeps, and the fulfiller's adjustments."""

    def __init__(self, state: FakeState, ledger: StockLedger) -> None:
        self.state = state
        self.ledger = ledger
        self.collection = ledger.changes

    # ------------------------------------------------------------------ routes

    def routes(self) -> list[web.RouteDef]:
        routes = []
        for side in SIDES:
            base = f"/v1/{side}/stocks"
            routes += [
                web.get(base, self._list(side)),
                web.get(
                    f"{base}/updates",
                    feed_handler(self.state, side, "StockChange", self.collection),
                ),
                web.get(
                    f"{base}/changes",
                    list_handler(side, "StockChangeWithProduct", self.collection),
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
            return json_response(page(project(side, "Stock", self.ledger.stocks()), request.query))

        return handler

    def _one(self, side: Side) -> Handler:
        async def handler(request: web.Request) -> web.Response:
            jfsku = self.state.products.get(request.match_info["jfsku"])["jfsku"]
            stock = next(s for s in self.ledger.stocks(complete=True) if s["jfsku"] == jfsku)
            return json_response(project(side, "Stock", stock))

        return handler

    def _one_in_warehouse(self, side: Side) -> Handler:
        async def handler(request: web.Request) -> web.Response:
            jfsku = self.state.products.get(request.match_info["jfsku"])["jfsku"]
            warehouse_id = self.state.warehouses.get(request.match_info["warehouseId"])[
                "warehouseId"
            ]
            return json_response(
                project(side, "StockInWarehouse", self.ledger.in_warehouse(jfsku, warehouse_id))
            )

        return handler

    def _in_warehouse_list(self, side: Side) -> Handler:
        async def handler(request: web.Request) -> web.Response:
            warehouse_id = self.state.warehouses.get(request.match_info["warehouseId"])[
                "warehouseId"
            ]
            rows = [
                w
                for s in self.ledger.stocks()
                for w in s["warehouses"]
                if w["warehouseId"] == warehouse_id
            ]
            # Always a paged envelope, even when the client asks for no page.
            return json_response(page(project(side, "StockInWarehouse", rows), request.query))

        return handler

    async def _changes_in_warehouse(self, request: web.Request) -> web.Response:
        warehouse_id = self.state.warehouses.get(request.match_info["warehouseId"])["warehouseId"]
        rows = [
            c for c in self.collection.live() if c["stockChangeId"]["warehouseId"] == warehouse_id
        ]
        return json_response(page(project("fulfiller", "StockChange", rows), request.query))

    async def _complete(self, request: web.Request) -> web.Response:
        """``stocks/complete``: every product, in chunks linked by an absolute ``nextChunkUrl``."""
        raw_page = request.query.get("page", "1")
        if not raw_page.isdigit() or int(raw_page) < 1:
            raise invalid("page must be a positive integer", "page")
        number = int(raw_page)
        size = self.state.chunk_size
        stocks = self.ledger.stocks(complete=True)
        chunk = stocks[(number - 1) * size : number * size]
        more = len(stocks) > number * size
        body: dict[str, Any] = {
            "date": request.query.get("date") or self.state.now(),
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
        self.state.products.get(str(body["jfsku"]))
        self.state.warehouses.get(str(body["warehouseId"]))
        quantity, blocked = quantities(body)
        if not quantity and not blocked:
            raise ApiFailure(
                400,
                "Stocks_QuantityAndBlockedIsZero",
                "quantity and quantityBlocked are both zero",
                _stock_meta(body),
            )
        change = self.ledger.book(body, body["jfsku"], body["warehouseId"], "Adjustment")
        return json_response(project("fulfiller", "StockChange", change), 201)


def _stock_meta(body: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "Jfsku": body.get("jfsku"),
        "FulfillerStockChangeId": body.get("fulfillerStockChangeId"),
        "WarehouseId": body.get("warehouseId"),
    }
