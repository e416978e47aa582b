"""Durable change-feed consumption: a checkpoint in a token store, a lease for one consumer.

:class:`FeedConsumer` walks a change feed (``ffn.merchant.outbounds.updates`` …) one window at
a time and hands each window over as a :class:`Batch`. The checkpoint — the watermark of the
last committed window and the changes seen near it — is a record in any
:class:`~token_stores.TokenStore` (key ``ffn-feed:<name>``), saved only when the caller's
``async with`` block over the batch finished without an exception.

Guarantees and their limits:

* **At-least-once.** A worker that crashes before its commit gets the same changes again on
  the next batch (from whichever worker takes it). Make processing idempotent, or count the
  redeliveries: they are the changes of the uncommitted batch, nothing else.
* **Overlap against FFN's clock.** Each window starts ``overlap`` before the watermark (FFN's
  own clock), so a change stamped just before it but visible only later is not missed. Changes
  delivered within the overlap are recognised by id and modification time and dropped; a later
  modification of the same object is delivered. An object without a modification time is
  never dropped (at-least-once wins). The record remembers at most 2,048 changes (about
  30 KB): after a larger burst the overlap covers the last ones only, so a record never
  outgrows its store's column.
* **No change hidden by paging.** Where the feed is ordered by modification time (FFN's and
  the fake's are), each next request starts at the last change seen instead of asking for page
  ``n + 1`` of a window that may have shifted meanwhile; an object modified during the walk
  moves to a later window without pushing another one past the page boundary. The order is
  judged by each page as a whole: a window whose pages show no order (or a change without a
  time) is read page by page to its end instead. A feed in no order whose page happens to
  come in order is still walked on from that page's last change, so an older change the
  server lists later is not seen: the keyset walk needs a feed ordered by modification time.
* **Bounded batches.** A batch holds at most ``max_items`` changes and spans at most
  ``window`` (the first one too, even without ``start``); :attr:`Batch.caught_up` says whether
  the feed has nothing older left. A window in no order is read whole and its batch keeps the
  ``max_items`` oldest new changes; the next batch starts at the newest one kept, so every
  change left out comes then (changes without a time come with every batch, uncounted).
* **One consumer at a time, and a lease that lasts.** A batch is taken under the store's lease
  lock on the feed's key; the lease is renewed while the block runs, so a slow handler keeps
  it (a handler that blocks the event loop cannot be helped). If the holder dies, the lease
  frees itself after ``lease_ttl`` (at once for the file store, whose lock the kernel drops). A
  commit is refused (:class:`LeaseLost`) when the lease was lost or another worker committed
  since the batch was read, so a slow worker never moves the checkpoint under a live one.
* **Fleets.** With ``poll_interval``, the lease of a caught-up feed is left to run out that
  long after the batch, so the other workers of a fleet skip the feed (:func:`sweep`) instead
  of polling it again; a batch without changes writes nothing.
* **A damaged record is kept aside.** A checkpoint that cannot be read is saved under another
  key (logged, and named by :attr:`Batch.recovered_from`) and the feed starts again at
  ``start``: the changes come again rather than never.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, Final, Generic, Protocol, TypeVar

import attrs

from token_stores import CorruptRecord, Lease, LockTimeout, Record, StoreConflict, TokenStore
from token_stores.base import StoreError, validate_key

from ..api.pagination import ChangeFeed, Chunk
from ..errors import FFNError
from ..observe._logfields import logger
from . import _feed_seen, _records

__all__ = [
    "CHECKPOINT_PREFIX",
    "Batch",
    "Checkpoint",
    "FeedConsumer",
    "FeedSource",
    "LeaseLost",
    "Sweep",
    "modification_time",
    "sweep",
]

log = logger("ffn_async.checkpoint")  # the 0.2.0 name: logging configurations name it

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
            "delivered again. Keep the event loop free while a batch runs (the lease is "
            "renewed every third of lease_ttl)."
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
        watermark: where the next window starts, before the overlap (``None``: nothing
            committed yet): FFN's ``to`` of the last window, or the last change of a batch cut
            at ``max_items``.
        seen: changes delivered within ``overlap`` of it: an 8-byte digest of the id (hex)
            -> the modification time in microseconds since the epoch (see :meth:`delivered`).
        floor: changes at or before this time (microseconds) count as delivered: set when a
            burst outgrew the remembered set.
        version: the store record's version (``None``: no record yet).
    """

    watermark: dt.datetime | None = None
    seen: Mapping[str, int] = attrs.field(factory=dict)
    floor: int | None = None
    version: int | None = None

    def delivered(self, ident: str, at: dt.datetime) -> bool:
        """Whether the change of object ``ident`` at ``at`` was already delivered."""
        return _delivered(self.seen, self.floor, _feed_seen.digest(ident), _feed_seen.micros(at))

    def encode(self) -> bytes:
        """The record's bytes (versioned JSON; the seen set packed, at most ~30 KB)."""
        members, _ = _feed_seen.pack(self.seen, self.floor)
        mark = None if self.watermark is None else _iso(self.watermark)
        return _records.dump({"watermark": mark, "delivered": members})

    @classmethod
    def decode(cls, record: Record | None) -> Checkpoint:
        """A checkpoint from its record (an empty one when there is none)."""
        if record is None:
            return cls()
        with _records.reading("a feed checkpoint record"):
            raw = _records.load(record.data)
            mark = raw["watermark"]
            if "delivered" in raw:
                seen, floor = _feed_seen.unpack(raw["delivered"])
            else:  # the first layout: {"seen": {id: iso time}}
                seen, floor = _feed_seen.from_legacy(raw["seen"]), None
            return cls(
                watermark=None if mark is None else dt.datetime.fromisoformat(mark),
                seen=seen,
                floor=floor,
                version=record.version,
            )


