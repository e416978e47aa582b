"""Observability hooks (:mod:`ffn_async.observe`): which events a request, a retry, a refresh
and the token store emit, that a failing observer breaks nothing, and that without an observer
nothing is measured at all."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import TypeVar

import aiohttp
import pytest
from yarl import URL

import ffn_async.auth.rotation as rotation_module
import ffn_async.client as client_module
import ffn_async.retry as retry_module
from ffn_async import ClientCredentials, FFNClient, RetryPolicy, StaticToken, TokenManager
from ffn_async.errors import ResponseTooLarge, StoreUnavailable
from ffn_async.observe.events import (
    Event,
    LockWaitEvent,
    RefreshEvent,
    RequestEvent,
    RetryEvent,
    StoreEvent,
    observed_store,
)
from tests.http_mock import CallbackResult, aioresponses
from token_stores import MemoryTokenStore, Record

from ..conftest import TEST_ENV, make_jwt, token_response

E = TypeVar("E", RequestEvent, RetryEvent, RefreshEvent, LockWaitEvent, StoreEvent)
API = "https://api.ffn.test/api"
FAST = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.02, jitter=lambda c: c)


class Recorder:
    """The smallest observer: keeps every event."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, event: Event) -> None:
        self.events.append(event)

    def of(self, kind: type[E]) -> list[E]:
        return [e for e in self.events if isinstance(e, kind)]


@pytest.fixture
async def observed() -> AsyncIterator[tuple[FFNClient, Recorder]]:
    recorder = Recorder()
    auth = StaticToken(make_jwt())
    async with FFNClient(auth, environment=TEST_ENV, retry=FAST, observer=recorder) as client:
        yield client, recorder


async def test_a_typed_call_reports_its_operation_status_and_duration(
    observed: tuple[FFNClient, Recorder],
) -> None:
    ffn, recorder = observed
    with aioresponses() as mock:
        mock.get(f"{API}/v1/users/current", payload={"userId": "MERC"})
        user = await ffn.shared.users.current()
    assert user.user_id == "MERC"
    (event,) = recorder.events
    assert isinstance(event, RequestEvent)
    assert (event.operation, event.method, event.status, event.error, event.attempt) == (
        "shared.UsersGetCurrent",
        "GET",
        200,
        None,
        1,
    )
    assert event.duration >= 0


async def test_request_on_a_documented_route_names_the_operation_else_the_template(
    observed: tuple[FFNClient, Recorder],
) -> None:
    ffn, recorder = observed
    with aioresponses() as mock:
        mock.get(f"{API}/v1/users/current", payload={"userId": "MERC"})
        mock.get(f"{API}/v1/custom/42", payload={})
        mock.get("https://elsewhere.test/files/a?sig=secret", payload={})
        await ffn.request("GET", "/v1/users/current")
        await ffn.request("GET", "/v1/custom/{id}", path_params={"id": 42})
        await ffn.request("GET", "https://elsewhere.test/files/a?sig=secret")
    assert [e.operation for e in recorder.of(RequestEvent)] == [
        "shared.UsersGetCurrent",
        "/v1/custom/{id}",  # the template, not the filled path: bounded label values
        "/files/a",  # an absolute URL: its path, never its query
    ]


async def test_a_retried_request_reports_each_attempt_and_the_retry(
    observed: tuple[FFNClient, Recorder], sleeps: list[float]
) -> None:
    ffn, recorder = observed
    with aioresponses() as mock:
        mock.get(f"{API}/v1/users/current", status=503)
        mock.get(f"{API}/v1/users/current", exception=aiohttp.ServerDisconnectedError())
        mock.get(f"{API}/v1/users/current", payload={"userId": "MERC"})
        await ffn.request("GET", "/v1/users/current")
    op = "shared.UsersGetCurrent"
    kinds = [(type(e).__name__, getattr(e, "status", None)) for e in recorder.events]
    assert kinds == [
        ("RequestEvent", 503),
        ("RetryEvent", 503),
        ("RequestEvent", None),
        ("RetryEvent", None),
        ("RequestEvent", 200),
    ]
    first_retry, second_retry = recorder.of(RetryEvent)
    assert first_retry == RetryEvent(op, "GET", 1, 503, None, sleeps[0])
    assert second_retry == RetryEvent(op, "GET", 2, None, "TransportError", sleeps[1])
    failed = recorder.of(RequestEvent)[1]
    assert isinstance(failed, RequestEvent)
    assert (failed.error, failed.attempt) == ("TransportError", 2)


async def test_a_request_given_up_reports_no_retry(
    observed: tuple[FFNClient, Recorder], sleeps: list[float]
) -> None:
    ffn, recorder = observed
    with aioresponses() as mock:
        mock.post(f"{API}/v1/things", status=503)  # a POST is not repeated
        with pytest.raises(Exception, match="503"):
            await ffn.request("POST", "/v1/things", json={})
    assert [type(e) for e in recorder.events] == [RequestEvent]
    assert sleeps == []


