"""The outbox: creates that could not be sent are kept in the store and replayed exactly once.

When a create cannot reach FFN now — the account needs a login
(:class:`~ffn_async.errors.ReauthorizationRequired`, :class:`~ffn_async.errors.TokenMissing`,
:class:`~ffn_async.errors.MissingScope`), the token endpoint or a peer's rotation fails, or the
API stays unreachable beyond the client's retry budget (no answer, 5xx, 429) —
:meth:`Outbox.submit` keeps it as one entry of a queue in the store (:mod:`token_stores.queue`:
a row, a Redis hash field, a file) instead of losing it. :meth:`Outbox.replay` sends the
entries in order, each through a safe create (:mod:`ffn_async.api.creates`), and removes each the
moment FFN has its object. :meth:`~Outbox.submit` replays first whenever entries are waiting,
so a new write never overtakes a kept one.

Guarantees and their limits:

* **Nothing kept is lost**: an entry leaves the store only once FFN answered with the object
  (created now, or found: made by an earlier attempt whose answer was lost), or when a person
  drops it (``ffn-async outbox drop``). A failure for want of a login or of FFN keeps the
  entry, its last error visible (``ffn-async outbox list``).
* **Exactly once on the server**: an entry is removed right after FFN answered for it; a
  replay that dies in between sends it again, and the safe create finds the object instead of
  making another (if the shop cancelled that outbound in the meantime, it counts as absent:
  this window is one store round trip wide).
* **Order**: entries are sent in the order they were kept, one replayer at a time (the store's
  lease lock on the outbox, renewed while the replay runs). Exceptions, each visible in
  ``outbox list``: an entry FFN *refused* (a 4xx about its payload: ``failed``) and an entry
  that failed :data:`MAX_ATTEMPTS` times with errors of its own (5xx, lost answers) *while a
  later entry went through* (``held``: set aside) are overtaken by later entries; a held entry
  is tried again at the end of every replay, a failed one only after ``outbox retry`` (which
  puts it at the back). An entry that names a product (outbound, inbound or return items, by
  merchant SKU or JFSKU) whose create is still kept is never sent before that product: it is
  held until the product is at FFN. A write that succeeded directly while the outbox was empty
  may land before a write another worker was keeping at that very moment.
* **Damaged entries** (bytes that do not read back, or an encrypted entry no key opens) are
  moved, as they are, to a quarantine queue and logged; the rest goes on.
* **Sizes**: an entry holds its request body (a few hundred bytes to a few KB); one over the
  store's limit (:data:`token_stores.MAX_ENTRY_BYTES`, 8 MiB) is refused with
  :class:`~token_stores.DataTooLarge` before anything is written.
* Reads are never kept: they fail fast as usual. Entries hold request bodies (customer
  addresses): wrap the store in :class:`~token_stores.EncryptedTokenStore` if that matters.
* An outbox kept by ffn-async 0.1.0 (one record under ``ffn-outbox:<name>``) is moved into the
  queue, in order, by the first operation of this version.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, TypeVar

import attrs
import msgspec

from token_stores import CorruptRecord as StoreCorrupt
from token_stores import (
    Lease,
    LockTimeout,
    Queue,
    QueueItem,
    StoreError,
    TokenStore,
    queue_of,
)
from token_stores.base import validate_key

from ..api.creates import KINDS, Created, CreateKind, CreateOutcome, create_response
from ..errors import (
    ApiError,
    DecodeError,
    FFNError,
    ResponseTooLarge,
    ServerError,
    TransportError,
    ValidationError,
    translate_store_errors,
)
from ..http._requester import as_is, redacted
from ..observe._logfields import account_of, logger
from . import _records
from ._outbox_entries import (
    EntryState,
    OutboxEntry,
    decode,
    encode,
    legacy_entries,
    needs,
    provides,
)

if TYPE_CHECKING:
    from ..http._requester import Requester, Response

__all__ = [
    "MAX_ATTEMPTS",
    "OUTBOX_PREFIX",
    "REPORT_LIMIT",
    "EntryState",
    "Kept",
    "Outbox",
    "OutboxEntry",
    "OutboxStats",
    "ReplayReport",
    "keeps",
]

log = logger("ffn_async.outbox")  # the 0.2.0 name: logging configurations name it

B = TypeVar("B")
T = TypeVar("T")

OUTBOX_PREFIX: Final = "ffn-outbox:"
"""Store keys of outboxes (their lease lock and their queue of waiting entries)."""
_ASIDE_PREFIX: Final = "ffn-outbox-aside:"
_QUARANTINE_PREFIX: Final = "ffn-outbox-quarantine:"

MAX_ATTEMPTS: Final = 3
"""Failed sends (errors of the entry itself) before an entry that blocks others is set aside."""

_PAGE: Final = 100
_PLACEHOLDER: Final = b""  # a waiting-queue entry that only reserves an id
REPORT_LIMIT: Final = 1000
"""Most applied entries a :class:`ReplayReport` lists (it counts all of them)."""
# After a replay failed for want of a login or of FFN, submit() keeps new creates without
# trying again for this long, so an outage does not cost every write a full retry budget.
_QUIET_AFTER_FAILED_REPLAY: Final = 2.0
# HTTP statuses by which FFN refuses a payload for good: the same bytes will never go.
_REFUSALS: Final = frozenset({400, 404, 409, 410, 413, 422})


def _unread(response: object) -> None:
    """The ``decode`` of a replayed create: the answer is not read (only the outcome counts)."""
    return None


def _refused(exc: BaseException) -> bool:
    """FFN's definitive refusal of this payload (marks the entry failed)."""
    return isinstance(exc, ApiError) and exc.status in _REFUSALS


