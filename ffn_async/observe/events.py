"""Observability hooks: typed events for metrics, delivered to an observer you install.

An observer is any callable taking one event (:data:`Event`). Pass it as
``FFNClient(..., observer=...)`` (a :class:`~ffn_async.TokenManager` used by that client gets it
too, unless it was given one) or ``TokenManager(..., observer=...)``. Without one, nothing is
measured or built: the request pipeline and the token fast path only test ``is not None``.

Events are plain attrs classes (read-only by convention: not frozen, which would make each
cost three times as much to build) carrying no secrets (no tokens, no URLs' query values).
An observer runs inline, so it should only record (increment a counter, observe a histogram);
an exception it raises is logged at ERROR on ``ffn_async.observe`` and never reaches the
request or refresh it observed. Recipes: ``examples/metrics_prometheus.py`` and
``examples/metrics_opentelemetry.py``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from typing import Protocol, TypeAlias

import attrs

from token_stores.base import DEFAULT_LOCK_TIMEOUT, DEFAULT_LOCK_TTL, Lease, Record, TokenStore

from ._logfields import logger

__all__ = [
    "Event",
    "LockWaitEvent",
    "Observer",
    "RefreshEvent",
    "RequestEvent",
    "RetryEvent",
    "StoreEvent",
    "notify",
    "observed_store",
]

log = logger("ffn_async.observe")


@attrs.define(slots=True)  # not frozen: a frozen class costs 3x as much to build, per attempt
class RequestEvent:
    """One HTTP attempt ended: with an answer (``status``) or without a usable one (``error``:
    ``"TransportError"``; ``"ResponseTooLarge"`` with the answer's ``status``, its body over
    the limit; ``"CancelledError"`` when the caller gave up, ``status`` set if the answer's head
    had come).

    ``operation`` is ``"<api>.<operationId>"`` (:data:`ffn_async.api.OPERATIONS`) for typed calls
    and for ``request()`` on a documented route, else the path template (an absolute URL: its
    path). ``duration`` is the attempt's seconds, including reading the body; ``attempt``
    counts from 1 (a 401-forced token refresh does not start a new attempt number).
    """

    operation: str
    method: str
    status: int | None
    error: str | None
    duration: float
    attempt: int


@attrs.define(slots=True)
class RetryEvent:
    """An attempt failed and another follows after ``delay`` seconds.

    ``status`` is the answer's status (429, 503 …), or ``None`` with ``error`` naming the
    transport failure (``"TransportError"``).
    """

    operation: str
    method: str
    attempt: int
    status: int | None
    error: str | None
    delay: float


@attrs.define(slots=True)
class RefreshEvent:
    """This process called the token endpoint to rotate account ``key``'s token.

    ``outcome`` is ``"ok"``, ``"invalid_grant"`` (the refresh token was refused), ``"fenced"``
    (the rotation turned out not to be this process's any more: nothing was sent), or the name of
    the exception that ended the call (``"TransportError"``, ``"AuthError"``, ``"CancelledError"``
    …). ``unauthorized`` is true for a refresh forced by a 401 from the API. Refreshes a peer did
    (the token adopted from the store) emit no event: only the store calls that found it.
    """

    key: str
    outcome: str
    duration: float
    unauthorized: bool


@attrs.define(slots=True)
class LockWaitEvent:
    """A TokenManager waited ``waited`` seconds for the store's lock on ``key``.

    ``acquired`` is false when the wait ended without the lock (``LockTimeout``; waiters take
    the lock in slices of about a second, so a long contended wait is several events).
    """

    key: str
    waited: float
    acquired: bool


@attrs.define(slots=True)
class StoreEvent:
    """A token-store call ended: ``operation`` is ``"load"``, ``"save"``, ``"delete"`` or
    ``"lock"`` (acquiring it), ``error`` the exception's name if it failed.

    ``key`` is the record's key: the account's, or the key an unreadable record is kept aside
    under before a login replaces it.
    """

    key: str
    operation: str
    duration: float
    error: str | None


#: Every event an observer may receive; match on the class.
Event: TypeAlias = RequestEvent | RetryEvent | RefreshEvent | LockWaitEvent | StoreEvent


class Observer(Protocol):
    """Receives every event; must not block (it runs inline, in the event loop)."""

    def __call__(self, event: Event, /) -> None: ...


def notify(observer: Observer, event: Event) -> None:
    """Deliver ``event``; an exception from ``observer`` is logged, never raised."""
    try:
        observer(event)
    except Exception:
        log.exception("observer %r raised on %s; ignored", observer, type(event).__name__)


class _ObservedStore:
    """A :class:`TokenStore` that times every call of the one it wraps."""

    def __init__(self, store: TokenStore, observer: Observer) -> None:
        self.inner = store
        self.observer = observer

    def __repr__(self) -> str:
        return repr(self.inner)

    def _done(self, key: str, operation: str, started: float, error: BaseException | None) -> None:
        name = None if error is None else type(error).__name__
        notify(self.observer, StoreEvent(key, operation, time.monotonic() - started, name))

    def _waited(self, key: str, started: float, error: BaseException | None) -> None:
        waited = time.monotonic() - started
        name = None if error is None else type(error).__name__
        notify(self.observer, StoreEvent(key, "lock", waited, name))
        notify(self.observer, LockWaitEvent(key, waited, error is None))

    async def load(self, key: str) -> Record | None:
        started = time.monotonic()
        try:
            record = await self.inner.load(key)
        except BaseException as exc:
            self._done(key, "load", started, exc)
            raise
        self._done(key, "load", started, None)
        return record

    async def save(self, key: str, data: bytes, expected_version: int | None) -> int:
        started = time.monotonic()
        try:
            version = await self.inner.save(key, data, expected_version)
        except BaseException as exc:
            self._done(key, "save", started, exc)
            raise
        self._done(key, "save", started, None)
        return version

    async def delete(self, key: str) -> None:
        started = time.monotonic()
        try:
            await self.inner.delete(key)
        except BaseException as exc:
            self._done(key, "delete", started, exc)
            raise
        self._done(key, "delete", started, None)

    async def close(self) -> None:
        await self.inner.close()

    @contextlib.asynccontextmanager
    async def lock(
        self, key: str, *, ttl: float = DEFAULT_LOCK_TTL, timeout: float = DEFAULT_LOCK_TIMEOUT
    ) -> AsyncIterator[Lease]:
        async with contextlib.AsyncExitStack() as stack:
            started = time.monotonic()
            try:
                lease = await stack.enter_async_context(
                    self.inner.lock(key, ttl=ttl, timeout=timeout)
                )
            except BaseException as exc:
                self._waited(key, started, exc)
                raise
            self._waited(key, started, None)
            yield lease


def observed_store(store: TokenStore, observer: Observer | None) -> TokenStore:
    """``store`` itself without an observer, else a wrapper reporting each call's latency."""
    if observer is None:
        return store
    if isinstance(store, _ObservedStore):
        store = store.inner
    return _ObservedStore(store, observer)
