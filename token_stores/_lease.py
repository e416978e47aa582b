"""Waiting for a lease lock without blocking the event loop: one loop shared by every store.

A waiter retries a non-blocking acquire with capped exponential backoff and jitter, so a
crowd of waiters spreads out instead of stampeding the lock the moment it is released, and
``asyncio.sleep`` keeps the wait cancellable.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import time
from collections.abc import Awaitable, Callable

from .base import Lease, LockTimeout

__all__ = ["acquire", "new_owner"]

#: First and largest pause between two attempts, in seconds.
FIRST_PAUSE = 0.002
MAX_PAUSE = 0.05


def new_owner() -> str:
    """A random lease owner id: who holds a lock, so only the holder can release it."""
    return secrets.token_hex(16)


async def acquire(
    try_acquire: Callable[[], Awaitable[bool]],
    key: str,
    timeout: float,
    *,
    ttl: float | None,
    max_pause: float = MAX_PAUSE,
    renewer: Callable[[float], Awaitable[bool]] | None = None,
) -> Lease:
    """Call ``try_acquire`` until it returns ``True``; raise :class:`LockTimeout` after ``timeout``.

    ``try_acquire`` must not block: it tries once and says whether it got the lock. Returns the
    lease, timed from the start of the winning attempt (``ttl=None``: no expiry), renewed
    through ``renewer``.
    """
    deadline = time.monotonic() + max(timeout, 0.0)
    pause = FIRST_PAUSE
    while True:
        started = time.monotonic()
        if await try_acquire():
            return Lease.starting(key, ttl, started, renewer)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise LockTimeout(key, timeout)
        # Jittered so waiters spread out; never sleep past the deadline.
        await asyncio.sleep(min(random.uniform(pause / 4, pause), remaining))
        pause = min(pause * 2, max_pause)
