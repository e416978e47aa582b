"""A token the server has issued is never dropped, and a refresh token that may be spent is not
presented by a peer, whatever the store does during the rotation.

The holder marks the record "rotation in flight" before calling the token endpoint; if the
store cannot take the new token, the holder serves it from memory and keeps saving it, at once
when the store answers; a peer that finds a recent mark waits for that save instead of
spending the old refresh token. Each test fails on a TokenManager without these (the holder
gave up its save after one lease and dropped the token, and the peer presented the old one).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from ffn_async import Environment, FFNClient, Token, TokenManager
from ffn_async.auth.record import StoredToken, encode_record
from ffn_async.testing.oauth import OAuthServer
from token_stores import (
    FileTokenStore,
    LockTimeout,
    MemoryTokenStore,
    Record,
    RedisTokenStore,
    StoreUnavailable,
    TokenStore,
)

from .. import services
from ..conftest import environment_for
from ..faultproxy import FaultProxy
from ..fleet import CREDS


class Outage:
    """Wraps a store; while ``down``, every save but an in-flight mark fails as if the store
    were unreachable (the outage starts right after the mark). Loads and locks go through."""

    def __init__(self, inner: TokenStore) -> None:
        self.inner = inner
        self.down = False
        self.refused = 0

    async def save(self, key: str, data: bytes, expected_version: int | None) -> int:
        if self.down and b'"rotating":{' not in data:
            self.refused += 1
            raise StoreUnavailable("the store is unreachable (test outage)")
        return await self.inner.save(key, data, expected_version)

    async def load(self, key: str) -> Record | None:
        return await self.inner.load(key)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@asynccontextmanager
async def oauth_server(
    *, token_latency: float = 0.0, after_token: Callable[[], Awaitable[None]] | None = None
) -> AsyncIterator[tuple[OAuthServer, Environment]]:
    """The strict server (reuse revokes the chain) plus an API route; ``after_token`` runs
    once a token answer is ready, before it is sent."""
    oauth = OAuthServer(
        client_id=CREDS.client_id,
        client_secret=CREDS.client_secret,
        redirect_uri=CREDS.redirect_uri,
        token_latency=token_latency,
    )

    @web.middleware
    async def hook(request: web.Request, handler: Any) -> web.StreamResponse:
        response: web.StreamResponse = await handler(request)
        if request.path == "/token" and after_token is not None:
            await after_token()
        return response

    async def current_user(request: web.Request) -> web.Response:
        header = request.headers.get("Authorization", "")
        if not oauth.is_valid_access_token(header.removeprefix("Bearer ")):
            return web.Response(status=401)
        return web.json_response({"userId": "MERC"})

    app = web.Application(middlewares=[hook])
    app.add_routes(oauth.routes())
    app.router.add_get("/api/v1/users/current", current_user)
    async with TestServer(app, host="127.0.0.1") as server:
        yield oauth, environment_for(server)


def assert_rotated_once(oauth: OAuthServer, record: StoredToken, access_token: str) -> None:
    """One refresh, no refresh token reused, no family revoked, and its token is stored."""
    assert oauth.stats.refreshes == 1
    assert oauth.stats.reuse_attempts == 0
    assert oauth.families_revoked == 0
    assert record.rotation == 1
    assert record.token is not None
    assert record.token.access_token == access_token


def expired(oauth: OAuthServer) -> Token:
    issued = Token.from_response(oauth.issue_tokens())
    return Token(issued.access_token, issued.refresh_token, time.time() - 5)


async def test_a_token_the_store_cannot_take_is_served_from_memory_and_saved_later() -> None:
    store: Any = Outage(MemoryTokenStore())
    async with oauth_server() as (oauth, env):
        auth = TokenManager(
            CREDS, store, key="acct", environment=env, lock_ttl=0.5, request_timeout=0.3
        )
        await auth.store_token(expired(oauth))
        store.down = True
        async with FFNClient(auth) as ffn:
            assert await ffn.request("GET", "/v1/users/current") == {"userId": "MERC"}
            await asyncio.sleep(1.2)  # more than two leases: the token is still kept
            assert await ffn.request("GET", "/v1/users/current") == {"userId": "MERC"}
            record = await auth.stored()
            assert record.rotation == 0  # the store still has the old token ...
            assert record.rotating_by is not None  # ... marked as being rotated
            assert store.refused >= 3
            store.down = False
            assert await auth.settle(3.0)  # saved as soon as the store answers
        record = await auth.stored()
    assert oauth.stats.refreshes == 1
    assert record.rotation == 1
    assert record.rotating_by is None
    assert record.token == auth._account.stored.token
    assert oauth.stats.reuse_attempts == 0


async def test_a_peer_waits_for_the_unsaved_rotation_instead_of_spending(tmp_path: Path) -> None:
    """Holder A rotated but its store is away; peer B (another process) must not spend."""
    path = tmp_path / "tokens"
    store_a: Any = Outage(FileTokenStore(path))
    store_b = FileTokenStore(path)  # another process's store object: its own in-process state
    settings: dict[str, Any] = {"lock_ttl": 0.5, "request_timeout": 0.3, "lock_timeout": 5.0}
    async with oauth_server() as (oauth, env):
        a = TokenManager(CREDS, store_a, key="acct", environment=env, **settings)
        b = TokenManager(CREDS, store_b, key="acct", environment=env, **settings)
        await a.store_token(expired(oauth))
        store_a.down = True
        token_a = await a.access_token()  # rotated; the save failed; served from memory
        waiter = asyncio.ensure_future(b.access_token())
        await asyncio.sleep(1.5)  # B has long taken the free lock and found the mark
        assert not waiter.done()
        assert oauth.stats.refreshes == 1  # B did not present the old refresh token
        store_a.down = False
        await a.settle(3.0)
        assert await asyncio.wait_for(waiter, 5) == token_a
        await a.aclose()
        await b.aclose()
    assert oauth.stats.reuse_attempts == 0
    assert oauth.families_revoked == 0
    assert (await b.stored()).rotation == 1


async def test_a_mark_that_ran_out_is_given_a_grace_then_presumed_dead(tmp_path: Path) -> None:
    """A holder that died after marking: after in_flight_timeout (+ one request timeout) a
    peer refreshes; until then it waits."""
    store = FileTokenStore(tmp_path / "tokens")
    async with oauth_server() as (oauth, env):
        login = TokenManager(CREDS, store, key="acct", environment=env)
        await login.store_token(expired(oauth))
        stored = await login.stored()
        await login.aclose()
        # What a worker that died right after marking its rotation leaves behind.
        marked = StoredToken(stored.token, None, rotating_by="dead", rotating_since=time.time())
        await store.save("acct", encode_record("acct", marked), stored.version)
        peer = TokenManager(
            CREDS,
            FileTokenStore(tmp_path / "tokens"),  # another process
            key="acct",
            environment=env,
            in_flight_timeout=1.0,
            request_timeout=0.3,
            lock_ttl=2.0,
            lock_timeout=0.5,
        )
        with pytest.raises(LockTimeout, match="in flight"):
            await peer.access_token()  # the mark is recent: wait, then give up, not spend
        assert oauth.stats.refreshes == 0
        await asyncio.sleep(1.0)
        peer.lock_timeout = 5.0
        assert await peer.access_token()  # ran out + grace: presumed dead, refreshed
        await peer.aclose()
    assert oauth.stats.refreshes == 1
    assert oauth.stats.reuse_attempts == 0


async def test_the_lease_is_renewed_while_the_holder_works() -> None:
    """A slow token call followed by a slow save outlast the first lease; it is renewed."""

    class SlowSave(Outage):
        async def save(self, key: str, data: bytes, expected_version: int | None) -> int:
            if b'"rotating":null' in data:
                await asyncio.sleep(0.4)
            return await self.inner.save(key, data, expected_version)

    inner = MemoryTokenStore()
    store: Any = SlowSave(inner)
    async with oauth_server(token_latency=0.4) as (oauth, env):
        auth = TokenManager(
            CREDS, store, key="acct", environment=env, lock_ttl=0.6, request_timeout=0.5
        )
        await auth.store_token(expired(oauth))
        refresh = asyncio.ensure_future(auth.access_token())
        await asyncio.sleep(0.7)  # past the first lease of 0.6 s, the save still running
        assert not refresh.done()
        with pytest.raises(LockTimeout):  # still held: the holder renewed it
            async with inner.lock("acct", ttl=1, timeout=0.05):
                pass
        await refresh
        await auth.aclose()
    assert oauth.stats.refreshes == 1


@pytest.mark.outage
async def test_redis_drops_after_the_token_call_and_returns_after_the_lease_expired() -> None:
    """The issue's scenario: the holder's Redis (behind a proxy) drops right after its token
    call and comes back just after the holder's lease expired; a peer polling the lock takes
    it, reads the old record and would present the old refresh token."""
    url = services.redis_url()
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    prefix = services.scratch_prefix("inflight")
    settings: dict[str, Any] = {"lock_ttl": 1.0, "request_timeout": 0.5, "lock_timeout": 10.0}
    async with FaultProxy(port) as proxy:
        store_a = RedisTokenStore(proxy.url(url), prefix=prefix, socket_timeout=0.5)
        store_b = RedisTokenStore(url, prefix=prefix)

        async def drop_after_token() -> None:
            if dropping:
                await proxy.refuse()

        dropping = False
        async with oauth_server(after_token=drop_after_token) as (oauth, env):
            a = TokenManager(CREDS, store_a, key="acct", environment=env, **settings)
            b = TokenManager(CREDS, store_b, key="acct", environment=env, **settings)
            await a.store_token(expired(oauth))
            dropping = True
            started = time.monotonic()
            token_a = await a.access_token()  # rotated, then Redis went away for A
            dropping = False
            peer = asyncio.ensure_future(b.access_token())  # polls the lock every <= 50 ms
            await asyncio.sleep(max(0.0, started + 1.1 - time.monotonic()))  # lease expired
            await proxy.heal()  # Redis is back for A just after its lease ran out
            assert await asyncio.wait_for(peer, 10) == token_a
            assert await a.settle(5.0)
            record = await b.stored()
            await a.aclose()
            await b.aclose()
        await store_a.close()
        await store_b.close()
    assert_rotated_once(oauth, record, token_a)


async def test_the_grace_of_an_expired_mark_is_not_cut_short_by_the_peers_lock_timeout(
    tmp_path: Path,
) -> None:
    """A partition longer than a peer's lock_timeout but within in_flight_timeout + grace: the
    peer's calls keep failing with LockTimeout and retrying, but none presents the token."""
    path = tmp_path / "tokens"
    store_a: Any = Outage(FileTokenStore(path))
    async with oauth_server() as (oauth, env):
        a = TokenManager(CREDS, store_a, key="acct", environment=env, request_timeout=0.3)
        b = TokenManager(
            CREDS,
            FileTokenStore(path),
            key="acct",
            environment=env,
            in_flight_timeout=2.0,
            request_timeout=1.5,  # the grace after the mark runs out (> the saver's 1 s pause)
            lock_timeout=0.35,
        )
        await a.store_token(expired(oauth))
        store_a.down = True
        marked_at = time.monotonic()
        token_a = await a.access_token()
        timeouts = 0

        async def peer() -> str:
            nonlocal timeouts
            while True:
                try:
                    return await b.access_token()
                except LockTimeout:
                    timeouts += 1

        waiter = asyncio.ensure_future(peer())
        await asyncio.sleep(max(0.0, marked_at + 2.3 - time.monotonic()))  # mark ran out
        assert oauth.stats.refreshes == 1  # still only A's
        store_a.down = False  # A's store is back within the peer's grace
        assert await asyncio.wait_for(waiter, 5) == token_a
        await a.aclose()
        await b.aclose()
    assert timeouts >= 2
    assert oauth.stats.refreshes == 1
    assert oauth.stats.reuse_attempts == 0


async def test_an_unsaved_token_that_falls_due_is_served_until_it_expires() -> None:
    """It cannot be rotated before the store has it; until it expires it is still good."""
    store: Any = Outage(MemoryTokenStore())
    oauth = OAuthServer(
        client_id=CREDS.client_id, client_secret=CREDS.client_secret, token_lifetime=2.0
    )
    auth = TokenManager(
        CREDS, store, key="acct", lock_ttl=0.5, request_timeout=0.3, lock_timeout=0.3
    )
    app = web.Application()
    app.add_routes(oauth.routes())
    async with TestServer(app, host="127.0.0.1") as server:
        auth.environment = environment_for(server)
        await auth.store_token(expired(oauth))
        store.down = True
        token = await auth.access_token()
        due = auth._account.stored.token
        assert due is not None
        await asyncio.sleep(max(0.0, due.refresh_due_at(auth.leeway) - time.time() + 0.05))
        assert not due.is_expired()
        assert await auth.access_token() == token  # due, unsaved, still valid: served
        assert oauth.stats.refreshes == 1
        store.down = False
        assert await auth.settle(3.0)
        await auth.aclose()