def _delivered(seen: Mapping[str, int], floor: int | None, key: str, at: int) -> bool:
    if floor is not None and at <= floor:
        return True
    earlier = seen.get(key)
    return earlier is not None and earlier >= at


def _forget(
    seen: dict[str, int],
    before: Mapping[str, int],
    left_out: Sequence[tuple[str, int]],
    kept: Sequence[tuple[str, int]],
) -> None:
    """Undo ``seen`` for changes a batch left out, so the next batch delivers them: each such
    object's entry goes back to ``before`` (what the checkpoint held), or to its newest change
    the batch kept."""
    gone = {digest for digest, _ in left_out}
    for digest in gone:
        previous = before.get(digest)
        if previous is None:
            seen.pop(digest, None)
        else:
            seen[digest] = previous
    for digest, stamp in kept:
        if digest in gone:
            seen[digest] = max(seen.get(digest, stamp), stamp)


@attrs.define
class Batch(Generic[T]):
    """One window of a feed: the changes to process, duplicates already dropped.

    Attributes:
        items: the changed objects, in the feed's order (at most ``max_items``).
        from_date, to_date: the window asked for (``from_date`` includes the overlap).
        dropped: changes dropped as already delivered (same id and modification time).
        lease: the feed's lease; renewed while the block runs.
        caught_up: the batch reached the present: nothing older waits. ``False`` after a
            batch cut by ``max_items`` or ``window``: take the next one at once.
        recovered_from: the store key the feed's unreadable checkpoint was kept under when
            this batch replaced it (it then starts at ``start``), else ``None``.
        committed: set once the checkpoint is saved (or had nothing to save).
    """

    items: list[T]
    from_date: dt.datetime | None
    to_date: dt.datetime | None
    dropped: int
    lease: Lease
    caught_up: bool = False
    recovered_from: str | None = None
    committed: bool = False

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


