"""Accounts and what they grant each other: the current user, the merchant's fulfillers, the
fulfiller's merchants and warehouse/shipping-method authorizations, Amazon SFP credentials."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .collection import Collection
from .http import ApiFailure, json_response, no_content, read_json, require
from .resource import feed_handler, get_handler, list_handler
from .views import project

if TYPE_CHECKING:
    from .api import FakeAPI

__all__ = ["Accounts"]

_ADDRESS = {"street": "Musterweg 2", "city": "Aachen", "zip": "52062", "country": "DE"}


class Accounts:
    """The two accounts, the fulfiller's authorizations of the merchant, and credentials."""

    def __init__(self, api: FakeAPI) -> None:
        self.api = api
        clock = api.clock
        self.fulfillers = Collection("userId", "Users_UserNotFound", clock)
        self.merchants = Collection("userId", "Users_UserNotFound", clock)
        self.authorizations = Collection(
            "merchantId", "Authorizations_AuthorizationNotFound", clock
        )
        self.credentials = Collection("credentialId", "Credentials_CredentialNotFound", clock)
        account = {"address": dict(_ADDRESS), "isActive": True}
        self.fulfillers.insert({"userId": api.fulfiller_id, **account}, external=True)
        self.merchants.insert({"userId": api.merchant_id, **account}, external=True)
        self.authorizations.insert({"merchantId": api.merchant_id, "warehouses": []}, external=True)

    # ------------------------------------------------------------------ authorizations

    def _authorization(self) -> dict[str, Any]:
        return self.authorizations.get(self.api.merchant_id)

    def authorize_warehouse(
        self, warehouse_id: str, method_ids: Iterable[str], *, external: bool = True
    ) -> None:
        """Authorize the merchant for a warehouse with these shipping methods (adds to any)."""
        now = self.api.now()
        warehouses = [dict(w) for w in self._authorization()["warehouses"]]
        entry = next((w for w in warehouses if w["warehouseId"] == warehouse_id), None)
        if entry is None:
            entry = {"warehouseId": warehouse_id, "createdAt": now, "shippingMethods": []}
            warehouses.append(entry)
        known = {m["shippingMethodId"] for m in entry["shippingMethods"]}
        entry["shippingMethods"] = [
            *entry["shippingMethods"],
            *({"shippingMethodId": m, "createdAt": now} for m in method_ids if m not in known),
        ]
        self._save(warehouses, external)

    def _save(self, warehouses: list[dict[str, Any]], external: bool) -> None:
        self.authorizations.update(
            self.api.merchant_id, {"warehouses": warehouses}, external=external
        )
        # The merchant's warehouse view lists the shipping methods it may use there.
        for entry in warehouses:
            ids = [m["shippingMethodId"] for m in entry["shippingMethods"]]
            warehouse = self.api.warehouses.collection.get(entry["warehouseId"])
            if warehouse["shippingMethodIds"] != ids:
                self.api.warehouses.collection.update(
                    entry["warehouseId"], {"shippingMethodIds": ids}, external=external
                )

    def warehouse_authorized(self, warehouse_id: str) -> bool:
        return any(w["warehouseId"] == warehouse_id for w in self._authorization()["warehouses"])

    def forget_shipping_method(self, method_id: str) -> None:
        """Drop a deleted shipping method from every authorization."""
        warehouses = [
            {
                **w,
                "shippingMethods": [
                    m for m in w["shippingMethods"] if m["shippingMethodId"] != method_id
                ],
            }
            for w in self._authorization()["warehouses"]
        ]
        self._save(warehouses, external=False)

    # ------------------------------------------------------------------ routes

    def routes(self) -> list[web.RouteDef]:
        chunk = lambda: self.api.chunk_size  # noqa: E731
        merchant, fulfiller = "/v1/merchant", "/v1/fulfiller"
        auth = f"{fulfiller}/authorizations/{{merchantId}}"
        sfp = f"{merchant}/credentials/amazonSfp"
        return [
            web.get("/v1/users/current", self.current_user),
            web.get(
                f"{merchant}/fulfillers", list_handler("merchant", "Fulfiller", self.fulfillers)
            ),
            web.get(
                f"{merchant}/fulfillers/updates",
                feed_handler("merchant", "Fulfiller", self.fulfillers, chunk),
            ),
            web.get(
                f"{merchant}/fulfillers/{{fulfillerId}}",
                get_handler("merchant", "Fulfiller", self._fulfiller),
            ),
            web.get(
                f"{fulfiller}/merchants", list_handler("fulfiller", "Merchant", self.merchants)
            ),
            web.get(
                f"{fulfiller}/merchants/updates",
                feed_handler("fulfiller", "Merchant", self.merchants, chunk),
            ),
            web.get(
                f"{fulfiller}/merchants/{{merchantId}}",
                get_handler("fulfiller", "Merchant", self._merchant),
            ),
            web.get(
                f"{fulfiller}/authorizations",
                list_handler("fulfiller", "Authorization", self.authorizations),
            ),
            web.get(
                f"{fulfiller}/authorizations/updates",
                feed_handler("fulfiller", "Authorization", self.authorizations, chunk),
            ),
            web.get(auth, get_handler("fulfiller", "Authorization", self._authorization_of)),
            web.post(f"{auth}/warehouses", self._post_warehouse),
            web.delete(f"{auth}/warehouses/{{warehouseId}}", self._delete_warehouse),
            web.post(f"{auth}/warehouses/{{warehouseId}}/shippingMethods", self._post_method),
            web.delete(
                f"{auth}/warehouses/{{warehouseId}}/shippingMethods/{{shippingMethodId}}",
                self._delete_method,
            ),
            web.post(sfp, self._post_credential),
            web.get(sfp, self._list_credentials),
            web.get(f"{sfp}/{{credentialId}}", self._get_credential),
            web.delete(f"{sfp}/{{credentialId}}", self._delete_credential),
        ]

    async def current_user(self, request: web.Request) -> web.Response:
        """``GET /v1/users/current`` (the Shared API: no spec, shape from integrations)."""
        if not self.api.user_registered:
            raise ApiFailure(
                404,
                "Shared_UserNotFound",
                "the user has never logged into the FFN portal of this environment",
            )
        return json_response({"userId": self.api.merchant_id, "role": "Merchant"})

    def _fulfiller(self, request: web.Request) -> dict[str, Any]:
        return self.fulfillers.get(request.match_info["fulfillerId"])

    def _merchant(self, request: web.Request) -> dict[str, Any]:
        return self.merchants.get(request.match_info["merchantId"])

    def _authorization_of(self, request: web.Request) -> dict[str, Any]:
        merchant_id = request.match_info["merchantId"]
        try:
            return self.authorizations.get(merchant_id)
        except ApiFailure:
            raise ApiFailure(
                404,
                "Authorizations_AuthorizationNotFound",
                f"no authorization for merchant {merchant_id!r}",
                {"MerchantId": merchant_id, "FulfillerId": self.api.fulfiller_id},
            ) from None

    def _entry(self, request: web.Request) -> dict[str, Any]:
        warehouse_id = request.match_info["warehouseId"]
        for entry in self._authorization_of(request)["warehouses"]:
            if entry["warehouseId"] == warehouse_id:
                return dict(entry)
        raise ApiFailure(
            404,
            "Authorizations_AuthorizationNotFound",
            f"warehouse {warehouse_id} is not authorized to the merchant",
            {"MerchantId": request.match_info["merchantId"], "WarehouseId": warehouse_id},
        )

    async def _post_warehouse(self, request: web.Request) -> web.Response:
        authorization = self._authorization_of(request)
        body = await read_json(request)
        require(body, "warehouseId", "shippingMethods")
        self.api.warehouses.known(body["warehouseId"])
        if self.warehouse_authorized(body["warehouseId"]):
            raise ApiFailure(
                400,
                "Warehouses_WarehouseAlreadyAuthorized",
                f"warehouse {body['warehouseId']} is already authorized to the merchant",
                {"WarehouseId": body["warehouseId"], "MerchantId": self.api.merchant_id},
            )
        methods = [str(m.get("shippingMethodId")) for m in body["shippingMethods"]]
        for method_id in methods:
            self.api.shipping_methods.known(method_id)
        self.authorize_warehouse(body["warehouseId"], methods, external=False)
        return json_response(project("fulfiller", "Authorization", authorization), 201)

    async def _delete_warehouse(self, request: web.Request) -> web.Response:
        entry = self._entry(request)
        warehouses = [
            w
            for w in self._authorization()["warehouses"]
            if w["warehouseId"] != entry["warehouseId"]
        ]
        self._save(warehouses, external=False)
        self.api.warehouses.collection.update(
            entry["warehouseId"], {"shippingMethodIds": []}, external=False
        )
        return no_content()

    async def _post_method(self, request: web.Request) -> web.Response:
        entry = self._entry(request)
        body = await read_json(request)
        require(body, "shippingMethodId")
        self.api.shipping_methods.known(body["shippingMethodId"])
        if any(m["shippingMethodId"] == body["shippingMethodId"] for m in entry["shippingMethods"]):
            raise ApiFailure(
                400,
                "Authorizations_ShippingMethodAuthorizationExists",
                f"shipping method {body['shippingMethodId']} is already authorized here",
                {"ShippingMethodId": body["shippingMethodId"], "WarehouseId": entry["warehouseId"]},
            )
        self.authorize_warehouse(entry["warehouseId"], [body["shippingMethodId"]], external=False)
        return json_response(project("fulfiller", "Authorization", self._authorization()), 201)

    async def _delete_method(self, request: web.Request) -> web.Response:
        entry = self._entry(request)
        method_id = request.match_info["shippingMethodId"]
        methods = [m for m in entry["shippingMethods"] if m["shippingMethodId"] != method_id]
        if len(methods) == len(entry["shippingMethods"]):
            raise ApiFailure(
                404,
                "ShippingMethods_ShippingMethodNotFound",
                f"shipping method {method_id} is not authorized for this warehouse",
                {"ShippingMethodId": method_id},
            )
        warehouses = [
            {**w, "shippingMethods": methods} if w["warehouseId"] == entry["warehouseId"] else w
            for w in self._authorization()["warehouses"]
        ]
        self._save(warehouses, external=False)
        return no_content()

    # ------------------------------------------------------------------ Amazon SFP credentials

    async def _post_credential(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        require(body, "sellerId", "mwsAuthToken", "platform")
        for existing in self.credentials.live():
            if (existing["sellerId"], existing["platform"]) == (body["sellerId"], body["platform"]):
                raise ApiFailure(
                    400,
                    "Credentials_DuplicateCredential",
                    f"credentials for seller {body['sellerId']!r} on {body['platform']} exist",
                    {"CredentialId": existing["credentialId"]},
                )
        credential = {
            "credentialId": self.api.new_id(self.api.merchant_id, "09", 4),
            "sellerId": body["sellerId"],
            "platform": body["platform"],
            "mwsAuthToken": body["mwsAuthToken"],  # kept, never answered
        }
        self.credentials.insert(credential)
        return json_response(project("merchant", "AmazonSfpCredential", credential), 201)

    async def _list_credentials(self, request: web.Request) -> web.Response:
        # A bare array, as the spec documents for this list.
        return json_response(project("merchant", "AmazonSfpCredential", self.credentials.live()))

    def _credential(self, request: web.Request) -> dict[str, Any]:
        credential_id = request.match_info["credentialId"]
        try:
            return self.credentials.get(credential_id)
        except ApiFailure as exc:
            raise ApiFailure(404, exc.code, exc.message, {"CredentialId": credential_id}) from None

    async def _get_credential(self, request: web.Request) -> web.Response:
        return json_response(project("merchant", "AmazonSfpCredential", self._credential(request)))

    async def _delete_credential(self, request: web.Request) -> web.Response:
        self.credentials.delete(self._credential(request)["credentialId"])
        return no_content()
