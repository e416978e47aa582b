"""Fixtures of the order-sync tests: a merchant client on the fake server."""

from __future__ import annotations

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
