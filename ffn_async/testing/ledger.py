"""The stock ledger: stock levels per product and warehouse and the journal of every change.

Three families book stock (the fulfiller's adjustments in :mod:`.stocks`, incoming goods of
:mod:`.inbounds`, returned items of :mod:`.returns`), :mod:`.products` will not delete a product
that still has stock, and :mod:`.stocks` serves what the ledger reports. Reserved and announced
quantities are not booked: they are the open quantities of outbounds and inbounds.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from .collection import Collection
from .state import FakeState

__all__ = ["StockLedger", "quantities"]

_LEVEL_FIELDS = ("stockLevel", "stockLevelReserved", "stockLevelBlocked", "stockLevelAnnounced")
_DETAILS: dict[str, list[Any]] = {
    "stockLevelDetails": [],
    "stockReservedDetails": [],
    "stockAnnouncedDetails": [],
}
_BOOKING_FIELDS = ("fulfillerStockChangeId", "note", "batch", "bestBefore", "fulfillerTimestamp")
"""Fields of a booking request (adjustment, incoming goods) the stock change keeps."""


def quantities(line: Mapping[str, Any]) -> tuple[Any, Any]:
    """A booking request's ``quantity`` and ``quantityBlocked`` (missing ones are 0)."""
    return line.get("quantity") or 0, line.get("quantityBlocked") or 0


class StockLedger:
    """Stock levels and the change journal (``stocks/updates``, ``stocks/changes``)."""

    def __init__(self, state: FakeState) -> None:
        self.state = state
        self.levels: dict[tuple[str, str], dict[str, float]] = {}
        self.changes = Collection(
            "stockChangeId",
            "Stocks_StockChangeNotFound",
            state.clock,
            key=lambda c: "{warehouseId}|{jfsku}|{stockVersion}".format(**c["stockChangeId"]),
        )

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
            **{k: stock[k] for k in _LEVEL_FIELDS},
        }
        return self.changes.insert(change, external=external)

    def book(
        self,
        line: Mapping[str, Any],
        jfsku: str,
        warehouse_id: str,
        change_type: str,
        *,
        external: bool = False,
        **link: Any,
    ) -> dict[str, Any]:
        """:meth:`change` by one line of a booking request: its :func:`quantities` and the
        booking fields it has, plus ``link`` (the inbound or return item it books)."""
        quantity, blocked = quantities(line)
        fields = {k: line[k] for k in _BOOKING_FIELDS if k in line}
        return self.change(
            jfsku, warehouse_id, quantity, blocked, change_type, external, **fields, **link
        )

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
            reserved = self._open_quantities(self.state.outbounds)
        if announced is None:
            announced = self._open_quantities(self.state.inbounds)
        return {
            "jfsku": jfsku,
            "warehouseId": warehouse_id,
            "fulfillerId": self.state.fulfiller_id,
            "merchantSku": self.state.products.get(jfsku)["merchantSku"],
            "stockLevel": level.get("stockLevel", 0),
            "stockLevelReserved": reserved[jfsku, warehouse_id],
            "stockLevelBlocked": level.get("stockLevelBlocked", 0),
            "stockLevelAnnounced": announced[jfsku, warehouse_id],
            **_DETAILS,
        }

    def stocks(self, *, complete: bool = False) -> list[dict[str, Any]]:
        """``Stock`` of every product (``complete``: products without stock too)."""
        reserved = self._open_quantities(self.state.outbounds)
        announced = self._open_quantities(self.state.inbounds)
        warehouses = [w["warehouseId"] for w in self.state.warehouses.live()]
        result = []
        for product in self.state.products.live():
            jfsku = product["jfsku"]
            per_warehouse = [
                self.in_warehouse(jfsku, w, reserved, announced)
                for w in warehouses
                if (jfsku, w) in self.levels or reserved[jfsku, w] or announced[jfsku, w]
            ]
            if not per_warehouse and not complete:
                continue
            sums = {k: sum(s[k] for s in per_warehouse) for k in _LEVEL_FIELDS}
            result.append(
                {
                    "jfsku": jfsku,
                    "merchantSku": product["merchantSku"],
                    **sums,
                    **_DETAILS,
                    "warehouses": per_warehouse,
                    "fulfiller": [
                        {
                            "fulfillerId": self.state.fulfiller_id,
                            "jfsku": jfsku,
                            "merchantSku": product["merchantSku"],
                            **sums,
                            **_DETAILS,
                        }
                    ],
                }
            )
        return result
