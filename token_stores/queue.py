"""The queue capability: an ordered, keyed queue of opaque entries next to a store's records.

A record is rewritten whole on every save, so a list kept in one record costs more with every
entry it holds. A queue keeps one entry per row (SQL), hash field (Redis), file (file store) or
dict item (memory): appending writes only the new entry, removing deletes only that entry, and
reading the head reads one bounded page, whatever the queue holds.

Every store of this package offers one through ``store.queue()`` (:func:`queue_of`); the
:class:`~token_stores.EncryptedTokenStore`'s encrypts every entry. Like records, entries are
opaque bytes: the queue knows nothing of what they mean.

Contract:

* :meth:`Queue.append` gives the entry an id greater than every id of that queue before it
  (across processes), so ``page`` returns entries in the order they were appended.
* :meth:`Queue.page` returns at most ``limit`` entries with ids above ``after``, oldest first.
  An entry the store cannot read back (an encrypted one no key opens) comes with
  ``readable=False`` and its raw bytes, so its owner can set it aside and go on.
* :meth:`Queue.replace` and :meth:`Queue.remove` act on one entry and say whether it was there.
* Consumers serialize themselves (for example with the store's lease lock on a key named after
  the queue): the queue has no claims of its own.
* Size: an entry longer than :data:`MAX_ENTRY_BYTES` raises :class:`DataTooLarge` before
  anything is written, on every backend alike, so no backend limit is ever reached silently.
"""

from __future__ import annotations

from typing import Final, Protocol, runtime_checkable

import attrs

from .base import StoreError, validate_key

__all__ = [
    "MAX_ENTRY_BYTES",
    "DataTooLarge",
    "Queue",
    "QueueItem",
    "check_entry",
    "queue_of",
]

MAX_ENTRY_BYTES: Final = 8 * 1024 * 1024
"""Longest entry (and record) any store takes: below MySQL/MariaDB's default
``max_allowed_packet`` (16 MiB) with room for the statement, far below every other limit."""


class DataTooLarge(StoreError, ValueError):
    """An entry or record is longer than the store can hold; nothing was written.

    Also a ``ValueError``: the data, not the store, is at fault (or a column too narrow, which
    the message names with its fix)."""

    def __init__(self, what: str, size: int, limit: int, fix: str = "") -> None:
        self.size = size
        self.limit = limit
        hint = fix or "keep it smaller"
        super().__init__(
            f"{what} is {size:,} bytes; at most {limit:,} fit: nothing written, {hint}"
        )


@attrs.frozen(repr=False)
class QueueItem:
    """One entry: its id in the queue, its bytes, and whether the store could read them."""

    id: int
    data: bytes
    readable: bool = True

    def __repr__(self) -> str:
        # The bytes may be a secret (customer addresses): never show them.
        return f"QueueItem(id={self.id}, data=<{len(self.data)} bytes>, readable={self.readable})"


@runtime_checkable
class Queue(Protocol):
    """Ordered queues of opaque entries, each named by a store key; async-safe."""

    async def append(self, queue: str, data: bytes) -> int:
        """Add an entry at the tail; return its id (greater than every earlier id)."""
        ...

    async def page(self, queue: str, *, after: int = 0, limit: int = 100) -> list[QueueItem]:
        """Up to ``limit`` entries with ids above ``after``, oldest first."""
        ...

    async def replace(self, queue: str, item_id: int, data: bytes) -> bool:
        """Rewrite one entry in place; ``False`` if it is gone."""
        ...

    async def remove(self, queue: str, item_id: int) -> bool:
        """Delete one entry; ``False`` if it was already gone."""
        ...

    async def count(self, queue: str) -> int:
        """How many entries the queue holds (for reports: may cost a scan on some stores)."""
        ...


def check_entry(queue: str, data: bytes, limit: int = MAX_ENTRY_BYTES) -> bytes:
    """``data`` as bytes if ``queue`` is a valid key and ``data`` fits, else raise."""
    validate_key(queue)
    if len(data) > limit:
        raise DataTooLarge(f"an entry of queue {queue!r}", len(data), limit)
    return bytes(data)


def check_page(after: int, limit: int) -> None:
    """Refuse a page request no backend can answer sensibly."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    if after < 0:
        raise ValueError("after must not be negative")


def queue_of(store: object) -> Queue:
    """The queue capability of ``store`` (``store.queue()``); ``TypeError`` if it has none."""
    make = getattr(store, "queue", None)
    if make is None:
        raise TypeError(
            f"{type(store).__name__} offers no queue: use a store of token_stores (memory, file, "
            "Redis, SQL, encrypted) or give yours a queue() method returning a token_stores.Queue"
        )
    queue: Queue = make()
    return queue
