"""Fixtures of the store contract suite: one ``spec`` per store kind, and clean-up at the end."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests import services
from token_stores import TokenStore

from .specs import REDIS_PREFIX, SQL_TABLE, StoreSpec

KINDS = ["memory", "file", "redis", "redis-cluster", "postgres", "mysql", "sqlite", "encrypted"]
# Stores that share locks between processes (memory is per process by design).
PROCESS_KINDS = [k for k in KINDS if k != "memory"]

_used_sql: set[str] = set()
_used_redis = False


def make_spec(kind: str, tmp: Path) -> StoreSpec:
    global _used_redis
    if kind == "memory":
        return StoreSpec(kind, "memory://", cross_process=False)
    if kind == "file":
        return StoreSpec(kind, f"file://{tmp / 'tokens'}", lease_expires=False)
    if kind == "redis":
        _used_redis = True
        return StoreSpec(kind, services.redis_url(), {"prefix": REDIS_PREFIX})
    if kind == "redis-cluster":
        # Three masters started for this test session (tests/services.py), gone at its end.
        return StoreSpec(kind, services.redis_cluster_url(), {"prefix": REDIS_PREFIX})
    if kind in ("postgres", "mysql"):
        url = services.require(kind)
        _used_sql.add(url)
        return StoreSpec(kind, url, {"table": SQL_TABLE})
    if kind == "sqlite":
        return StoreSpec(kind, f"sqlite+aiosqlite:///{tmp / 'tokens.db'}", {"table": SQL_TABLE})
    if kind == "encrypted":
        return StoreSpec(
            kind, f"sqlite+aiosqlite:///{tmp / 'enc.db'}", {"table": SQL_TABLE}, encrypted=True
        )
    raise AssertionError(kind)


@pytest.fixture(params=KINDS)
def spec(request: pytest.FixtureRequest, tmp_path: Path) -> StoreSpec:
    return make_spec(request.param, tmp_path)


@pytest.fixture(params=PROCESS_KINDS)
def process_spec(request: pytest.FixtureRequest, tmp_path: Path) -> StoreSpec:
    return make_spec(request.param, tmp_path)


@pytest.fixture
async def store(spec: StoreSpec) -> AsyncIterator[TokenStore]:
    built = await spec.build_ready()
    yield built
    await built.close()


@pytest.fixture
def key() -> str:
    return f"acct-{secrets.token_hex(4)}"


@pytest.fixture(scope="session", autouse=True)
def _cleanup_servers() -> Iterator[None]:
    """Drop this run's SQL tables and Redis keys after the session."""
    yield
    asyncio.run(_cleanup())


async def _cleanup() -> None:
    if _used_redis:
        import redis.asyncio as aioredis

        client = aioredis.Redis.from_url(services.configured_url("redis"))
        try:
            keys = [k async for k in client.scan_iter(match=f"{REDIS_PREFIX}*")]
            if keys:
                await client.delete(*keys)
        finally:
            await client.aclose()
    if _used_sql:
        import sqlalchemy as sa
        from sqlalchemy.ext.asyncio import create_async_engine

        for url in _used_sql:
            engine = create_async_engine(url)
            try:
                async with engine.begin() as conn:
                    await conn.execute(sa.text(f"DROP TABLE IF EXISTS {SQL_TABLE}"))
            finally:
                await engine.dispose()
