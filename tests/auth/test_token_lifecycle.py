"""Closing during a refresh, logins over unreadable records, bounded 401-forced refreshes, event
loops, and the session token calls go through. Each test failed before its fix."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import threading
import time
from pathlib import Path
from typing import Any

import aiohttp
import attrs
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography.fernet import Fernet

from ffn_async import FFNClient, Token, TokenManager
from ffn_async.auth.oauth import TOKEN_TEMPLATE
from ffn_async.auth.record import encode_record
from ffn_async.errors import Unauthorized, WrongEventLoop
from ffn_async.testing.oauth import OAuthServer
from token_stores import (
    EncryptedTokenStore,
    FileTokenStore,
    MemoryTokenStore,
    StoreUnavailable,
    TokenStore,
)

from ..conftest import environment_for
from ..fleet import CREDS, strict_server
from .test_rotation_in_flight import Outage, expired

# --------------------------------------------------------------------------- defect 4: close


async def test_leaving_the_client_during_a_refresh_waits_for_it_to_land(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A caller's wait_for times out mid-refresh and the program leaves ``async with``: the
    server has already rotated, so cutting the request would lose the chain."""
    caplog.set_level(logging.INFO, "ffn_async.auth")
    store = MemoryTokenStore()
    async with strict_server(token_lifetime=1800, token_latency=0.5) as (oauth, env):
        auth = TokenManager(CREDS, store, key="acct", environment=env)
        await auth.store_token(expired(oauth))
        async with FFNClient(auth) as ffn:
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(ffn.request("GET", "/v1/users/current"), 0.1)
        # The next run of the program, with a fresh manager: the chain is alive.
        stored = await auth.stored()
        assert stored.rotation == 1
        rerun = TokenManager(CREDS, store, key="acct", environment=env)
        async with FFNClient(rerun) as ffn:
            assert await ffn.request("GET", "/v1/users/current") == {"userId": "MERC"}
    assert oauth.stats.refreshes == 1
    assert oauth.stats.reuse_attempts == 0
    assert any("waiting up to" in r.getMessage() for r in caplog.records)


async def test_closing_waits_only_up_to_close_timeout(caplog: pytest.LogCaptureFixture) -> None:
    async with strict_server(token_lifetime=1800, token_latency=1.0) as (oauth, env):
        auth = TokenManager(CREDS, MemoryTokenStore(), key="acct", environment=env)
        auth.close_timeout = 0.2
        await auth.store_token(expired(oauth))
        refresh = asyncio.ensure_future(auth.access_token())
        await asyncio.sleep(0.1)
        started = time.monotonic()
        assert not await auth.settle()
        assert time.monotonic() - started < 0.9
        await refresh  # it still lands: nothing cancelled it
        await auth.aclose()
    assert any("still in flight" in r.getMessage() for r in caplog.records)


async def test_leaving_the_client_waits_one_close_timeout_not_two() -> None:
    """FFNClient.aclose closes the manager (which waits for pending token work) before closing
    its session, and waits nowhere else: one close_timeout in all (it once waited two)."""
    async with strict_server(token_lifetime=1800, token_latency=5.0) as (oauth, env):
        auth = TokenManager(CREDS, MemoryTokenStore(), key="acct", environment=env)
        auth.close_timeout = 0.3
        await auth.store_token(expired(oauth))
        waits: list[float | None] = []
        settle = auth.settle

        async def recording(timeout: float | None = None) -> bool:
            waits.append(timeout)
            return await settle(timeout)

        auth.settle = recording  # type: ignore[method-assign]
        ffn = FFNClient(auth)
        await ffn.__aenter__()
        refresh = asyncio.ensure_future(auth.access_token())
        await asyncio.sleep(0.1)  # the token request is on its way
        await ffn.aclose()
        assert waits == [None]  # one wait, of close_timeout
        refresh.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await refresh


# --------------------------------------------------------------------------- defect 6: corrupt


def _kept_aside(caplog: pytest.LogCaptureFixture) -> str:
    for record in caplog.records:
        found = re.search(r"kept under key '([^']+)'", record.getMessage())
        if found:
            return found.group(1)
    raise AssertionError("no log line names where the unreadable record was kept")


