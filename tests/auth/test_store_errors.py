"""`except FFNError` catches a store's failure: TokenManager re-raises store errors as the
same-named `ffn_async.errors` classes, which are FFNError *and* token_stores subclasses."""

from __future__ import annotations

import time
from contextlib import asynccontextmanager
from typing import Any

import pytest

import token_stores
from ffn_async import ClientCredentials, FFNClient, Token, TokenManager, errors
from ffn_async.environment import Environment
from token_stores import MemoryTokenStore

CREDS = ClientCredentials("client", "secret")
ENV = Environment(
    name="custom",
    api_url="http://127.0.0.1:9/api",
    authorize_url="http://127.0.0.1:9/authorize",
    token_url="http://127.0.0.1:9/token",
)


class DownStore(MemoryTokenStore):
    """A store whose backing service is away."""

    async def load(self, key: str) -> Any:
        raise token_stores.StoreUnavailable("redis at 127.0.0.1:1 refused the connection")


class BusyStore(MemoryTokenStore):
    """A store whose lock somebody else holds for ever."""

    def lock(self, key: str, *, ttl: float = 30.0, timeout: float = 60.0) -> Any:
        @asynccontextmanager
        async def never() -> Any:
            raise token_stores.LockTimeout(key, timeout)
            yield

        return never()


def test_store_error_classes_are_both() -> None:
    for name in ("StoreError", "StoreUnavailable", "CorruptRecord", "LockTimeout", "StoreConflict"):
        ours = getattr(errors, name)
        assert issubclass(ours, errors.FFNError), name
        assert issubclass(ours, getattr(token_stores, name)), name


async def test_store_outage_is_an_ffn_error_with_the_cause_kept() -> None:
    auth = TokenManager(CREDS, DownStore(), key="acme", environment=ENV)
    with pytest.raises(errors.FFNError) as caught:
        await auth.access_token()
    exc = caught.value
    assert isinstance(exc, errors.StoreUnavailable)
    assert isinstance(exc, token_stores.StoreUnavailable)  # old except clauses still match
    assert isinstance(exc.__cause__, token_stores.StoreUnavailable)
    assert "refused the connection" in str(exc)
    with pytest.raises(errors.StoreUnavailable):
        await auth.stored()
    with pytest.raises(errors.StoreUnavailable):
        await auth.store_token(Token("a", "r", time.time() + 60))


async def test_corrupt_record_through_the_client_is_an_ffn_error() -> None:
    store = MemoryTokenStore()
    await store.save("acme", b"not json at all", None)
    auth = TokenManager(CREDS, store, key="acme", environment=ENV)
    async with FFNClient(auth) as ffn:
        with pytest.raises(errors.FFNError) as caught:
            await ffn.request("GET", "/v1/users/current")
    assert isinstance(caught.value, errors.CorruptRecord)
    assert "version 1" in str(caught.value)


async def test_lock_timeout_keeps_its_attributes() -> None:
    store = BusyStore()
    auth = TokenManager(CREDS, store, key="acme", environment=ENV)
    with pytest.raises(errors.LockTimeout) as caught:
        await auth.store_token(Token("a", "r", time.time() + 60))
    assert isinstance(caught.value, errors.FFNError)
    assert (caught.value.key, caught.value.timeout) == ("acme", 60.0)