@attrs.define
class _Walk:
    """What walking one window found: the new changes and where the next window starts."""

    items: list[Any] = attrs.field(factory=list)
    dropped: int = 0
    mark: dt.datetime | None = None
    caught_up: bool = True
    #: The end of a first batch's window, set by its first change; changes from it on wait.
    limit: dt.datetime | None = None
    #: The changes this walk looked at (a restart at the cursor fetches the last one again).
    looked: set[tuple[str, int]] = attrs.field(factory=set)
    #: The batch was cut at ``max_items``: the mark is where the next batch goes on.
    cut: bool = False

    def reach(self, moment: dt.datetime | None) -> None:
        """Move the mark on to ``moment``; never back."""
        if moment is not None and (self.mark is None or moment > self.mark):
            self.mark = moment

    def cut_at(self, moment: dt.datetime) -> None:
        """End the batch at ``moment``: each change left out is at it or later, and the next
        batch goes on from there."""
        self.reach(moment)
        self.cut = True
        self.caught_up = False

    def finish(self, end: dt.datetime) -> None:
        """The walk took the whole window: the mark moves on to its ``end``, unless cut."""
        if not self.cut:
            self.reach(end)

    def full(self, max_items: int | None) -> bool:
        """Whether the batch holds ``max_items`` changes already."""
        return max_items is not None and len(self.items) >= max_items

    def past_limit(self, last: dt.datetime) -> bool:
        """Whether a first batch's walk reached its window's end: the next batch goes on."""
        return self.limit is not None and last >= self.limit


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
        overlap: how far before the watermark each window starts again.
        start: where the first window starts (``None``: the feed's first change).
        window: the longest time one batch covers (``None``: up to now), so a first run over
            months of history comes in digestible batches.
        max_items: the most changes one batch holds (``None``: no limit). Where the feed is
            not ordered by modification time, a batch holds the window's ``max_items`` oldest
            new changes, plus any without a time.
        lease_ttl: seconds the lease lasts without renewal; renewed every third of it while
            the block runs, so a dead worker's lease frees after at most this.
        commit_margin: a commit needs at least this many seconds of lease left.
        poll_interval: seconds a caught-up feed is left alone after a batch: its lease is kept
            that long, so other workers skip it (``None``: released at once).
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
        max_items: int | None = 1000,
        lease_ttl: float = 60.0,
        commit_margin: float = 1.0,
        poll_interval: float | None = None,
    ) -> None:
        if overlap < dt.timedelta(0):
            raise ValueError("overlap must not be negative")
        if window is not None and window <= overlap:
            raise ValueError("window must be longer than overlap")
        if start is not None and start.utcoffset() is None:
            raise ValueError("start needs a timezone")
        if max_items is not None and max_items < 1:
            raise ValueError("max_items must be at least 1")
        if poll_interval is not None and poll_interval < 0:
            raise ValueError("poll_interval must not be negative")
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
        self.max_items = max_items
        self.lease_ttl = lease_ttl
        self.commit_margin = commit_margin
        self.poll_interval = poll_interval
        #: Monotonic time before which :func:`sweep` does not ask the store about this feed.
        self.quiet_until = 0.0

    def __repr__(self) -> str:
        return f"FeedConsumer({self.name!r}, store={self.store!r})"

    async def checkpoint(self) -> Checkpoint:
        """The committed checkpoint, read from the store (:class:`FFNError` if unreadable)."""
        return Checkpoint.decode(await self.store.load(self.record_key))

    async def reset(self, start: dt.datetime | None = None) -> None:
        """Forget the checkpoint: the next batch starts at ``start`` (default: the consumer's).

        An unreadable record is kept aside first (see :attr:`Batch.recovered_from`).
        """
        async with self.store.lock(self.record_key, ttl=self.lease_ttl):
            current, _ = await self._read()
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
            async with self._lease_kept(lease):  # the walk's retries take time too
                current, recovered = await self._read()
                from_date = self.start
                if current.watermark is not None:
                    from_date = current.watermark - self.overlap
                seen = dict(current.seen)
                walk = await self._walk(from_date, current, seen)
                batch = Batch(
                    walk.items, from_date, walk.mark, walk.dropped, lease, walk.caught_up, recovered
                )
                yield batch
            await self._commit(current, walk, seen, lease, force=recovered is not None)
            batch.committed = True
            if self.poll_interval and walk.caught_up:
                await lease.hold(self.poll_interval)

    async def _read(self) -> tuple[Checkpoint, str | None]:
        """The checkpoint, or an empty one replacing an unreadable record kept aside (its key)."""
        try:
            record = await self.store.load(self.record_key)
        except CorruptRecord as exc:
            data, version = exc.data, exc.version
            reason = str(exc)
        else:
            try:
                return Checkpoint.decode(record), None
            except FFNError as exc:
                assert record is not None
                data, version = record.data, record.version
                reason = str(exc)
        aside = await _records.keep_aside(self.store, self.record_key, data or b"")
        if version is None:  # a store that cannot even tell the version: start afresh
            await self.store.delete(self.record_key)
        log.error(
            "feed %r: the checkpoint is unreadable (%s); it was kept under key %r and the "
            "feed starts again at %s (its changes come again)",
            self.name,
            reason,
            aside,
            "the feed's first change" if self.start is None else _iso(self.start),
            extra={"ffn_feed": self.name},
        )
        return Checkpoint(version=version), aside

    async def _walk(
        self, from_date: dt.datetime | None, current: Checkpoint, seen: dict[str, int]
    ) -> _Walk:
        """Collect the window's new changes, recording them in ``seen``.

        While the feed comes ordered by modification time, each next request starts at the
        last change seen (a keyset walk: an object modified meanwhile cannot push another past
        a page boundary) and the walk may stop at ``max_items``; otherwise it follows the
        server's links page by page to the window's end and keeps the ``max_items`` oldest
        new changes, so that the next batch, going on from the newest one kept, has the rest.
        """
        found = _Walk(mark=current.watermark)
        requested = None if self.window is None or from_date is None else from_date + self.window
        feed = self._source(from_date=from_date, to_date=requested)
        chunks = feed.chunks()
        try:
            chunk = await anext(chunks, None)
            if chunk is None:  # nothing could have changed yet: the window was empty
                found.reach(feed.to)
                return found
            end = self._window_end(found, from_date, requested, feed, chunk)
            cursor = from_date
            while chunk is not None:
                last, full = self._take(chunk, seen, current.floor, found, cursor)
                if last is None:  # no order to walk by
                    await self._follow_pages(chunks, chunk, seen, current.floor, found)
                    self._keep_oldest(found, seen, current.seen)
                    break
                if full:  # the rest from `last` on (never behind the watermark)
                    found.cut_at(last)
                    return found
                if not chunk.more_data_available or found.past_limit(last):
                    break
                if cursor is None or last > cursor:
                    await chunks.aclose()
                    cursor = last
                    feed = self._source(from_date=cursor, to_date=end)
                    chunks = feed.chunks()
                # else: a run of equal times: the server's next page
                chunk = await anext(chunks, None)
        finally:
            await chunks.aclose()
        found.finish(end)
        return found

    def _window_end(
        self,
        found: _Walk,
        from_date: dt.datetime | None,
        requested: dt.datetime | None,
        feed: ChangeFeed[T],
        chunk: Chunk[T],
    ) -> dt.datetime:
        """Where the window ends, fixed by its first page; whether the walk can catch up."""
        reported = chunk.to_date or feed.to_date
        end = self._first_end(from_date, chunk, reported)
        clamped = requested is None or feed.to_date < requested
        found.limit = end if end < reported else None
        found.caught_up = clamped and found.limit is None
        return end

    def _first_end(
        self, from_date: dt.datetime | None, chunk: Chunk[T], end: dt.datetime
    ) -> dt.datetime:
        """A first batch without ``start`` spans ``window`` from the feed's first change."""
        if from_date is not None or self.window is None or not chunk.items:
            return end
        first = self._modified(chunk.items[0])
        return end if first is None else min(end, first + self.window)

    def _take(
        self,
        chunk: Chunk[T],
        seen: dict[str, int],
        floor: int | None,
        found: _Walk,
        cursor: dt.datetime | None,
    ) -> tuple[dt.datetime | None, bool]:
        """Add ``chunk``'s new changes to ``found``, up to ``max_items`` if ordered.

        Returns the chunk's last modification time if its changes come ordered by it from
        ``cursor`` on (``None`` if not, or if an object has none), and whether the batch is
        full: it stopped there, and the next batch goes on from that time. The whole chunk is
        looked at first, so a batch is never cut by order on a page that shows none; an
        unordered chunk is taken whole (:meth:`_keep_oldest` cuts the batch later).
        """
        last, ordered = self._order(chunk.items, cursor)
        if not ordered:
            self._add_all(chunk.items, seen, floor, found)
            return None, False
        previous = cursor
        for obj in chunk.items:
            if previous is not None and found.full(self.max_items):
                return previous, True
            previous = self._modified(obj)
            self._add(obj, previous, seen, floor, found)
        return last, False

    def _order(
        self, items: Sequence[T], cursor: dt.datetime | None
    ) -> tuple[dt.datetime | None, bool]:
        """The last modification time of ``items`` (``cursor`` if none), and whether each has
        one and they come in its order from ``cursor`` on."""
        last = cursor
        for obj in items:
            at = self._modified(obj)
            if at is None or (last is not None and at < last):
                return None, False
            last = at
        return last, True

    def _add_all(
        self, items: Sequence[T], seen: dict[str, int], floor: int | None, found: _Walk
    ) -> None:
        """Add every new change of ``items`` to ``found`` (see :meth:`_add`), without a cut."""
        for obj in items:
            self._add(obj, self._modified(obj), seen, floor, found)

    def _add(
        self, obj: T, at: dt.datetime | None, seen: dict[str, int], floor: int | None, found: _Walk
    ) -> None:
        """Add one change to ``found`` unless already delivered, recording it in ``seen``.

        A change without a time is always added (it cannot be recognised); one at or past a
        first batch's window end is left to the next batch.
        """
        if at is None:
            found.items.append(obj)
            return
        if found.limit is not None and at >= found.limit:
            return  # past a first batch's window: the next batch has it
        digest, stamp = _feed_seen.digest(self._key(obj)), _feed_seen.micros(at)
        again = (digest, stamp) in found.looked  # at the cursor of a restart
        found.looked.add((digest, stamp))
        if _delivered(seen, floor, digest, stamp):
            found.dropped += not again
            return
        seen[digest] = stamp
        found.items.append(obj)

    async def _follow_pages(
        self,
        chunks: AsyncIterator[Chunk[T]],
        chunk: Chunk[T],
        seen: dict[str, int],
        floor: int | None,
        found: _Walk,
    ) -> None:
        """Take the rest of the window as the server pages it, every page whole: once the
        changes came out of order (or one without a time), a restart at the last one could
        skip others, and so could a stop at ``max_items`` (:meth:`_keep_oldest` cuts after)."""
        if not chunk.more_data_available:
            return
        async for page in chunks:
            self._add_all(page.items, seen, floor, found)
            if not page.more_data_available:
                return

    def _keep_oldest(self, found: _Walk, seen: dict[str, int], before: Mapping[str, int]) -> None:
        """Cut the batch of an unordered window to its ``max_items`` oldest new changes.

        Each change left out is at least as new as the newest one kept, where the next batch
        goes on (its overlap reaching further back): so it comes then, and ``seen`` forgets
        it again (back to ``before``, the checkpoint's, or the object's change still kept).
        The kept ones are in ``seen``, so the next batch drops them and goes further. Changes
        without a time are never left out nor counted: they come every batch anyway.
        """
        timed = self._by_time(found.items)
        if self.max_items is None or len(timed) <= self.max_items:
            return
        kept, left_out = timed[: self.max_items], timed[self.max_items :]
        _forget(
            seen, before, self._entries(found.items, left_out), self._entries(found.items, kept)
        )
        gone = {index for _, index in left_out}
        found.items = [obj for index, obj in enumerate(found.items) if index not in gone]
        found.cut_at(kept[-1][0])

    def _by_time(self, items: Sequence[T]) -> list[tuple[dt.datetime, int]]:
        """The changes with a time, as (time, position), oldest first (ties in feed order)."""
        timed = ((self._modified(obj), index) for index, obj in enumerate(items))
        return sorted((at, index) for at, index in timed if at is not None)

    def _entries(
        self, items: Sequence[T], picked: Sequence[tuple[dt.datetime, int]]
    ) -> list[tuple[str, int]]:
        """The ``picked`` changes as ``seen`` records them: the id's digest and the time."""
        return [
            (_feed_seen.digest(self._key(items[index])), _feed_seen.micros(at))
            for at, index in picked
        ]

    @contextlib.asynccontextmanager
    async def _lease_kept(self, lease: Lease) -> AsyncIterator[None]:
        """Renew ``lease`` every third of ``lease_ttl`` while the block runs (a failed
        renewal is logged; the commit then finds the lease too short and refuses)."""
        if lease.deadline is None:
            yield
            return

        async def keep() -> None:
            while True:
                await asyncio.sleep(self.lease_ttl / 3)
                try:
                    renewed = await lease.renew(self.lease_ttl)
                except StoreError:
                    renewed = False
                if not renewed:
                    log.warning(
                        "feed %r: could not renew the batch's lease",
                        self.name,
                        extra={"ffn_feed": self.name},
                    )

        keeper = asyncio.get_running_loop().create_task(keep())
        try:
            yield
        finally:
            keeper.cancel()

    async def _commit(
        self,
        current: Checkpoint,
        walk: _Walk,
        seen: dict[str, int],
        lease: Lease,
        *,
        force: bool,
    ) -> None:
        if not walk.items and walk.caught_up and not force and current.version is not None:
            return  # nothing delivered: the next window starts where this one did
        mark = walk.mark
        keep_from = None if mark is None else _feed_seen.micros(mark - self.overlap)
        kept = {k: at for k, at in seen.items() if keep_from is None or at >= keep_from}
        floor = current.floor  # the next window starts after an older floor: it no longer counts
        if floor is not None and keep_from is not None and floor < keep_from:
            floor = None
        if lease.remaining() < self.commit_margin:
            raise LeaseLost(self.name, "the lease ran out while the batch was processed")
        fresh = Checkpoint(watermark=mark, seen=kept, floor=floor)
        try:
            await self.store.save(self.record_key, fresh.encode(), current.version)
        except StoreConflict:
            raise LeaseLost(self.name, "another worker committed meanwhile") from None