async def test_a_401_refresh_reports_the_refresh_and_its_store_calls(
    creds: ClientCredentials,
) -> None:
    recorder = Recorder()
    auth = TokenManager(creds, MemoryTokenStore(), key="acct", environment=TEST_ENV)
    with aioresponses() as mock:
        mock.post(str(TEST_ENV.token_url), payload=token_response())
        mock.post(str(TEST_ENV.token_url), payload=token_response())
        await auth.exchange_code("code-1")  # before the observer: not reported
        answers = iter([401, 200])
        mock.get(
            f"{API}/v1/users/current",
            callback=lambda url, **kw: CallbackResult(status=next(answers), payload={}),
            repeat=True,
        )
        async with FFNClient(auth, observer=recorder) as ffn:  # lends its observer
            await ffn.request("GET", "/v1/users/current")
    assert auth.observer is recorder
    requests = recorder.of(RequestEvent)
    assert [(e.status, e.attempt) for e in requests] == [(401, 1), (200, 1)]
    (refresh,) = recorder.of(RefreshEvent)
    assert isinstance(refresh, RefreshEvent)
    assert (refresh.key, refresh.outcome, refresh.unauthorized) == ("acct", "ok", True)
    assert refresh.duration >= 0
    store_ops = [e.operation for e in recorder.of(StoreEvent)]
    # lock-free look, lock, look again under it, mark in flight, its fence, save the new token
    assert store_ops == ["load", "lock", "load", "save", "save", "save"]
    assert all(e.error is None for e in recorder.of(StoreEvent))
    (wait,) = recorder.of(LockWaitEvent)
    assert isinstance(wait, LockWaitEvent)
    assert wait.acquired
    assert wait.key == "acct"
    # The order a reader of a trace expects: the 401, the refresh, the repeated attempt.
    kinds = [type(e).__name__ for e in recorder.events]
    assert kinds.index("RefreshEvent") < len(kinds) - 1
    assert kinds[0] == "RequestEvent"
    assert kinds[-1] == "RequestEvent"


async def test_a_refresh_under_contention_reports_the_lock_wait(creds: ClientCredentials) -> None:
    recorder = Recorder()
    store = MemoryTokenStore()
    auth = TokenManager(creds, store, key="acct", environment=TEST_ENV, observer=recorder)
    with aioresponses() as mock:
        mock.post(str(TEST_ENV.token_url), payload=token_response())
        mock.post(str(TEST_ENV.token_url), payload=token_response())
        await auth.exchange_code("code-1")
        recorder.events.clear()
        async with store.lock("acct", ttl=30, timeout=5):  # another worker holds the lock
            refresh = asyncio.ensure_future(auth.refresh())
            await asyncio.sleep(0.2)
            assert not refresh.done()
        await refresh
    await auth.aclose()
    waits = recorder.of(LockWaitEvent)
    assert waits
    assert all(isinstance(w, LockWaitEvent) and w.acquired for w in waits)
    assert sum(w.waited for w in waits) >= 0.15
    (done,) = recorder.of(RefreshEvent)
    assert done == RefreshEvent("acct", "ok", done.duration, False)


async def test_a_failed_refresh_reports_its_outcome(creds: ClientCredentials) -> None:
    recorder = Recorder()
    # Short timeouts: after invalid_grant the manager waits that long for a peer's rotation.
    auth = TokenManager(
        creds,
        MemoryTokenStore(),
        key="acct",
        environment=TEST_ENV,
        request_timeout=0.1,
        in_flight_timeout=0.2,
    )
    auth.use_observer(recorder)
    with aioresponses() as mock:
        mock.post(str(TEST_ENV.token_url), payload=token_response())
        mock.post(str(TEST_ENV.token_url), status=400, payload={"error": "invalid_grant"})
        await auth.exchange_code("code-1")
        with pytest.raises(Exception, match="login|authoriz"):
            await auth.refresh()
    await auth.aclose()
    (event,) = recorder.of(RefreshEvent)
    assert isinstance(event, RefreshEvent)
    assert event.outcome == "invalid_grant"


class FailingLoads(MemoryTokenStore):
    async def load(self, key: str) -> Record | None:
        raise StoreUnavailable("the store is down")


