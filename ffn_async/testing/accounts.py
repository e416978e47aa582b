"""Accounts and what they grant each other: the current user, the merchant's fulfillers, the
fulfiller's merchants and warehouse/shipping-method authorizations, Amazon SFP credentials."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .collection import Collection
from .grants import Grants
from .http import ApiFailure, json_response, no_content, read_json, require
from .resource import read_routes
from .state import FakeState
from .views import project

__all__ = ["Accounts"]

_ADDRESS = {"street": "Musterweg 2", "city": "Aachen", "zip": "52062", "country": "DE"}


class Accounts:
    """The two accounts, the fulfiller's authorizations of the merchant, and credentials."""

    def __init__(self, state: FakeState, grants: Grants) -> None:
        self.state = state
        self.grants = grants
        self.fulfillers = state.fulfillers
        self.merchants = Collection("userId", "Users_UserNotFound", state.clock)
        self.authorizations = grants.authorizations
        self.credentials = Collection("credentialId", "Credentials_CredentialNotFound", state.clock)
        account = {"address": dict(_ADDRESS), "isActive": True}
        self.fulfillers.insert({"userId": state.fulfiller_id, **account}, external=True)
        self.merchants.insert({"userId": state.merchant_id, **account}, external=True)

    # ------------------------------------------------------------------ routes

    def routes(self) -> list[web.RouteDef]:
        merchant, fulfiller = "/v1/merchant", "/v1/fulfiller"
        auth = f"{fulfiller}/authorizations/{{merchantId}}"
        sfp = f"{merchant}/credentials/amazonSfp"
        return [
            web.get("/v1/users/current", self.current_user),
            *read_routes(
                self.state,
                "merchant",
                f"{merchant}/fulfillers",
                "Fulfiller",
                self.fulfillers,
                "fulfillerId",
            ),
            *read_routes(
                self.state,
                "fulfiller",
                f"{fulfiller}/merchants",
                "Merchant",
                self.merchants,
                "merchantId",
            ),
            *read_routes(
                self.state,
                "fulfiller",
                f"{fulfiller}/authorizations",
                "Authorization",
                self.authorizations,
                "merchantId",
                self._authorization_of,
            ),
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
        if not self.state.user_registered:
            raise ApiFailure(
                404,
                "Shared_UserNotFound",
                "the user has never logged into the FFN portal of this environment",
            )
        return json_response({"userId": self.state.merchant_id, "role": "Merchant"})

    def _authorization_of(self, request: web.Request) -> dict[str, Any]:
        merchant_id = request.match_info["merchantId"]
        try:
            return self.authorizations.get(merchant_id)
        except ApiFailure:
            raise ApiFailure(
                404,
                "Authorizations_AuthorizationNotFound",
                f"no authorization for merchant {merchant_id!r}",
                {"MerchantId": merchant_id, "FulfillerId": self.state.fulfiller_id},
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
        self.state.warehouses.known(body["warehouseId"])
        if self.grants.warehouse_authorized(body["warehouseId"]):
            raise ApiFailure(
                400,
                "Warehouses_WarehouseAlreadyAuthorized",
                f"warehouse {body['warehouseId']} is already authorized to the merchant",
                {"WarehouseId": body["warehouseId"], "MerchantId": self.state.merchant_id},
            )
        methods = [str(m.get("shippingMethodId")) for m in body["shippingMethods"]]
        for method_id in methods:
            self.state.shipping_methods.known(method_id)
        self.grants.authorize_warehouse(body["warehouseId"], methods, external=False)
        return json_response(project("fulfiller", "Authorization", authorization), 201)

    async def _delete_warehouse(self, request: web.Request) -> web.Response:
        entry = self._entry(request)
        self.grants.revoke_warehouse(entry["warehouseId"])
        return no_content()

    async def _post_method(self, request: web.Request) -> web.Response:
        entry = self._entry(request)
        body = await read_json(request)
        require(body, "shippingMethodId")
        self.state.shipping_methods.known(body["shippingMethodId"])
        if any(m["shippingMethodId"] == body["shippingMethodId"] for m in entry["shippingMethods"]):
            raise ApiFailure(
                400,
                "Authorizations_ShippingMethodAuthorizationExists",
                f"shipping method {body['shippingMethodId']} is already authorized here",
                {"ShippingMethodId": body["shippingMethodId"], "WarehouseId": entry["warehouseId"]},
            )
        self.grants.authorize_warehouse(
            entry["warehouseId"], [body["shippingMethodId"]], external=False
        )
        return json_response(
            project("fulfiller", "Authorization", self._authorization_of(request)), 201
        )

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
            for w in self.grants.warehouses()
        ]
        self.grants.save(warehouses, external=False)
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
            "credentialId": self.state.new_id(self.state.merchant_id, "09", 4),
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
