"""Workers ride out store outages: typed errors while the store is away, no token ever lost.

Tokens rotate every ~0.3 s while Redis is restarted, or while PostgreSQL's connections are
killed again and again. Calls may fail with ``StoreUnavailable`` during the outage, never with
anything else; afterwards everything works, no refresh token was reused, and every rotation the
token endpoint performed is the one the store holds (a rotated token that could not be saved
would be lost, and the next refresh would reuse the spent one).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from ffn_async import FFNClient, Token, TokenManager
from token_stores import RedisTokenStore, SQLTokenStore, StoreUnavailable

from .. import services
from ..fleet import CREDS, strict_server

pytestmark = pytest.mark.services


async def _traffic(ffn: FFNClient, seconds: float, workers: int = 20) -> tuple[int, list[str]]:
    ok = 0
    failures: list[str] = []
    deadline = time.monotonic() + seconds

    async def worker() -> None:
        nonlocal ok
        while time.monotonic() < deadline:
            try:
                await ffn.request("GET", "/v1/users/current")
                ok += 1
            except StoreUnavailable:
                failures.append("StoreUnavailable")
            except Exception as exc:
                failures.append(f"{type(exc).__name__}: {exc}")
            await asyncio.sleep(0.01)

    await asyncio.gather(*(worker() for _ in range(workers)))
    return ok, failures


async def _run(store: Any, disrupt: Any) -> None:
    async with strict_server(token_lifetime=0.6) as (oauth, env):
        auth = TokenManager(
            CREDS,
            store,
            key=f"acct-{secrets.token_hex(4)}",
            environment=env,
            lock_ttl=5.0,
            request_timeout=2.0,
        )
        await auth.store_token(Token.from_response(oauth.issue_tokens()))
        async with FFNClient(auth) as ffn:
            (ok, failures), _ = await asyncio.gather(_traffic(ffn, 4.0), disrupt())
            assert await ffn.request("GET", "/v1/users/current") == {"userId": "MERC"}
        stored = await auth.stored()
    print(f"\noutage: ok={ok} failed={len(failures)} rotations={stored.rotation}")
    assert ok > 0
    assert set(failures) <= {"StoreUnavailable"}, failures[:5]
    assert oauth.stats.reuse_attempts == 0
    assert oauth.stats.invalid_grants == 0
    assert oauth.families_revoked == 0
    assert stored.rotation == oauth.stats.refreshes >= 5


async def test_a_redis_restart_loses_no_token(tmp_path: Path) -> None:
    services.redis_url()  # skip (or fail on CI) like every other Redis test
    server = services.RedisServer(persist_dir=tmp_path)
    server.start()
    store = RedisTokenStore(server.url, prefix="outage:")

    async def restart() -> None:
        await asyncio.sleep(1.0)
        await asyncio.to_thread(server.stop)
        await asyncio.sleep(0.8)
        await asyncio.to_thread(server.start)

    try:
        await _run(store, restart)
    finally:
        await store.close()
        server.stop()


async def test_postgres_connections_killed_mid_run_lose_no_token() -> None:
    url = services.postgres_url()
    name = f"ffnoutage-{secrets.token_hex(4)}"
    store = SQLTokenStore(
        url,
        table="ffn_outage_tokens",
        connect_args={"server_settings": {"application_name": name}},
    )
    await store.create_schema()
    admin = create_async_engine(url)
    killed = 0

    async def kill_connections() -> None:
        nonlocal killed
        for _ in range(12):
            await asyncio.sleep(0.3)
            async with admin.begin() as conn:
                result = await conn.execute(
                    sa.text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE application_name = :name"
                    ),
                    {"name": name},
                )
                killed += int(result.scalar_one())

    try:
        await _run(store, kill_connections)
    finally:
        await store.close()
        await admin.dispose()
    assert killed >= 5
