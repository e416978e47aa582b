"""Account state and persistence: one account's record as this process holds, reads and writes it.

Above :mod:`~ffn_async.auth.record`, below :mod:`~ffn_async.auth.rotation`. :class:`Account`
is the in-process state every :class:`~ffn_async.auth.TokenManager` on the same store and key
shares (the per-process registry: :func:`account_for`); a forked child renews its identity.
:class:`AccountRecord` reads and writes the account's record through the store and keeps the
background work the rotation steps rely on (step numbers refer to the module docstring of
:mod:`~ffn_async.auth.rotation`): saving a token the store could not take yet (step 6),
lifting a "rotation in flight" mark whose save lost its answer (step 5), keeping the refresh
lease renewed (step 5), and replacing an unreadable record at login.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import math
import os
import secrets
import time
import weakref
from collections.abc import AsyncIterator, Coroutine
from typing import Any, Protocol

import attrs

from token_stores.base import (
    CorruptRecord,
    Lease,
    StoreConflict,
    StoreError,
    StoreUnavailable,
    TokenStore,
)

from ..observe._logfields import logger
from ..token import Token
from .record import StoredToken, decode_record, encode_record, holds_mark, unmarked

__all__ = ["MAX_SAVE_PAUSE", "Account", "AccountRecord", "Timing", "account_for"]

log = logger("ffn_async.auth")

# Largest pause between two attempts to save an unsaved token (or to re-read a record a
# peer is rotating); a store that answers anything in between cuts the pause short.
MAX_SAVE_PAUSE = 1.0
# How long a task being cancelled (event-loop shutdown) still tries to save a new token.
_LAST_SAVE_SECONDS = 2.0
_NO_RECORD = StoredToken(None, None)


@attrs.define(eq=False)
class Account:
    """In-process state of one account, shared by every TokenManager on the same store and key."""

    stored: StoredToken = _NO_RECORD
    dead_checked_at: float = 0.0
    flights: dict[asyncio.AbstractEventLoop, asyncio.Task[Token]] = attrs.Factory(dict)
    issued_states: set[str] = attrs.Factory(set)
    # Who this process is in "rotation in flight" marks.
    owner: str = attrs.Factory(lambda: secrets.token_hex(8))
    # The task saving a token the store could not take yet (``stored`` holds that token).
    unsaved: asyncio.Task[None] | None = None
    # Set whenever the store answers, to cut the unsaved token's save pause short.
    store_answered: asyncio.Event | None = None
    # (record version, monotonic time) when a peer's in-flight mark was first seen expired.
    expired_mark: tuple[int | None, float] | None = None
    # ((rotating_by, rotating_since), monotonic time) when a peer's mark was first seen: a
    # mark's age is measured on this process's clock alone (the writer's may be skewed).
    seen_mark: tuple[tuple[str, float], float] | None = None
    # ``rotating_since`` of the last mark this process wrote: each new mark is later, so a
    # mark is identified by it (the mark lifter must not take a later mark for its own).
    last_mark: float = 0.0
    # Tasks lifting marks whose save lost its answer (step 5 of the rotation's steps).
    lifters: set[asyncio.Task[None]] = attrs.Factory(set)

    def __attrs_post_init__(self) -> None:
        _EVERY_ACCOUNT.add(self)

    def forget_parent(self) -> None:
        """In a child of ``fork``: become a process of its own.

        The child inherited the parent's worker id, so without a new one it would take the
        parent's (or a sibling's) in-flight mark for its own and spend the refresh token under
        it; the parent's tasks and event loop do not exist here. The token is kept (a cache).
        """
        self.owner = secrets.token_hex(8)
        self.flights = {}
        self.unsaved = None
        self.store_answered = None
        self.expired_mark = None
        self.seen_mark = None
        self.lifters = set()

    def next_since(self) -> float:
        """A new mark's ``since``: strictly later than any earlier mark of ours, since the mark
        lifter tells our marks apart by it (it names a mark; no peer measures age with it)."""
        since = max(time.time(), math.nextafter(self.last_mark, math.inf))
        self.last_mark = since
        return since

    def pending(self) -> set[asyncio.Future[Any]]:
        """What is still running for this account: the refresh in flight in the running event
        loop (if any), the save of an unsaved token, and mark lifters."""
        pending: set[asyncio.Future[Any]] = set()
        with contextlib.suppress(RuntimeError):  # no running loop: nothing can be in flight
            flight = self.flights.get(asyncio.get_running_loop())
            if flight is not None and not flight.done():
                pending.add(flight)
        if self.unsaved is not None and not self.unsaved.done():
            pending.add(self.unsaved)
        pending.update(t for t in self.lifters if not t.done())
        return pending


_ACCOUNTS: weakref.WeakKeyDictionary[Any, dict[str, Account]] = weakref.WeakKeyDictionary()
# Every account state of this process, so that a forked child can renew each one's identity.
_EVERY_ACCOUNT: weakref.WeakSet[Account] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for account in list(_EVERY_ACCOUNT):
        account.forget_parent()


# os.fork (multiprocessing's "fork", gunicorn's pre-fork workers) runs this in every child.
os.register_at_fork(after_in_child=_after_fork_in_child)


def account_for(store: TokenStore, key: str) -> Account:
    """The state of account ``key`` in ``store``, shared by every manager of this process."""
    try:
        accounts = _ACCOUNTS.setdefault(store, {})
    except TypeError:  # a store that cannot be weakly referenced keeps its state per manager
        return Account()
    return accounts.setdefault(key, Account())


class Timing(Protocol):
    """The limits :class:`AccountRecord` reads (a :class:`~ffn_async.auth.TokenManager`'s,
    read at each use so that they stay the manager's attributes)."""

    lock_ttl: float
    in_flight_timeout: float


class AccountRecord:
    """Account ``key``'s record in ``store``, read and written for this process's ``account``.

    ``store`` is what the calls go to (the observed store when an observer is set; the
    manager replaces it when it gets one). Every read tells background loops waiting for
    the store that it answers again.
    """

    def __init__(self, key: str, store: TokenStore, account: Account, timing: Timing) -> None:
        self.key = key
        self.store = store
        self.account = account
        self.timing = timing

    # ------------------------------------------------------------------ read, adopt, write

    async def read(self) -> StoredToken:
        """The record as the store has it now (bypassing the in-process copy)."""
        record = await self.store.load(self.key)
        answered = self.account.store_answered
        if answered is not None:
            answered.set()
        return decode_record(self.key, record)

    def adopt(self, stored: StoredToken) -> None:
        """Make ``stored`` what this process serves for the account."""
        self.account.stored = stored

    async def write(self, stored: StoredToken, expected: int | None) -> int:
        """Write ``stored`` with compare-and-set on version ``expected``; the new version."""
        return await self.store.save(self.key, encode_record(self.key, stored), expected)

    async def await_change(self, version: int | None, seconds: float) -> bool:
        """Poll the record until its version is no longer ``version``; ``False`` on timeout."""
        deadline = time.monotonic() + seconds
        pause = 0.02
        while True:
            with contextlib.suppress(StoreUnavailable):
                record = await self.store.load(self.key)
                if (record.version if record is not None else None) != version:
                    return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            await asyncio.sleep(min(pause, left))
            pause = min(pause * 2, 0.25)

    # ------------------------------------------------------------------ a login's record

    async def replaceable_version(self) -> int | None:
        """The version a login must replace; an unreadable record is kept aside, then removed."""
        try:
            return (await self.read()).version
        except CorruptRecord as exc:
            await self._quarantine(exc)
            if exc.version is not None:  # replaced by compare-and-set on its version
                return exc.version
            await self.store.delete(self.key)  # a store that cannot even read a version
            return None

    async def _quarantine(self, exc: CorruptRecord) -> None:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        digest = hashlib.sha256(self.key.encode()).hexdigest()[:8]
        aside = f"{self.key[:150]}.corrupt-{stamp}-{digest}-{secrets.token_hex(2)}"
        data = exc.data if exc.data is not None else b""
        try:
            await self.store.save(aside, data, None)
        except StoreError as failure:
            log.error(
                "account %r: the stored record is unreadable (%s) and could not be kept aside "
                "(%s); a new login replaces it",
                self.key,
                exc,
                type(failure).__name__,
            )
            return
        log.error(
            "account %r: the stored record is unreadable (%s); a new login replaces it. Its "
            "%d bytes were kept under key %r of the same store for inspection",
            self.key,
            exc,
            len(data),
            aside,
        )

    # ------------------------------------------------------------------ saving a new token

    async def persist(
        self, fresh: StoredToken, expected: int | None, patience: float | None = None
    ) -> int:
        """Save a freshly issued token (a rotation or a login), retrying for ``patience``
        seconds (default ``lock_ttl``) while the store is unreachable.

        Retrying is safe because the save is a compare-and-set; a conflict whose winner is our
        own token means an earlier attempt landed and only its answer was lost. A longer
        outage raises :class:`StoreUnavailable`; the caller then keeps the token in memory and
        saves it in the background (:meth:`keep_unsaved`).
        """
        data = encode_record(self.key, fresh)
        deadline = time.monotonic() + (self.timing.lock_ttl if patience is None else patience)
        delay = 0.05
        while True:
            try:
                return await self._save_once(fresh, data, expected)
            except StoreUnavailable as exc:
                if time.monotonic() + delay > deadline:
                    raise
                log.warning("account %r: store unavailable, retrying the save: %s", self.key, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_SAVE_PAUSE)

    async def _save_once(self, fresh: StoredToken, data: bytes, expected: int | None) -> int:
        try:
            return await self.store.save(self.key, data, expected)
        except StoreConflict:
            latest = await self.read()
            if latest.token is not None and latest.token == fresh.token:
                return latest.version or 0
            raise

    def keep_unsaved(self, fresh: StoredToken, expected: int | None) -> None:
        """Serve ``fresh`` from memory and save it in the background until the store takes it.

        The grant that produced it is spent: dropping it would cost a login, and the next
        refresh would present a dead token. Peers do not spend the old refresh token meanwhile
        (the record is marked in flight, or this is a login they cannot have read).
        """
        self.adopt(fresh)
        log.error(
            "account %r: the store cannot take the new token (%s); serving it from memory and "
            "saving it as soon as the store answers",
            self.key,
            fresh.token.fingerprint if fresh.token else "no token",
        )
        self.account.unsaved = self._until_store_answers(self._save_in_background(fresh, expected))

    async def await_unsaved(self, timeout: float) -> None:
        """Before rotating again, the token kept in memory must be in the store."""
        unsaved = self.account.unsaved
        if unsaved is None or unsaved.done():
            return
        done, _ = await asyncio.wait({unsaved}, timeout=timeout)
        if not done:
            raise StoreUnavailable(
                f"account {self.key!r}: the last rotated token is still not saved after "
                f"{timeout:g}s (the store is unreachable); it is not rotated again "
                "before it is saved, and is saved as soon as the store answers"
            )

    async def _save_in_background(self, fresh: StoredToken, expected: int | None) -> None:
        account = self.account
        data = encode_record(self.key, fresh)
        pause = 0.05
        started = time.monotonic()
        try:
            while True:
                await self._pause_for_store(pause)
                pause = min(pause * 2, MAX_SAVE_PAUSE)
                try:
                    version = await self._save_once(fresh, data, expected)
                except StoreUnavailable:
                    continue
                except StoreConflict:
                    await self._lost_to_another_write(fresh)
                    return
                except CorruptRecord:
                    log.exception("account %r: cannot save the new token", self.key)
                    return
                if account.stored.token == fresh.token:
                    self.adopt(attrs.evolve(fresh, version=version))
                log.warning(
                    "account %r: the new token was saved after %.1fs of store outage",
                    self.key,
                    time.monotonic() - started,
                )
                return
        except asyncio.CancelledError:
            await self.last_save(fresh, expected)
            raise
        finally:
            if account.unsaved is asyncio.current_task():
                account.unsaved = None

    async def _lost_to_another_write(self, fresh: StoredToken) -> None:
        """The record changed while ``fresh`` waited to be saved: the stored record wins."""
        latest = await self.read()
        log.error(
            "account %r: while the new token waited to be saved, the store got "
            "version %s from elsewhere (a new login, or a peer that presumed this "
            "process dead); that record wins",
            self.key,
            latest.version,
        )
        if self.account.stored.token == fresh.token:
            self.adopt(latest)

    async def last_save(self, fresh: StoredToken, expected: int | None) -> None:
        """One bounded attempt to save ``fresh`` while being cancelled (the event loop is
        shutting down: ``asyncio.run`` cancels every task, then runs them to their end)."""
        try:
            async with asyncio.timeout(_LAST_SAVE_SECONDS):
                await self._save_once(fresh, encode_record(self.key, fresh), expected)
        except (StoreError, TimeoutError, asyncio.CancelledError):
            log.error(
                "account %r: cancelled (event loop shutdown?) before the store took the new "
                "token; it is lost, and the account will likely need a new login",
                self.key,
            )
        else:
            log.warning("account %r: saved the new token while being cancelled", self.key)

    # ------------------------------------------------------------------ lifting marks

    async def unmark(self, marked: StoredToken, *, later: bool = True) -> None:
        """Lift ``marked``'s in-flight mark; if the store does not answer, keep lifting it in
        the background (``later``; not while being cancelled, the event loop may be ending)."""
        try:
            await self.write(unmarked(marked), marked.version)
        except StoreUnavailable:
            if later:
                self.lift_later(marked)
            else:
                log.warning(
                    "account %r: could not lift the in-flight mark (StoreUnavailable); peers "
                    "wait for it up to in_flight_timeout",
                    self.key,
                )
        except StoreConflict:
            log.info("account %r: the in-flight mark was written over; nothing to lift", self.key)
        except StoreError as exc:
            log.warning(
                "account %r: could not lift the in-flight mark (%s); peers wait for it up to "
                "in_flight_timeout",
                self.key,
                type(exc).__name__,
            )

    def lift_later(self, marked: StoredToken) -> None:
        """Lift ``marked``'s mark (which may or may not be in the store) in the background.

        Peers honour a mark for ``in_flight_timeout``; this process ignores its own, so
        without this a mark whose save lost its answer stalls the fleet until it expires
        whenever this process needs no token again. Tracked in :attr:`Account.lifters` for
        the manager's ``settle`` and ``aclose``.
        """
        account = self.account
        log.warning(
            "account %r: the store did not answer while the rotation mark was written or "
            "lifted; lifting it as soon as the store answers again",
            self.key,
        )
        task = self._until_store_answers(self._lift_mark(marked))
        account.lifters.add(task)
        task.add_done_callback(account.lifters.discard)

    async def _lift_mark(self, marked: StoredToken) -> None:
        """Clear ``marked``'s mark with compare-and-set if the record still holds exactly it.

        Anything else means there is nothing to do: the mark never landed or was lifted, or a
        later rotation (ours, which ignores our own mark, or a peer's that presumed us dead)
        wrote over it. A rotation racing the clear loses or wins the compare-and-set; either
        way no mark but ours is cleared. Gives up when the mark has expired for peers anyway.
        """
        deadline = time.monotonic() + self.timing.in_flight_timeout
        pause = 0.05
        while time.monotonic() < deadline:
            await self._pause_for_store(pause)
            pause = min(pause * 2, MAX_SAVE_PAUSE)
            try:
                latest = await self.read()
                if not holds_mark(latest, marked):
                    log.info("account %r: our rotation mark is gone: nothing to lift", self.key)
                    return
                await self.write(unmarked(latest), latest.version)
            except StoreUnavailable:
                continue
            except StoreConflict:
                pause = 0.05  # written meanwhile: read again soon (nothing to lift, likely)
                continue
            except (CorruptRecord, ValueError) as exc:
                log.error("account %r: cannot lift the rotation mark (%s)", self.key, exc)
                return
            log.warning("account %r: lifted a rotation mark left by a store outage", self.key)
            return
        log.warning(
            "account %r: the store did not answer within in_flight_timeout; the rotation mark "
            "(if it landed) has expired for peers",
            self.key,
        )

    # ------------------------------------------------------------------ waiting for the store

    def _until_store_answers(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run ``work``, a loop that waits for the store with :meth:`_pause_for_store`, as a
        task; from now on every read tells such loops that the store answers."""
        if self.account.store_answered is None:
            self.account.store_answered = asyncio.Event()
        return asyncio.get_running_loop().create_task(work)

    async def _pause_for_store(self, seconds: float) -> None:
        """Sleep ``seconds``, cut short when the store answers any read (a background save or
        mark lift then tries at once)."""
        answered = self.account.store_answered
        if answered is None:
            await asyncio.sleep(seconds)
            return
        answered.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(answered.wait(), seconds)

    # ------------------------------------------------------------------ the refresh lease

    async def renew(self, lease: Lease) -> bool:
        """Renew ``lease`` for ``lock_ttl``; ``False`` if it is lost or the store failed."""
        try:
            return await lease.renew(self.timing.lock_ttl)
        except StoreError:
            return False

    @contextlib.asynccontextmanager
    async def lease_kept(self, lease: Lease | None) -> AsyncIterator[None]:
        """Renew ``lease`` every third of ``lock_ttl`` while the block runs."""
        if lease is None or lease.deadline is None:
            yield
            return

        async def keep() -> None:
            while True:
                await asyncio.sleep(self.timing.lock_ttl / 3)
                if not await self.renew(lease):
                    log.warning("account %r: could not renew the refresh lease", self.key)

        keeper = asyncio.get_running_loop().create_task(keep())
        try:
            yield
        finally:
            keeper.cancel()
