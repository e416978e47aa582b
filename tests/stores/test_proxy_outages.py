"""Redis, PostgreSQL and MariaDB behind the fault proxy: the network breaks, the server lives.

For each store and each fault (connections dropped, the answer to a request cut after the
server got it, new connections refused) every call fails with a typed error and never hangs;
a write whose answer was cut either took effect whole or not at all (never a torn or foreign
record), a lock whose answer was cut is still ours or free (never stuck until its lease ends);
once the proxy heals, the same store object works again without a restart.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator

import pytest
from yarl import URL

from tests import services
from tests.faultproxy import FaultProxy
from token_stores import (
    LockTimeout,
    Record,
    RedisTokenStore,
    SQLTokenStore,
    StoreConflict,
    StoreUnavailable,
    TokenStore,
)

from .specs import REDIS_PREFIX, SQL_TABLE

pytestmark = [pytest.mark.services, pytest.mark.outage]

KINDS = ["redis", "postgres", "mysql"]
#: Every call of these tests is bounded by this (a hang is a failure, not a slow test).
BOUND = 20.0


def _build(kind: str, url: str) -> TokenStore:
    if kind == "redis":
        return RedisTokenStore(url, prefix=REDIS_PREFIX, socket_timeout=3, socket_connect_timeout=3)
    if kind == "postgres":
        options = {"timeout": 3, "command_timeout": 3}
        return SQLTokenStore(url, table=SQL_TABLE, connect_args=options)
    return SQLTokenStore(url, table=SQL_TABLE, connect_args={"connect_timeout": 3})


@pytest.fixture(params=KINDS)
async def proxied(request: pytest.FixtureRequest) -> AsyncIterator[tuple[TokenStore, FaultProxy]]:
    url = services.require(request.param)
    port = URL(url).port
    assert port is not None
    async with FaultProxy(port) as proxy:
        store = _build(request.param, proxy.url(url))
        create_schema = getattr(store, "create_schema", None)
        if create_schema is not None:
            await create_schema()
        try:
            yield store, proxy
        finally:
            await proxy.heal()
            await store.close()


@pytest.fixture
def key() -> str:
    return f"outage-{secrets.token_hex(4)}"


async def _outcome(call: object) -> str:
    """``"ok"`` or the name of the error a store call raised (bounded in time)."""
    try:
        await asyncio.wait_for(call, BOUND)  # type: ignore[arg-type]
    except StoreUnavailable:
        return "StoreUnavailable"
    except StoreConflict:
        return "StoreConflict"
    return "ok"


async def _lock_outcome(store: TokenStore, key: str, timeout: float = 1.0) -> str:
    async def take() -> None:
        async with store.lock(key, ttl=30, timeout=timeout):
            pass

    try:
        await asyncio.wait_for(take(), BOUND)
    except StoreUnavailable:
        return "StoreUnavailable"
    except LockTimeout:
        return "LockTimeout"
    return "ok"


@pytest.mark.parametrize("fault", ["drop", "refuse"])
async def test_a_dead_path_gives_typed_errors_then_recovers(
    proxied: tuple[TokenStore, FaultProxy], key: str, fault: str
) -> None:
    store, proxy = proxied
    assert await store.save(key, b"v1", None) == 1
    if fault == "drop":
        proxy.drop()
    else:
        await proxy.refuse()
    outcomes = [
        await _outcome(store.load(key)),
        await _outcome(store.save(key, b"v2", 1)),
        await _outcome(store.delete(key)),
        await _lock_outcome(store, key),
    ]
    assert outcomes == ["StoreUnavailable"] * 4
    await proxy.heal()
    assert await store.load(key) == Record(b"v1", 1)  # nothing was half-written
    assert await store.save(key, b"v2", 1) == 2
    await _lock_outcome(store, key)
    assert proxy.dropped >= 1


async def test_a_cut_answer_to_a_save_leaves_it_whole_or_undone(
    proxied: tuple[TokenStore, FaultProxy], key: str
) -> None:
    store, proxy = proxied
    assert await store.save(key, b"v1", None) == 1
    for version in range(1, 6):
        proxy.cut_after_send(count=1)
        outcome = await _outcome(store.save(key, b"v%d" % (version + 1), version))
        await proxy.heal()
        record = await store.load(key)
        # The server got the write: it took effect whole. The client learnt it as a success,
        # as an outage, or (a driver that re-sent it) as a conflict with its own write.
        assert record == Record(b"v%d" % (version + 1), version + 1), (outcome, record)
        assert outcome in ("ok", "StoreUnavailable", "StoreConflict")
    assert proxy.cuts == 5


async def test_a_cut_answer_to_a_lock_does_not_leave_it_stuck(
    proxied: tuple[TokenStore, FaultProxy], key: str
) -> None:
    store, proxy = proxied
    await store.save(key, b"v1", None)
    proxy.cut_after_send(count=1)
    first = await _lock_outcome(store, key, timeout=2)
    await proxy.heal()
    # Taken (the driver re-sent the attempt and it is recognised as ours) or failed typed; the
    # lock must not stay taken by a holder that never learnt it holds it.
    assert first in ("ok", "StoreUnavailable")
    assert await _lock_outcome(store, key, timeout=2) == "ok"


async def test_mysql_connection_killed_mid_run_recovers(key: str) -> None:
    """Like the PostgreSQL test in test_outages.py: the server kills the store's sessions."""
    url = services.mysql_url()
    port = URL(url).port
    assert port is not None
    async with FaultProxy(port) as proxy:
        store = SQLTokenStore(proxy.url(url), table=SQL_TABLE)
        try:
            await store.create_schema()
            async with store.lock(key, ttl=10, timeout=1):
                assert await store.save(key, b"v1", None) == 1
                assert await services.kill_mysql_sessions(url, proxy) >= 1
                # The lease row outlives the connection; the holder carries on.
                assert await store.save(key, b"v2", 1) == 2
            assert await services.kill_mysql_sessions(url, proxy) >= 1
            async with store.lock(key, ttl=10, timeout=1):
                assert await store.load(key) == Record(b"v2", 2)
        finally:
            await store.close()
