"""Clients built without ``session=`` share one session per event loop.

A process serving 1,000 accounts (one ``FFNClient`` each) used to hold 1,000 sessions, each
with its own connection pool: 1,000+ sockets, and under ``ulimit -n 1024`` 15-18 % of requests
failed with "Too many open files". Now they share one pool; a caller's own session stays
theirs, and a client that traces (``trace_configs``) keeps a session of its own.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time

import aiohttp
import pytest

from ffn_async import FFNClient, StaticToken, Token, TokenManager
from token_stores import MemoryTokenStore

from ..accounts import due_tokens, fd_limited_wave
from ..fleet import CREDS, strict_server


async def test_default_clients_share_one_session_until_the_last_closes() -> None:
    async with strict_server(token_lifetime=1800.0) as (oauth, env):
        token = oauth.issue_tokens()["access_token"]
        first = FFNClient(StaticToken(token), environment=env)
        second = FFNClient(StaticToken(token), environment=env)
        other_size = FFNClient(StaticToken(token), environment=env, connector_limit=7)
        async with first, second, other_size:
            assert first._http() is second._http()
            assert other_size._http() is not first._http()  # another pool size, another pool
            shared = first._http()
        assert shared.closed  # closed with the last client using it

        third = FFNClient(StaticToken(token), environment=env)
        async with first, third:
            assert first._http() is third._http()
            again = first._http()
            await first.aclose()  # the other client keeps it
            assert not again.closed
            assert (await third.request_raw("GET", "/v1/users/current")).status == 200
        assert first._session is None
        assert again.closed


async def test_user_agent_and_tracing_keep_sessions_apart() -> None:
    seen: list[str] = []
    async with strict_server(token_lifetime=1800.0) as (oauth, env):
        token = oauth.issue_tokens()["access_token"]
        plain = FFNClient(StaticToken(token), environment=env)
        named = FFNClient(StaticToken(token), environment=env, user_agent="shop/1")
        trace = aiohttp.TraceConfig()

        async def on_start(_: object, __: object, params: aiohttp.TraceRequestStartParams) -> None:
            seen.append(params.headers["User-Agent"])

        trace.on_request_start.append(on_start)
        traced = FFNClient(StaticToken(token), environment=env, trace_configs=[trace])
        async with plain, named, traced:
            assert plain._http() is not named._http()  # the session sends the User-Agent
            assert traced._http() is not plain._http()  # tracing is per session
            await traced.request("GET", "/v1/users/current")
            for ffn in (plain, named):
                assert (await ffn.request_raw("GET", "/v1/users/current")).status == 200
            assert named._http().headers["User-Agent"] == "shop/1"
    assert seen == [traced._headers["User-Agent"]]  # only the traced client's request


async def test_a_callers_closed_session_is_an_error_not_replaced() -> None:
    async with strict_server(token_lifetime=1800.0) as (_, env):
        session = aiohttp.ClientSession()
        await session.close()
        ffn = FFNClient(StaticToken("t"), environment=env, session=session)
        with pytest.raises(RuntimeError, match="closed"):
            await ffn.request("GET", "/v1/users/current")
        assert ffn._http() is session


async def test_token_calls_of_many_managers_use_the_shared_session() -> None:
    async with strict_server(token_lifetime=1800.0) as (oauth, env):
        store = MemoryTokenStore()
        managers = [TokenManager(CREDS, store, key=f"k{i}", environment=env) for i in range(3)]
        for manager, token in zip(managers, due_tokens(oauth, 3), strict=True):
            await manager.store_token(token)
        clients = [FFNClient(m) for m in managers]
        for ffn in clients:
            await ffn.request("GET", "/v1/users/current")  # refreshes through the session
        assert len({id(m._http()) for m in managers}) == 1
        assert managers[0]._own_session is None
        for ffn in clients:
            await ffn.aclose()
    assert oauth.stats.refreshes == 3


@pytest.mark.slow
async def test_thousand_accounts_under_ulimit_1024_open_files() -> None:
    """A real child process with RLIMIT_NOFILE 1024 runs 1,000 accounts (a due token each, so
    every account also refreshes) with 3 requests each, every client built the default way."""
    async with strict_server(token_lifetime=1800.0) as (oauth, env):
        tokens = [t.to_dict() for t in due_tokens(oauth, 1000)]
        ctx = multiprocessing.get_context("spawn")
        out = ctx.Queue()
        child = ctx.Process(target=fd_limited_wave, args=(env, tokens, 1024, 3, out), daemon=True)
        child.start()
        loop = asyncio.get_running_loop()
        try:
            result = await loop.run_in_executor(None, out.get, True, 120)
        finally:
            await loop.run_in_executor(None, child.join, 30)
            if child.is_alive():
                child.terminate()
    assert "crashed" not in result, result
    assert (result["login_failures"], result["request_failures"]) == (0, 0), result["errors"]
    assert len(result["latencies"]) == 3000
    assert oauth.stats.refreshes == 1000
    assert Token.from_dict(tokens[0]).expires_at < time.time()  # they were all due