@attrs.define
class Sweep:
    """What one :func:`sweep` did: batches handled, feeds another worker held, failures."""

    batches: int = 0
    changes: int = 0
    skipped: int = 0
    behind: int = 0
    failed: list[tuple[str, BaseException]] = attrs.field(factory=list)


async def sweep(
    consumers: Sequence[FeedConsumer[T]],
    handle: Callable[[Batch[T]], Awaitable[None]],
) -> Sweep:
    """One pass of a fleet worker over many feeds: each feed nobody else holds, once.

    Feeds are visited in a random order, so workers started together do not march in step. A
    feed whose lease another worker holds (it is processing it, or polled it less than its
    ``poll_interval`` ago) is skipped without waiting. With ``poll_interval``, the worker also
    leaves the store alone about a feed it polled itself for that long, and about one it found
    held for half that long (a lock attempt each sweep would be most of an idle fleet's store
    traffic); a feed is then polled at least every one and a half intervals, and a feed a dead
    worker held is taken up after its lease ran out. ``handle`` runs inside the batch: its
    exception leaves the batch uncommitted and is collected in :attr:`Sweep.failed` with
    :class:`LeaseLost` and store or API failures, so one feed cannot stop the others. Run it in
    a loop with a pause (``poll_interval`` is the pace each feed is polled at fleet-wide).
    """
    result = Sweep()
    order = list(consumers)
    random.shuffle(order)
    for consumer in order:
        now = time.monotonic()
        if consumer.quiet_until > now:
            result.skipped += 1
            continue
        try:
            async with consumer.batch(wait=0) as batch:
                await handle(batch)
        except LockTimeout:
            result.skipped += 1
            consumer.quiet_until = now + (consumer.poll_interval or 0.0) / 2
            continue
        except Exception as exc:  # one feed's failure must not stop the sweep
            result.failed.append((consumer.name, exc))
            continue
        if batch.caught_up and batch.lease.kept and consumer.poll_interval:
            consumer.quiet_until = time.monotonic() + consumer.poll_interval
        result.batches += 1
        result.changes += len(batch)
        result.behind += not batch.caught_up
    return result