def _entry_failure(exc: BaseException) -> bool:
    """An error of this one create (counted towards :data:`MAX_ATTEMPTS`), not of FFN as a
    whole or of the login: FFN answered 5xx, or took the request and the answer was lost."""
    if isinstance(exc, TransportError):
        return exc.sent
    return isinstance(exc, ServerError | DecodeError | ResponseTooLarge)


def keeps(exc: BaseException) -> bool:
    """Whether a failed create is kept in the outbox: every failure except FFN's refusal of the
    payload and a body that breaks the spec (login, token endpoint, store lock, 5xx, 429, …)."""
    return isinstance(exc, FFNError) and not (_refused(exc) or isinstance(exc, ValidationError))


def _describe(exc: BaseException) -> str:
    # Error texts of this library never carry tokens or secrets (see ffn_async.errors).
    return f"{type(exc).__name__}: {exc}"


def _created_value(kind: CreateKind[Any, T], response: Response) -> T:
    """The answer of a create :meth:`Outbox.submit` sent, as the kind's model; an answer that
    is not that model raises a :class:`~ffn_async.errors.DecodeError` redacted like any other."""
    from ..codec.serialization import decoder

    try:
        return decoder(kind.response)(response.content)
    except DecodeError as exc:
        raise redacted(exc, response) from None


@attrs.frozen
class Kept:
    """:meth:`Outbox.submit` kept the create for a later replay instead of sending it now."""

    entry: OutboxEntry


@attrs.frozen
class ReplayReport:
    """What one :meth:`Outbox.replay` did.

    Attributes:
        applied: entries FFN now has, with what the safe create found (``EXISTED`` means an
            earlier replay or attempt had already made it); the first :data:`REPORT_LIMIT`
            of them, so a replay of 100,000 entries does not hold them all in memory.
        sent: how many entries FFN now has (all of them, listed in ``applied`` or not).
        failed: entries FFN refused for good during this replay (with the reason).
        held: entries set aside during this replay (with the reason).
        remaining: entries still waiting or held (failed ones not counted).
        stopped: why the replay stopped early (``None``: it went through).
        error: the error that stopped it, if one did.
        quarantined: damaged entries moved to the quarantine queue.
        suspect: a waiting entry that failed :data:`MAX_ATTEMPTS` times with no later entry
            to show whether FFN takes others; :meth:`Outbox.submit` sets it aside once its
            own create goes through.
    """

    applied: Sequence[tuple[OutboxEntry, CreateOutcome]] = ()
    failed: Sequence[OutboxEntry] = ()
    remaining: int = 0
    stopped: str | None = None
    error: FFNError | None = attrs.field(default=None, eq=False)
    held: Sequence[OutboxEntry] = ()
    quarantined: int = 0
    suspect: OutboxEntry | None = None
    sent: int = 0


