"""Case 6, fast path: ``TokenManager.access_token()`` with a valid cached token.

This runs before every request, so it must cost next to nothing: no store I/O, no lock (not
the store's cross-process lease, not an ``asyncio.Lock``). :func:`verify_no_io` proves that
with a store that raises on every call once the token is cached and ``asyncio.Lock`` /
``asyncio.Semaphore`` patched to raise; :func:`run` times it against an empty coroutine,
``StaticToken`` and Authlib's per-request ``ensure_active_token``. It also times a whole
``FFNClient.request()`` over a stub session that answers at once: the pipeline's own cost
per request (URL, headers, auth, response, JSON decode) without the network's noise.
"""

from __future__ import annotations

import asyncio
import time
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any
from unittest import mock

import attrs
from multidict import CIMultiDict, CIMultiDictProxy

from ffn_async import ClientCredentials, Environment, FFNClient, StaticToken, Token, TokenManager
from ffn_async.observe.events import Event, Observer
from token_stores import MemoryTokenStore, Record

from .report import CaseResult, Table

__all__ = ["FULL", "QUICK", "ForbiddenIO", "Params", "run", "verify_no_io"]

CREDS = ClientCredentials("bench-client", "bench-secret")
ACCESS = "bench-access-token." + "x" * 900


@attrs.frozen
class Params:
    """Sizes of one run: ``repeat`` timings of ``calls`` awaits each, best kept."""

    calls: int = 100_000
    repeat: int = 3


FULL = Params()
QUICK = Params(calls=50_000, repeat=3)


class ForbiddenIO:
    """A store that works until :attr:`armed`, then raises on every call (and counts them)."""

    def __init__(self) -> None:
        self.inner = MemoryTokenStore()
        self.armed = False
        self.calls = 0

    def _check(self, what: str) -> None:
        if self.armed:
            self.calls += 1
            raise AssertionError(f"store.{what}() called on the fast path")

    async def load(self, key: str) -> Record | None:
        self._check("load")
        return await self.inner.load(key)

    async def save(self, key: str, data: bytes, expected_version: int | None) -> int:
        self._check("save")
        return await self.inner.save(key, data, expected_version)

    async def delete(self, key: str) -> None:
        self._check("delete")
        await self.inner.delete(key)

    async def close(self) -> None:
        await self.inner.close()

    @asynccontextmanager
    async def lock(
        self, key: str, *, ttl: float = 30.0, timeout: float = 30.0
    ) -> AsyncIterator[None]:
        self._check("lock")
        async with self.inner.lock(key, ttl=ttl, timeout=timeout):
            yield


@contextmanager
def _no_asyncio_locks() -> Iterator[list[str]]:
    taken: list[str] = []

    def forbid(name: str) -> Callable[..., Any]:
        async def acquire(self: object) -> bool:
            taken.append(name)
            raise AssertionError(f"{name}.acquire() called on the fast path")

        return acquire

    with (
        mock.patch.object(asyncio.Lock, "acquire", forbid("asyncio.Lock")),
        mock.patch.object(asyncio.Semaphore, "acquire", forbid("asyncio.Semaphore")),
    ):
        yield taken


async def _cached_manager(store: Any) -> TokenManager:
    manager = TokenManager(CREDS, store, key="fast-path")
    now = time.time()
    await manager.store_token(Token(ACCESS, "refresh", now + 3600, issued_at=now))
    return manager


async def verify_no_io(calls: int = 1000) -> dict[str, int]:
    """Call ``access_token()`` ``calls`` times with I/O and locks forbidden; count violations."""
    store = ForbiddenIO()
    manager = await _cached_manager(store)
    store.armed = True
    with _no_asyncio_locks() as taken:
        for _ in range(calls):
            assert await manager.access_token() == ACCESS
    await manager.aclose()
    return {"calls": calls, "store_calls": store.calls, "locks_taken": len(taken)}


class _InstantResponse:
    status = 200
    body = b'{"userId":"MERC"}'
    headers = CIMultiDictProxy(
        CIMultiDict({"Content-Type": "application/json", "Content-Length": str(len(body))})
    )
    connection = None  # a body read to its end has handed the connection back

    async def read(self) -> bytes:
        return self.body

    def release(self) -> None:
        return None


class _InstantSession:
    """Stands in for ``aiohttp.ClientSession``: every request is answered at once."""

    closed = False

    async def request(self, method: str, url: object, **options: object) -> _InstantResponse:
        return _InstantResponse()

    async def close(self) -> None:
        return None


