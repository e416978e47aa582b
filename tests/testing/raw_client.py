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
