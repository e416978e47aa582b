"""Rotation: refresh exactly once per rotation, across coroutines, processes and hosts.

JTL's refresh tokens are single-use: a refresh token presented twice fails, and a strict server
revokes the whole chain, which costs a human login. A :class:`~ffn_async.auth.TokenManager`
therefore refreshes in this order (each step is there because some library skipped it and its
users paid; the public report or standard behind a step is named with it):

1. Fast path: a cached access token that is not due for refresh is returned with no I/O and no
   lock (:meth:`TokenManager.fresh_token <ffn_async.auth.TokenManager.fresh_token>`,
   synchronous: the request pipeline tries it before awaiting ``access_token``, which starts
   at the same check).
2. One refresh in flight per account and event loop, shared by every ``TokenManager`` on the
   same store and key (authlib #673: a lock per client instance is no lock).
3. A lock-free read of the store adopts a token another process already rotated.
4. Under the store's cross-process lease lock the record is read again, bypassing every cache
   (Duende #1286: a waiter that refreshes with what it read *before* the lock spends a dead
   token). Only if it is still due is the token endpoint called, and only while the lease
   certainly covers the whole request (a holder that stalled past its lease re-takes the lock).
   Waiters take the lock in slices of a second and re-read in between: a holder that saved
   its token while the store was away could not release its lease, and must not block them.
5. Before the token endpoint is called, the record is marked "rotation in flight" (who, since
   when) with compare-and-set. A peer that finds a mark younger than ``in_flight_timeout``
   waits for that rotation's save instead of spending the refresh token: the holder may have
   spent it already and be unable to reach the store. A mark older than that is honoured for
   one more ``request_timeout``, counted from when this process first saw it expired (a
   holder whose store just came back saves within a second), then treated as abandoned (the
   holder died). A mark's age is this process's monotonic time since it first saw that mark:
   the writer's wall clock may be skewed. The lease is renewed while the holder works.
   Right before the refresh token leaves (after the connect), the holder fences: it renews
   the lease and re-writes its mark with compare-and-set (:meth:`Rotation._fence`); a
   holder paused past its lease and presumed dead sends nothing and re-reads instead. A
   forked child gets a worker id of its own (``os.register_at_fork``).
   If the mark's save fails without an answer (``StoreUnavailable``: it may have landed all
   the same, e.g. a connection cut after the command was sent), nothing was spent, but peers
   would honour a mark nobody clears for ``in_flight_timeout``. A background task therefore
   reads the record as soon as the store answers again and, only if it still holds exactly
   that mark (our worker id and its ``since``, unique per mark, on the same token), lifts it
   with compare-and-set on the version it read; a later rotation (ours or a peer's) wrote
   another mark or version, which it leaves alone. The same happens when lifting the mark
   after a failed token call cannot reach the store.
6. The new token is saved with compare-and-set on the marked version (which also clears the
   mark) before memory changes. If the store cannot take it, the token is *not* dropped: it is
   served from memory while a background task keeps saving it, at once when the store answers
   again (RFC 6749 §10.4: the grant that produced it is spent, so it exists nowhere else); it
   is not rotated again before it is saved (served until it expires), and a save cancelled by
   event-loop shutdown makes one last bounded attempt. If the lease ran out and someone else
   wrote meanwhile, the write is refused instead of overwriting the newer token.
7. ``invalid_grant`` re-reads the store: a changed refresh token means a peer won the race
   (adopt it); otherwise the account is marked as needing a login, in the store too, so every
   worker fails fast with :class:`ReauthorizationRequired` instead of retrying.
8. A 401 from the API forces a refresh only if nobody replaced the failing token yet, and not
   for a token that itself came from a 401-forced refresh less than five minutes ago (the
   record says so, for every process): the API rejecting a token it has just issued is
   :class:`~ffn_async.errors.Unauthorized` with a hint, not a reason to rotate again.
9. ``on_refresh`` hooks run after the lock is released, so a hook may use the client.
10. ``TokenManager.aclose`` (and leaving an ``FFNClient``) waits, up to ``close_timeout``,
    for a refresh in flight, an unsaved token to land and a lost mark to be lifted; a mark
    still not lifted then is left to expire (its task is cancelled).

The token endpoint never follows redirects (the body carries the grant), and a login
(``TokenManager.store_token``) over an unreadable record replaces it after keeping its
bytes under another key for inspection.

This module holds steps 2 to 9 as :class:`Rotation`'s methods, in that order; step 1 and
step 10 are :class:`~ffn_async.auth.TokenManager`'s. What a step keeps running in the
background (saving an unsaved token, lifting a mark, renewing the lease) is
:class:`~ffn_async.auth.account.AccountRecord`'s, and the record's format is
:mod:`~ffn_async.auth.record`'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import NamedTuple, Protocol

import aiohttp
import attrs

from token_stores.base import Lease, LockTimeout, StoreConflict, StoreUnavailable

from ..environment import Environment
from ..errors import ReauthorizationRequired, TokenEndpointError, TokenMissing, TransportError
from ..observe._logfields import account_context, logger
from ..observe.events import Observer, RefreshEvent, notify
from ..token import ClientCredentials, Token
from .account import MAX_SAVE_PAUSE, AccountRecord, Timing
from .oauth import TOKEN_TEMPLATE, InvalidGrant, request_token
from .record import StoredToken, refuses_fresh

__all__ = ["RefreshHook", "Rotation", "Settings"]

log = logger("ffn_async.auth")

RefreshHook = Callable[[Token], Awaitable[None] | None]

# While an account is marked dead, the store is re-read at most this often, so a new login
# stored by another process is noticed without hammering the store.
_DEAD_RECHECK_SECONDS = 1.0
# Longest single wait for the store's lock before the record is read again.
_LOCK_SLICE = 1.0
# A lease that keeps running out before the token request starts ends the refresh this often.
_MAX_LAPSES = 3


class Settings(Timing, Protocol):
    """What a rotation reads from its manager, at each use (they stay the manager's
    attributes: see :class:`~ffn_async.auth.TokenManager` for each one's meaning)."""

    credentials: ClientCredentials
    environment: Environment
    observer: Observer | None
    leeway: float
    refresh_jitter: float
    request_timeout: float
    lock_timeout: float


class _LeaseLapsed(Exception):
    """The lease no longer covers a token request; the refresh must re-take the lock."""


class _Fenced(_LeaseLapsed):
    """The fence before the token request failed: nothing was spent; re-take and re-read.

    ``ours``: the mark in the store is still this holder's (to be lifted); otherwise someone
    wrote over it, and it is theirs to keep.
    """

    def __init__(self, *, ours: bool) -> None:
        super().__init__()
        self.ours = ours


class _Outcome(NamedTuple):
    """How a refresh flight ended: a token adopted from the store, or one it ``rotated``
    (whose arrival is logged and reported to the hooks)."""

    token: Token
    rotated: bool


class _Honoured(NamedTuple):
    """Under the lock, a peer's in-flight mark was found still honoured for ``left`` seconds."""

    stored: StoredToken
    left: float


@attrs.define
class _Mark:
    """The record as this rotation last marked it (the fence writes the mark again)."""

    stored: StoredToken


class Rotation:
    """Steps 2 to 9 of the module docstring for one account, as its manager configures them.

    Args:
        settings: the manager (its limits, credentials, environment and observer).
        record: the account's record, with its background savers and mark lifters.
        http: the session for token calls, chosen at each call.
        hooks: called with every token this process obtains (the manager's list).
    """

    def __init__(
        self,
        settings: Settings,
        record: AccountRecord,
        http: Callable[[], aiohttp.ClientSession],
        hooks: list[RefreshHook],
    ) -> None:
        self.settings = settings
        self.record = record
        self.key = record.key
        self._account = record.account
        self._http = http
        self._hooks = hooks

    # ------------------------------------------------------------------ 2. one flight

    async def obtain(self, stale: str | None, *, force: bool, unauthorized: bool) -> Token:
        """A token other than ``stale`` that is not due, from the one refresh in flight for
        this account in this event loop (started if there is none)."""
        account = self._account
        reason = account.stored.reauthorization_required
        if reason and time.monotonic() - account.dead_checked_at < _DEAD_RECHECK_SECONDS:
            raise ReauthorizationRequired(self.key, reason)
        loop = asyncio.get_running_loop()
        for _ in range(3):
            flight = account.flights.get(loop)
            joined = flight is not None
            if flight is None:
                flight = self._start_flight(loop, stale, force=force, unauthorized=unauthorized)
            # shield: a waiter being cancelled must not cancel the refresh everyone shares.
            token = await asyncio.shield(flight)
            if not joined or self.usable(token, stale):
                return token
        return token

    def _start_flight(
        self,
        loop: asyncio.AbstractEventLoop,
        stale: str | None,
        *,
        force: bool,
        unauthorized: bool,
    ) -> asyncio.Task[Token]:
        flights = self._account.flights
        flight = loop.create_task(
            self.adopt_or_rotate(stale, force=force, unauthorized=unauthorized),
            context=account_context(self.key),  # its log records name the account
        )
        flights[loop] = flight
        flight.add_done_callback(_retrieve_exception)
        flight.add_done_callback(lambda t: flights.pop(loop) if flights.get(loop) is t else None)
        return flight

    # ------------------------------------------------------------------ 3. adopt first

    async def adopt_or_rotate(self, stale: str | None, *, force: bool, unauthorized: bool) -> Token:
        """The body of one refresh flight (steps 3 to 6, then 9): adopt a token another
        process already rotated, else rotate under the store's lock."""
        kept = self._unsaved_in_use(stale)
        if kept is not None:
            return kept  # due, but it cannot be rotated before the store has it
        await self.record.await_unsaved(self.settings.lock_timeout)
        # Lock-free look first: in a fleet, most workers find the rotation already done.
        stored = await self.record.read()
        if not force and self.usable(stored.token, stale):
            return self._adopt_alive(stored)
        self.check_alive(stored)
        outcome = await self._lock_and_rotate(stored, stale, unauthorized)
        if not outcome.rotated:
            return outcome.token
        log.info(
            "refreshed token for account %r: rotation %d, access token %s",
            self.key,
            self._account.stored.rotation,
            outcome.token.fingerprint,
        )
        await self.fire_hooks(outcome.token)  # 9: the lock is released by now
        return self.with_access(outcome.token)

    def _unsaved_in_use(self, stale: str | None) -> Token | None:
        """The token served from memory while its save is pending, if it is still good to
        send (step 6: it is not rotated again before the store has it)."""
        unsaved = self._account.unsaved
        current = self._account.stored.token
        if (
            unsaved is not None
            and not unsaved.done()
            and current is not None
            and current.access_token != stale
            and not current.is_expired()
        ):
            return current
        return None

    # ------------------------------------------------------------------ 4. under the lock

    async def _lock_and_rotate(
        self, stored: StoredToken, stale: str | None, unauthorized: bool
    ) -> _Outcome:
        """Take the store's lock in slices (re-reading in between) until a usable token is
        adopted or this process rotates; a peer's rotation in flight is waited for first."""
        deadline = time.monotonic() + self.settings.lock_timeout
        lapses = 0
        while True:
            left = self._mark_left(stored)
            if left is None or self._given_up(stored, left):
                try:
                    step = await self._lock_slice(stored, stale, unauthorized, deadline)
                except _LeaseLapsed:
                    lapses += 1
                    self._check_lapses(lapses)
                    stored = await self.record.read()
                    continue  # take the lock again and re-read
                if isinstance(step, _Outcome):
                    return step
                if step is None:  # this slice passed without the lock
                    if time.monotonic() >= deadline:
                        raise LockTimeout(self.key, self.settings.lock_timeout) from None
                    stored = await self.record.read()
                    if self.usable(stored.token, stale):
                        return _Outcome(self._adopt_alive(stored), rotated=False)
                    continue
                stored, left = step
            stored = await self._wait_for_peer(stored, left, deadline)
            token = self.check_alive(stored)
            if self.usable(token, stale):
                self.record.adopt(stored)
                return _Outcome(token, rotated=False)

    async def _lock_slice(
        self, stored: StoredToken, stale: str | None, unauthorized: bool, deadline: float
    ) -> _Outcome | _Honoured | None:
        """Hold the lock for one slice: re-read, then adopt, rotate, or find a peer's mark
        honoured. ``None`` when the slice passed without the lock.

        In slices, re-reading in between: a holder that saved its token while the store was
        away could not release its lease, which then blocks until it expires; its token is
        usable long before.
        """
        taken = False
        try:
            async with self.record.store.lock(
                self.key,
                ttl=self.settings.lock_ttl,
                timeout=min(_LOCK_SLICE, max(deadline - time.monotonic(), 0.0)),
            ) as lease:
                taken = True
                # Read again under the lock, bypassing every cache: a peer may have rotated
                # while we waited, and its refresh token is the only live one.
                stored = await self.record.read()
                token = self.check_alive(stored)
                if self.usable(token, stale) or (unauthorized and refuses_fresh(stored, stale)):
                    self.record.adopt(stored)
                    return _Outcome(token, rotated=False)
                left = self._mark_left(stored)
                if left is not None and not self._given_up(stored, left):
                    return _Honoured(stored, left)
                if left is not None:
                    log.warning(
                        "account %r: a rotation marked in flight %.0fs ago never saved its "
                        "token; presuming that worker dead and refreshing",
                        self.key,
                        self.settings.in_flight_timeout - left,
                    )
                return _Outcome(await self._rotate(stored, token, lease, unauthorized), True)
        except LockTimeout:
            if taken:
                raise
            return None

    def _check_lapses(self, lapses: int) -> None:
        if lapses >= _MAX_LAPSES:
            raise LockTimeout(
                self.key,
                self.settings.lock_timeout,
                "the lease kept running out before the token request could "
                "start; raise lock_ttl or look for what stalls this process",
            ) from None

    # ------------------------------------------------------------------ 5. a peer's mark

    async def _wait_for_peer(
        self, stored: StoredToken, left: float, deadline: float
    ) -> StoredToken:
        """Another worker's rotation is in flight: its refresh token may be spent already.

        Waits (without the lock) for its save, then re-reads; a mark that ran out gets one
        more grace period, since a holder whose store just came back saves within a second.
        """
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise LockTimeout(
                self.key,
                self.settings.lock_timeout,
                "another worker's token rotation is in flight and its new token is not "
                "saved yet; is the store reachable from every worker?",
            )
        log.info(
            "account %r: another worker's rotation is in flight; waiting for its save",
            self.key,
        )
        wait = left if left > 0 else self._grace_left(stored)
        await self.record.await_change(stored.version, max(min(wait, remaining), 0.0))
        with contextlib.suppress(StoreUnavailable):
            stored = await self.record.read()
        return stored

    def _mark_left(self, stored: StoredToken) -> float | None:
        """Seconds another worker's in-flight mark on ``stored`` is still honoured (negative
        once it ran out), or ``None`` if no other worker's rotation is marked."""
        if stored.rotating_by is None or stored.rotating_since is None:
            return None
        account = self._account
        if stored.rotating_by == account.owner:
            # Our own mark, left by a rotation of ours that ended (its clearing failed): we
            # know it holds no unsaved token, since adopt_or_rotate first waits for that one.
            return None
        # One clock decides "presumed dead": this process's monotonic time since it first saw
        # this very mark. The mark's ``since`` is the writer's wall clock, and another host's
        # clock running ahead would presume a live holder dead; here it only names the mark.
        mark = (stored.rotating_by, stored.rotating_since)
        seen = account.seen_mark
        if seen is None or seen[0] != mark:
            seen = account.seen_mark = (mark, time.monotonic())
        return seen[1] + self.settings.in_flight_timeout - time.monotonic()

    def _grace_left(self, stored: StoredToken) -> float:
        """Seconds of grace still given to ``stored``'s expired in-flight mark.

        The grace is counted from when this process first saw the mark expired, across calls
        (each call waits at most ``lock_timeout``), so it is never cut short.
        """
        seen = self._account.expired_mark
        if seen is None or seen[0] != stored.version:
            seen = self._account.expired_mark = (stored.version, time.monotonic())
        return seen[1] + self.settings.request_timeout - time.monotonic()

    def _given_up(self, stored: StoredToken, left: float) -> bool:
        """Whether ``stored``'s expired in-flight mark has had its grace: its holder is dead."""
        return left <= 0 and self._grace_left(stored) <= 0

    # ------------------------------------------------------------------ 5. mark, fence, spend

    async def _rotate(
        self, stored: StoredToken, token: Token, lease: Lease | None, unauthorized: bool = False
    ) -> Token:
        """Spend ``token``'s refresh token and persist the result. Runs under the lock."""
        if not token.refresh_token:
            return await self._mark_dead(stored, "the stored token has no refresh token")
        await self._check_lease_covers_request(lease)
        mark = _Mark(await self._mark(stored))
        async with self.record.lease_kept(lease):
            try:
                new = await self._refresh_grant(
                    token.refresh_token, unauthorized, lambda: self._fence(lease, mark)
                )
            except InvalidGrant:
                return await self._after_invalid_grant(mark.stored, token, lease)
            except _Fenced as exc:
                if exc.ours:  # nothing was spent: lift the mark so peers need not wait for it
                    await self.record.unmark(mark.stored)
                raise
            except BaseException as exc:
                # Nothing was issued to us: lift the mark so peers need not wait for it.
                await self.record.unmark(
                    mark.stored, later=not isinstance(exc, asyncio.CancelledError)
                )
                raise
            return await self._save_rotated(stored, mark.stored, token, new, unauthorized)

    async def _check_lease_covers_request(self, lease: Lease | None) -> None:
        """Fencing: a process that stalled after taking the lock (GC pause, slow store) may
        have outlived its lease; a peer may already have spent this refresh token. Spend it
        only if the lease certainly covers the whole token request (renewing it if need be);
        else raise :class:`_LeaseLapsed`."""
        request_timeout = self.settings.request_timeout
        if (
            lease is not None
            and lease.remaining() <= request_timeout
            and (not await self.record.renew(lease) or lease.remaining() <= request_timeout)
        ):
            log.warning(
                "account %r: lease has %.2fs left, less than a token request may take; "
                "re-acquiring instead of refreshing",
                self.key,
                lease.remaining(),
            )
            raise _LeaseLapsed

    async def _mark(self, stored: StoredToken) -> StoredToken:
        """Mark the rotation in flight (compare-and-set): from here on the refresh token may
        be spent, and no peer may present it until this rotation's result is saved."""
        marked = attrs.evolve(
            stored, rotating_by=self._account.owner, rotating_since=self._account.next_since()
        )
        try:
            return attrs.evolve(marked, version=await self.record.write(marked, stored.version))
        except StoreConflict:
            raise _LeaseLapsed from None  # someone wrote since our read: take it from the top
        except StoreUnavailable:
            # Nothing was spent, but the mark may have landed with its answer lost.
            self.record.lift_later(marked)
            raise

    async def _fence(self, lease: Lease | None, mark: _Mark) -> None:
        """Prove, right before the refresh token is sent, that this rotation is still ours.

        A holder paused after writing its mark (SIGSTOP, a stop-the-world GC, a suspended VM
        or container, a debugger) may have been presumed dead meanwhile, and a peer may have
        spent the refresh token. So the lease is renewed (a lost lease stops the rotation),
        then the mark is written again with compare-and-set on the version this holder wrote:
        if anyone wrote since, nothing is spent and the caller re-reads. The new mark also
        restarts every peer's count towards presuming this holder dead. ``mark`` then holds
        the record as now marked. What no client can close is the time from this write's
        answer to the request leaving the socket (README, "Reliability").
        """
        if lease is not None and not await self.record.renew(lease):
            log.warning(
                "account %r: the refresh lease could not be renewed before the token request "
                "(lost during a pause, or the store is away); not spending the refresh token",
                self.key,
            )
            raise _Fenced(ours=True)
        marked = mark.stored
        restamped = attrs.evolve(marked, rotating_since=self._account.next_since())
        try:
            version = await self.record.write(restamped, marked.version)
        except StoreConflict:
            log.warning(
                "account %r: the record changed after this process marked its rotation (a peer "
                "presumed it dead during a pause?); re-reading instead of spending the refresh "
                "token",
                self.key,
            )
            raise _Fenced(ours=False) from None
        except StoreUnavailable:
            self.record.lift_later(restamped)  # it may have landed; the caller lifts ``marked``
            raise
        mark.stored = attrs.evolve(restamped, version=version)

    async def _refresh_grant(
        self, refresh_token: str, unauthorized: bool, fence: Callable[[], Awaitable[None]]
    ) -> Token:
        """Spend ``refresh_token`` at the token endpoint, each attempt right after ``fence``
        (reported to the observer, if any)."""
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        observer = self.settings.observer
        if observer is None:
            return await self.call_token_endpoint(form, fence)
        started = time.monotonic()
        outcome = "ok"
        try:
            return await self.call_token_endpoint(form, fence)
        except InvalidGrant:
            outcome = "invalid_grant"
            raise
        except _Fenced:
            outcome = "fenced"
            raise
        except BaseException as exc:
            outcome = type(exc).__name__
            raise
        finally:
            event = RefreshEvent(self.key, outcome, time.monotonic() - started, unauthorized)
            notify(observer, event)

    async def call_token_endpoint(
        self, form: dict[str, str], fence: Callable[[], Awaitable[None]] | None = None
    ) -> Token:
        """Present ``form`` (a grant) at the token endpoint, within ``request_timeout``.

        Retried only where the grant was provably not consumed: no connection, or the server
        said it is unavailable. Anything else may have spent a single-use token. ``fence``
        runs right before each attempt's first byte leaves, and raises (nothing is sent)
        when the attempt must not be made.
        """
        settings = self.settings
        deadline = time.monotonic() + settings.request_timeout
        delay = 0.1
        attempt = 0
        while True:
            attempt += 1
            remaining = deadline - time.monotonic()
            try:
                return await request_token(
                    self._http(),
                    settings.environment,
                    settings.credentials,
                    form,
                    timeout=max(remaining, 0.1),
                    trace_request_ctx={"attempt": attempt, "template": TOKEN_TEMPLATE},
                    fence=fence,
                )
            except TransportError as exc:
                if exc.sent or time.monotonic() + delay >= deadline:
                    raise
            except TokenEndpointError as exc:
                if exc.status not in (429, 503) or time.monotonic() + delay >= deadline:
                    raise
            await asyncio.sleep(delay)
            delay *= 2

    # ------------------------------------------------------------------ 6. save before use

    async def _save_rotated(
        self, stored: StoredToken, marked: StoredToken, spent: Token, new: Token, unauthorized: bool
    ) -> Token:
        """Save ``new`` with compare-and-set on the marked version (clearing the mark) before
        memory changes; if the store cannot take it, serve it from memory and keep saving."""
        if new.refresh_token is None:  # RFC 6749 §6: the server may keep the old one
            new = new.with_refresh_token(spent.refresh_token)
        rotated = StoredToken(new, None, stored.rotation + 1, after_unauthorized=unauthorized)
        try:
            # Callers wait at most about a second: then the token is served from memory.
            version = await self.record.persist(rotated, marked.version, MAX_SAVE_PAUSE)
        except StoreConflict:
            # Our lease ran out and a peer wrote meanwhile. Its record wins; ours is not
            # written over it. Adopt theirs if it is usable.
            latest = await self.record.read()
            log.error(
                "account %r: the token store changed while this process refreshed (lease "
                "expired?); keeping the stored version %s",
                self.key,
                latest.version,
            )
            latest_token = self.check_alive(latest)
            self.record.adopt(latest)
            return latest_token
        except StoreUnavailable:
            # The token exists nowhere else: serve it from memory, keep saving it.
            self.record.keep_unsaved(rotated, marked.version)
            return new
        except asyncio.CancelledError:
            await self.record.last_save(rotated, marked.version)
            raise
        self.record.adopt(attrs.evolve(rotated, version=version))
        return new

    # ------------------------------------------------------------------ 7. invalid_grant

    async def _after_invalid_grant(
        self, stored: StoredToken, spent: Token, lease: Lease | None
    ) -> Token:
        latest = await self._settled_after_invalid_grant(stored)
        latest_token = self.check_alive(latest)
        if latest_token.refresh_token != spent.refresh_token:
            # A peer rotated it (its lease overlapped ours): a recovered race, not a dead chain.
            log.warning("account %r: refresh token was rotated by another worker", self.key)
            if self.usable(latest_token, None):
                self.record.adopt(latest)
                return latest_token
            return await self._rotate(latest, latest_token, lease)
        return await self._mark_dead(latest, "the refresh token was rejected (invalid_grant)")

    async def _settled_after_invalid_grant(self, stored: StoredToken) -> StoredToken:
        """Re-read the record; if unchanged, give an overrun holder time to save its rotation.

        If our lease was taken over from a holder whose lease ran out mid-refresh, that holder
        spent the refresh token we just presented and is about to save the new one (with
        compare-and-set, needing no lock). Declaring the chain dead now would destroy a live
        token; waiting one token-request timeout lets that write land first.
        """
        deadline = time.monotonic() + self.settings.request_timeout
        while True:
            latest = await self.record.read()
            if latest.version != stored.version or time.monotonic() >= deadline:
                return latest
            await asyncio.sleep(min(0.05, max(deadline - time.monotonic(), 0)))

    async def _mark_dead(self, stored: StoredToken, reason: str) -> Token:
        dead = attrs.evolve(
            stored, reauthorization_required=reason, rotating_by=None, rotating_since=None
        )
        # A conflict: someone stored something newer (perhaps a new login); it wins.
        with contextlib.suppress(StoreConflict):
            dead = attrs.evolve(dead, version=await self.record.write(dead, stored.version))
        self.record.adopt(dead)
        self._account.dead_checked_at = time.monotonic()
        log.error("account %r needs a new login: %s", self.key, reason)
        raise ReauthorizationRequired(self.key, reason)

    # ------------------------------------------------------------------ 9. hooks

    async def fire_hooks(self, token: Token) -> None:
        """Call every refresh hook with ``token``; one that raises is logged, not raised."""
        for hook in self._hooks:
            try:
                result = hook(token)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("on_refresh hook %r failed for account %r", hook, self.key)

    # ------------------------------------------------------------------ the steps' vocabulary

    def due_at(self, token: Token) -> float:
        """When ``token`` falls due here: ``leeway`` plus this account's jitter before expiry."""
        settings = self.settings
        if not settings.refresh_jitter:
            return token.refresh_due_at(settings.leeway)
        digest = hashlib.blake2b(
            f"{self.key}\0{token.expires_at!r}".encode(), digest_size=8
        ).digest()
        share = int.from_bytes(digest, "big") / 2**64  # uniform in [0, 1), fixed per token
        return token.refresh_due_at(settings.leeway + share * settings.refresh_jitter)

    def usable(self, token: Token | None, stale: str | None) -> bool:
        """Whether ``token`` may be sent instead of ``stale``: another one, not due yet."""
        return (
            token is not None and token.access_token != stale and time.time() < self.due_at(token)
        )

    def check_alive(self, stored: StoredToken) -> Token:
        """``stored``'s token; :class:`ReauthorizationRequired` for a dead account (adopted,
        so that every caller fails fast), :class:`TokenMissing` before the first login."""
        if stored.reauthorization_required:
            self.record.adopt(stored)
            self._account.dead_checked_at = time.monotonic()
            raise ReauthorizationRequired(self.key, stored.reauthorization_required)
        if stored.token is None:
            raise TokenMissing(self.key)
        return stored.token

    def _adopt_alive(self, stored: StoredToken) -> Token:
        self.record.adopt(stored)
        return self.check_alive(stored)

    def with_access(self, token: Token) -> Token:
        """``token``, unless the endpoint issued no usable access token with its refresh token
        (kept and saved all the same: :meth:`Token.salvage`)."""
        if not token.access_token:
            raise TokenEndpointError(
                f"account {self.key!r}: the token endpoint issued a refresh token (saved) but no "
                "usable access token; the next call refreshes again",
                status=200,
            )
        return token


def _retrieve_exception(task: asyncio.Task[Token]) -> None:
    # Every waiter may have been cancelled; mark the outcome as seen to keep asyncio quiet.
    if not task.cancelled():
        task.exception()
