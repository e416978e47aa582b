"""Durable change-feed consumption: a checkpoint in a token store, a lease for one consumer.

:class:`FeedConsumer` walks a change feed (``ffn.merchant.outbounds.updates`` …) one window at
a time and hands each window over as a :class:`Batch`. The checkpoint — the server's ``to`` of
the last committed window and the ids seen near it — is a record in any
:class:`~token_stores.TokenStore` (key ``ffn-feed:<name>``), saved only when the caller's
``async with`` block over the batch finished without an exception.

Guarantees and their limits:

* **At-least-once.** A worker that crashes before its commit gets the same changes again on
  the next batch (from whichever worker takes it). Make processing idempotent, or count the
  redeliveries: they are the changes of the uncommitted batch, nothing else.
* **Overlap against FFN's clock.** Each window starts ``overlap`` before the last committed
  ``to`` (which is FFN's own clock), so a change stamped just before ``to`` but visible only
  later is not missed. Changes delivered within the overlap are recognised by id and
  modification time and dropped; a later modification of the same object is delivered.
  An object without a modification time is never dropped (at-least-once wins).
* **One consumer at a time.** A batch is taken under the store's lease lock on the feed's key:
  one worker in a fleet holds it, the others wait. If the holder dies, the lease frees itself
  after ``lease_ttl`` (at once for the file store, whose lock the kernel drops). A commit is
  refused (:class:`LeaseLost`) when the lease may have run out or another worker committed
  since the batch was read, so a slow worker never moves the checkpoint under a live one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, Final, Generic, Protocol, TypeVar

import attrs

from token_stores import Lease, Record, StoreConflict, TokenStore
from token_stores.base import validate_key

from . import _records
from .errors import FFNError
from .pagination import ChangeFeed

__all__ = [
    "CHECKPOINT_PREFIX",
    "Batch",
    "Checkpoint",
    "FeedConsumer",
    "FeedSource",
    "LeaseLost",
    "modification_time",
]

T = TypeVar("T")

CHECKPOINT_PREFIX: Final = "ffn-feed:"
"""Store keys of checkpoints start with this, apart from token records."""


class FeedSource(Protocol[T]):
    """A change feed's ``updates`` method, such as ``ffn.merchant.outbounds.updates``."""

    def __call__(
        self, *, from_date: dt.datetime | None = ..., to_date: dt.datetime | None = ...
    ) -> ChangeFeed[T]: ...


class LeaseLost(FFNError):
    """A batch was processed but not committed: its lease ran out or another worker committed.

    Nothing is lost: the batch's changes will be delivered again.
    """

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        super().__init__(
            f"feed {name!r}: the batch was not committed ({reason}); its changes will be "
            "delivered again. Keep batches shorter than lease_ttl."
        )


def modification_time(obj: Any) -> dt.datetime | None:
    """When ``obj`` last changed: ``modification_info.updated_at``, else ``created_at``."""
    info = getattr(obj, "modification_info", None)
    if info is None:
        return None
    updated = getattr(info, "updated_at", None)
    return updated if isinstance(updated, dt.datetime) else getattr(info, "created_at", None)


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat()


@attrs.frozen
class Checkpoint:
    """What a feed's record holds: the committed watermark and the changes seen near it.

    Attributes:
        watermark: FFN's ``to`` of the last committed window (``None``: nothing committed).
        seen: id -> modification time of changes delivered within ``overlap`` of it.
        version: the store record's version (``None``: no record yet).
    """

    watermark: dt.datetime | None = None
    seen: Mapping[str, dt.datetime] = attrs.field(factory=dict)
    version: int | None = None

    def encode(self) -> bytes:
        """The record's bytes (versioned JSON)."""
        return _records.dump(
            {
                "watermark": None if self.watermark is None else _iso(self.watermark),
                "seen": {key: _iso(at) for key, at in self.seen.items()},
            }
        )

    @classmethod
    def decode(cls, record: Record | None) -> Checkpoint:
        """A checkpoint from its record (an empty one when there is none)."""
        if record is None:
            return cls()
        with _records.reading("a feed checkpoint record"):
            raw = _records.load(record.data)
            mark = raw["watermark"]
            return cls(
                watermark=None if mark is None else dt.datetime.fromisoformat(mark),
                seen={k: dt.datetime.fromisoformat(v) for k, v in raw["seen"].items()},
                version=record.version,
            )


@attrs.define
class Batch(Generic[T]):
    """One window of a feed: the changes to process, duplicates already dropped.

    Attributes:
        items: the changed objects, in the feed's order.
        from_date, to_date: the window asked for (``from_date`` includes the overlap).
        dropped: changes dropped as already delivered (same id and modification time).
        lease: the feed's lease; ``lease.remaining()`` says how long the batch is safe.
        committed: set once the checkpoint was saved.
    """

    items: list[T]
    from_date: dt.datetime | None
    to_date: dt.datetime | None
    dropped: int
    lease: Lease
    committed: bool = False

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


