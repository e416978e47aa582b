"""Warehouses and shipping methods: the fulfiller creates them, merchants see them too."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from .collection import Collection
from .grants import Grants
from .http import ApiFailure, json_response, no_content, read_json, require
from .resource import Handler, patch_changes, read_routes
from .state import FakeState
from .views import SIDES, project

__all__ = ["ShippingMethods", "Warehouses"]

_READ_ONLY = frozenset({"warehouseId", "fulfillerId", "modificationInfo", "shippingMethodIds"})
_DEFAULT_ADDRESS = {
    "street": "Lagerstraße 1",
    "city": "Hückelhoven",
    "zip": "41836",
    "country": "DE",
}


def _fulfillers_routes(
    state: FakeState,
    name: str,
    schema: str,
    collection: Collection,
    key: str,
    writes: tuple[Handler, Handler, Handler],
) -> list[web.RouteDef]:
    """The routes of objects the fulfiller owns: both APIs read them at ``/v1/<side>/<name>``;
    the fulfiller's API creates, patches and deletes them (``writes``, in that order)."""
    create, patch, delete = writes
    base = f"/v1/fulfiller/{name}"
    return [
        *(
            route
            for side in SIDES
            for route in read_routes(state, side, f"/v1/{side}/{name}", schema, collection, key)
        ),
        web.post(base, create),
        web.patch(f"{base}/{{{key}}}", patch),
        web.delete(f"{base}/{{{key}}}", delete),
    ]


class Warehouses:
    """``/warehouses`` of both APIs (the merchant's view lists authorized shipping methods)."""

    def __init__(self, state: FakeState, grants: Grants) -> None:
        self.state = state
        self.grants = grants
        self.collection = state.warehouses

    def insert(self, body: Mapping[str, Any], external: bool) -> dict[str, Any]:
        require(body, "name")
        serial = self.state.new_id("", "", 5)
        warehouse = {
            "address": dict(_DEFAULT_ADDRESS),
            **{k: v for k, v in body.items() if k not in _READ_ONLY},
            "warehouseId": f"{self.state.fulfiller_id}04{serial[:2]}-{serial}-0001",
            "fulfillerId": self.state.fulfiller_id,
            "shippingMethodIds": [],
        }
        return self.collection.insert(warehouse, external=external)

    def _find(self, request: web.Request) -> dict[str, Any]:
        return self.collection.get(request.match_info["warehouseId"])

    def routes(self) -> list[web.RouteDef]:
        return _fulfillers_routes(
            self.state,
            "warehouses",
            "Warehouse",
            self.collection,
            "warehouseId",
            (self._create, self._patch, self._delete),
        )

    async def _create(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        require(body, "name", "address")
        warehouse = self.insert(body, external=False)
        return json_response(project("fulfiller", "Warehouse", warehouse), 201)

    async def _patch(self, request: web.Request) -> web.Response:
        warehouse = self._find(request)
        body = await read_json(request)
        changes = patch_changes(warehouse, body, _READ_ONLY, ("address",))
        self.collection.update(warehouse["warehouseId"], changes)
        return no_content()

    async def _delete(self, request: web.Request) -> web.Response:
        warehouse_id = self._find(request)["warehouseId"]
        if self.grants.warehouse_authorized(warehouse_id):
            raise ApiFailure(
                400,
                "Warehouses_WarehouseStillAuthorized",
                f"warehouse {warehouse_id} is still authorized to a merchant",
                {"WarehouseId": warehouse_id},
            )
        self.collection.delete(warehouse_id)
        return no_content()


class ShippingMethods:
    """``/shippingmethods``: created by the fulfiller, read by both."""

    def __init__(self, state: FakeState, grants: Grants) -> None:
        self.state = state
        self.grants = grants
        self.collection = state.shipping_methods

    def insert(self, body: Mapping[str, Any], external: bool) -> dict[str, Any]:
        require(body, "name", "shippingType")
        number = body.get("fulfillerShippingMethodNumber")
        if number and self.collection.find("fulfillerShippingMethodNumber", number):
            raise ApiFailure(
                400,
                "ShippingMethods_DuplicateShippingMethod",
                f"a shipping method with number {number!r} already exists",
                {"FulfillerShippingMethodNumber": number},
            )
        method_id = self.state.new_id(self.state.fulfiller_id, "07", 4)
        method = {
            "fulfillerShippingMethodNumber": method_id,
            **{k: v for k, v in body.items() if k not in ("shippingMethodId", "fulfillerId")},
            "shippingMethodId": method_id,
            "fulfillerId": self.state.fulfiller_id,
        }
        return self.collection.insert(method, external=external)

    def _find(self, request: web.Request) -> dict[str, Any]:
        return self.collection.get(request.match_info["shippingMethodId"])

    def routes(self) -> list[web.RouteDef]:
        return _fulfillers_routes(
            self.state,
            "shippingmethods",
            "ShippingMethod",
            self.collection,
            "shippingMethodId",
            (self._create, self._patch, self._delete),
        )

    async def _create(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        require(body, "fulfillerShippingMethodNumber")
        method = self.insert(body, external=False)
        return json_response(project("fulfiller", "ShippingMethod", method), 201)

    async def _patch(self, request: web.Request) -> web.Response:
        method = self._find(request)
        body = await read_json(request)
        changes = patch_changes(
            method, body, ("shippingMethodId", "fulfillerId", "modificationInfo")
        )
        self.collection.update(method["shippingMethodId"], changes)
        return no_content()

    async def _delete(self, request: web.Request) -> web.Response:
        method_id = self._find(request)["shippingMethodId"]
        self.grants.forget_shipping_method(method_id)
        self.collection.delete(method_id)
        return no_content()
