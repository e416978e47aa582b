"""An in-process store: for tests, scripts and single-process services.

Its lock excludes coroutines of this process only; use a file, Redis or SQL store as soon as
more than one process shares an account.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from .base import (
    DEFAULT_LOCK_TIMEOUT,
    DEFAULT_LOCK_TTL,
    Lease,
    LockTimeout,
    Record,
    StoreConflict,
    validate_key,
)
from .queue_memory import MemoryQueue

__all__ = ["MemoryTokenStore"]


class MemoryTokenStore:
    """Keeps records in a dict; its leases expire like the networked stores' do."""

    def __init__(self) -> None:
        self._records: dict[str, Record] = {}
        # key -> (owner, monotonic deadline of the lease)
        self._leases: dict[str, tuple[str, float]] = {}
        self._released = asyncio.Event()
        self._queue: MemoryQueue | None = None

    def __repr__(self) -> str:
        return f"MemoryTokenStore(keys={len(self._records)})"

    async def load(self, key: str) -> Record | None:
        return self._records.get(validate_key(key))

    async def save(self, key: str, data: bytes, expected_version: int | None) -> int:
        current = self._records.get(validate_key(key))
        actual = None if current is None else current.version
        if actual != expected_version:
            raise StoreConflict(key, expected_version, actual)
        version = 1 if current is None else current.version + 1
        self._records[key] = Record(bytes(data), version)
        return version

    async def delete(self, key: str) -> None:
        self._records.pop(validate_key(key), None)

    async def close(self) -> None:
        return None

    def queue(self) -> MemoryQueue:
        """This store's queues (:mod:`token_stores.queue`), in this process's memory."""
        if self._queue is None:
            self._queue = MemoryQueue()
        return self._queue

    @asynccontextmanager
    async def lock(
        self, key: str, *, ttl: float = DEFAULT_LOCK_TTL, timeout: float = DEFAULT_LOCK_TIMEOUT
    ) -> AsyncIterator[Lease]:
        validate_key(key)
        owner = secrets.token_hex(8)
        deadline = time.monotonic() + timeout

        async def renewer(new_ttl: float) -> bool:
            if self._leases.get(key, ("", 0.0))[0] != owner:
                return False
            self._leases[key] = (owner, time.monotonic() + new_ttl)
            return True

        while True:
            now = time.monotonic()
            held = self._leases.get(key)
            if held is None or held[1] <= now:
                self._leases[key] = (owner, now + ttl)
                lease = Lease.starting(key, ttl, now, renewer)
                break
            remaining = min(deadline, held[1]) - now
            if now >= deadline:
                raise LockTimeout(key, timeout)
            # Sleep until a release wakes us, the lease runs out, or our patience does.
            event = self._released
            with suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), timeout=max(remaining, 0.001))
        try:
            yield lease
        finally:
            if self._leases.get(key, ("", 0.0))[0] == owner and not lease.kept:
                del self._leases[key]
            # Wake every waiter once, then arm a fresh event for the next release.
            self._released.set()
            self._released = asyncio.Event()