@attrs.define
class OutboxStats:
    """What one :class:`Outbox` object did in this process (for metrics and the demo)."""

    kept: int = 0
    """Creates kept instead of sent (or queued behind waiting entries)."""
    replayed: int = 0
    """Entries a replay brought to FFN (created or found)."""
    refused: int = 0
    """Entries FFN refused for good during a replay."""
    held: int = 0
    """Entries set aside (failing while others went through, or waiting for a product)."""
    quarantined: int = 0
    """Damaged entries moved, as they were, to the quarantine queue."""


@attrs.define
class _Pass:
    """What a replay has done so far."""

    lease: Lease
    applied: list[tuple[OutboxEntry, CreateOutcome]] = attrs.Factory(list)
    failed: list[OutboxEntry] = attrs.Factory(list)
    held: list[OutboxEntry] = attrs.Factory(list)
    quarantined: int = 0
    sent: int = 0
    stopped: str | None = None
    error: FFNError | None = None
    #: Products (SKUs, JFSKUs) of creates still kept: entries naming them wait.
    blocked: set[str] = attrs.Factory(set)
    #: A waiting entry that failed MAX_ATTEMPTS times: set aside once a later one goes through.
    suspect: OutboxEntry | None = None


class Outbox:
    """Creates kept durably in ``store`` while FFN cannot take them, replayed in order.

    Example::

        outbox = Outbox(store, "acme")
        result = await outbox.submit(ffn, creates.OUTBOUND, order)
        if isinstance(result, Kept): ...          # sent later by outbox.replay(ffn)

    Args:
        store: where entries live (the token store works; it must offer a queue,
            :func:`token_stores.queue_of`, as every store of ``token_stores`` does).
        name: the outbox's name in the store, usually the account key.
        lease_ttl: seconds of the replay's lease lock, renewed every third of it while the
            replay runs (a replayer that dies frees the outbox after at most this long).
        commit_margin: a replay sends no entry with less lease than this left (it renews
            first, and stops if the lease was lost).
    """

    def __init__(
        self, store: TokenStore, name: str, *, lease_ttl: float = 60.0, commit_margin: float = 5.0
    ) -> None:
        _records.check_lease(lease_ttl, commit_margin)
        self.store = store
        self.name = name
        self.record_key = validate_key(OUTBOX_PREFIX + name)
        self._aside = validate_key(_ASIDE_PREFIX + name)
        self.quarantine_key = validate_key(_QUARANTINE_PREFIX + name)
        self.lease_ttl = lease_ttl
        self.commit_margin = commit_margin
        self.stats = OutboxStats()
        self._queue: Queue = queue_of(store)
        self._replaying = asyncio.Lock()
        self._quiet_until = 0.0  # no replay from submit() before this (monotonic)
        self._migrated = False
        self._log = {"ffn_outbox": name}

    def __repr__(self) -> str:
        return f"Outbox({self.name!r}, store={self.store!r})"

    # -- reading ----------------------------------------------------------------------------

    async def _items(self, queue: str) -> AsyncIterator[QueueItem]:
        after = 0
        while page := await self._queue.page(queue, after=after, limit=_PAGE):
            for item in page:
                yield item
            after = page[-1].id

    async def _read(self, queue: str, item: QueueItem) -> OutboxEntry | None:
        """The entry of ``item``; a damaged one is moved to quarantine (``None``)."""
        if item.readable and item.data == _PLACEHOLDER:
            # An id reserved by _append_aside (its owner removes it; or it crashed first).
            await self._queue.remove(queue, item.id)
            return None
        if item.readable:
            try:
                entry = decode(item.data, None if queue == self._aside else item.id)
                if entry.kind in KINDS:
                    return entry
            except FFNError:
                pass
        await self._queue.append(self.quarantine_key, item.data)
        await self._queue.remove(queue, item.id)
        self.stats.quarantined += 1
        log.error(
            "outbox %r: entry %d of %r cannot be read; moved to the queue %r as it was",
            self.name, item.id, queue, self.quarantine_key, extra=self._log,
        )  # fmt: skip
        return None

    async def _aside_entries(self) -> list[tuple[QueueItem, OutboxEntry]]:
        """Held and failed entries in the order they were kept (a product set aside after the
        orders that wait for it comes before them)."""
        found = []
        async for item in self._items(self._aside):
            entry = await self._read(self._aside, item)
            if entry is not None:
                found.append((item, entry))
        return sorted(found, key=lambda pair: pair[1].id)

    @translate_store_errors
    async def entries(self) -> list[OutboxEntry]:
        """Every entry: the waiting ones in order, then the held and failed ones."""
        await self._migrate()
        waiting = []
        async for item in self._items(self.record_key):
            entry = await self._read(self.record_key, item)
            if entry is not None:
                waiting.append(entry)
        return waiting + [entry for _, entry in await self._aside_entries()]

    @translate_store_errors
    async def pending(self) -> int:
        """How many entries wait for a replay: waiting and held ones (failed ones not counted)."""
        await self._migrate()
        held = sum(1 for _, e in await self._aside_entries() if e.state is EntryState.HELD)
        return await self._queue.count(self.record_key) + held

    @translate_store_errors
    async def quarantined(self) -> int:
        """How many damaged entries were set aside, as they were, in :attr:`quarantine_key`."""
        return await self._queue.count(self.quarantine_key)

    async def _waiting(self) -> bool:
        return bool(await self._queue.page(self.record_key, limit=1))

    # -- migration from 0.1.0 ---------------------------------------------------------------

    async def _migrate(self) -> None:
        """Move an outbox kept by ffn-async 0.1.0 (one record) into the queue, once."""
        if self._migrated:
            return
        try:
            found = await self.store.load(self.record_key) is not None
        except StoreCorrupt:
            found = True  # unreadable: its bytes go to quarantine under the lease
        if found:
            async with self.store.lock(self.record_key, ttl=self.lease_ttl, timeout=self.lease_ttl):
                await self._migrate_record()
        self._migrated = True

    async def _migrate_record(self) -> None:
        """Under the lease: append the record's entries in order, then delete the record.

        A crash in between appends them again on the next try; their safe creates then find
        what the first copies made.
        """
        data: bytes | None = None
        try:
            record = await self.store.load(self.record_key)
            data = None if record is None else record.data
            entries = None if data is None else legacy_entries(data)
        except (StoreCorrupt, FFNError) as exc:
            data = getattr(exc, "data", None) or data or b""
            entries = None
            await self._queue.append(self.quarantine_key, data)
            log.error(
                "outbox %r: the record of ffn-async 0.1.0 cannot be read (%s); its bytes were "
                "moved to the queue %r",
                self.name, type(exc).__name__, self.quarantine_key, extra=self._log,
            )  # fmt: skip
        for entry in entries or ():
            target = self._aside if entry.state is EntryState.FAILED else self.record_key
            await self._queue.append(target, encode(entry))
        if entries is not None or data is not None:
            await self.store.delete(self.record_key)
        if entries:
            log.warning(
                "outbox %r: %d entries of ffn-async 0.1.0 moved into the queue",
                self.name, len(entries), extra=self._log,
            )  # fmt: skip

    # -- keeping ----------------------------------------------------------------------------

    async def _keep(
        self,
        kind: CreateKind[Any, Any],
        number: str,
        body: bytes,
        path_params: Mapping[str, str | int],
        params: Mapping[str, Any],
        reason: str,
        *,
        state: EntryState = EntryState.WAITING,
        attempts: int = 0,
    ) -> OutboxEntry:
        entry = OutboxEntry(
            0, kind.name, number, body, dict(path_params), dict(params), reason=reason,
            state=state, attempts=attempts,
        )  # fmt: skip
        if state is EntryState.WAITING:
            entry = attrs.evolve(entry, id=await self._queue.append(self.record_key, encode(entry)))
        else:
            entry = await self._append_aside(entry)
        self.stats.kept += 1
        log.warning(
            "outbox %r: kept %s %s (%s)", self.name, kind.name, number, reason, extra=self._log
        )
        return entry

    async def _append_aside(self, entry: OutboxEntry) -> OutboxEntry:
        """Put ``entry`` into the aside queue; an entry kept there directly gets a waiting
        queue id, so ids stay unique across both queues."""
        if entry.id == 0:
            # Reserve an id in the order of the waiting queue: append a placeholder, remove it.
            reserved = await self._queue.append(self.record_key, _PLACEHOLDER)
            entry = attrs.evolve(entry, id=reserved)
            await self._queue.remove(self.record_key, entry.id)
        await self._queue.append(self._aside, encode(entry))
        return entry

    async def _blocking_products(self, body: bytes, kind: CreateKind[Any, Any]) -> set[str]:
        """Kept products (held or failed) that a new create of ``kind`` names."""
        probe = OutboxEntry(0, kind.name, "", body)
        wanted = needs(probe)
        if not wanted or not await self._queue.page(self._aside, limit=1):
            return set()
        kept: set[str] = set()
        for _, entry in await self._aside_entries():
            kept |= provides(entry)
        return set(wanted & kept)

    @translate_store_errors
    async def submit(
        self,
        client: Requester,
        kind: CreateKind[B, T],
        body: B,
        *,
        path_params: Mapping[str, str | int] | None = None,
        params: Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> Created[T] | Kept:
        """Create ``body`` exactly once now, or keep it for :meth:`replay`.

        While entries are waiting, a replay is tried first (one per process at a time; other
        submits wait for it): once nothing waits the create is sent, else it is kept behind
        the waiting entries, so it never overtakes them. A create naming a product whose own
        create is held or failed is kept (held) until that product is at FFN.

        Raises:
            ValidationError: ``body`` breaks a constraint of the spec (never kept).
            ApiError: FFN refused the create for good (never kept).
            DataTooLarge: the body is longer than any store keeps (nothing kept).
        """
        from ..codec.serialization import dumps

        if not isinstance(body, kind.request):
            raise TypeError(f"a {kind.name} create takes {kind.request.__name__}")
        encoded = dumps(body)  # validates: a ValidationError names the field, nothing is kept
        number = kind.number_of(encoded)
        path_params = dict(path_params or {})
        params = dict(params or {})
        await self._migrate()
        suspect: OutboxEntry | None = None
        if await self._waiting():
            # Entries wait: one coroutine of this process replays them, the others wait for it
            # and then send their own creates side by side. If the outbox cannot be drained
            # now (still no login, FFN still down, another process replaying), this create
            # queues behind the waiting ones instead of overtaking them.
            async with self._replaying:
                suspect = await self._replay_first(client, timeout)
                if await self._waiting() and suspect is None:
                    reason = "queued behind waiting entries"
                    entry = await self._keep(kind, number, encoded, path_params, params, reason)
                    return Kept(entry)
        blocking = await self._blocking_products(encoded, kind)
        if blocking:
            return Kept(await self._hold(kind, number, encoded, path_params, params, blocking))
        try:
            response, outcome, attempts = await create_response(
                client,
                kind,
                msgspec.Raw(encoded),
                # Read by _created_value, outside the ``except``: an answer that is not the
                # promised model is the caller's error, not a failure to keep the entry for.
                decode=as_is,
                number=number,
                path_params=path_params,
                params=params,
                timeout=timeout,
            )
        except FFNError as exc:
            if not keeps(exc):
                raise
            return Kept(await self._keep_failed(kind, number, encoded, path_params, params, exc))
        if suspect is not None:
            await self._set_aside_suspect(suspect)
        return Created(_created_value(kind, response), outcome, attempts)

    async def _replay_first(self, client: Requester, timeout: float | None) -> OutboxEntry | None:
        """Replay the waiting entries, unless a replay failed for want of a login or of FFN
        moments ago; the replay's suspect, if it left one (a failing entry with nothing after
        it: the create about to be sent shows whether FFN takes others)."""
        if not await self._waiting() or time.monotonic() < self._quiet_until:
            return None
        report = await self.replay(client, timeout=timeout)
        if report.error is not None:  # no login or no FFN yet: let it breathe
            self._quiet_until = time.monotonic() + _QUIET_AFTER_FAILED_REPLAY
        return report.suspect

    async def _hold(
        self,
        kind: CreateKind[Any, Any],
        number: str,
        body: bytes,
        path_params: Mapping[str, str | int],
        params: Mapping[str, Any],
        blocking: set[str],
    ) -> OutboxEntry:
        """Keep a create held until the kept products it names are at FFN."""
        reason = f"waits for product {', '.join(sorted(blocking))}, which is still kept"
        entry = await self._keep(
            kind, number, body, path_params, params, reason, state=EntryState.HELD
        )
        self.stats.held += 1
        return entry

    async def _keep_failed(
        self,
        kind: CreateKind[Any, Any],
        number: str,
        body: bytes,
        path_params: Mapping[str, str | int],
        params: Mapping[str, Any],
        exc: FFNError,
    ) -> OutboxEntry:
        """Keep a create whose sending failed; a failure of the create itself (not of the login
        or of FFN as a whole) counts as its first attempt."""
        attempts = 1 if _entry_failure(exc) else 0
        return await self._keep(
            kind, number, body, path_params, params, _describe(exc), attempts=attempts
        )

    # -- replaying --------------------------------------------------------------------------

    @translate_store_errors
    async def replay(
        self, client: Requester, *, wait: float = 0.0, timeout: float | None = None
    ) -> ReplayReport:
        """Send the waiting entries in order, each exactly once, then try the held ones again.

        Stops at the first entry that cannot go for want of a login or of FFN (it stays, with
        its last error). An entry FFN refuses for good is marked failed; one that failed
        :data:`MAX_ATTEMPTS` times on its own is set aside as soon as a later entry goes
        through. The lease lock is renewed while the replay runs.

        Args:
            wait: seconds to wait while another worker replays (then report ``stopped``).
        """
        await self._migrate()
        try:
            async with self.store.lock(self.record_key, ttl=self.lease_ttl, timeout=wait) as lease:
                keeper = asyncio.create_task(self._keep_lease(lease))
                try:
                    return await self._replay(client, lease, timeout)
                finally:
                    keeper.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await keeper
        except LockTimeout:
            pending = await self.pending()
            return ReplayReport(remaining=pending, stopped="another worker is replaying")

    async def _replay(self, client: Requester, lease: Lease, timeout: float | None) -> ReplayReport:
        run = _Pass(lease)
        quarantined_before = self.stats.quarantined
        aside = await self._aside_entries()
        for _, entry in aside:
            run.blocked |= provides(entry)
        # Entries kept while this replay runs are sent too, behind the others: the pages go on
        # until the queue has nothing after the last entry seen.
        async for item in self._items(self.record_key):
            waiting = await self._read(self.record_key, item)
            if waiting is None:
                continue
            await self._send_waiting(client, waiting, timeout, run)
            if run.stopped is not None:
                break
        if run.stopped is None:
            for item, entry in aside:
                if entry.state is EntryState.HELD:
                    await self._send_held(client, item, entry, timeout, run)
                    if run.stopped is not None:
                        break
        run.quarantined = self.stats.quarantined - quarantined_before
        remaining = await self.pending()
        if run.applied or run.stopped:
            log.info(
                "outbox %r: replayed %d, %d waiting%s",
                self.name, run.sent, remaining,
                f"; stopped: {run.stopped}" if run.stopped else "",
                extra={**self._log, "ffn_account": account_of(client)},
            )  # fmt: skip
        return ReplayReport(
            run.applied,
            run.failed,
            remaining,
            run.stopped,
            run.error,
            run.held,
            run.quarantined,
            run.suspect if run.stopped is None else None,
            run.sent,
        )

    async def _keep_lease(self, lease: Lease) -> None:
        """Renew the lease every third of its time while the replay runs, so one long create
        (a full retry budget) cannot outlast it; stop once it is lost."""
        while lease.remaining() != float("inf"):
            await asyncio.sleep(self.lease_ttl / 3)
            try:
                if not await lease.renew(self.lease_ttl):
                    return  # lost: _renew() stops the replay before its next entry
            except StoreError as exc:  # the store hiccuped: the next round tries again
                log.warning(
                    "outbox %r: renewing the replay's lease failed: %s", self.name, exc,
                    extra=self._log,
                )  # fmt: skip

    async def _renew(self, run: _Pass) -> bool:
        """Keep the lease ahead of the work: renew it when less than the margin is left."""
        if run.lease.remaining() >= self.commit_margin:
            return True
        if await run.lease.renew(self.lease_ttl):
            return True
        run.stopped = "the replay's lease was lost (another worker may be replaying now)"
        return False

    async def _send_waiting(
        self, client: Requester, entry: OutboxEntry, timeout: float | None, run: _Pass
    ) -> None:
        """One waiting entry: applied and removed, refused, set aside, or the replay stops."""
        if not await self._renew(run):
            return
        blocked = needs(entry) & run.blocked
        if blocked:
            reason = f"waits for product {', '.join(sorted(blocked))}, which is still kept"
            await self._move_aside(entry, EntryState.HELD, reason, run)
            return
        exc = await self._create(client, entry, timeout, run, self.record_key)
        if exc is None:
            if run.suspect is not None:  # a later entry went through: FFN is up
                await self._set_aside_suspect(run.suspect, run)
            return
        if _refused(exc):
            await self._move_aside(entry, EntryState.FAILED, _describe(exc), run)
            return
        if not _entry_failure(exc):  # no login, no FFN, rate limited: everything waits
            await self._note(self.record_key, entry.id, entry, _describe(exc))
            run.stopped, run.error = _describe(exc), exc
            return
        tried = attrs.evolve(entry, attempts=entry.attempts + 1, reason=_describe(exc))
        await self._queue.replace(self.record_key, entry.id, encode(tried))
        if run.suspect is not None or tried.attempts < MAX_ATTEMPTS:
            # Two in a row, or not yet often enough: FFN itself is probably failing.
            run.stopped, run.error = _describe(exc), exc
            return
        run.suspect = tried  # probe the next entry: if it goes, this one is set aside
        run.blocked |= provides(tried)

    async def _send_held(
        self,
        client: Requester,
        item: QueueItem,
        entry: OutboxEntry,
        timeout: float | None,
        run: _Pass,
    ) -> None:
        """One held entry, tried again after the waiting ones."""
        if not await self._renew(run) or needs(entry) & run.blocked:
            return
        exc = await self._create(client, entry, timeout, run, self._aside, item.id)
        if exc is None:
            return
        if _refused(exc):
            failed = attrs.evolve(entry, state=EntryState.FAILED, reason=_describe(exc))
            await self._queue.replace(self._aside, item.id, encode(failed))
            run.failed.append(failed)
            self.stats.refused += 1
        elif _entry_failure(exc):
            tried = attrs.evolve(entry, attempts=entry.attempts + 1, reason=_describe(exc))
            await self._queue.replace(self._aside, item.id, encode(tried))
        else:
            await self._note(self._aside, item.id, entry, _describe(exc))
            run.stopped, run.error = _describe(exc), exc

    async def _create(
        self,
        client: Requester,
        entry: OutboxEntry,
        timeout: float | None,
        run: _Pass,
        queue: str,
        item_id: int | None = None,
    ) -> FFNError | None:
        """Send one entry; on success remove it at once and return ``None``, else the error."""
        kind = KINDS[entry.kind]
        try:
            _, outcome, _ = await create_response(
                client,
                kind,
                msgspec.Raw(entry.body),
                decode=_unread,  # only the outcome counts here
                number=entry.number,
                path_params=entry.path_params,
                params=entry.params,
                timeout=timeout,
            )
        except FFNError as exc:
            return exc
        # FFN has the object: the entry leaves now, before anything else is sent, so a crash
        # can never make a later replay send it again after the shop changed it (cancelled).
        await self._queue.remove(queue, entry.id if item_id is None else item_id)
        run.sent += 1
        if len(run.applied) < REPORT_LIMIT:
            run.applied.append((entry, outcome))
        run.blocked -= provides(entry)
        self.stats.replayed += 1
        return None

    async def _note(self, queue: str, item_id: int, entry: OutboxEntry, reason: str) -> None:
        """Record why the entry is still kept (its attempts unchanged)."""
        if entry.reason != reason:
            await self._queue.replace(queue, item_id, encode(attrs.evolve(entry, reason=reason)))

    async def _move_aside(
        self, entry: OutboxEntry, state: EntryState, reason: str, run: _Pass | None
    ) -> OutboxEntry:
        """Move a waiting entry to the aside queue as held or failed."""
        moved = attrs.evolve(entry, state=state, reason=reason)
        await self._append_aside(moved)
        await self._queue.remove(self.record_key, entry.id)
        if run is not None:
            run.blocked |= provides(moved)
            (run.failed if state is EntryState.FAILED else run.held).append(moved)
        if state is EntryState.FAILED:
            self.stats.refused += 1
            log.error(
                "outbox %r: %s %s refused: %s", self.name, entry.kind, entry.number, reason,
                extra=self._log,
            )  # fmt: skip
        else:
            self.stats.held += 1
            log.warning(
                "outbox %r: %s %s set aside: %s", self.name, entry.kind, entry.number, reason,
                extra=self._log,
            )  # fmt: skip
        return moved

    async def _set_aside_suspect(self, suspect: OutboxEntry, run: _Pass | None = None) -> None:
        reason = (
            f"set aside after {suspect.attempts} failed attempts while later entries went "
            f"through (last: {suspect.reason})"
        )
        if run is not None:
            run.suspect = None
            await self._move_aside(suspect, EntryState.HELD, reason, run)
            return
        # From submit(), outside a replay: only under the lease, and only if still there.
        try:
            async with self.store.lock(self.record_key, ttl=self.lease_ttl, timeout=0):
                items = await self._queue.page(self.record_key, after=suspect.id - 1, limit=1)
                if items and items[0].id == suspect.id:
                    await self._move_aside(suspect, EntryState.HELD, reason, None)
        except LockTimeout:
            return  # a replay runs: it decides

    # -- a person's decisions ---------------------------------------------------------------

    async def _find_aside(self, entry_id: int) -> tuple[QueueItem, OutboxEntry] | None:
        return next(((i, e) for i, e in await self._aside_entries() if e.id == entry_id), None)

    @translate_store_errors
    async def retry(self, entry_id: int, *, wait: float = 10.0) -> OutboxEntry | None:
        """Put a failed or held entry back in line (at the back, attempts reset); the next
        replay sends it. Returns it with its new id, or ``None`` if no such entry is aside."""
        await self._migrate()
        async with self.store.lock(self.record_key, ttl=self.lease_ttl, timeout=wait):
            found = await self._find_aside(entry_id)
            if found is None:
                return None
            item, entry = found
            fresh = attrs.evolve(
                entry, state=EntryState.WAITING, attempts=0, reason=f"retried ({entry.reason})"
            )
            fresh = attrs.evolve(fresh, id=await self._queue.append(self.record_key, encode(fresh)))
            await self._queue.remove(self._aside, item.id)
        log.warning(
            "outbox %r: entry %d retried as %d", self.name, entry_id, fresh.id, extra=self._log
        )
        return fresh

    @translate_store_errors
    async def drop(self, entry_id: int, *, wait: float = 10.0) -> bool:
        """Remove one entry without sending it; ``False`` if there is none with that id."""
        await self._migrate()
        async with self.store.lock(self.record_key, ttl=self.lease_ttl, timeout=wait):
            removed = await self._queue.remove(self.record_key, entry_id)
            if not removed:
                found = await self._find_aside(entry_id)
                removed = found is not None and await self._queue.remove(self._aside, found[0].id)
        if removed:
            log.warning("outbox %r: entry %d dropped unsent", self.name, entry_id, extra=self._log)
        return removed
