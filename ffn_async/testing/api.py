"""The fake's API: one merchant and one fulfiller account sharing products, outbounds, inbounds,
returns, warehouses, shipping methods and stock, seen through the merchant (``/v1/merchant/…``)
and fulfiller (``/v1/fulfiller/…``) views of the two specs.

Each resource family lives in its own module (:mod:`.products`, :mod:`.outbounds`,
:mod:`.inbounds`, :mod:`.returns`, :mod:`.stocks`, :mod:`.warehouses`, :mod:`.accounts`); the
state is stored once with the fields of both APIs and every answer is projected to the schema
of the API that was called (:mod:`.views`). Changes made through the API count as the caller's
own (``ignoreOwn…`` hides them); changes made through the Python helpers
(:meth:`FakeAPI.ship_outbound`, …) come from "someone else".
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from .accounts import Accounts
from .clock import FakeClock
from .inbounds import Inbounds
from .outbounds import Outbounds
from .products import Products
from .query import format_time
from .resource import IdMaker
from .returns import Returns
from .stats import FakeStats
from .stocks import Stocks
from .views import Side
from .warehouses import ShippingMethods, Warehouses

__all__ = ["FakeAPI", "Side"]


class FakeAPI:
    """State of the two accounts and the API routes over it.

    Python helpers drive what the real fulfiller or warehouse would do: :meth:`add_warehouse`,
    :meth:`add_shipping_method`, :meth:`add_product`, :meth:`set_outbound_status`,
    :meth:`ship_outbound`, :meth:`receive_inbound`, :meth:`adjust_stock`,
    :meth:`lock_outbound_creation`. Set :attr:`auto_ship_after` (seconds) to have outbounds
    shipped automatically while the server runs. A default warehouse and shipping method exist
    (:attr:`default_warehouse_id`, :attr:`default_shipping_method_id`). Set
    :attr:`user_registered` to ``False`` to answer ``users/current`` with 404, as for a user
    who never logged into the portal.
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
        self.new_id = IdMaker()
        self.accounts = Accounts(self)
        self.warehouses = Warehouses(self)
        self.shipping_methods = ShippingMethods(self)
        self.products = Products(self)
        self.stocks = Stocks(self)
        self.outbounds = Outbounds(self)
        self.inbounds = Inbounds(self)
        self.returns = Returns(self)
        self.default_warehouse_id: str = self.add_warehouse("Main warehouse")["warehouseId"]
        self.default_shipping_method_id: str = self.add_shipping_method("DHL Paket")[
            "shippingMethodId"
        ]
        self.accounts.authorize_warehouse(
            self.default_warehouse_id, [self.default_shipping_method_id]
        )

    def user_id(self, side: Side) -> str:
        """The account id of whoever calls ``side``'s API."""
        return self.merchant_id if side == "merchant" else self.fulfiller_id

    def now(self) -> str:
        """The server time, formatted as the API writes it."""
        return format_time(self.clock.now_datetime())

    # ------------------------------------------------------------------ routes

    def routes(self) -> list[web.RouteDef]:
        """The route table (paths relative to ``/api``; fixed paths before ``{id}`` ones)."""
        return [
            *self.accounts.routes(),
            *self.warehouses.routes(),
            *self.shipping_methods.routes(),
            *self.stocks.routes(),
            *self.products.routes(),
            *self.outbounds.routes(),
            *self.inbounds.routes(),
            *self.returns.routes(),
        ]

    # ------------------------------------------------------------------ helpers

    def add_warehouse(self, name: str, **fields: Any) -> dict[str, Any]:
        """Create a warehouse of the fulfiller (``address`` defaults to a placeholder)."""
        return self.warehouses.insert({"name": name, **fields}, external=True)

    def add_shipping_method(
        self, name: str, shipping_type: str = "Standard", **fields: Any
    ) -> dict[str, Any]:
        """Create a shipping method of the fulfiller (``fields`` in camelCase)."""
        body = {"name": name, "shippingType": shipping_type, **fields}
        return self.shipping_methods.insert(body, external=True)

    def add_product(self, merchant_sku: str, name: str, **fields: Any) -> dict[str, Any]:
        """Create a product as the merchant would (``fields`` in camelCase)."""
        return self.products.insert({"merchantSku": merchant_sku, "name": name, **fields}, True)

    def set_outbound_status(
        self, outbound_id: str, status: str, *, external: bool = True, **fields: Any
    ) -> dict[str, Any]:
        """Move an outbound to ``status`` (no transition check), as the fulfiller would."""
        return self.outbounds.set_status(outbound_id, status, external=external, **fields)

    def ship_outbound(
        self, outbound_id: str, items: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        """Ship an outbound (all open quantities unless ``items`` say otherwise).

        Returns the ``OutboundShippingNotification``; the outbound becomes ``Shipped`` or,
        with quantities left open, ``PartiallyShipped``.
        """
        return self.outbounds.ship_helper(outbound_id, items)

    def lock_outbound_creation(self, merchant_outbound_number: str, locked: bool = True) -> None:
        """While locked, creating an outbound with this number answers 423, as FFN does while
        another request creates it."""
        numbers = self.outbounds.creation_locked
        (numbers.add if locked else numbers.discard)(merchant_outbound_number)

    def receive_inbound(self, inbound_id: str) -> dict[str, Any]:
        """Book every open quantity of an inbound into stock; it becomes ``Receipted``."""
        return self.inbounds.receive_all(inbound_id)

    def adjust_stock(
        self, jfsku: str, quantity: float, warehouse_id: str | None = None, blocked: float = 0
    ) -> dict[str, Any]:
        """Add (or remove, if negative) stock of a product; returns the ``StockChange``."""
        warehouse = warehouse_id or self.default_warehouse_id
        self.products.collection.get(jfsku)
        self.warehouses.collection.get(warehouse)
        return self.stocks.change(jfsku, warehouse, quantity, blocked, "Adjustment", True)

    def ship_due(self) -> int:
        """Ship every open outbound older than :attr:`auto_ship_after`; return how many."""
        if self.auto_ship_after is None:
            return 0
        return self.outbounds.ship_older_than(self.clock.now() - self.auto_ship_after)

    async def auto_ship(self, interval: float = 0.1) -> None:
        """Run :meth:`ship_due` every ``interval`` seconds until cancelled."""
        while True:
            self.ship_due()
            await asyncio.sleep(interval)
