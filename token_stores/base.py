"""The contract every store keeps: versioned opaque bytes under a key, plus a lease lock.

Stores know nothing about OAuth. A record is bytes with a version number that grows by one on
every successful save; ``save`` is a compare-and-set on that version, so a writer that read a
stale record (for example one whose lock lease ran out mid-refresh) can never overwrite a newer
one. ``lock`` is a cross-process mutual exclusion with a lease: if the holder dies, the lock is
free again after the lease (or at once, where the kernel can tell, as with file locks).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Protocol, runtime_checkable

import attrs

__all__ = [
    "CorruptRecord",
    "InvalidKey",
    "InvalidStoreURL",
    "Lease",
    "LockTimeout",
    "Record",
    "StoreConflict",
    "StoreError",
    "StoreUnavailable",
    "TokenStore",
    "validate_key",
]

#: Default lease of a lock in seconds. Must outlive the token request it protects.
DEFAULT_LOCK_TTL = 30.0
#: Default time to wait for a lock before raising :class:`LockTimeout`.
DEFAULT_LOCK_TIMEOUT = 60.0


@attrs.frozen(repr=False)
class Record:
    """What a store holds under one key: opaque bytes and their version (1 on first save)."""

    data: bytes
    version: int

    def __repr__(self) -> str:
        # The bytes are usually a secret: never show them.
        return f"Record(version={self.version}, data=<{len(self.data)} bytes>)"


@attrs.define
class Lease:
    """A held lock: whose key, and until when (on this process's monotonic clock) it is safe.

    ``deadline`` is conservative: it counts ``ttl`` from just *before* the attempt that won the
    lock, so clock rates aside, nobody else can hold the lock before it. ``None`` means the
    lock lasts until released (a file lock, freed by the kernel when the holder dies). A holder
    uses :meth:`remaining` to avoid starting work its lease cannot cover (fencing), and
    :meth:`renew` to extend the lease while it is still working.
    """

    key: str
    deadline: float | None
    #: The store's renewal: extend the lease to ``ttl`` seconds if this holder still owns it.
    renewer: Callable[[float], Awaitable[bool]] | None = attrs.field(default=None, repr=False)
    #: Set by :meth:`hold`: the lock is not released when the block ends, it runs out.
    kept: bool = False

    @classmethod
    def starting(
        cls,
        key: str,
        ttl: float | None,
        started: float,
        renewer: Callable[[float], Awaitable[bool]] | None = None,
    ) -> Lease:
        """A lease of ``ttl`` seconds whose winning attempt began at monotonic ``started``."""
        return cls(key, None if ttl is None else started + ttl, renewer)

    async def renew(self, ttl: float) -> bool:
        """Extend the lease to ``ttl`` seconds from now, if it is still ours.

        Returns ``False`` when the lease was lost (it expired and another holder may have
        taken it): the holder must then stop relying on it. A lease without expiry is always
        held. May raise :class:`StoreUnavailable`.
        """
        if self.deadline is None:
            return True
        if self.renewer is None:
            return False
        started = time.monotonic()
        if not await self.renewer(ttl):
            return False
        self.deadline = started + ttl  # conservative: counted from before the call
        return True

    async def hold(self, ttl: float) -> bool:
        """Keep the lock for ``ttl`` more seconds *after* the block ends, then let it run out.

        A claim other workers see: a feed polled by one worker is skipped by the others until
        the claim runs out, with no record written. Renews the lease to ``ttl`` from now.
        Returns ``False`` (and the lock is released as usual) where the lease cannot outlive
        its holder: a lock without expiry, a store without renewal, or a lease already lost.
        """
        if self.deadline is None or self.renewer is None:
            return False
        if not await self.renew(ttl):
            return False
        self.kept = True
        return True

    def remaining(self) -> float:
        """Seconds this lease is still certainly held (``inf`` for locks without expiry)."""
        if self.deadline is None:
            return float("inf")
        return self.deadline - time.monotonic()


class StoreError(Exception):
    """Base of every error a token store raises."""


class StoreConflict(StoreError):
    """``save`` found another version than the caller expected (someone else wrote first)."""

    def __init__(self, key: str, expected: int | None, actual: int | None) -> None:
        self.key = key
        self.expected = expected
        self.actual = actual
        want = "no record (create-only)" if expected is None else f"version {expected}"
        have = "no record" if actual is None else f"version {actual}"
        super().__init__(
            f"store conflict on key {key!r}: expected {want}, found {have}; "
            "re-read the record and decide again"
        )


class LockTimeout(StoreError):
    """The lock could not be taken within ``timeout`` seconds."""

    def __init__(self, key: str, timeout: float, detail: str = "") -> None:
        self.key = key
        self.timeout = timeout
        extra = f" ({detail})" if detail else ""
        super().__init__(
            f"could not lock key {key!r} within {timeout:g}s{extra}; another worker holds it "
            "(a lease frees itself when its holder dies)"
        )


class StoreUnavailable(StoreError):
    """The backing service (Redis, a database, the file system) could not be reached."""


class StoreBusy(StoreUnavailable):
    """Every connection of the store's pool stayed in use for the whole pool wait.

    This process asked more of the service at once than its pool allows (many accounts
    refreshing together), or the service answers too slowly to free connections in time. A
    ``StoreUnavailable`` too, so outage handling applies; the message names the pool's size
    and wait and the options that raise them (never "unreachable").
    """


class CorruptRecord(StoreError):
    """Stored data cannot be read back (truncated, not ours, tampered, or wrongly keyed).

    The record is left exactly as it was, so a person can inspect or restore it. ``data``
    holds the bytes as found (where the store could read any) and ``version`` their version
    (where known), so a caller replacing the record can keep a copy; neither is ever part of
    the message.
    """

    def __init__(
        self, message: str, *, data: bytes | None = None, version: int | None = None
    ) -> None:
        super().__init__(message)
        self.data = data
        self.version = version


class InvalidKey(StoreError, ValueError):
    """A store key no backend can hold; raised before any I/O. Also a ``ValueError``."""


class InvalidStoreURL(StoreError, ValueError):
    """A store URL names an unknown scheme or option, or a value the option does not take."""


def validate_key(key: str) -> str:
    """Return ``key`` if every store can hold it, else raise :class:`InvalidKey`.

    A key is 1 to 200 characters, without control characters, and encodable as UTF-8 (a lone
    surrogate such as ``"\\udc80"``, from ``os.fsdecode`` or ``surrogateescape``, is not):
    every backend stores and compares the key's UTF-8 bytes.
    """
    if not isinstance(key, str) or not key:
        raise InvalidKey(f"store key must be a non-empty string, got {type(key).__name__}")
    if len(key) > 200:
        raise InvalidKey(f"store key is {len(key)} characters long; at most 200 are allowed")
    if any(ord(c) < 32 or c == "\x7f" for c in key):
        raise InvalidKey(f"store key {key!r} contains a control character; remove it")
    try:
        key.encode()
    except UnicodeEncodeError as exc:
        raise InvalidKey(
            f"store key {key!r} is not valid Unicode (a lone surrogate at position {exc.start}, "
            "typically from decoding bytes with errors='surrogateescape'); decode the account "
            "name properly or pick another key"
        ) from None
    return key


@runtime_checkable
class TokenStore(Protocol):
    """Versioned, lockable storage of opaque bytes; every implementation is async-safe."""

    async def load(self, key: str) -> Record | None:
        """Return the record under ``key``, or ``None`` if there is none."""
        ...

    async def save(self, key: str, data: bytes, expected_version: int | None) -> int:
        """Write ``data`` if the current version is ``expected_version``; return the new version.

        ``expected_version=None`` means create-only. A mismatch raises :class:`StoreConflict`.
        """
        ...

    def lock(
        self,
        key: str,
        *,
        ttl: float = DEFAULT_LOCK_TTL,
        timeout: float = DEFAULT_LOCK_TIMEOUT,
    ) -> AbstractAsyncContextManager[Lease]:
        """Hold the cross-process lease lock on ``key`` for the ``async with`` block.

        The lease lasts ``ttl`` seconds; waiting longer than ``timeout`` raises
        :class:`LockTimeout`. Only the holder can release it. The block receives the
        :class:`Lease`, to check how long it is still certainly held and to renew it
        (:meth:`Lease.renew`) while the work takes longer.
        """
        ...

    async def delete(self, key: str) -> None:
        """Remove the record under ``key`` (no error if there is none)."""
        ...

    async def close(self) -> None:
        """Release connections and files the store holds."""
        ...
