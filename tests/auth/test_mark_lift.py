"""A rotation mark whose save lost its answer is lifted as soon as the store answers again.

The mark is written before the token call; if the store raises ``StoreUnavailable`` for that
save, the mark may have landed all the same (a connection cut after the command was sent).
Nothing was spent, but peers honour the mark for ``in_flight_timeout`` (120 s by default) and
this worker ignores its own: without the lifter a peer waits for a save that never comes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import attrs
import pytest
from yarl import URL

from ffn_async import ClientCredentials, TokenManager
from ffn_async.auth.record import StoredToken, decode_record, encode_record
from ffn_async.errors import StoreUnavailable, TokenEndpointError
from tests.http_mock import CallbackResult, aioresponses
from token_stores import MemoryTokenStore, Record, RedisTokenStore, TokenStore

from .. import services
from ..conftest import TEST_ENV, token_response
from .test_auth import TOKEN_URL, login_then_expire, token_calls


class LostAnswer:
    """Wraps a store. ``armed``: the next in-flight mark save lands, then raises
    ``StoreUnavailable`` (and the store stays away if ``down_after``). ``refuse_unmark``: the
    next save lifting a mark raises without landing. While ``down`` every load and save
    raises. ``before_load``/``before_save`` run once, at the start of the next load/save."""

    def __init__(self, inner: TokenStore, *, down_after: bool = False) -> None:
        self.inner = inner
        self.down_after = down_after
        self.armed = False
        self.refuse_unmark = False
        self.down = False
        self.before_load: Callable[[], Awaitable[None]] | None = None
        self.before_save: Callable[[], Awaitable[None]] | None = None

    async def save(self, key: str, data: bytes, expected_version: int | None) -> int:
        hook, self.before_save = self.before_save, None
        if hook is not None:
            await hook()
        if self.refuse_unmark and b'"rotating":null' in data:
            self.refuse_unmark = False
            raise StoreUnavailable("the store is unreachable (test outage)")
        if self.down:
            raise StoreUnavailable("the store is unreachable (test outage)")
        version = await self.inner.save(key, data, expected_version)
        if self.armed and b'"rotating":{' in data:
            self.armed = False
            self.down = self.down_after
            raise StoreUnavailable("connection reset after the command was sent")
        return version

    async def load(self, key: str) -> Record | None:
        hook, self.before_load = self.before_load, None
        if hook is not None:
            await hook()
        if self.down:
            raise StoreUnavailable("the store is unreachable (test outage)")
        return await self.inner.load(key)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


_created: list[TokenManager] = []


def manager(creds: ClientCredentials, store: LostAnswer, **kw: Any) -> TokenManager:
    """A worker on ``store``; each wrapper object is another process (its own owner id)."""
    kw.setdefault("request_timeout", 0.3)
    auth = TokenManager(creds, store, key="acct", environment=TEST_ENV, **kw)
    _created.append(auth)
    return auth


@pytest.fixture(autouse=True)
async def _close_managers() -> AsyncIterator[None]:
    yield
    while _created:
        await _created.pop().aclose()


async def lose_mark_answer(a: TokenManager, store_a: LostAnswer, mock: aioresponses) -> None:
    """Log A in with a token due for refresh; A's rotation then writes its mark, whose save
    lands but answers ``StoreUnavailable`` (A spends nothing and raises)."""
    await login_then_expire(a, mock)
    store_a.armed = True
    with pytest.raises(StoreUnavailable):
        await a.access_token()


async def assert_refreshed_once(
    calls: list[dict[str, Any]], lost: StoredToken, inner: TokenStore, refreshed: dict[str, Any]
) -> None:
    """The login and one refresh, which spent the refresh token of the record A marked; its
    token is stored and no mark is left."""
    assert lost.token is not None
    assert [c["data"]["grant_type"] for c in calls] == ["authorization_code", "refresh_token"]
    assert calls[1]["data"]["refresh_token"] == lost.token.refresh_token
    stored = await record(inner)
    assert (stored.rotation, stored.rotating_by) == (1, None)
    assert stored.token is not None
    assert stored.token.access_token == refreshed["access_token"]


@pytest.fixture(params=["memory", "redis"])
async def shared(request: pytest.FixtureRequest) -> AsyncIterator[TokenStore]:
    """The store both workers use: in memory, or a real Redis server."""
    if request.param == "memory":
        yield MemoryTokenStore()
        return
    store = RedisTokenStore(services.redis_url(), prefix=services.scratch_prefix("mark-lift"))
    try:
        yield store
    finally:
        await store.delete("acct")
        await store.close()


async def record(inner: TokenStore) -> StoredToken:
    return decode_record("acct", await inner.load("acct"))


async def test_a_peer_is_not_stalled_by_a_mark_whose_save_lost_its_answer(
    creds: ClientCredentials, shared: TokenStore
) -> None:
    inner = shared
    a = manager(creds, store_a := LostAnswer(inner))
    b = manager(creds, LostAnswer(inner), lock_timeout=2.0)  # far below in_flight_timeout
    with aioresponses() as mock:
        await lose_mark_answer(a, store_a, mock)  # A needs no token again (idle, exiting)
        lost = await record(inner)
        assert lost.rotating_by == a._account.owner  # the mark landed
        refreshed = token_response()
        mock.post(TOKEN_URL, payload=refreshed)
        assert await b.access_token() == refreshed["access_token"]  # not LockTimeout
        calls = token_calls(mock)
    await assert_refreshed_once(calls, lost, inner, refreshed)


async def test_a_mark_that_could_not_be_lifted_after_a_failed_token_call_is_lifted_later(
    creds: ClientCredentials,
) -> None:
    """The token call failed (nothing issued) and lifting the mark met the store away."""
    inner = MemoryTokenStore()
    a = manager(creds, store_a := LostAnswer(inner))
    b = manager(creds, LostAnswer(inner), lock_timeout=2.0)
    with aioresponses() as mock:
        await login_then_expire(a, mock)
        mock.post(TOKEN_URL, status=500, payload={"error": "server_error"})
        store_a.refuse_unmark = True
        with pytest.raises(TokenEndpointError):
            await a.access_token()
        assert (await record(inner)).rotating_by == a._account.owner
        refreshed = token_response()
        mock.post(TOKEN_URL, payload=refreshed)
        assert await b.access_token() == refreshed["access_token"]  # not LockTimeout
        assert len(token_calls(mock)) == 3  # the login, A's failed call, B's refresh
    assert (await record(inner)).rotation == 1


@pytest.mark.parametrize("by", ["own", "peer"])
async def test_the_lifter_leaves_a_later_rotations_mark_alone(
    creds: ClientCredentials, by: str
) -> None:
    """Before the lifter reads, a later rotation marked the record and called the token
    endpoint: A's own (which ignores A's marks) or B's (which presumed A dead)."""
    inner = MemoryTokenStore()
    a = manager(creds, store_a := LostAnswer(inner))
    b = manager(creds, LostAnswer(inner), in_flight_timeout=0.5, lock_timeout=10.0)
    later = a if by == "own" else b
    called = asyncio.Event()
    release = asyncio.Event()
    refreshed = token_response()

    async def held_refresh(url: URL, **kw: Any) -> CallbackResult:
        called.set()
        await release.wait()
        return CallbackResult(payload=refreshed)

    rotations: list[asyncio.Future[str]] = []

    async def later_rotation_in_flight() -> None:
        rotations.append(asyncio.ensure_future(later.access_token()))
        await called.wait()  # its mark is written and its token call in flight

    with aioresponses() as mock:
        await lose_mark_answer(a, store_a, mock)
        lost = await record(inner)
        assert lost.rotating_by == a._account.owner
        mock.post(TOKEN_URL, callback=held_refresh)
        lifters = set(a._account.lifters)
        assert lifters
        store_a.before_load = later_rotation_in_flight  # the lifter's first read waits for it
        await asyncio.wait_for(asyncio.wait(lifters), 10)
        held = await record(inner)
        assert held.rotating_by == later._account.owner
        assert held.rotating_since != lost.rotating_since  # the later mark is still there
        release.set()
        assert await asyncio.wait_for(rotations[0], 10) == refreshed["access_token"]
        calls = token_calls(mock)
    await assert_refreshed_once(calls, lost, inner, refreshed)


