"""Many accounts in one process against one real store: an exhausted pool is a wait, not an
outage.

Accounts log in at once and then refresh at once (tests/accounts.py) through one Redis or
PostgreSQL store whose connection pool is far smaller than the wave: every login and every
request must succeed, the excess waiting for a connection. A wait that runs out is
``StoreBusy`` naming the pool, never "unreachable".
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import Counter
from collections.abc import AsyncIterator

import aiohttp
import pytest

from ffn_async import FFNClient, Token, TokenManager
from ffn_async.testing import OAuthServer
from token_stores import (
    MemoryTokenStore,
    RedisTokenStore,
    SQLTokenStore,
    StoreBusy,
    StoreUnavailable,
)

from .. import services
from ..accounts import due_tokens, run_wave
from ..fleet import CREDS, strict_server


@pytest.fixture
async def redis_store() -> AsyncIterator[RedisTokenStore]:
    """The store as users build it: defaults (a pool of 100 connections)."""
    prefix = f"ffntest-accounts-{secrets.token_hex(4)}:"
    store = RedisTokenStore(services.redis_url(), prefix=prefix)
    try:
        yield store
    finally:
        client = store._client
        keys = [k async for k in client.scan_iter(match=f"{store.prefix}*")]
        if keys:
            await client.delete(*keys)
        await store.close()


@pytest.fixture
async def postgres_store() -> AsyncIterator[SQLTokenStore]:
    """A pool of 2 connections, no overflow, waits of at most 1 s."""
    table = f"ffn_accounts_{secrets.token_hex(4)}"
    store = SQLTokenStore(
        services.postgres_url(), table=table, pool_size=2, max_overflow=0, pool_timeout=1.0
    )
    await store.create_schema()
    try:
        yield store
    finally:
        async with store._engine.begin() as conn:
            await conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
        await store.close()


async def _wave(store: RedisTokenStore | SQLTokenStore, accounts: int) -> None:
    oauth: OAuthServer
    async with (
        strict_server(token_lifetime=1800.0) as (oauth, env),
        aiohttp.ClientSession() as session,
    ):
        result = await run_wave(
            store,
            due_tokens(oauth, accounts),
            env,
            prefix="acct-",
            client_options={"session": session},
        )
    assert (result.login_failures, result.request_failures) == (0, 0), result.errors
    assert oauth.stats.refreshes == accounts


@pytest.mark.slow
async def test_thousand_accounts_wave_on_redis_default_pool_waits_instead_of_failing(
    redis_store: RedisTokenStore,
) -> None:
    """Before: 100 connections for 1,000 logins and refreshes, and the rest failed at once with
    ``StoreUnavailable: Redis … is unreachable (MaxConnectionsError)``."""
    await _wave(redis_store, 1000)


@pytest.mark.slow
async def test_accounts_wave_on_postgres_small_pool_waits_in_turn(
    postgres_store: SQLTokenStore,
) -> None:
    """200 accounts on 2 connections: each operation waits for the ~100 ahead of it (well
    under a second), never longer. Before: SQLAlchemy's pool let newcomers overtake woken
    waiters, which queued again at the back: 34 logins and 81 requests waited past the 1 s
    ``pool_timeout`` (``StoreBusy``); at the default 30 s the benchmark's 1,000-account storm
    on PostgreSQL lost 4 requests that way."""
    await _wave(postgres_store, 200)


async def test_redis_pool_wait_that_runs_out_is_store_busy_not_unreachable() -> None:
    store = RedisTokenStore(
        services.redis_url(),
        prefix=services.scratch_prefix("busy"),
        max_connections=1,
        pool_timeout=0.2,
    )
    pool = store._client.connection_pool
    held = await pool.get_connection()  # the pool's one connection, kept busy
    try:
        with pytest.raises(StoreBusy) as caught:
            await store.load("acct")
    finally:
        await pool.release(held)
        await store.close()
    message = str(caught.value)
    assert isinstance(caught.value, StoreUnavailable)  # callers' outage handling still applies
    assert "unreachable" not in message
    assert "pool of 1 connection" in message
    assert "0.2 s" in message
    assert "max_connections" in message
    assert "pool_timeout" in message


async def test_sql_pool_wait_that_runs_out_is_store_busy_not_unreachable() -> None:
    table = f"ffn_busy_{secrets.token_hex(4)}"
    store = SQLTokenStore(
        services.postgres_url(), table=table, pool_size=1, max_overflow=0, pool_timeout=0.2
    )
    try:
        async with store._engine.connect():  # the pool's one connection, kept busy
            with pytest.raises(StoreBusy) as caught:
                await store.load("acct")
    finally:
        await store.close()
    message = str(caught.value)
    assert isinstance(caught.value, StoreUnavailable)
    assert "running and reachable" not in message
    assert "pool_size" in message
    assert "pool_timeout" in message


def _due_share(managers: list[TokenManager], at: float) -> float:
    """The share of ``managers`` whose token is due at Unix time ``at`` (no I/O)."""
    real = time.time
    time.time = lambda: at  # type: ignore[assignment]  # fresh_token() is synchronous
    try:
        return sum(m.fresh_token() is None for m in managers) / len(managers)
    finally:
        time.time = real  # type: ignore[assignment]


async def test_tokens_expiring_together_fall_due_spread_over_the_jitter_window() -> None:
    """Default settings: 1,000 accounts whose tokens expire in the same second fall due over
    ``leeway`` + 120 s before expiry, not all at ``leeway``. Before: all at once."""
    store = MemoryTokenStore()
    issued = time.time()
    tokens = [
        Token(access_token=f"a{i}", refresh_token=f"r{i}", expires_at=issued + 1800.0,
              issued_at=issued)
        for i in range(1000)
    ]  # fmt: skip
    managers = [TokenManager(CREDS, store, key=f"acct-{i}") for i in range(1000)]
    for manager, token in zip(managers, tokens, strict=True):
        await manager.store_token(token)
    expiry = issued + 1800.0
    assert _due_share(managers, expiry - 60 - 120 - 1) == 0  # before the window
    assert 0.4 < _due_share(managers, expiry - 60 - 60) < 0.6  # half-way through it
    assert _due_share(managers, expiry - 60) == 1  # leeway: every one of them
    # The offset is the account's: another worker's manager of one account agrees.
    twin = TokenManager(CREDS, store, key="acct-7")
    assert twin.fresh_token() == managers[7].fresh_token()
    assert _due_share([twin], expiry - 90) == _due_share([managers[7]], expiry - 90)


async def test_jittered_refresh_storm_is_spread_in_real_time() -> None:
    """200 accounts, tokens expiring together, 3 s of jitter: the refreshes (through the real
    token endpoint) spread over the window instead of one wave. Loose bounds: a loaded
    machine stalls the loop now and then, bunching what fell due meanwhile."""
    refreshed: list[float] = []

    def hook(_: Token) -> None:
        refreshed.append(time.monotonic())

    async with strict_server(token_lifetime=1800.0) as (oauth, env):
        store = MemoryTokenStore()
        # Expiring in 63 s: the 3 s jitter window (before the 60 s leeway) starts now.
        issued = time.time() - 1800.0 + 63.0
        managers = [
            TokenManager(CREDS, store, key=f"acct-{i}", environment=env, refresh_jitter=3.0,
                         on_refresh=hook)
            for i in range(200)
        ]  # fmt: skip
        for manager in managers:
            await manager.store_token(Token.from_response(oauth.issue_tokens(), now=issued))
        refreshed.clear()  # store_token's own calls of the hook
        began = time.monotonic()
        async with aiohttp.ClientSession() as session:
            clients = [FFNClient(m, session=session) for m in managers]

            async def poll(ffn: FFNClient) -> None:
                while time.monotonic() - began < 3.5:
                    await ffn.request("GET", "/v1/users/current")
                    await asyncio.sleep(0.1)

            await asyncio.gather(*(poll(c) for c in clients))
    assert len(refreshed) == oauth.stats.refreshes == 200  # each account once
    buckets = Counter(int((t - began) / 0.5) for t in refreshed)
    assert max(buckets.values()) <= 80  # uniform: ~33 per half second; one wave: 200
    assert max(refreshed) - min(refreshed) > 2.0
