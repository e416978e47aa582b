"""Fixtures of the order-sync tests: a merchant client on the fake server."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest

from ffn_async import FFNClient, StaticToken
from ffn_async.retry import RetryPolicy
from ffn_async.testing import FakeFFN
from ffn_async.testing.pytest_plugin import RunningFake

SCOPES = ("ffn.merchant.read", "ffn.merchant.write")
#: Quick retries: the tests are about what is sent, not about waiting.
FAST = RetryPolicy(max_attempts=6, base_delay=0.0, max_delay=0.0, jitter=lambda ceiling: 0.0)


@pytest.fixture
async def ffn(ffn_fake: RunningFake) -> AsyncIterator[FFNClient]:
    token = ffn_fake.server.token(SCOPES)
    async with FFNClient(
        StaticToken(token.access_token, scopes=SCOPES),
        environment=ffn_fake.environment,
        retry=FAST,
    ) as client:
        yield client


def server(ffn_fake: RunningFake) -> FakeFFN:
    return ffn_fake.server


def add_products(ffn_fake: RunningFake, n: int, *, ago: float = 10.0) -> list[str]:
    """Add ``n`` products, stamped ``ago`` seconds in the past; return their jfskus.

    Windows end a few seconds before now (FFN rejects a later end), so changes are back-dated
    instead of waited for.
    """
    clock = ffn_fake.server.clock
    clock.advance(-ago)
    try:
        return [
            ffn_fake.server.api.add_product(f"S-{secrets.token_hex(4)}", "Part")["jfsku"]
            for _ in range(n)
        ]
    finally:
        clock.advance(ago)