class FeedConsumer(Generic[T]):
    """Consume one change feed at-least-once, with the checkpoint and lease in ``store``.

    Example::

        consumer = FeedConsumer(store, "acme-outbounds", ffn.merchant.outbounds.updates,
                                key=lambda o: o.outbound_id)
        async with consumer.batch(wait=30) as batch:
            for outbound in batch:
                await handle(outbound)
        # committed here; an exception in the block commits nothing

    Args:
        store: where the checkpoint lives (the token store works; keys differ).
        name: the feed's name in the store; one name per feed and account.
        source: the feed's ``updates`` method.
        key: an object's id (``lambda o: o.outbound_id``).
        modified: an object's modification time (default: :func:`modification_time`).
        overlap: how far before the last ``to`` each window starts again.
        start: where the first window starts (``None``: the feed's beginning).
        window: the longest window one batch covers (``None``: up to now), so a first run
            over months of history comes in digestible batches.
        lease_ttl: seconds one batch may take; a dead worker's lease frees after this.
        commit_margin: a commit needs at least this many seconds of lease left.
    """

    def __init__(
        self,
        store: TokenStore,
        name: str,
        source: FeedSource[T],
        *,
        key: Callable[[T], str],
        modified: Callable[[T], dt.datetime | None] = modification_time,
        overlap: dt.timedelta = dt.timedelta(minutes=2),
        start: dt.datetime | None = None,
        window: dt.timedelta | None = dt.timedelta(days=1),
        lease_ttl: float = 60.0,
        commit_margin: float = 1.0,
    ) -> None:
        if overlap < dt.timedelta(0):
            raise ValueError("overlap must not be negative")
        if window is not None and window <= overlap:
            raise ValueError("window must be longer than overlap")
        if start is not None and start.utcoffset() is None:
            raise ValueError("start needs a timezone")
        _records.check_lease(lease_ttl, commit_margin)
        self.store = store
        self.name = name
        self.record_key = validate_key(CHECKPOINT_PREFIX + name)
        self._source = source
        self._key = key
        self._modified = modified
        self.overlap = overlap
        self.start = start
        self.window = window
        self.lease_ttl = lease_ttl
        self.commit_margin = commit_margin

    def __repr__(self) -> str:
        return f"FeedConsumer({self.name!r}, store={self.store!r})"

    async def checkpoint(self) -> Checkpoint:
        """The committed checkpoint, read from the store."""
        return Checkpoint.decode(await self.store.load(self.record_key))

    async def reset(self, start: dt.datetime | None = None) -> None:
        """Forget the checkpoint: the next batch starts at ``start`` (default: the consumer's)."""
        async with self.store.lock(self.record_key, ttl=self.lease_ttl):
            current = await self.checkpoint()
            fresh = Checkpoint(watermark=start)
            await self.store.save(self.record_key, fresh.encode(), current.version)

    @asynccontextmanager
    async def batch(self, *, wait: float = 0.0) -> AsyncIterator[Batch[T]]:
        """Take the lease, fetch the next window, and commit it if the block succeeds.

        Args:
            wait: seconds to wait for the lease while another worker holds it.

        Raises:
            token_stores.LockTimeout: another worker held the lease for ``wait`` seconds.
            LeaseLost: on exit, the commit was refused; the changes come again.
        """
        async with self.store.lock(self.record_key, ttl=self.lease_ttl, timeout=wait) as lease:
            current = await self.checkpoint()
            from_date = self.start
            if current.watermark is not None:
                from_date = current.watermark - self.overlap
            to_date = None
            if self.window is not None and from_date is not None:
                to_date = from_date + self.window
            feed = self._source(from_date=from_date, to_date=to_date)
            seen = dict(current.seen)
            items: list[T] = []
            dropped = 0
            async for obj in feed:
                ident, at = self._key(obj), self._modified(obj)
                if at is not None:
                    earlier = seen.get(ident)
                    if earlier is not None and earlier >= at:
                        dropped += 1
                        continue
                    seen[ident] = at
                items.append(obj)
            batch = Batch(items, from_date, feed.to_date, dropped, lease)
            yield batch
            await self._commit(current, feed.to, seen, lease)
            batch.committed = True

    async def _commit(
        self,
        current: Checkpoint,
        to: dt.datetime | None,
        seen: dict[str, dt.datetime],
        lease: Lease,
    ) -> None:
        # A feed whose window was empty reports its start as ``to``: never move backwards.
        mark = current.watermark
        if to is not None and (mark is None or to > mark):
            mark = to
        keep_from = None if mark is None else mark - self.overlap
        kept = {k: at for k, at in seen.items() if keep_from is None or at >= keep_from}
        if lease.remaining() < self.commit_margin:
            raise LeaseLost(self.name, "the lease ran out while the batch was processed")
        fresh = Checkpoint(watermark=mark, seen=kept)
        try:
            await self.store.save(self.record_key, fresh.encode(), current.version)
        except StoreConflict:
            raise LeaseLost(self.name, "another worker committed meanwhile") from None