def _pipeline_client(manager: TokenManager, observer: Observer | None = None) -> FFNClient:
    env = Environment(
        api_url="http://127.0.0.1:9/api",
        authorize_url="http://127.0.0.1:9/authorize",
        token_url="http://127.0.0.1:9/token",
    )
    client = FFNClient(manager, environment=env, observer=observer)
    # As an owned session: the default headers and timeout ride on the session.
    client._session = _InstantSession()  # type: ignore[assignment]
    return client


async def _ns_per_call(fn: Callable[[], Awaitable[Any]], params: Params) -> float:
    best = float("inf")
    for _ in range(params.repeat):
        began = time.perf_counter_ns()
        for _ in range(params.calls):
            await fn()
        best = min(best, (time.perf_counter_ns() - began) / params.calls)
    return best


async def _measure(params: Params) -> dict[str, float]:
    manager = await _cached_manager(MemoryTokenStore())
    static = StaticToken(ACCESS)

    async def empty() -> str:
        return ACCESS

    with warnings.catch_warnings():  # Authlib warns that it prefers httpx2 over httpx
        warnings.showwarning = lambda *args, **kwargs: None
        from authlib.integrations.httpx_client import AsyncOAuth2Client  # type: ignore[import-untyped]

    oauth = AsyncOAuth2Client(
        CREDS.client_id,
        CREDS.client_secret,
        token={
            "access_token": ACCESS,
            "token_type": "Bearer",
            "expires_at": int(time.time()) + 3600,
        },
        token_endpoint="http://127.0.0.1:9/token",
    )
    client = _pipeline_client(manager)
    # An observer that only counts: what the hooks themselves cost, without a metrics library.
    seen: list[int] = [0]

    def counting(event: Event) -> None:
        seen[0] += 1

    observed_manager = await _cached_manager(MemoryTokenStore())
    observed = _pipeline_client(observed_manager, counting)

    async def pipeline() -> Any:
        return await client.request("GET", "/v1/users/current")

    async def typed() -> Any:
        return await client.shared.users.current()

    async def observed_pipeline() -> Any:
        return await observed.request("GET", "/v1/users/current")

    async def observed_typed() -> Any:
        return await observed.shared.users.current()

    try:
        results = {
            "empty coroutine (baseline)": await _ns_per_call(empty, params),
            "ffn-async TokenManager.access_token()": await _ns_per_call(
                manager.access_token, params
            ),
            "ffn-async StaticToken.access_token()": await _ns_per_call(static.access_token, params),
            "Authlib AsyncOAuth2Client.ensure_active_token()": await _ns_per_call(
                lambda: oauth.ensure_active_token(oauth.token), params
            ),
            "ffn-async FFNClient.request() on a stub session (whole pipeline)": (
                await _ns_per_call(pipeline, params)
            ),
            "ffn-async ffn.shared.users.current() on a stub session (typed: a User)": (
                await _ns_per_call(typed, params)
            ),
            "ffn-async FFNClient.request(), stub session, counting observer": (
                await _ns_per_call(observed_pipeline, params)
            ),
            "ffn-async ffn.shared.users.current(), stub session, counting observer": (
                await _ns_per_call(observed_typed, params)
            ),
        }
        assert seen[0] == 2 * params.repeat * params.calls  # one RequestEvent per request
    finally:
        await oauth.aclose()
        await manager.aclose()
        await observed_manager.aclose()
    return results


def run(params: Params = FULL) -> CaseResult:
    """Time the fast path and verify it does no I/O and takes no lock."""
    started = time.perf_counter()
    check = asyncio.run(verify_no_io())
    results = asyncio.run(_measure(params))
    base = results["empty coroutine (baseline)"]
    rows = tuple(
        (name, f"{ns:,.0f}", "—" if ns is base else f"{ns - base:,.0f}")
        for name, ns in results.items()
    )
    clean = check["store_calls"] == 0 and check["locks_taken"] == 0
    return CaseResult(
        name="fast_path",
        title="6. Fast path: access_token() with a valid cached token",
        tables=(Table("ns per awaited call", ("call", "ns per call", "ns over baseline"), rows),),
        data={
            "params": attrs.asdict(params),
            "ns_per_call": {k: round(v, 1) for k, v in results.items()},
            "no_io_check": check,
        },
        notes=(
            f"no-I/O check: {check['calls']} calls with a store that raises on every use and "
            f"asyncio.Lock/Semaphore patched to raise: {check['store_calls']} store calls, "
            f"{check['locks_taken']} locks — {'clean' if clean else 'VIOLATED'}",
            f"best of {params.repeat} x {params.calls:,} awaits",
        ),
        seconds=time.perf_counter() - started,
    )
