"""Fixtures for the API namespace tests: a client on a test origin and mocked HTTP, or a client
of the fake server (``ffn_fake``) over a real socket."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from ffn_async import Environment, FFNClient, StaticToken
from ffn_async.retry import NO_RETRY
from ffn_async.testing.pytest_plugin import RunningFake
from tests.http_mock import aioresponses

ALL_SCOPES = (
    "ffn.fulfiller.read",
    "ffn.fulfiller.write",
    "ffn.merchant.read",
    "ffn.merchant.write",
)
API = "https://api.ffn.test/api"
ENV = Environment(
    api_url=API,
    authorize_url="https://auth.ffn.test/authorize",
    token_url="https://auth.ffn.test/token",
    name="test",
)


@pytest.fixture
async def ffn() -> AsyncIterator[FFNClient]:
    async with FFNClient(
        StaticToken("test-access-token", scopes=ALL_SCOPES), environment=ENV, retry=NO_RETRY
    ) as client:
        yield client


@pytest.fixture
def http() -> Iterator[aioresponses]:
    with aioresponses() as mock:
        yield mock


@pytest.fixture
async def live_ffn(ffn_fake: RunningFake) -> AsyncIterator[FFNClient]:
    """A client of the running fake server, logged in with every scope."""
    token = ffn_fake.server.token()
    auth = StaticToken(token.access_token, scopes=token.scopes)
    async with FFNClient(auth, environment=ffn_fake.environment, retry=NO_RETRY) as client:
        yield client
