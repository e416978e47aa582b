"""A raw HTTP caller for the fake's own tests: plain aiohttp with a bearer token, so the fake
is tested on its own rather than through the client it serves."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from yarl import URL

from ffn_async.testing.pytest_plugin import RunningFake

ADDRESS = {"street": "Hauptstr. 1", "city": "Köln", "zip": "50667", "country": "DE"}
PICTURE = b"\x89PNG\r\n\x1a\nfake picture"
INVOICE = b"%PDF-1.4 fake invoice"


# Request bodies of the scenarios that call every operation (here over raw HTTP, in
# tests/api/test_every_operation_live.py through the client); ``{name}`` is filled from the seed.
def outbound_body(number: str) -> dict[str, Any]:
    """A merchant outbound of two ``{jfsku}`` from ``{warehouse}``."""
    return {
        "merchantOutboundNumber": number,
        "warehouseId": "{warehouse}",
        "currency": "EUR",
        "shippingAddress": ADDRESS,
        "items": [{"outboundItemId": "1", "jfsku": "{jfsku}", "quantity": 2, "name": "Widget"}],
    }


def merchant_return_body() -> dict[str, Any]:
    """A merchant return of three ``{jfsku}`` to ``{warehouse}``."""
    return {
        "merchantReturnNumber": "RET-1",
        "warehouseId": "{warehouse}",
        "customerAddress": ADDRESS,
        "items": [{"jfsku": "{jfsku}", "quantity": 3, "reason": "DefectiveDoesNotWorkPerfectly"}],
    }


def shipping_label_body() -> dict[str, Any]:
    """An Amazon SFP shipping label request for an outbound."""
    return {
        "amazonSfpShippingLabelData": {
            "carrierWillPickUp": False,
            "deliveryExperience": "NoTracking",
            "dimensions": {"length": 30, "width": 20, "height": 10},
            "insurance": False,
            "useWarehouseAddressForSenderAddress": True,
            "weight": 1.5,
        }
    }


def fulfiller_return_body() -> dict[str, Any]:
    """A fulfiller return of three ``{jfsku}`` of ``{merchant}`` to ``{warehouse}``."""
    return {
        "fulfillerReturnNumber": "FRET-1",
        "merchantId": "{merchant}",
        "warehouseId": "{warehouse}",
        "customerAddress": ADDRESS,
        "items": [{"jfsku": "{jfsku}", "quantity": 3}],
    }


class Caller:
    """Plain aiohttp with a bearer token: the fake is tested on its own, not through the client."""

    def __init__(self, fake: RunningFake, session: aiohttp.ClientSession) -> None:
        self.fake = fake
        self.session = session
        self.token = str(fake.server.issue_token()["access_token"])

    async def __call__(
        self, method: str, path: str, query: dict[str, str] | None = None, body: Any = None
    ) -> tuple[int, str, bytes]:
        url = URL(str(self.fake.environment.api_url) + path, encoded=True)
        if query:
            url = url.update_query(query)
        async with self.session.request(
            method, url, json=body, headers={"Authorization": f"Bearer {self.token}"}
        ) as resp:
            return resp.status, resp.content_type, await resp.read()

    async def json(
        self, method: str, path: str, query: dict[str, str] | None = None, body: Any = None
    ) -> tuple[int, Any]:
        """The status and the decoded JSON body (``None`` when there is none)."""
        status, _, raw = await self(method, path, query, body)
        return status, json.loads(raw) if raw else None


@pytest.fixture
async def call(ffn_fake: RunningFake) -> AsyncIterator[Caller]:
    async with aiohttp.ClientSession() as session:
        yield Caller(ffn_fake, session)


def seed(fake: RunningFake) -> dict[str, str]:
    """A product with stock in the default warehouse; the ids the plan starts from."""
    api = fake.server.api
    product = api.add_product("SKU-1", "Widget")
    api.adjust_stock(product["jfsku"], 20)
    return {
        "jfsku": product["jfsku"],
        "warehouse": api.default_warehouse_id,
        "warehouseId": api.default_warehouse_id,
        "merchant": api.merchant_id,
        "fulfillerId": api.fulfiller_id,
        "shippingMethodId": api.default_shipping_method_id,
        "number": "1",
        "merchantDocumentId": "Rechnung RE-1",
    }