@pytest.mark.parametrize("kind", ["not-ours", "truncated-file", "wrong-encryption-key"])
async def test_a_login_over_an_unreadable_record_replaces_it_and_keeps_the_bytes(
    kind: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    key = "acct"
    old_key, new_key = Fernet.generate_key(), Fernet.generate_key()
    store: TokenStore
    if kind == "not-ours":
        store = MemoryTokenStore()
        await store.save(key, b"\x00not a token record", None)
        bad = b"\x00not a token record"
    elif kind == "truncated-file":
        store = FileTokenStore(tmp_path / "tokens")
        await store.save(key, b"whatever", None)
        (path,) = (tmp_path / "tokens").glob("*.json")
        bad = path.read_bytes()[:20]
        path.write_bytes(bad)
    else:
        inner = FileTokenStore(tmp_path / "tokens")
        await EncryptedTokenStore(inner, old_key).save(key, b"written with a lost key", None)
        store = EncryptedTokenStore(inner, new_key)
        bad = b"written with a lost key"
    async with strict_server(token_lifetime=1800) as (oauth, env):
        auth = TokenManager(CREDS, store, key=key, environment=env)
        _, state = auth.authorization_url(["ffn.merchant.read"])
        token = Token.from_response(oauth.issue_tokens())
        await auth.store_token(token)  # what exchange_code does after spending the code
        assert (await auth.stored()).token == token
        assert await auth.access_token() == token.access_token
        await auth.aclose()
    aside = _kept_aside(caplog)
    kept = await store.load(aside)
    assert kept is not None
    if kind == "wrong-encryption-key":
        assert Fernet(old_key).decrypt(kept.data) == bad  # the ciphertext, intact
    else:
        assert kept.data == bad


# --------------------------------------------------------------------------- defect 11: 401


async def _always_401_server(oauth: OAuthServer) -> TestServer:
    async def api(request: web.Request) -> web.Response:
        return web.Response(status=401)  # a token for another account or environment

    app = web.Application()
    app.add_routes(oauth.routes())
    app.router.add_get("/api/v1/users/current", api)
    return TestServer(app, host="127.0.0.1")


async def test_an_api_that_always_answers_401_costs_one_rotation_not_one_per_call(
    tmp_path: Path,
) -> None:
    oauth = OAuthServer(client_id=CREDS.client_id, client_secret=CREDS.client_secret)
    async with await _always_401_server(oauth) as server:
        env = environment_for(server)
        # Two processes sharing one file store.
        managers = [
            TokenManager(CREDS, FileTokenStore(tmp_path / "t"), key="acct", environment=env)
            for _ in range(2)
        ]
        await managers[0].store_token(Token.from_response(oauth.issue_tokens()))
        errors: list[Unauthorized] = []
        for auth in managers:
            async with FFNClient(auth) as ffn:
                for _ in range(25):
                    with pytest.raises(Unauthorized) as caught:
                        await ffn.request("GET", "/v1/users/current")
                    errors.append(caught.value)
    assert oauth.stats.refreshes == 1
    assert len(errors) == 50
    assert all("account" in str(e) and "environment" in str(e) for e in errors)
    assert all("scopes" in (e.hint or "") for e in errors)


async def test_a_401_for_an_old_token_still_forces_one_refresh() -> None:
    """The bound does not stop the recovery it exists for: a revoked, not-yet-due token."""
    async with strict_server(token_lifetime=60) as (oauth, env):
        auth = TokenManager(CREDS, MemoryTokenStore(), key="acct", environment=env, leeway=1)
        await auth.store_token(Token.from_response(oauth.issue_tokens()))
        async with FFNClient(auth) as ffn:
            oauth.clock.advance(120)  # the server now considers it expired
            assert await ffn.request("GET", "/v1/users/current") == {"userId": "MERC"}
    assert oauth.stats.refreshes == 1


# --------------------------------------------------------------------------- defect 12: loops


async def test_one_manager_from_two_event_loops_is_a_typed_error() -> None:
    auth = TokenManager(CREDS, MemoryTokenStore(), key="acct")
    await auth.store_token(Token("a" * 20, "r" * 20, time.time() + 1800))
    await auth.stored()  # bound to this loop now
    outcome: list[BaseException] = []

    def other_thread() -> None:
        try:
            asyncio.run(auth.refresh())
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join(10)
    assert len(outcome) == 1
    assert isinstance(outcome[0], WrongEventLoop)
    assert isinstance(outcome[0], RuntimeError)
    assert "per event loop" in str(outcome[0])
    await auth.aclose()


def test_a_closed_managers_next_asyncio_run_may_use_it_again() -> None:
    auth = TokenManager(CREDS, MemoryTokenStore(), key="acct")

    async def use() -> Token | None:
        try:
            await auth.store_token(Token("a" * 20, "r" * 20, time.time() + 1800))
            return (await auth.stored()).token
        finally:
            await auth.aclose()

    assert asyncio.run(use()) is not None
    assert asyncio.run(use()) is not None


# --------------------------------------------------------------------------- the session


async def test_token_calls_go_through_the_clients_session_and_are_traced() -> None:
    seen: list[tuple[str, Any]] = []

    async def on_start(
        session: aiohttp.ClientSession, ctx: Any, params: aiohttp.TraceRequestStartParams
    ) -> None:
        seen.append((params.url.path, ctx.trace_request_ctx["template"]))

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_start)
    async with strict_server(token_lifetime=1800) as (oauth, env):
        auth = TokenManager(CREDS, MemoryTokenStore(), key="acct", environment=env)
        await auth.store_token(expired(oauth))
        async with FFNClient(auth, trace_configs=[trace], connector_limit=3) as ffn:
            await ffn.request("GET", "/v1/users/current")
            assert auth._http() is ffn._http()  # one pool, one limit
        assert auth._own_session is None  # it never needed a session of its own
    assert seen == [("/token", TOKEN_TEMPLATE), ("/api/v1/users/current", "/v1/users/current")]


