"""Services going away and coming back: typed errors while down, recovery without a restart."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from tests import services
from tests.services import RedisServer
from token_stores import LockTimeout, RedisTokenStore, SQLTokenStore, StoreUnavailable

from .specs import REDIS_PREFIX, SQL_TABLE

pytestmark = [pytest.mark.services, pytest.mark.outage]


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    services.redis_url()  # skip (or fail on CI) like every other Redis test
    server = RedisServer()
    server.start()
    yield server
    server.stop()


async def test_redis_restart_gives_typed_errors_then_recovers(redis_server: RedisServer) -> None:
    store = RedisTokenStore(f"redis://127.0.0.1:{redis_server.port}/0", prefix=REDIS_PREFIX)
    try:
        assert await store.save("acme", b"v1", None) == 1
        async with store.lock("acme", ttl=5, timeout=1):
            pass
        redis_server.stop()
        for call in (store.load("acme"), store.save("acme", b"v2", 1), store.delete("acme")):
            with pytest.raises(StoreUnavailable, match="unreachable.*reconnects by itself"):
                await call
        with pytest.raises(StoreUnavailable):  # not a LockTimeout: the cause is the outage
            async with store.lock("acme", timeout=5):
                pass
        redis_server.start()  # empty: it kept nothing on disk, and its script cache is empty
        assert await store.load("acme") is None
        assert await store.save("acme", b"after restart", None) == 1
        assert await store.save("acme", b"again", 1) == 2
        async with store.lock("acme", ttl=5, timeout=1):
            with pytest.raises(LockTimeout):
                async with store.lock("acme", timeout=0.05):
                    pass
    finally:
        await store.close()


async def test_redis_store_leaves_a_client_it_was_given_open() -> None:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(services.redis_url())
    store = RedisTokenStore(client=client, prefix=REDIS_PREFIX)
    await store.close()
    assert await client.ping()
    await client.aclose()


def _pg_url() -> str:
    return services.postgres_url()


@pytest.fixture
def pg_app() -> tuple[str, dict[str, object]]:
    """A unique application_name, so a test terminates only its own connections."""
    return services.postgres_session_name()


async def _terminate(name: str) -> int:
    return await services.kill_postgres_sessions(_pg_url(), name)


@pytest.mark.parametrize("built_by_store", [True, False], ids=["store-engine", "own-engine"])
async def test_postgres_connection_dropped_mid_run_recovers(
    pg_app: tuple[str, dict[str, object]], built_by_store: bool
) -> None:
    name, connect_args = pg_app
    if built_by_store:
        store = SQLTokenStore(_pg_url(), table=SQL_TABLE, connect_args=connect_args)
    else:  # the caller's engine: the store must not close it
        engine = create_async_engine(_pg_url(), connect_args=connect_args)
        store = SQLTokenStore(engine=engine, table=SQL_TABLE)
    key = f"acct-{secrets.token_hex(4)}"
    try:
        await store.create_schema()
        async with store.lock(key, ttl=10, timeout=1):
            assert await store.save(key, b"v1", None) == 1
            assert await _terminate(name) >= 1
            # The lease row outlives the connection; the holder carries on.
            assert await store.save(key, b"v2", 1) == 2
        assert await _terminate(name) >= 1
        async with store.lock(key, ttl=10, timeout=1):
            record = await store.load(key)
        assert record is not None
        assert (record.data, record.version) == (b"v2", 2)
    finally:
        await store.close()
        if not built_by_store:
            assert not engine.sync_engine.pool.checkedout()
            await engine.dispose()


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+asyncpg://postgres:hunter2@127.0.0.1:1/test",
        "mysql+asyncmy://root:hunter2@127.0.0.1:1/test",
        "redis://:hunter2@127.0.0.1:1/0",
    ],
)
async def test_unreachable_service_is_typed_and_never_shows_the_password(url: str) -> None:
    from token_stores import from_url

    store = from_url(url)
    assert "hunter2" not in repr(store)
    try:
        for attempt in (store.load("acme"), store.save("acme", b"x", None)):
            with pytest.raises(StoreUnavailable) as caught:
                await asyncio.wait_for(attempt, 30)
            assert "hunter2" not in str(caught.value)
            assert "127.0.0.1" in str(caught.value)
    finally:
        await store.close()