async def test_the_lifter_does_not_clear_a_mark_written_between_its_read_and_its_write(
    creds: ClientCredentials,
) -> None:
    """A peer presumed A dead and marked its own rotation after the lifter read A's mark:
    the lifter's compare-and-set on the version it read is refused, and it leaves it."""
    inner = MemoryTokenStore()
    a = manager(creds, store_a := LostAnswer(inner))

    async def peer_marks() -> None:
        latest = await record(inner)
        assert latest.rotating_by == a._account.owner  # the lifter read A's own mark
        peer = attrs.evolve(latest, rotating_by="peer", rotating_since=time.time())
        await inner.save("acct", encode_record("acct", peer), latest.version)

    with aioresponses() as mock:
        await lose_mark_answer(a, store_a, mock)
        lifters = set(a._account.lifters)
        assert lifters
        store_a.before_save = peer_marks  # runs as the lifter writes
        await asyncio.wait_for(asyncio.wait(lifters), 10)
    assert store_a.before_save is None  # the lifter did try to write
    assert (await record(inner)).rotating_by == "peer"


async def test_aclose_lifts_the_mark_once_the_store_answers(creds: ClientCredentials) -> None:
    inner = MemoryTokenStore()
    a = manager(creds, store_a := LostAnswer(inner, down_after=True), close_timeout=10.0)
    with aioresponses() as mock:
        await lose_mark_answer(a, store_a, mock)
        assert (await record(inner)).rotating_by == a._account.owner
        store_a.down = False
        await asyncio.wait_for(a.aclose(), 10)
        assert len(token_calls(mock)) == 1  # the login only: nothing was spent
    assert not a._account.lifters
    stored = await record(inner)
    assert (stored.rotation, stored.rotating_by) == (0, None)


async def test_aclose_does_not_hang_on_a_store_that_stays_away(creds: ClientCredentials) -> None:
    inner = MemoryTokenStore()
    a = manager(creds, store_a := LostAnswer(inner, down_after=True), close_timeout=0.2)
    with aioresponses() as mock:
        await lose_mark_answer(a, store_a, mock)
        lifters = set(a._account.lifters)
        assert lifters
        await asyncio.wait_for(a.aclose(), 10)
    assert all(t.done() for t in lifters)
    assert not a._account.lifters
    assert (await record(inner)).rotating_by == a._account.owner  # left to expire