async def test_store_events_time_every_store_operation_and_name_failures() -> None:
    recorder = Recorder()
    store = observed_store(MemoryTokenStore(), recorder)
    version = await store.save("k", b"data", None)
    assert (await store.load("k")) is not None
    async with store.lock("k", ttl=5, timeout=1):
        pass
    await store.delete("k")
    assert repr(store) == repr(store.inner)  # type: ignore[attr-defined]
    assert version == 1
    ops = [(e.operation, e.key, e.error) for e in recorder.of(StoreEvent)]
    assert ops == [
        ("save", "k", None),
        ("load", "k", None),
        ("lock", "k", None),
        ("delete", "k", None),
    ]
    assert all(e.duration >= 0 for e in recorder.of(StoreEvent))

    failing = observed_store(FailingLoads(), recorder)
    with pytest.raises(StoreUnavailable):
        await failing.load("k")
    assert recorder.events[-1] == StoreEvent(
        "k", "load", recorder.events[-1].duration, "StoreUnavailable"
    )

    held = MemoryTokenStore()
    timed = observed_store(held, recorder)
    async with held.lock("k", ttl=5, timeout=1):
        with pytest.raises(Exception, match="lock"):
            async with timed.lock("k", ttl=5, timeout=0.05):
                pass
    wait = recorder.events[-1]
    assert isinstance(wait, LockWaitEvent)
    assert not wait.acquired
    assert wait.waited >= 0.04


async def test_an_observer_that_raises_is_logged_and_breaks_nothing(
    creds: ClientCredentials, caplog: pytest.LogCaptureFixture
) -> None:
    calls = 0

    def broken(event: Event) -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("metrics backend down")

    auth = TokenManager(creds, MemoryTokenStore(), key="acct", environment=TEST_ENV)
    caplog.set_level(logging.ERROR, logger="ffn_async.observe")
    with aioresponses() as mock:
        mock.post(str(TEST_ENV.token_url), payload=token_response(), repeat=True)
        await auth.exchange_code("code-1")
        mock.get(f"{API}/v1/users/current", payload={"userId": "MERC"})
        async with FFNClient(auth, observer=broken) as ffn:
            assert await ffn.request("GET", "/v1/users/current") == {"userId": "MERC"}
            await auth.refresh()  # refresh, lock and store events: all raise, none escapes
    assert calls >= 6
    failures = [r for r in caplog.records if r.name == "ffn_async.observe"]
    assert len(failures) == calls
    assert "RuntimeError: metrics backend down" in (failures[0].exc_text or "")


async def test_without_an_observer_nothing_is_measured(
    creds: ClientCredentials, monkeypatch: pytest.MonkeyPatch
) -> None:
    def forbidden(*args: object) -> None:
        raise AssertionError("observability code ran without an observer")

    for module, name in (
        (client_module, "notify"),
        (client_module, "operation_for"),
        (rotation_module, "notify"),  # the token calls' RefreshEvent
    ):
        monkeypatch.setattr(module, name, forbidden)
    store = MemoryTokenStore()
    auth = TokenManager(creds, store, key="acct", environment=TEST_ENV)
    assert auth._store is store  # no wrapper around the store calls
    with aioresponses() as mock:
        mock.post(str(TEST_ENV.token_url), payload=token_response())
        mock.post(str(TEST_ENV.token_url), payload=token_response())
        await auth.exchange_code("code-1")
        answers = iter([401, 503, 200])
        mock.get(
            f"{API}/v1/users/current",
            callback=lambda url, **kw: CallbackResult(status=next(answers), payload={}),
            repeat=True,
        )
        monkeypatch.setattr(retry_module, "_sleep", lambda s: asyncio.sleep(0))
        async with FFNClient(auth, retry=FAST) as ffn:
            await ffn.request("GET", "/v1/users/current")
        assert ffn.observer is None
        assert auth.observer is None
        assert len(mock.requests[("GET", URL(f"{API}/v1/users/current"))]) == 3


async def test_an_attempt_over_the_size_limit_or_cancelled_is_reported() -> None:
    """Before, only answers and transport failures were: a body over ``max_response_size`` and
    a caller's cancellation ended the attempt without an event."""
    recorder = Recorder()
    started = asyncio.Event()

    async def slow(url: URL, **kwargs: object) -> CallbackResult:
        started.set()
        await asyncio.sleep(30)
        return CallbackResult(payload={})

    async with FFNClient(
        StaticToken(make_jwt()), environment=TEST_ENV, observer=recorder, max_response_size=100
    ) as client:
        with aioresponses() as mock:
            mock.get(f"{API}/v1/big", body=b"[" + b"1," * 100 + b"1]")
            mock.get(f"{API}/v1/slow", callback=slow)
            with pytest.raises(ResponseTooLarge):
                await client.request("GET", "/v1/big")
            task = asyncio.ensure_future(client.request("GET", "/v1/slow"))
            await started.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
    big, cancelled = recorder.of(RequestEvent)
    assert (big.operation, big.status, big.error, big.attempt) == (
        "/v1/big",
        200,
        "ResponseTooLarge",
        1,
    )
    assert (cancelled.operation, cancelled.status, cancelled.error) == (
        "/v1/slow",
        None,
        "CancelledError",
    )
    assert big.duration >= 0
    assert cancelled.duration >= 0
