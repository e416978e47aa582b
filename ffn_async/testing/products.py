"""Products: the merchant's catalogue (both APIs read it), pictures with their binary data,
which fulfillers may see a product, and condition variants (related products)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from aiohttp import web

from .files import decode_base64, mime_type
from .http import ApiFailure, invalid, json_response, no_content, read_json, require
from .ledger import StockLedger
from .resource import Handler, patch_changes, read_routes
from .state import FakeState
from .views import SIDES, Side, project

__all__ = ["Products"]

_READ_ONLY = frozenset(
    {
        "jfsku",
        "merchantId",
        "modificationInfo",
        "pictures",
        "relatedProducts",
        "openInbounds",
        "openOutbounds",
    }
)
_DEFAULT_SPECIFICATIONS = {
    "isBatch": False,
    "isDivisible": False,
    "isBestBefore": False,
    "isSerialNumber": False,
    "isBillOfMaterials": False,
    "isPackaging": False,
    "billOfMaterialsComponents": [],
}


class Products:
    """``/products`` of both APIs; pictures, product authorizations, condition variants."""

    def __init__(self, state: FakeState, ledger: StockLedger) -> None:
        self.state = state
        self.ledger = ledger
        self.collection = state.products
        self.picture_data: dict[tuple[str, int], str] = {}  # (jfsku, number) -> base64
        self.authorized: dict[str, dict[str, dict[str, Any]]] = {}  # jfsku -> fulfiller -> info

    # ------------------------------------------------------------------ state

    def insert(self, body: Mapping[str, Any], external: bool) -> dict[str, Any]:
        require(body, "name", "merchantSku")
        self._check_unique_sku(body["merchantSku"], "Products_DuplicateProduct")
        product = {
            "attributes": [],
            "bundles": [],
            "identifier": {},
            **{k: v for k, v in body.items() if k not in _READ_ONLY},
            # The server fills what the spec marks required, as the real one answers.
            "specifications": {**_DEFAULT_SPECIFICATIONS, **(body.get("specifications") or {})},
            "pictures": [],
            "relatedProducts": [],
            # Required by both specs but never defined there: sent empty.
            "openInbounds": [],
            "openOutbounds": [],
            "jfsku": self.state.new_id(self.state.merchant_id, "01", 5),
            "merchantId": self.state.merchant_id,
        }
        return self.collection.insert(product, external=external)

    def _check_unique_sku(self, sku: str, code: str, allowed: str | None = None) -> None:
        existing = self.collection.find("merchantSku", sku)
        if existing is not None and existing["jfsku"] != allowed:
            raise ApiFailure(
                400,
                code,
                f"a product with merchantSku {sku!r} already exists",
                {"MerchantSku": sku, "Jfsku": existing["jfsku"]},
            )

    def _find(self, request: web.Request) -> dict[str, Any]:
        return self.collection.get(request.match_info["jfsku"])

    def _link(self, base: dict[str, Any], variant: dict[str, Any], external: bool) -> None:
        """Relate a condition variant and its base product both ways."""
        condition = variant.get("condition")
        if condition in (None, "Unknown"):
            raise ApiFailure(
                400,
                "Products_ConditionOfRelatedProductCanNotBeUnknown",
                "a related product needs a condition",
                {"Jfsku": variant["jfsku"]},
            )
        for related in base["relatedProducts"]:
            if related.get("condition") == condition and related.get("jfsku") != variant["jfsku"]:
                raise ApiFailure(
                    400,
                    "Products_ConditionMustBeUniqueInRelatedProductsList",
                    f"{base['jfsku']} already has a related product in condition {condition}",
                    {
                        "JfskuWithSameCondition": related.get("jfsku"),
                        "Condition": condition,
                        "Jfsku": base["jfsku"],
                    },
                )
        for one, other in ((base, variant), (variant, base)):
            links = [r for r in one["relatedProducts"] if r.get("jfsku") != other["jfsku"]]
            links.append(
                {
                    "jfsku": other["jfsku"],
                    "condition": other.get("condition") or "Default",
                    "kindOfRelation": "Condition",
                }
            )
            self.collection.update(one["jfsku"], {"relatedProducts": links}, external=external)

    # ------------------------------------------------------------------ routes

    def routes(self) -> list[web.RouteDef]:
        routes = []
        for side in SIDES:
            base = f"/v1/{side}/products"
            pictures = f"{base}/{{jfsku}}/pictures/{{number}}"
            routes += [
                *read_routes(self.state, side, base, "Product", self.collection, "jfsku"),
                web.get(pictures, self._get_picture(side)),
                web.get(f"{pictures}/data", self._get_picture_data),
                web.post(f"{base}/{{jfsku}}/related-products/condition", self._post_related(side)),
            ]
        base = "/v1/merchant/products"
        return [
            web.post(f"{base}/authorizations", self._authorize_all),
            *routes,
            web.post(base, self._create),
            web.patch(f"{base}/{{jfsku}}", self._patch),
            web.delete(f"{base}/{{jfsku}}", self._delete),
            web.post(f"{base}/{{jfsku}}/authorizations", self._post_authorization),
            web.get(f"{base}/{{jfsku}}/authorizations", self._list_authorizations),
            web.delete(
                f"{base}/{{jfsku}}/authorizations/{{fulfillerId}}", self._delete_authorization
            ),
            web.post(f"{base}/{{jfsku}}/pictures", self._post_picture),
            web.delete(f"{base}/{{jfsku}}/pictures/{{number}}", self._delete_picture),
        ]

    # ------------------------------------------------------------------ products

    async def _create(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        require(body, "name", "merchantSku")
        related = request.query.get("relatedJfsku")
        base = self.collection.known(related) if related else None
        product = self.insert(body, external=False)
        if base is not None:
            self._link(base, product, external=False)
        return json_response(project("merchant", "Product", product), 201)

    async def _patch(self, request: web.Request) -> web.Response:
        product = self._find(request)
        body = await read_json(request)
        if "merchantSku" in body:
            self._check_unique_sku(body["merchantSku"], "Shared_DuplicateKey", product["jfsku"])
        changes = patch_changes(product, body, _READ_ONLY, ("specifications",))
        self.collection.update(product["jfsku"], changes)
        return no_content()

    async def _delete(self, request: web.Request) -> web.Response:
        jfsku = self._find(request)["jfsku"]
        if self.ledger.total(jfsku):
            raise ApiFailure(
                400,
                "Stocks_QuantityNotZero",
                f"product {jfsku} still has stock",
                {"Jfsku": jfsku, "FulfillerStockChangeId": None, "WarehouseId": None},
            )
        numbers = self.state.open_outbound_numbers(jfsku)
        if numbers:
            raise ApiFailure(
                400,
                "Products_OpenOutboundsForProduct",
                f"product {jfsku} is part of open outbounds",
                {"MerchantOutboundNumbers": numbers, "Jfsku": jfsku},
            )
        self.collection.delete(jfsku)
        return no_content()

    def _post_related(self, side: Side) -> Handler:
        async def handler(request: web.Request) -> web.Response:
            base = self._find(request)
            body = await read_json(request)
            if body.get("jfsku"):
                variant = self.collection.known(body["jfsku"])
            else:
                count = sum(1 for r in base["relatedProducts"] if r.get("kindOfRelation"))
                fields = {k: v for k, v in base.items() if k not in _READ_ONLY}
                fields.update(merchantSku=f"{base['merchantSku']}-C{count + 1}", condition="Used")
                taken = {r.get("condition") for r in base["relatedProducts"]}
                fields["condition"] = body.get("condition") or next(
                    c for c in ("Used", "Refurbished", "Damaged", "Default") if c not in taken
                )
                variant = self.insert(fields, external=False)
            self._link(base, variant, external=False)
            return json_response(project(side, "Product", variant), 201)

        return handler

    # ------------------------------------------------------------------ authorizations

    def _authorize(self, jfsku: str, fulfiller_id: str) -> dict[str, Any]:
        self.state.fulfillers.get(fulfiller_id)
        now = self.state.now()
        entry = {
            "fulfillerId": fulfiller_id,
            "modificationInfo": {"createdAt": now, "state": "New"},
        }
        self.authorized.setdefault(jfsku, {})[fulfiller_id] = entry
        return entry

    async def _fulfiller_id(self, request: web.Request) -> str:
        body = await read_json(request)
        require(body, "fulfillerId")
        fulfiller_id = str(body["fulfillerId"])
        try:
            self.state.fulfillers.get(fulfiller_id)
        except ApiFailure:
            raise ApiFailure(
                400,
                "Users_UserNotFound",
                f"no fulfiller {fulfiller_id!r}",
                {"UserId": fulfiller_id},
            ) from None
        return fulfiller_id

    async def _post_authorization(self, request: web.Request) -> web.Response:
        jfsku = self._find(request)["jfsku"]
        fulfiller_id = await self._fulfiller_id(request)
        if fulfiller_id in self.authorized.get(jfsku, {}):
            raise ApiFailure(
                400,
                "Products_ProductAlreadyAuthorized",
                f"{fulfiller_id} may already see {jfsku}",
                {"FulfillerId": fulfiller_id, "Jfsku": jfsku},
            )
        entry = self._authorize(jfsku, fulfiller_id)
        return json_response(project("merchant", "FulfillerAuthorization", entry), 201)

    async def _authorize_all(self, request: web.Request) -> web.Response:
        fulfiller_id = await self._fulfiller_id(request)
        for product in self.collection.live():
            if fulfiller_id not in self.authorized.get(product["jfsku"], {}):
                self._authorize(product["jfsku"], fulfiller_id)
        return web.Response(status=201)  # the spec documents 201 without a body

    async def _list_authorizations(self, request: web.Request) -> web.Response:
        entries = list(self.authorized.get(self._find(request)["jfsku"], {}).values())
        return json_response(project("merchant", "FulfillerAuthorization", entries))

    async def _delete_authorization(self, request: web.Request) -> web.Response:
        jfsku = self._find(request)["jfsku"]
        fulfiller_id = request.match_info["fulfillerId"]
        if self.authorized.get(jfsku, {}).pop(fulfiller_id, None) is None:
            raise ApiFailure(
                404,
                "Authorizations_AuthorizationNotFound",
                f"{fulfiller_id} is not authorized for {jfsku}",
                {"MerchantId": self.state.merchant_id, "FulfillerId": fulfiller_id},
            )
        return no_content()

    # ------------------------------------------------------------------ pictures

    def _picture(self, request: web.Request) -> tuple[dict[str, Any], dict[str, Any]]:
        product = self._find(request)
        raw = request.match_info["number"]
        picture = next((p for p in product["pictures"] if str(p["number"]) == raw), None)
        if picture is None:
            raise ApiFailure(
                404,
                "Products_PictureNotFound",
                f"product {product['jfsku']} has no picture {raw}",
                {"Number": raw, "Jfsku": product["jfsku"]},
            )
        return product, picture

    async def _post_picture(self, request: web.Request) -> web.Response:
        product = self._find(request)
        jfsku = product["jfsku"]
        body = await read_json(request)
        data = decode_base64(body.get("data"), "data")
        numbers = {p["number"] for p in product["pictures"]}
        number = body.get("number")
        if number is None:
            number = max(numbers, default=0) + 1
        if not isinstance(number, int) or number < 1:
            raise invalid("number must be a positive integer", "number")
        if number in numbers:
            raise ApiFailure(
                400,
                "Products_PictureWithNumberAlreadyExists",
                f"product {jfsku} already has a picture {number}",
                {"Number": number, "Jfsku": jfsku},
            )
        url = f"{request.url.origin()}/api/v1/merchant/products/{quote(jfsku)}/pictures/{number}"
        picture = {
            "number": number,
            "mimeType": mime_type(data),
            "size": len(data),
            "hash": hashlib.sha256(data).hexdigest(),
            "url": url,
            "publicUrl": f"{url}/data",
        }
        self.picture_data[jfsku, number] = base64.b64encode(data).decode("ascii")
        pictures = sorted([*product["pictures"], picture], key=lambda p: p["number"])
        self.collection.update(jfsku, {"pictures": pictures})
        return json_response(project("merchant", "Picture", picture), 201)

    def _get_picture(self, side: Side) -> Handler:
        async def handler(request: web.Request) -> web.Response:
            product, picture = self._picture(request)
            data = {**picture, "data": self.picture_data[product["jfsku"], picture["number"]]}
            return json_response(project(side, "PictureData", data))

        return handler

    async def _get_picture_data(self, request: web.Request) -> web.Response:
        product, picture = self._picture(request)
        data = base64.b64decode(self.picture_data[product["jfsku"], picture["number"]])
        return web.Response(body=data, content_type="application/octet-stream")

    async def _delete_picture(self, request: web.Request) -> web.Response:
        product, picture = self._picture(request)
        pictures = [p for p in product["pictures"] if p["number"] != picture["number"]]
        self.picture_data.pop((product["jfsku"], picture["number"]), None)
        self.collection.update(product["jfsku"], {"pictures": pictures})
        return no_content()
