"""Calling the client from sync code (Celery tasks, Django views, cron scripts, Odoo modules).

:class:`BlockingClient` runs one event loop on a daemon thread of its own and hands each call
to it, so any number of threads share one :class:`~ffn_async.FFNClient`, its connection pool
and its :class:`~ffn_async.TokenManager` (one refresh at a time per account, as in async
code)::

    def open_client() -> FFNClient:  # runs in the facade's loop, once per process
        auth = TokenManager(creds, FileTokenStore("tokens"), key="acme")
        return FFNClient(auth)

    with BlockingClient(open_client) as ffn:
        user = ffn.shared.users.current()                      # -> User
        for outbound in ffn.merchant.outbounds.iterate():      # a plain Iterator[Outbound]
            ...

``ffn.merchant``, ``ffn.fulfiller`` and ``ffn.shared`` mirror the async client's namespaces
(generated beside them: ``merchant.py``, ``fulfiller.py``, ``shared.py``): the same names,
parameters and models, each method handing its async twin to this facade. Change feeds and
chunked lists come as a :class:`Walk` (iterate it; ``.walk`` holds the watermark). For anything
else on the client, :meth:`run` turns ``Awaitable[T]`` into ``T`` (``ffn.run(lambda c:
page.next_page())``) and :meth:`iterate` an async iterator into a plain one.

Why a factory rather than a client: a store's connections and a session belong to the loop
that made them, so the client is made inside the facade's loop, on first use. A forked
process (a Celery prefork worker, gunicorn) inherits the facade but not its thread: on its
first call it starts a loop of its own and calls the factory again; the parent's objects are
left untouched there, since their sockets are still the parent's.
"""

from __future__ import annotations

import asyncio
import os
import threading
import weakref
from collections.abc import AsyncIterable, Awaitable, Callable, Coroutine, Iterator
from concurrent.futures import Future
from functools import cached_property
from types import TracebackType
from typing import Any, TypeVar

from ..auth.manager import TokenManager
from ..client import FFNClient
from ._base import Walk
from .fulfiller import BlockingFulfillerAPI
from .merchant import BlockingMerchantAPI
from .shared import BlockingSharedAPI

__all__ = ["BlockingClient", "Walk"]

T = TypeVar("T")

_ALL: weakref.WeakSet[BlockingClient] = weakref.WeakSet()
# In a forked child: the parent's loops and clients, never to be finalized here.
_INHERITED: list[_Running] = []


class _Running:
    """The event loop thread of one process, and the client made in it."""

    def __init__(self, open_client: Callable[[], FFNClient]) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="ffn-async-blocking", daemon=True
        )
        self.thread.start()
        try:
            self.client: FFNClient = self.call(self._open(open_client))
        except BaseException:  # the factory failed: no thread left behind
            self._halt()
            raise

    @staticmethod
    async def _open(open_client: Callable[[], FFNClient]) -> FFNClient:
        return await open_client().__aenter__()

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        if threading.current_thread() is self.thread:
            coro.close()
            raise RuntimeError(
                "BlockingClient called from its own event loop (an async callback or hook): "
                "await the FFNClient there instead"
            )
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()  # interrupted (Ctrl-C): the call is cancelled in the loop too
            raise

    def stop(self) -> None:
        client = self.client
        try:
            self.call(self._close(client))
        finally:
            self._halt()

    def _halt(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()

    @staticmethod
    async def _close(client: FFNClient) -> None:
        try:
            await client.aclose()
        finally:
            # The factory made the store in this loop: nobody else can close it.
            if isinstance(client.auth, TokenManager):
                await client.auth.store.close()


class BlockingClient:
    """An :class:`~ffn_async.FFNClient` for sync code; see the module's docstring.

    Args:
        open_client: makes the client (and its store); called in the facade's event loop on
            first use, and once more in each forked child that uses the facade.

    Thread-safe. Close it (``with``, or :meth:`close`) to close the client, its session and
    the store the factory made; a facade never closed is cleaned up when the process exits
    (its thread is a daemon), at the price of an unflushed session.
    """

    def __init__(self, open_client: Callable[[], FFNClient]) -> None:
        self._open_client = open_client
        self._lock = threading.Lock()
        self._running: _Running | None = None
        self._closed = False
        _ALL.add(self)

    def __repr__(self) -> str:
        state = "closed" if self._closed else "running" if self._running else "not started"
        return f"BlockingClient({state})"

    def __enter__(self) -> BlockingClient:
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _started(self) -> _Running:
        running = self._running
        if running is not None:
            return running
        with self._lock:
            if self._closed:
                raise RuntimeError("this BlockingClient is closed")
            if self._running is None:
                self._running = _Running(self._open_client)
            return self._running

    @cached_property
    def merchant(self) -> BlockingMerchantAPI:
        """``ffn.merchant``: the Merchant API's methods, blocking."""
        return BlockingMerchantAPI(self)

    @cached_property
    def fulfiller(self) -> BlockingFulfillerAPI:
        """``ffn.fulfiller``: the Fulfiller API's methods, blocking."""
        return BlockingFulfillerAPI(self)

    @cached_property
    def shared(self) -> BlockingSharedAPI:
        """``ffn.shared``: operations every user may call, blocking."""
        return BlockingSharedAPI(self)

    @property
    def client(self) -> FFNClient:
        """The async client (for attributes such as ``auth``; call it through :meth:`run`)."""
        return self._started().client

    def run(self, call: Callable[[FFNClient], Awaitable[T]]) -> T:
        """``call(client)`` awaited in the facade's loop: ``ffn.run(lambda c:
        c.merchant.outbounds.get(outbound_id))``. Its exceptions are raised here."""
        running = self._started()

        async def go() -> T:
            return await call(running.client)

        return running.call(go())

    def iterate(self, call: Callable[[FFNClient], AsyncIterable[T]]) -> Iterator[T]:
        """The items of ``call(client)``, an async iterator, as a plain iterator: pagination
        (``lambda c: c.merchant.outbounds.iterate(...)``), change feeds. Each ``next`` fetches
        in the facade's loop; leaving the loop early closes the async iterator there."""
        running = self._started()

        async def begin() -> Any:
            return call(running.client).__aiter__()

        async def step(iterator: Any) -> tuple[bool, Any]:
            try:
                return True, await iterator.__anext__()
            except StopAsyncIteration:
                return False, None

        async def end(iterator: Any) -> None:
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None:
                await aclose()

        iterator = running.call(begin())
        try:
            while True:
                more, item = running.call(step(iterator))
                if not more:
                    return
                yield item
        finally:
            if not running.loop.is_closed():
                running.call(end(iterator))

    def close(self) -> None:
        """Close the client, its session and store, and stop the loop thread (idempotent)."""
        with self._lock:
            running, self._running = self._running, None
            self._closed = True
        if running is not None:
            running.stop()

    def _forget_in_child(self) -> None:
        """In a forked child: the parent's loop thread is not there; start afresh on use.

        The parent's loop, session and sockets were copied into this process, and their
        finalizers must not run here: closing a copied transport unregisters its socket from
        the epoll instance this process shares with the parent, whose request on that
        connection would then never hear its answer. So the copy is marked closed (the
        finalizers leave the selector alone) and kept referenced (not collected while this
        process runs).
        """
        inherited = self._running
        if inherited is not None:
            loop: Any = inherited.loop
            loop._closed = True
            _INHERITED.append(inherited)
        self._lock = threading.Lock()
        self._running = None


def _after_fork_in_child() -> None:
    for facade in list(_ALL):
        facade._forget_in_child()


os.register_at_fork(after_in_child=_after_fork_in_child)
