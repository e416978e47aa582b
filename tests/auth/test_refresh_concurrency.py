"""Refresh exactly once per rotation: coroutines and real processes against the strict server."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import time
from pathlib import Path

import pytest

from ffn_async import FFNClient, Token, TokenManager
from token_stores import LockTimeout, MemoryTokenStore

from ..fleet import CREDS, run_fleet, strict_server


async def test_500_coroutines_on_an_expired_token_make_one_token_call() -> None:
    async with strict_server(token_lifetime=1800, token_latency=0.2) as (oauth, env):
        store = MemoryTokenStore()
        auth = TokenManager(CREDS, store, key="acct", environment=env)
        issued = Token.from_response(oauth.issue_tokens())
        # Stored already expired: every one of the 500 calls needs a refresh first.
        await auth.store_token(Token(issued.access_token, issued.refresh_token, time.time() - 5))
        async with FFNClient(auth) as ffn:
            results = await asyncio.gather(
                *(ffn.request("GET", "/v1/users/current") for _ in range(500)),
                return_exceptions=True,
            )
    failures = [r for r in results if isinstance(r, BaseException)]
    assert failures == []
    assert oauth.stats.token_requests == 1
    assert oauth.stats.refreshes == 1
    assert oauth.stats.reuse_attempts == 0


async def test_401_from_a_revoked_token_refreshes_once_for_all() -> None:
    """The server's clock jumps: cached tokens look fresh to the client but are expired."""
    async with strict_server(token_lifetime=60) as (oauth, env):
        auth = TokenManager(CREDS, MemoryTokenStore(), key="acct", environment=env, leeway=1)
        await auth.store_token(Token.from_response(oauth.issue_tokens()))
        async with FFNClient(auth) as ffn:
            await ffn.request("GET", "/v1/users/current")
            oauth.clock.advance(120)
            results = await asyncio.gather(
                *(ffn.request("GET", "/v1/users/current") for _ in range(100)),
                return_exceptions=True,
            )
    assert [r for r in results if isinstance(r, BaseException)] == []
    assert oauth.stats.refreshes == 1
    assert oauth.stats.reuse_attempts == 0


@pytest.mark.slow
async def test_four_processes_share_one_file_store_without_reuse(tmp_path: Path) -> None:
    result = await run_fleet(
        f"file://{tmp_path / 'tokens.json'}",
        key="merchant-acme",
        processes=4,
        coroutines=50,
        duration=4.0,
        token_lifetime=1.0,
    )
    result.assert_exactly_once("file")


def _hold_lock_forever(path: str, ready: multiprocessing.synchronize.Event) -> None:
    from token_stores import FileTokenStore

    async def main() -> None:
        store = FileTokenStore(path)
        async with store.lock("acct", ttl=600, timeout=5):
            ready.set()
            await asyncio.sleep(600)

    asyncio.run(main())


@pytest.mark.slow
async def test_a_killed_lock_holder_does_not_block_the_others(tmp_path: Path) -> None:
    from token_stores import FileTokenStore

    path = str(tmp_path / "tokens.json")
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    holder = context.Process(target=_hold_lock_forever, args=(path, ready))
    async with strict_server(token_lifetime=1800) as (oauth, env):
        store = FileTokenStore(path)
        issued = Token.from_response(oauth.issue_tokens())
        auth = TokenManager(CREDS, store, key="acct", environment=env, lock_timeout=10)
        await auth.store_token(Token(issued.access_token, issued.refresh_token, time.time() - 5))
        holder.start()
        try:
            assert await asyncio.to_thread(ready.wait, 20), "the holder never took the lock"
            with pytest.raises(LockTimeout):  # really held by the other process
                async with store.lock("acct", timeout=0.3):
                    pass
            os.kill(holder.pid or 0, signal.SIGKILL)
            started = time.monotonic()
            async with FFNClient(auth) as ffn:
                assert await ffn.request("GET", "/v1/users/current") == {"userId": "MERC"}
            waited = time.monotonic() - started
        finally:
            holder.kill()
            await asyncio.to_thread(holder.join, 10)
        await store.close()
    assert holder.exitcode == -signal.SIGKILL
    assert oauth.stats.refreshes == 1
    assert waited < 10  # the lock came free long before the lock timeout
