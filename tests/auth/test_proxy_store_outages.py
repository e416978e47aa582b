"""Token rotation through store outages made by the fault proxy (Redis, PostgreSQL, MariaDB).

The service keeps running while the network path to it breaks: connections dropped, answers
cut after the server got the request (a save that took effect but was never confirmed), new
connections refused. Tokens rotate every ~0.6 s meanwhile. Calls may fail with
``StoreUnavailable`` during a fault and never otherwise; no refresh token is presented twice,
and the store ends up holding the last rotation the token endpoint made (none was lost).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from yarl import URL

from token_stores import RedisTokenStore, SQLTokenStore, TokenStore

from .. import services
from ..faultproxy import FaultProxy
from .test_store_outages import _run, _run_killing

pytestmark = [pytest.mark.services, pytest.mark.outage]


def _store(kind: str, url: str) -> TokenStore:
    if kind == "redis":
        return RedisTokenStore(
            url,
            prefix=services.scratch_prefix("proxyoutage"),
            socket_timeout=2,
            socket_connect_timeout=2,
        )
    table = services.scratch_table("proxy_outage")
    if kind == "postgres":
        return SQLTokenStore(url, table=table, connect_args={"timeout": 2, "command_timeout": 2})
    return SQLTokenStore(url, table=table, connect_args={"connect_timeout": 2})


async def _drop(proxy: FaultProxy) -> None:
    for _ in range(3):
        await asyncio.sleep(0.6)
        proxy.drop()
        await asyncio.sleep(0.3)
        await proxy.heal()


async def _cut(proxy: FaultProxy) -> None:
    for _ in range(6):
        await asyncio.sleep(0.4)
        proxy.cut_after_send(count=2)
    await asyncio.sleep(0.2)
    await proxy.heal()


async def _refuse(proxy: FaultProxy) -> None:
    for _ in range(2):
        await asyncio.sleep(0.8)
        await proxy.refuse()
        await asyncio.sleep(0.5)
        await proxy.heal()


FAULTS: dict[str, Callable[[FaultProxy], Awaitable[None]]] = {
    "drop": _drop,
    "cut-after-send": _cut,
    "refuse": _refuse,
}


@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("kind", ["redis", "postgres", "mysql"])
async def test_rotation_through_a_broken_network_path_loses_no_token(kind: str, fault: str) -> None:
    url = services.require(kind)
    port = URL(url).port
    assert port is not None
    async with FaultProxy(port) as proxy:
        store = _store(kind, proxy.url(url))
        if isinstance(store, SQLTokenStore):
            await store.create_schema()
        try:
            await _run(store, lambda: FAULTS[fault](proxy))
        finally:
            await proxy.heal()
            await store.close()
        print(f"{kind}/{fault}: cuts={proxy.cuts} dropped={proxy.dropped}")
        assert proxy.cuts + proxy.dropped > 0  # the fault really happened


async def test_mysql_connections_killed_mid_run_lose_no_token() -> None:
    """Like the PostgreSQL test in test_store_outages.py: MariaDB kills the store's sessions."""
    url = services.mysql_url()
    port = URL(url).port
    assert port is not None
    async with FaultProxy(port) as proxy:
        store = _store("mysql", proxy.url(url))
        assert isinstance(store, SQLTokenStore)
        await store.create_schema()
        try:
            killed = await _run_killing(store, lambda: services.kill_mysql_sessions(url, proxy))
        finally:
            await store.close()
    print(f"mysql/kill: killed={killed}")
    assert killed >= 5
