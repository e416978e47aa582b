"""The outbox: creates that could not be sent are kept in the store and replayed exactly once.

When the account needs a new login (:class:`~ffn_async.errors.ReauthorizationRequired`,
:class:`~ffn_async.errors.TokenMissing`) or the API stays unreachable beyond the client's
retry budget (no answer, 5xx, 429), :meth:`Outbox.submit` keeps the create as an entry of one
record in a :class:`~token_stores.TokenStore` (key ``ffn-outbox:<name>``) instead of losing it.
:meth:`Outbox.replay` sends the entries in the order they were kept, each through a safe create
(:mod:`ffn_async.creates`), and removes an entry only after FFN has the object. Run it after
the next login or recovery; :meth:`~Outbox.submit` also replays first whenever entries are
waiting, so a new write never overtakes a kept one.

Guarantees and their limits:

* **Nothing kept is lost**: an entry leaves the store only once FFN answered with the object
  (created now, or found: made by an earlier attempt whose answer was lost), or when a person
  drops it (``ffn-async outbox drop``).
* **Exactly once on the server**: a replay that crashes between FFN's answer and removing the
  entry sends it again later, and the safe create finds the object instead of making another.
* **In order**, among the writes kept in one outbox: one replayer at a time (the store's lease
  lock on the outbox key). A write that succeeded directly while the outbox was still empty may
  land before a write another worker was keeping at that very moment.
* A create FFN refuses for good (400 validation, 403 …) is marked ``failed`` and skipped, so it
  cannot block the rest; it stays for a person to inspect and drop.
* Reads are never kept: they fail fast as usual. Entries hold request bodies (customer
  addresses): wrap the store in :class:`~token_stores.EncryptedTokenStore` if that matters.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, TypeVar

import attrs
import msgspec

from token_stores import Lease, LockTimeout, Record, StoreConflict, TokenStore
from token_stores.base import validate_key

from . import _records
from ._logfields import logger
from .creates import KINDS, Created, CreateKind, CreateOutcome, create_response
from .errors import (
    FFNError,
    RateLimited,
    ReauthorizationRequired,
    ServerError,
    TokenMissing,
    TransportError,
)

if TYPE_CHECKING:
    from ._requester import Requester

__all__ = [
    "OUTBOX_PREFIX",
    "Kept",
    "Outbox",
    "OutboxEntry",
    "OutboxStats",
    "ReplayReport",
    "keeps",
]

log = logger("ffn_async.outbox")

B = TypeVar("B")
R = TypeVar("R")
T = TypeVar("T")

OUTBOX_PREFIX: Final = "ffn-outbox:"
"""Store keys of outboxes start with this, apart from token records."""

_SAVE_TRIES: Final = 50
# Applied entries are removed from the record in groups: each removal rewrites the record, and
# an applied entry left behind by a crash is harmless (its replay finds the object).
_REMOVE_EVERY: Final = 25
# After a replay failed for want of a login or of FFN, submit() keeps new creates without
# trying again for this long, so an outage does not cost every write a full retry budget.
_QUIET_AFTER_FAILED_REPLAY: Final = 2.0


def keeps(exc: BaseException) -> bool:
    """Whether a failed create is kept in the outbox (needs a login, or FFN is unreachable)."""
    if isinstance(exc, ReauthorizationRequired | TokenMissing | RateLimited | ServerError):
        return True
    return isinstance(exc, TransportError)


@attrs.frozen
class OutboxEntry:
    """One kept create.

    Attributes:
        id: its place in the outbox's order (grows by one per kept write).
        kind: the :data:`~ffn_async.creates.KINDS` name (``"outbound"``).
        number: the merchant's own number of the object.
        body: the encoded JSON request, sent byte for byte on replay.
        path_params, params: path and query parameters of the create.
        kept_at: when it was kept (UTC).
        reason: why it was kept, or why the last replay of it stopped.
        failed: set when FFN refused it for good; replays skip it.
    """

    id: int
    kind: str
    number: str
    body: bytes = attrs.field(repr=False)
    path_params: Mapping[str, str | int] = attrs.field(factory=dict)
    params: Mapping[str, Any] = attrs.field(factory=dict)
    kept_at: dt.datetime = attrs.field(factory=lambda: dt.datetime.now(dt.UTC))
    reason: str = ""
    failed: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "number": self.number,
            "body": self.body.decode(),
            "path_params": dict(self.path_params),
            "params": dict(self.params),
            "kept_at": self.kept_at.isoformat(),
            "reason": self.reason,
            "failed": self.failed,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> OutboxEntry:
        return cls(
            id=int(raw["id"]),
            kind=str(raw["kind"]),
            number=str(raw["number"]),
            body=str(raw["body"]).encode(),
            path_params=dict(raw.get("path_params") or {}),
            params=dict(raw.get("params") or {}),
            kept_at=dt.datetime.fromisoformat(raw["kept_at"]),
            reason=str(raw.get("reason") or ""),
            failed=raw.get("failed"),
        )


@attrs.frozen
class Kept:
    """:meth:`Outbox.submit` kept the create for a later replay instead of sending it now."""

    entry: OutboxEntry


@attrs.frozen
class ReplayReport:
    """What one :meth:`Outbox.replay` did.

    Attributes:
        applied: entries FFN now has, with what the safe create found (``EXISTED`` means an
            earlier replay or attempt had already made it).
        failed: entries FFN refused for good during this replay (marked, skipped from now on).
        remaining: entries still waiting (not counting failed ones).
        stopped: why the replay stopped early (``None``: it went through).
        error: the error that stopped it, if one did.
    """

    applied: Sequence[tuple[OutboxEntry, CreateOutcome]] = ()
    failed: Sequence[OutboxEntry] = ()
    remaining: int = 0
    stopped: str | None = None
    error: FFNError | None = attrs.field(default=None, eq=False)


@attrs.define
class OutboxStats:
    """What one :class:`Outbox` object did in this process (for metrics and the demo)."""

    kept: int = 0
    """Creates kept instead of sent (or queued behind waiting entries)."""
    replayed: int = 0
    """Entries a replay brought to FFN (created or found)."""
    refused: int = 0
    """Entries FFN refused for good during a replay."""


@attrs.frozen
class _State:
    next_id: int
    entries: tuple[OutboxEntry, ...]
    version: int | None

    def encode(self) -> bytes:
        return _records.dump({"next": self.next_id, "entries": [e.to_json() for e in self.entries]})

    @classmethod
    def decode(cls, record: Record | None) -> _State:
        if record is None:
            return cls(1, (), None)
        with _records.reading("an outbox record"):
            raw = _records.load(record.data)
            entries = tuple(OutboxEntry.from_json(e) for e in raw["entries"])
            return cls(int(raw["next"]), entries, record.version)


@attrs.define
class _Outcomes:
    """What a replay has done so far."""

    applied: list[tuple[OutboxEntry, CreateOutcome]] = attrs.Factory(list)
    failed: list[OutboxEntry] = attrs.Factory(list)
    done: list[int] = attrs.Factory(list)  # applied, not yet removed from the record


def _describe(exc: BaseException) -> str:
    # Error texts of this library never carry tokens or secrets (see ffn_async.errors).
    return f"{type(exc).__name__}: {exc}"


class Outbox:
    """Creates kept durably in ``store`` while FFN cannot take them, replayed in order.

    Example::

        outbox = Outbox(store, "acme")
        result = await outbox.submit(ffn, creates.OUTBOUND, order)
        if isinstance(result, Kept): ...          # sent later by outbox.replay(ffn)

    Args:
        store: where entries live (the token store works; keys differ).
        name: the outbox's name in the store, usually the account key.
        lease_ttl: seconds one replay may hold the outbox's lock.
        commit_margin: a replay sends no entry with less lease than this left.
    """

    def __init__(
        self, store: TokenStore, name: str, *, lease_ttl: float = 60.0, commit_margin: float = 5.0
    ) -> None:
        _records.check_lease(lease_ttl, commit_margin)
        self.store = store
        self.name = name
        self.record_key = validate_key(OUTBOX_PREFIX + name)
        self.lease_ttl = lease_ttl
        self.commit_margin = commit_margin
        self.stats = OutboxStats()
        # One writer of the record at a time within the process: coroutines queue here instead
        # of losing compare-and-set rounds to each other.
        self._writing = asyncio.Lock()
        self._replaying = asyncio.Lock()
        self._quiet_until = 0.0  # no replay from submit() before this (monotonic)

    def __repr__(self) -> str:
        return f"Outbox({self.name!r}, store={self.store!r})"

    async def _state(self) -> _State:
        return _State.decode(await self.store.load(self.record_key))

    async def entries(self) -> list[OutboxEntry]:
        """Every entry, oldest first (failed ones included)."""
        return list((await self._state()).entries)

    async def pending(self) -> int:
        """How many entries wait for a replay (failed ones not counted)."""
        return sum(1 for e in (await self._state()).entries if e.failed is None)

    async def _change(self, change: Callable[[_State], tuple[_State | None, R]]) -> R:
        """Apply ``change(state) -> (new state | None, result)`` as a compare-and-set, retried."""
        async with self._writing:
            for attempt in range(_SAVE_TRIES):
                state = await self._state()
                fresh, result = change(state)
                if fresh is None:
                    return result
                try:
                    await self.store.save(self.record_key, fresh.encode(), state.version)
                except StoreConflict:
                    # Another process wrote first: decide again, after a jittered pause.
                    await asyncio.sleep(random.uniform(0, 0.002 * 2 ** min(attempt, 6)))
                    continue
                return result
        raise FFNError(f"outbox {self.name!r}: too much contention to save; try again")

    async def _keep(
        self,
        kind: CreateKind[Any, Any],
        number: str,
        body: bytes,
        path_params: Mapping[str, str | int],
        params: Mapping[str, Any],
        reason: str,
    ) -> OutboxEntry:
        def append(state: _State) -> tuple[_State | None, OutboxEntry]:
            entry = OutboxEntry(
                state.next_id, kind.name, number, body, dict(path_params), dict(params),
                reason=reason,
            )  # fmt: skip
            return _State(state.next_id + 1, (*state.entries, entry), state.version), entry

        entry = await self._change(append)
        self.stats.kept += 1
        log.warning("outbox %r: kept %s %s (%s)", self.name, kind.name, number, reason)
        return entry

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
        submits wait for it): once the outbox is empty the create is sent, else it is kept
        behind the waiting entries, so it never overtakes them.

        Raises:
            ValidationError: ``body`` breaks a constraint of the spec (never kept).
            ApiError: FFN refused the create for good (never kept).
        """
        from .serialization import decode, dumps

        if not isinstance(body, kind.request):
            raise TypeError(f"a {kind.name} create takes {kind.request.__name__}")
        encoded = dumps(body)  # validates: a ValidationError names the field, nothing is kept
        number = kind.number_of(encoded)
        path_params = dict(path_params or {})
        params = dict(params or {})
        if await self.pending():
            # Entries wait: one coroutine of this process replays them, the others wait for it
            # and then send their own creates side by side. If the outbox cannot be drained
            # now (still no login, FFN still down, another process replaying), this create
            # queues behind the waiting ones instead of overtaking them.
            async with self._replaying:
                if await self.pending() and time.monotonic() >= self._quiet_until:
                    report = await self.replay(client, timeout=timeout)
                    if report.error is not None:  # no login or no FFN yet: let it breathe
                        self._quiet_until = time.monotonic() + _QUIET_AFTER_FAILED_REPLAY
                if await self.pending():
                    reason = "queued behind waiting entries"
                    entry = await self._keep(kind, number, encoded, path_params, params, reason)
                    return Kept(entry)
        try:
            response, outcome, attempts = await create_response(
                client,
                kind,
                msgspec.Raw(encoded),
                number=number,
                path_params=path_params,
                params=params,
                timeout=timeout,
            )
        except FFNError as exc:
            if not keeps(exc):
                raise
            entry = await self._keep(kind, number, encoded, path_params, params, _describe(exc))
            return Kept(entry)
        return Created(decode(response.content, kind.response), outcome, attempts)

    async def replay(
        self, client: Requester, *, wait: float = 0.0, timeout: float | None = None
    ) -> ReplayReport:
        """Send the waiting entries in order, each exactly once; stop at the first that cannot go.

        Args:
            wait: seconds to wait while another worker replays (then report ``stopped``).
        """
        try:
            async with self.store.lock(self.record_key, ttl=self.lease_ttl, timeout=wait) as lease:
                return await self._replay(client, lease, timeout)
        except LockTimeout:
            pending = await self.pending()
            return ReplayReport(remaining=pending, stopped="another worker is replaying")

    async def _replay(self, client: Requester, lease: Lease, timeout: float | None) -> ReplayReport:
        outcomes = _Outcomes()
        stopped: str | None = None
        error: FFNError | None = None
        attempted: set[int] = set()
        # Entries kept while this replay runs are sent too, behind the others: re-read until
        # nothing new is waiting.
        while stopped is None:
            waiting = [
                e
                for e in (await self._state()).entries
                if e.failed is None and e.id not in attempted
            ]
            if not waiting:
                break
            for entry in waiting:
                attempted.add(entry.id)
                stopped, error = await self._send(client, entry, timeout, lease, outcomes)
                if stopped is not None:
                    break
        if outcomes.done:
            await self._remove(*outcomes.done)
        remaining = await self.pending()
        if outcomes.applied:
            count = len(outcomes.applied)
            log.info("outbox %r: replayed %d, %d waiting", self.name, count, remaining)
        return ReplayReport(outcomes.applied, outcomes.failed, remaining, stopped, error)

    async def _send(
        self,
        client: Requester,
        entry: OutboxEntry,
        timeout: float | None,
        lease: Lease,
        out: _Outcomes,
    ) -> tuple[str | None, FFNError | None]:
        """Send one entry; ``(why the replay stops, the error)``, or ``(None, None)`` to go on."""
        if lease.remaining() < self.commit_margin:
            return "the replay's lease is running out; replay again", None
        kind = KINDS.get(entry.kind)
        if kind is None:
            await self._mark(entry.id, failed=f"unknown kind {entry.kind!r}")
            out.failed.append(entry)
            return None, None
        try:
            _, outcome, _ = await create_response(
                client,
                kind,
                msgspec.Raw(entry.body),
                number=entry.number,
                path_params=entry.path_params,
                params=entry.params,
                timeout=timeout,
            )
        except FFNError as exc:
            if keeps(exc):
                reason = _describe(exc)
                await self._mark(entry.id, reason=reason)
                return reason, exc
            await self._mark(entry.id, failed=_describe(exc))
            out.failed.append(entry)
            self.stats.refused += 1
            log.error("outbox %r: %s %s refused: %s", self.name, entry.kind, entry.number, exc)
            return None, None
        out.applied.append((entry, outcome))
        self.stats.replayed += 1
        out.done.append(entry.id)
        if len(out.done) >= _REMOVE_EVERY:
            await self._remove(*out.done)
            out.done.clear()
        return None, None

    async def _remove(self, *entry_ids: int) -> bool:
        gone = set(entry_ids)

        def remove(state: _State) -> tuple[_State | None, bool]:
            kept = tuple(e for e in state.entries if e.id not in gone)
            if len(kept) == len(state.entries):
                return None, False
            return _State(state.next_id, kept, state.version), True

        return await self._change(remove)

    async def _mark(self, entry_id: int, *, reason: str = "", failed: str | None = None) -> None:
        def mark(state: _State) -> tuple[_State | None, None]:
            entries = tuple(
                attrs.evolve(e, reason=reason or e.reason, failed=failed or e.failed)
                if e.id == entry_id
                else e
                for e in state.entries
            )
            if entries == state.entries:
                return None, None
            return _State(state.next_id, entries, state.version), None

        await self._change(mark)

    async def drop(self, entry_id: int) -> bool:
        """Remove one entry without sending it; ``False`` if there is none with that id."""
        removed = await self._remove(entry_id)
        if removed:
            log.warning("outbox %r: entry %d dropped unsent", self.name, entry_id)
        return removed