async def test_a_managers_own_session_is_not_replaced() -> None:
    async with aiohttp.ClientSession() as mine:
        auth = TokenManager(CREDS, MemoryTokenStore(), key="acct", session=mine)
        async with FFNClient(auth) as ffn:
            assert auth._http() is mine
            assert ffn._http() is not mine
        assert not mine.closed


async def test_a_login_the_store_cannot_take_is_kept_and_saved_later() -> None:
    """The code is spent once exchanged: a login the store refuses for longer than a lease is
    reported (StoreUnavailable) but kept in memory and saved when the store answers."""
    store: Any = Outage(MemoryTokenStore())
    async with strict_server(token_lifetime=1800) as (oauth, env):
        auth = TokenManager(
            CREDS, store, key="acct", environment=env, lock_ttl=0.3, request_timeout=0.2
        )
        login = Token.from_response(oauth.issue_tokens())
        store.down = True
        with pytest.raises(StoreUnavailable, match="unreachable"):
            await auth.store_token(login)
        assert await auth.access_token() == login.access_token  # served from memory
        store.down = False
        assert await auth.settle(3.0)
        assert (await auth.stored()).token == login
        await auth.aclose()


async def test_a_401_forced_token_may_be_forced_again_once_it_is_no_longer_fresh(
    tmp_path: Path,
) -> None:
    """The bound is per fresh token: one revoked minutes after its issue still recovers."""
    oauth = OAuthServer(client_id=CREDS.client_id, client_secret=CREDS.client_secret)
    async with await _always_401_server(oauth) as server:
        env = environment_for(server)
        store = MemoryTokenStore()
        auth = TokenManager(CREDS, store, key="acct", environment=env)
        await auth.store_token(Token.from_response(oauth.issue_tokens()))
        async with FFNClient(auth) as ffn:
            with pytest.raises(Unauthorized):
                await ffn.request("GET", "/v1/users/current")
            assert oauth.stats.refreshes == 1
            # Six minutes later (the forced token is no longer fresh), a 401 again.
            stored = await auth.stored()
            assert stored.after_unauthorized
            assert stored.token is not None
            aged = attrs.evolve(stored.token, issued_at=time.time() - 360)
            await store.save(
                "acct", encode_record("acct", attrs.evolve(stored, token=aged)), stored.version
            )
            auth._account.stored = attrs.evolve(stored, token=aged)
            with pytest.raises(Unauthorized):
                await ffn.request("GET", "/v1/users/current")
    assert oauth.stats.refreshes == 2


def test_event_loop_shutdown_makes_one_last_attempt_to_save_an_unsaved_token() -> None:
    """``asyncio.run`` cancels every task when main returns; the background save, cancelled,
    still tries once (bounded) to hand the token to the store, which is back by then."""
    store: Any = Outage(MemoryTokenStore())
    issued: list[Token] = []

    async def main() -> None:
        async with strict_server(token_lifetime=1800) as (oauth, env):
            auth = TokenManager(CREDS, store, key="acct", environment=env, request_timeout=0.3)
            await auth.store_token(expired(oauth))
            store.down = True
            await auth.access_token()  # rotated; the store refused; saving in the background
            issued.append(auth._account.stored.token)  # type: ignore[arg-type]
            store.down = False  # main returns before the saver's next attempt

    asyncio.run(main())
    record = asyncio.run(store.load("acct"))
    assert record is not None
    assert issued[0].refresh_token is not None
    assert issued[0].refresh_token.encode() in record.data
