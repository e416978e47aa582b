"""The fulfiller's authorizations of the merchant: which warehouses it may use, with which
shipping methods.

:mod:`.accounts` serves them (``fulfiller/authorizations``); :mod:`.warehouses` will not delete
a warehouse still authorized and drops a deleted shipping method from them. An authorization
also shows in the merchant's view of the warehouse, whose ``shippingMethodIds`` list the
shipping methods it may use there.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .collection import Collection
from .state import FakeState

__all__ = ["Grants"]


class Grants:
    """The merchant's authorization (one per merchant) and what it grants."""

    def __init__(self, state: FakeState) -> None:
        self.state = state
        self.authorizations = Collection(
            "merchantId", "Authorizations_AuthorizationNotFound", state.clock
        )
        self.authorizations.insert(
            {"merchantId": state.merchant_id, "warehouses": []}, external=True
        )

    def warehouses(self) -> list[dict[str, Any]]:
        """The merchant's authorized warehouses (``warehouseId``, ``shippingMethods``, …)."""
        warehouses: list[dict[str, Any]] = self.authorizations.get(self.state.merchant_id)[
            "warehouses"
        ]
        return warehouses

    def warehouse_authorized(self, warehouse_id: str) -> bool:
        return any(w["warehouseId"] == warehouse_id for w in self.warehouses())

    def authorize_warehouse(
        self, warehouse_id: str, method_ids: Iterable[str], *, external: bool = True
    ) -> None:
        """Authorize the merchant for a warehouse with these shipping methods (adds to any)."""
        now = self.state.now()
        warehouses = [dict(w) for w in self.warehouses()]
        entry = next((w for w in warehouses if w["warehouseId"] == warehouse_id), None)
        if entry is None:
            entry = {"warehouseId": warehouse_id, "createdAt": now, "shippingMethods": []}
            warehouses.append(entry)
        known = {m["shippingMethodId"] for m in entry["shippingMethods"]}
        entry["shippingMethods"] = [
            *entry["shippingMethods"],
            *({"shippingMethodId": m, "createdAt": now} for m in method_ids if m not in known),
        ]
        self.save(warehouses, external)

    def revoke_warehouse(self, warehouse_id: str) -> None:
        """Withdraw a warehouse (and its shipping methods) from the merchant."""
        self.save([w for w in self.warehouses() if w["warehouseId"] != warehouse_id], False)
        self.state.warehouses.update(warehouse_id, {"shippingMethodIds": []})

    def forget_shipping_method(self, method_id: str) -> None:
        """Drop a deleted shipping method from every authorized warehouse."""
        warehouses = [
            {
                **w,
                "shippingMethods": [
                    m for m in w["shippingMethods"] if m["shippingMethodId"] != method_id
                ],
            }
            for w in self.warehouses()
        ]
        self.save(warehouses, external=False)

    def save(self, warehouses: list[dict[str, Any]], external: bool) -> None:
        """Store the authorized warehouses and show them in the merchant's warehouse view."""
        self.authorizations.update(
            self.state.merchant_id, {"warehouses": warehouses}, external=external
        )
        for entry in warehouses:
            ids = [m["shippingMethodId"] for m in entry["shippingMethods"]]
            warehouse = self.state.warehouses.get(entry["warehouseId"])
            if warehouse["shippingMethodIds"] != ids:
                self.state.warehouses.update(
                    entry["warehouseId"], {"shippingMethodIds": ids}, external=external
                )
