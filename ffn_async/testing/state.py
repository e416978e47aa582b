"""What the fake's resource families share: the two accounts, the server clock, id allocation,
and the stored objects more than one family reads.

A family's module (:mod:`.products`, :mod:`.outbounds`, …) serves the routes of one family and
imports no sibling: what it needs from another family it reads here (whether a warehouse or a
shipping method exists, the product an item names, which open outbounds order a product). The
two rule sets that span families sit on this state in their own modules, the stock ledger
(:mod:`.ledger`) and the merchant's warehouse authorizations (:mod:`.grants`). :mod:`.api`
builds all of it and hands each family what it uses, so imports point one way::

    api  →  accounts, warehouses, products, stocks, outbounds, inbounds, returns
                 →  grants, ledger  →  state  →  collection, clock, stats
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from .clock import FakeClock
from .collection import Collection
from .http import ApiFailure
from .query import format_time
from .stats import FakeStats
from .views import Side

__all__ = ["OPEN", "FakeState", "IdMaker"]

OPEN = ("Preparation", "Pending", "Acknowledged", "Pickprocess", "Locked", "PartiallyShipped")
"""Outbound statuses in which an outbound can still be shipped."""

_ALPHABET = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"


class IdMaker:
    """FFN-looking ids: owner, a two-digit type code and a base-34 serial (``MERC02000A1``)."""

    def __init__(self) -> None:
        self._serials: Counter[str] = Counter()

    def __call__(self, owner: str, code: str, width: int) -> str:
        number = self._serials[owner + code] = self._serials[owner + code] + 1
        digits = []
        for _ in range(width):
            number, rest = divmod(number, len(_ALPHABET))
            digits.append(_ALPHABET[rest])
        return f"{owner}{code}{''.join(reversed(digits))}"


class FakeState:
    """The accounts, clock and shared objects every resource family reads.

    Attributes:
        merchant_id: the merchant account's id.
        fulfiller_id: the fulfiller account's id.
        chunk_size: objects per change-feed chunk (read on every request).
        clock: the server clock.
        stats: the server's counters.
        new_id: allocates FFN-looking ids.
        user_registered: ``False`` answers ``users/current`` with 404.
        default_warehouse_id: the warehouse :class:`~.api.FakeAPI` creates first.
        default_shipping_method_id: the shipping method it creates first.
        fulfillers: the fulfiller accounts the merchant works with.
        warehouses: the fulfiller's warehouses.
        shipping_methods: the fulfiller's shipping methods.
        products: the merchant's products.
        outbounds: the merchant's outbounds.
        inbounds: the merchant's inbounds.
    """

    def __init__(
        self,
        *,
        merchant_id: str,
        fulfiller_id: str,
        chunk_size: int,
        clock: FakeClock,
        stats: FakeStats,
    ) -> None:
        self.merchant_id = merchant_id
        self.fulfiller_id = fulfiller_id
        self.chunk_size = chunk_size
        self.clock = clock
        self.stats = stats
        self.new_id = IdMaker()
        self.user_registered = True
        self.default_warehouse_id = ""
        self.default_shipping_method_id = ""
        self.fulfillers = Collection("userId", "Users_UserNotFound", clock)
        self.warehouses = Collection("warehouseId", "Warehouses_WarehouseNotFound", clock)
        self.shipping_methods = Collection(
            "shippingMethodId", "ShippingMethods_ShippingMethodNotFound", clock
        )
        self.products = Collection("jfsku", "Products_ProductNotFound", clock)
        self.outbounds = Collection("outboundId", "Outbounds_OutboundNotFound", clock)
        self.inbounds = Collection("inboundId", "Inbounds_InboundNotFound", clock)

    def user_id(self, side: Side) -> str:
        """The account id of whoever calls ``side``'s API."""
        return self.merchant_id if side == "merchant" else self.fulfiller_id

    def now(self) -> str:
        """The server time, formatted as the API writes it."""
        return format_time(self.clock.now_datetime())

    def product_for(self, item: Mapping[str, Any]) -> dict[str, Any]:
        """The product an item names by ``jfsku`` or ``merchantSku`` (400 if none)."""
        if item.get("jfsku"):
            return self.products.known(item["jfsku"])
        sku = item.get("merchantSku")
        product = self.products.find("merchantSku", sku) if sku else None
        if product is None:
            raise ApiFailure(
                400,
                "Products_ProductNotFound",
                "each item needs the jfsku or merchantSku of an existing product",
                {"Jfsku": item.get("jfsku"), "MerchantSku": sku},
            )
        return product

    def open_outbound_numbers(self, jfsku: str) -> list[str]:
        """``merchantOutboundNumber`` of the open outbounds that order this product."""
        return [
            o["merchantOutboundNumber"]
            for o in self.outbounds.live()
            if o["status"] in OPEN and any(i.get("jfsku") == jfsku for i in o["items"])
        ]
