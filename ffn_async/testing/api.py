"""The fake's API: one merchant and one fulfiller account sharing products, outbounds, inbounds,
returns, warehouses, shipping methods and stock, seen through the merchant (``/v1/merchant/…``)
and fulfiller (``/v1/fulfiller/…``) views of the two specs.

Each resource family lives in its own module (:mod:`.products`, :mod:`.outbounds`,
:mod:`.inbounds`, :mod:`.returns`, :mod:`.stocks`, :mod:`.warehouses`, :mod:`.accounts`) and
imports no sibling: the families share the state of :mod:`.state` (accounts, clock, ids, the
objects more than one family reads), the stock ledger (:mod:`.ledger`) and the warehouse
authorizations (:mod:`.grants`). This module builds them and hands each family what it uses.
Objects are stored once with the fields of both APIs and every answer is projected to the
schema of the API that was called (:mod:`.views`). Changes made through the API count as the
caller's own (``ignoreOwn…`` hides them); changes made through the Python helpers
(:meth:`FakeAPI.ship_outbound`, …) come from "someone else".
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from .accounts import Accounts
from .clock import FakeClock
from .grants import Grants
from .inbounds import Inbounds
from .ledger import StockLedger
from .outbounds import Outbounds
from .products import Products
from .returns import Returns
from .state import FakeState, IdMaker
from .stats import FakeStats
from .stocks import Stocks
from .views import Side
from .warehouses import ShippingMethods, Warehouses

__all__ = ["FakeAPI", "Side"]


class FakeAPI:
    """The two accounts' state, the resource families over it, and their routes.

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
        self.state = state = FakeState(
            merchant_id=merchant_id,
            fulfiller_id=fulfiller_id,
            chunk_size=chunk_size,
            clock=clock or FakeClock(),
            stats=stats or FakeStats(),
        )
        self.auto_ship_after: float | None = None
        self.ledger = ledger = StockLedger(state)
        self.grants = grants = Grants(state)
        self.accounts = Accounts(state, grants)
        self.warehouses = Warehouses(state, grants)
        self.shipping_methods = ShippingMethods(state, grants)
        self.products = Products(state, ledger)
        self.stocks = Stocks(state, ledger)
        self.outbounds = Outbounds(state)
        self.inbounds = Inbounds(state, ledger)
        self.returns = Returns(state, ledger)
        state.default_warehouse_id = self.add_warehouse("Main warehouse")["warehouseId"]
        state.default_shipping_method_id = self.add_shipping_method("DHL Paket")["shippingMethodId"]
        grants.authorize_warehouse(state.default_warehouse_id, [state.default_shipping_method_id])

    # ------------------------------------------------------------------ the shared state

    @property
    def merchant_id(self) -> str:
        return self.state.merchant_id

    @property
    def fulfiller_id(self) -> str:
        return self.state.fulfiller_id

    @property
    def clock(self) -> FakeClock:
        return self.state.clock

    @property
    def stats(self) -> FakeStats:
        return self.state.stats

    @property
    def new_id(self) -> IdMaker:
        return self.state.new_id

    @property
    def default_warehouse_id(self) -> str:
        return self.state.default_warehouse_id

    @property
    def default_shipping_method_id(self) -> str:
        return self.state.default_shipping_method_id

    @property
    def chunk_size(self) -> int:
        """Objects per change-feed chunk (``…/updates``, ``stocks/complete``)."""
        return self.state.chunk_size

    @chunk_size.setter
    def chunk_size(self, value: int) -> None:
        self.state.chunk_size = value

    @property
    def user_registered(self) -> bool:
        """``False`` answers ``users/current`` with 404."""
        return self.state.user_registered

    @user_registered.setter
    def user_registered(self, value: bool) -> None:
        self.state.user_registered = value

    def user_id(self, side: Side) -> str:
        """The account id of whoever calls ``side``'s API."""
        return self.state.user_id(side)

    def now(self) -> str:
        """The server time, formatted as the API writes it."""
        return self.state.now()

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
        self.state.products.get(jfsku)
        self.state.warehouses.get(warehouse)
        return self.ledger.change(jfsku, warehouse, quantity, blocked, "Adjustment", True)

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
