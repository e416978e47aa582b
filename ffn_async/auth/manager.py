"""Token lifecycle: refresh exactly once per rotation, across coroutines, processes and hosts.

JTL's refresh tokens are single-use: a refresh token presented twice fails, and a strict server
revokes the whole chain, which costs a human login. :class:`TokenManager` therefore refreshes in
this order (each step is there because some library skipped it and its users paid; the public
report or standard behind a step is named with it):

1. Fast path: a cached access token that is not due for refresh is returned with no I/O and no
   lock (:meth:`TokenManager.fresh_token`, synchronous: the request pipeline tries it before
   awaiting :meth:`TokenManager.access_token`, which starts at the same check).
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
   the lease and re-writes its mark with compare-and-set (:meth:`TokenManager._fence`); a
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
10. :meth:`TokenManager.aclose` (and leaving an ``FFNClient``) waits, up to ``close_timeout``,
    for a refresh in flight, an unsaved token to land and a lost mark to be lifted; a mark
    still not lifted then is left to expire (its task is cancelled).

The token endpoint never follows redirects (the body carries the grant), and a login
(:meth:`TokenManager.store_token`) over an unreadable record replaces it after keeping its
bytes under another key for inspection.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import inspect
import math
import os
import secrets
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable
from typing import Any, Protocol, runtime_checkable

import aiohttp
import attrs
import orjson

from token_stores.base import (
    DEFAULT_LOCK_TIMEOUT,
    DEFAULT_LOCK_TTL,
    CorruptRecord,
    Lease,
    LockTimeout,
    Record,
    StoreConflict,
    StoreError,
    StoreUnavailable,
    TokenStore,
    validate_key,
)

from ..environment import Environment
from ..errors import (
    InvalidState,
    ReauthorizationRequired,
    TokenEndpointError,
    TokenMissing,
    TransportError,
    WrongEventLoop,
    translate_store_errors,
)
from ..observe._logfields import account_context, logger
from ..observe.events import Observer, RefreshEvent, notify, observed_store
from ..token import ClientCredentials, Token, _jwt_scopes, fingerprint
from .oauth import TOKEN_TEMPLATE, InvalidGrant, authorize_url, request_token

__all__ = ["Auth", "StaticToken", "StoredToken", "TokenManager"]

log = logger("ffn_async.auth")

RefreshHook = Callable[[Token], Awaitable[None] | None]

_RECORD_FORMAT = 1
# While an account is marked dead, the store is re-read at most this often, so a new login
# stored by another process is noticed without hammering the store.
_DEAD_RECHECK_SECONDS = 1.0
#: Default of ``TokenManager(in_flight_timeout=...)``: how long a peer's mark is honoured.
DEFAULT_IN_FLIGHT_TIMEOUT = 120.0
#: Default of ``TokenManager(close_timeout=...)``.
DEFAULT_CLOSE_TIMEOUT = 30.0
#: Default of ``TokenManager(refresh_jitter=...)``: refreshes spread over this many seconds.
DEFAULT_REFRESH_JITTER = 120.0
# Largest pause between two attempts to save an unsaved token (or to re-read a record a
# peer is rotating); a store that answers anything in between cuts the pause short.
_MAX_SAVE_PAUSE = 1.0
# A token issued by a 401-forced refresh is not force-refreshed again this soon.
_UNAUTHORIZED_QUIET = 300.0
# How long a task being cancelled (event-loop shutdown) still tries to save a new token.
_LAST_SAVE_SECONDS = 2.0
# Longest single wait for the store's lock before the record is read again.
_LOCK_SLICE = 1.0


@runtime_checkable
class Auth(Protocol):
    """What :class:`~ffn_async.FFNClient` needs from an auth strategy.

    A strategy may also have a synchronous ``fresh_token() -> str | None`` (as
    :class:`TokenManager` and :class:`StaticToken` do): the token to send now if it is at hand
    without I/O, else ``None``; the client then awaits :meth:`access_token`.
    """

    async def access_token(self) -> str:
        """A bearer token to send now."""
        ...

    async def handle_unauthorized(self, failed_access_token: str) -> bool:
        """React to a 401 for ``failed_access_token``; ``True`` if a retry may succeed."""
        ...

    def granted_scopes(self) -> tuple[str, ...] | None:
        """Scopes of the current token, or ``None`` when unknown."""
        ...


@attrs.frozen(repr=False)
class StaticToken:
    """Auth with a bearer token obtained elsewhere (scripts, tests): sent as is, never refreshed.

    Scopes are read from the token's JWT claim unless given.
    """

    token: str
    scopes: tuple[str, ...] | None = attrs.field(default=None)

    def __attrs_post_init__(self) -> None:
        if self.scopes is None:
            object.__setattr__(self, "scopes", _jwt_scopes(self.token))

    def __repr__(self) -> str:
        return f"StaticToken(<{fingerprint(self.token)}>)"

    def fresh_token(self) -> str:
        """The token (for the request pipeline's synchronous fast path)."""
        return self.token

    async def access_token(self) -> str:
        return self.token

    async def handle_unauthorized(self, failed_access_token: str) -> bool:
        return False

    def granted_scopes(self) -> tuple[str, ...] | None:
        return self.scopes


@attrs.frozen(repr=False)
class StoredToken:
    """What the store holds for an account: the token, its version and rotation count.

    ``reauthorization_required`` holds the reason when the refresh token is known to be dead.
    ``rotating_by``/``rotating_since`` mark a rotation in flight (a worker id and Unix time):
    the refresh token may be spent already and its successor not saved yet.
    ``after_unauthorized`` says the token came from a refresh forced by a 401.
    """

    token: Token | None
    version: int | None
    rotation: int = 0
    reauthorization_required: str | None = None
    rotating_by: str | None = None
    rotating_since: float | None = None
    after_unauthorized: bool = False

    def __repr__(self) -> str:
        rotating = f", rotating_since={self.rotating_since}" if self.rotating_by else ""
        return (
            f"StoredToken(token={self.token!r}, version={self.version}, rotation={self.rotation}, "
            f"reauthorization_required={self.reauthorization_required!r}{rotating})"
        )


def _encode(key: str, stored: StoredToken) -> bytes:
    """The record's bytes; refuses (``ValueError``) anything that would not read back."""
    data = orjson.dumps(
        {
            "format": _RECORD_FORMAT,
            "token": stored.token.to_dict() if stored.token else None,
            "rotation": stored.rotation,
            "reauthorization_required": stored.reauthorization_required,
            "rotating": (
                {"by": stored.rotating_by, "since": stored.rotating_since}
                if stored.rotating_by
                else None
            ),
            "after_unauthorized": stored.after_unauthorized,
            "saved_at": time.time(),
        }
    )
    # Nothing unreadable may reach the store: every other worker would get CorruptRecord.
    if _decode(key, Record(data, 1)).token != stored.token:
        raise ValueError("the token does not survive its own encoding")
    return data


def _decode(key: str, record: Record | None) -> StoredToken:
    if record is None:
        return StoredToken(None, None)
    try:
        raw = orjson.loads(record.data)
        if not isinstance(raw, dict) or raw.get("format") != _RECORD_FORMAT:
            raise ValueError("unknown record format")
        token = Token.from_dict(raw["token"]) if raw.get("token") else None
        rotating = raw.get("rotating") or {}
        return StoredToken(
            token,
            record.version,
            int(raw.get("rotation", 0)),
            raw.get("reauthorization_required"),
            str(rotating["by"]) if rotating.get("by") else None,
            float(rotating["since"]) if rotating.get("by") else None,
            bool(raw.get("after_unauthorized", False)),
        )
    except (ValueError, KeyError, TypeError, AttributeError, orjson.JSONDecodeError) as exc:
        raise CorruptRecord(
            f"the record under key {key!r} (version {record.version}) is not an ffn-async token "
            f"({type(exc).__name__}); it was left untouched. A new login (exchange_code or "
            "store_token) replaces it and keeps its bytes under another key for inspection",
            data=record.data,
            version=record.version,
        ) from None


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


@attrs.define(eq=False)
class _Account:
    """In-process state of one account, shared by every TokenManager on the same store and key."""

    stored: StoredToken = StoredToken(None, None)
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
    # Tasks lifting marks whose save lost its answer (step 5 of the module docstring).
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


_ACCOUNTS: weakref.WeakKeyDictionary[Any, dict[str, _Account]] = weakref.WeakKeyDictionary()
# Every account state of this process, so that a forked child can renew each one's identity.
_EVERY_ACCOUNT: weakref.WeakSet[_Account] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for account in list(_EVERY_ACCOUNT):
        account.forget_parent()


# os.fork (multiprocessing's "fork", gunicorn's pre-fork workers) runs this in every child.
os.register_at_fork(after_in_child=_after_fork_in_child)


def _account_for(store: TokenStore, key: str) -> _Account:
    try:
        accounts = _ACCOUNTS.setdefault(store, {})
    except TypeError:  # a store that cannot be weakly referenced keeps its state per manager
        return _Account()
    return accounts.setdefault(key, _Account())


def _retrieve_exception(task: asyncio.Task[Token]) -> None:
    # Every waiter may have been cancelled; mark the outcome as seen to keep asyncio quiet.
    if not task.cancelled():
        task.exception()


class TokenManager:
    """Keeps one account's token valid, persisting each rotation through a :class:`TokenStore`.

    Args:
        credentials: the OAuth client.
        store: where the token lives; share it (file, Redis, SQL) between processes.
        key: the account's name in the store (one store can hold many accounts).
        environment: production, sandbox or custom URLs.
        session: an ``aiohttp.ClientSession`` for token calls (it stays yours). Without one,
            an :class:`~ffn_async.FFNClient` using this manager lends its session (so token
            calls are traced and limited like API calls), else one is created.
        leeway: refresh this many seconds before expiry (at most half the token's life).
        refresh_jitter: refresh up to this many seconds earlier still, by an offset drawn per
            account and token: accounts whose tokens expire together (logins come in waves)
            refresh spread over this window instead of in one storm on the token endpoint and
            the store. The offset is a hash of the key and the expiry, so every worker of one
            account agrees on it. ``leeway`` plus the offset is at most half the token's life;
            ``0`` refreshes exactly ``leeway`` before expiry.
        request_timeout: limit of one token-endpoint call; must be shorter than ``lock_ttl``.
        lock_ttl: lease of the cross-process lock held while refreshing (renewed while the
            holder works, where the store's lease expires).
        lock_timeout: how long to wait for another worker's refresh before giving up.
        in_flight_timeout: how long another worker's "rotation in flight" mark is honoured:
            a peer whose refresh is in flight may have spent the refresh token already, so
            this manager waits for its save instead of presenting the token. After that the
            worker is presumed dead.
        close_timeout: how long :meth:`aclose` waits for a refresh in flight and for saving a
            token the store could not take yet.
        on_refresh: called with every token this process obtains, after the lock is released.
        observer: receives refresh, lock-wait and store-latency events
            (:mod:`ffn_async.observe`); an ``FFNClient`` lends its own if this is ``None``.

    A manager belongs to the event loop it is first used in (its session and the store's
    connections do); using it from another loop raises :class:`WrongEventLoop`.

    Raises:
        StoreError: (``StoreUnavailable``, ``CorruptRecord``, ``LockTimeout``) the store failed;
            raised as the :mod:`ffn_async.errors` classes, which are ``FFNError`` subclasses.
    """

    def __init__(
        self,
        credentials: ClientCredentials,
        store: TokenStore,
        *,
        key: str,
        environment: Environment = Environment.PRODUCTION,
        session: aiohttp.ClientSession | None = None,
        leeway: float = 60.0,
        refresh_jitter: float = DEFAULT_REFRESH_JITTER,
        request_timeout: float = 10.0,
        lock_ttl: float = DEFAULT_LOCK_TTL,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
        in_flight_timeout: float = DEFAULT_IN_FLIGHT_TIMEOUT,
        close_timeout: float = DEFAULT_CLOSE_TIMEOUT,
        on_refresh: RefreshHook | None = None,
        observer: Observer | None = None,
    ) -> None:
        if request_timeout >= lock_ttl:
            raise ValueError(
                f"request_timeout ({request_timeout}s) must be shorter than lock_ttl "
                f"({lock_ttl}s): a refresh must finish while its lease still holds"
            )
        if in_flight_timeout <= request_timeout:
            raise ValueError(
                f"in_flight_timeout ({in_flight_timeout}s) must be longer than request_timeout "
                f"({request_timeout}s): a peer's rotation takes at least one token request"
            )
        self.credentials = credentials
        self.store = store
        self.observer = observer
        self._store = observed_store(store, observer)  # what the manager's store calls go to
        self.key = validate_key(key)
        self.environment = environment
        self.leeway = leeway
        if refresh_jitter < 0:
            raise ValueError(f"refresh_jitter must be 0 or more seconds, not {refresh_jitter}")
        self.refresh_jitter = refresh_jitter
        self.request_timeout = request_timeout
        self.lock_ttl = lock_ttl
        self.lock_timeout = lock_timeout
        self.in_flight_timeout = in_flight_timeout
        self.close_timeout = close_timeout
        self._hooks: list[RefreshHook] = [on_refresh] if on_refresh else []
        self._given_session = session
        self._lent_session: aiohttp.ClientSession | None = None
        self._own_session: aiohttp.ClientSession | None = None
        self._loop: weakref.ref[asyncio.AbstractEventLoop] | None = None
        self._account = _account_for(store, self.key)
        # Fast-path cache: the token last seen and the time it falls due for refresh.
        self._due_for: Token | None = None
        self._due_at = 0.0

    def __repr__(self) -> str:
        return (
            f"TokenManager(client_id={self.credentials.client_id!r}, key={self.key!r}, "
            f"environment={self.environment.name!r}, store={self.store!r})"
        )

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> TokenManager:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self, *, timeout: float | None = None) -> None:
        """Wait for a refresh in flight to land, then close the session this manager created.

        Leaving during a refresh would cut the token request after the server may have
        rotated, and the new token would be lost. The wait is bounded by ``timeout`` (default
        ``close_timeout``) and logged; the store is the caller's to close.
        """
        await self.settle(timeout)
        lifters = set(self._account.lifters)
        for lifter in lifters:  # not lifted within close_timeout: the mark expires by itself
            lifter.cancel()
        if lifters:
            await asyncio.wait(lifters)
        if self._own_session is not None:
            await self._own_session.close()
            self._own_session = None
        self._lent_session = None

    async def settle(self, timeout: float | None = None) -> bool:
        """Wait up to ``timeout`` (default ``close_timeout``) for this account's refresh in
        flight (in this event loop) and for saving a token the store could not take yet.

        Returns ``True`` when nothing is left pending. Called by :meth:`aclose` and
        :meth:`FFNClient.aclose <ffn_async.FFNClient.aclose>`.
        """
        timeout = self.close_timeout if timeout is None else timeout
        pending: set[asyncio.Future[Any]] = set()
        with contextlib.suppress(RuntimeError):  # no running loop: nothing can be in flight
            flight = self._account.flights.get(asyncio.get_running_loop())
            if flight is not None and not flight.done():
                pending.add(flight)
        if self._account.unsaved is not None and not self._account.unsaved.done():
            pending.add(self._account.unsaved)
        pending.update(t for t in self._account.lifters if not t.done())
        if not pending:
            return True
        log.info(
            "account %r: waiting up to %.0fs for a token refresh to finish and be saved "
            "before closing",
            self.key,
            timeout,
        )
        _, left = await asyncio.wait(pending, timeout=timeout)
        if left and self._account.unsaved in left:
            log.error(
                "account %r: closing with a rotated token the store has not taken after %.0fs; "
                "it is kept (and saved) only while this process's event loop runs: if the "
                "process exits now, peers spend the old refresh token after in_flight_timeout "
                "and the account will likely need a new login",
                self.key,
                timeout,
            )
        elif left - self._account.lifters:
            log.error(
                "account %r: closing while a token refresh is still in flight after %.0fs",
                self.key,
                timeout,
            )
        elif left:
            log.warning(
                "account %r: closing before the store answered again to lift a rotation mark "
                "whose save lost its answer; if it landed, peers wait up to in_flight_timeout",
                self.key,
            )
        return not left

    def add_refresh_hook(self, hook: RefreshHook) -> None:
        """Also call ``hook`` with every token this process obtains (login and refresh).

        For observers attached after the manager exists (a metrics exporter, an audit log)
        where ``on_refresh`` is taken; hooks run in the order added, after ``on_refresh``,
        outside the store's lock, and one that raises is logged without failing the refresh.
        """
        self._hooks.append(hook)

    def use_observer(self, observer: Observer) -> None:
        """Report to ``observer`` (an ``FFNClient``'s) unless this manager was given one."""
        if self.observer is None:
            self.observer = observer
            self._store = observed_store(self.store, observer)

    def use_session(self, session: aiohttp.ClientSession) -> None:
        """Send token calls through ``session`` (an ``FFNClient``'s: traced and limited like
        API calls) unless this manager was given a session of its own. The lender closes it;
        afterwards this manager falls back to a session of its own."""
        if self._given_session is None:
            self._lent_session = session

    def _http(self) -> aiohttp.ClientSession:
        for session in (self._given_session, self._lent_session):
            if session is not None and not session.closed:
                return session
        if self._own_session is None or self._own_session.closed:
            self._own_session = aiohttp.ClientSession()
        return self._own_session

    def _check_loop(self) -> None:
        r"""Refuse to be used from a second event loop, with a message saying what to change.

        The session and the store's connections belong to the first loop; deep inside
        aiohttp or redis another loop fails with bare ``RuntimeError``\s (or hangs).
        """
        loop = asyncio.get_running_loop()
        bound = self._loop() if self._loop is not None else None
        if bound is None or (bound.is_closed() and self._rebindable()):
            self._loop = weakref.ref(loop)
        elif bound is not loop:
            raise WrongEventLoop(
                f"TokenManager for account {self.key!r} is used from another event loop than "
                "the one it was first used in; its HTTP session and the store's connections "
                "belong to that loop. Create the store, TokenManager and FFNClient once per "
                "event loop (inside the coroutine you pass to asyncio.run, or per thread)"
            )

    def _rebindable(self) -> bool:
        # After its loop closed, a manager may move on only if nothing of it is loop-bound:
        # no session of its own still open (the store is the caller's responsibility).
        return self._own_session is None or self._own_session.closed

    # ------------------------------------------------------------------ authorization code

    def authorization_url(self, scopes: Iterable[str], state: str | None = None) -> tuple[str, str]:
        """Return ``(url, state)``: send the person to ``url``, keep ``state`` for the reply."""
        state = state or secrets.token_urlsafe(32)
        self._account.issued_states.add(state)
        url = authorize_url(self.environment, self.credentials, scopes, state)
        return str(url), state

    async def exchange_code(
        self, code: str, *, state: str | None = None, expected_state: str | None = None
    ) -> Token:
        """Trade an authorization code for a token and store it as the account's new login.

        ``state`` is what the redirect brought back. It is compared in constant time with
        ``expected_state`` or, if that is omitted, with the states :meth:`authorization_url`
        issued in this process. A mismatch raises :class:`InvalidState` before any request.
        """
        self._check_loop()
        issued = self._account.issued_states
        if expected_state is not None or state is not None:
            candidates = [expected_state] if expected_state is not None else list(issued)
            given = state or ""
            if not any(hmac.compare_digest(given, c) for c in candidates if c):
                raise InvalidState(
                    "the state returned by the authorization redirect does not match the one "
                    "sent; the login was not started by this application (possible CSRF)"
                )
            issued.discard(given)
        form = {"grant_type": "authorization_code", "code": code}
        if self.credentials.redirect_uri:
            form["redirect_uri"] = self.credentials.redirect_uri
        token = await self._call_token_endpoint(form)
        await self.store_token(token)
        return self._with_access(token)

    @translate_store_errors  # store errors leave as FFNError subclasses
    async def store_token(self, token: Token) -> None:
        """Store ``token`` as the account's login, replacing whatever was there.

        A record that cannot be read (corrupt, not ours, not decryptable) is replaced too; its
        bytes are first kept under another key of the store (logged) for a person to inspect.
        If the store cannot take the login within ``lock_ttl``, :class:`StoreUnavailable` is
        raised, but the token is kept: it is served from memory and saved by a background
        task as soon as the store answers, while this process runs.
        """
        self._check_loop()
        login = StoredToken(token, None)
        async with self._store.lock(self.key, ttl=self.lock_ttl, timeout=self.lock_timeout):
            for _ in range(3):
                expected = await self._replaceable_version()
                try:
                    version = await self._persist(login, expected)
                    break
                except StoreConflict:
                    continue  # a lease overrun wrote meanwhile; a login replaces anything
                except StoreUnavailable:
                    self._keep_unsaved(login, expected)
                    raise
            else:
                raise StoreConflict(self.key, expected, None)
        self._adopt(attrs.evolve(login, version=version))
        log.info(
            "stored a new login for account %r (%s)",
            self.key,
            token.fingerprint,
            extra={"ffn_account": self.key},
        )
        await self._fire_hooks(token)

    async def _replaceable_version(self) -> int | None:
        """The version a login must replace; an unreadable record is kept aside, then removed."""
        try:
            return (await self._read()).version
        except CorruptRecord as exc:
            await self._quarantine(exc)
            if exc.version is not None:  # replaced by compare-and-set on its version
                return exc.version
            await self._store.delete(self.key)  # a store that cannot even read a version
            return None

    async def _quarantine(self, exc: CorruptRecord) -> None:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        digest = hashlib.sha256(self.key.encode()).hexdigest()[:8]
        aside = f"{self.key[:150]}.corrupt-{stamp}-{digest}-{secrets.token_hex(2)}"
        data = exc.data if exc.data is not None else b""
        try:
            await self._store.save(aside, data, None)
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

    # ------------------------------------------------------------------ access

    def fresh_token(self) -> str | None:
        """The cached access token if it is not due for refresh yet, else ``None``.

        Synchronous, no I/O: the request pipeline tries it before awaiting
        :meth:`access_token`, which is what runs (and refreshes, once for all waiters) when
        this returns ``None``.
        """
        token = self._account.stored.token
        if token is not self._due_for:
            # Another manager (or this one) adopted a new token: recompute when it falls due.
            self._due_for = token
            self._due_at = self._refresh_due_at(token) if token is not None else 0.0
        if token is not None and time.time() < self._due_at:
            return token.access_token
        return None

    async def access_token(self) -> str:
        """A valid access token, refreshed first if it is due. No I/O while it is fresh."""
        fresh = self.fresh_token()
        if fresh is not None:
            return fresh
        return (await self._obtain(None)).access_token

    async def token(self) -> Token:
        """The current valid :class:`Token` (refreshed first if it is due)."""
        await self.access_token()
        token = self._account.stored.token
        assert token is not None
        return token

    async def refresh(self) -> Token:
        """Rotate the token now, even if it is still fresh (for example after revoking scopes)."""
        current = await self.stored()
        stale = current.token.access_token if current.token else None
        return await self._obtain(stale, force=True)

    @translate_store_errors  # store errors leave as FFNError subclasses
    async def stored(self) -> StoredToken:
        """Read the account's record from the store (bypassing the in-process cache)."""
        self._check_loop()
        return await self._read()

    def granted_scopes(self) -> tuple[str, ...] | None:
        token = self._account.stored.token
        return token.scopes if token else None

    async def handle_unauthorized(self, failed_access_token: str) -> bool:
        """After a 401: refresh unless someone already replaced ``failed_access_token``.

        A token that itself came from a 401-forced refresh is not rotated again for the first
        ``_UNAUTHORIZED_QUIET`` seconds of its life (the API rejecting a token it has just
        issued means the wrong account, scopes or environment, which another rotation cannot
        fix). So forced refreshes are bounded: at most one per token, and one per five minutes
        while the API keeps refusing fresh tokens.
        """
        if self._refuses_fresh(self._account.stored, failed_access_token):
            return False
        token = await self._obtain(failed_access_token, unauthorized=True)
        return token.access_token != failed_access_token

    # ------------------------------------------------------------------ refresh machinery

    @translate_store_errors  # store errors leave as FFNError subclasses
    async def _obtain(
        self, stale: str | None, *, force: bool = False, unauthorized: bool = False
    ) -> Token:
        self._check_loop()
        account = self._account
        reason = account.stored.reauthorization_required
        if reason and time.monotonic() - account.dead_checked_at < _DEAD_RECHECK_SECONDS:
            raise ReauthorizationRequired(self.key, reason)
        loop = asyncio.get_running_loop()
        for _ in range(3):
            flight = account.flights.get(loop)
            joined = flight is not None
            if flight is None:
                flight = loop.create_task(
                    self._adopt_or_rotate(stale, force=force, unauthorized=unauthorized),
                    context=account_context(self.key),  # its log records name the account
                )
                account.flights[loop] = flight
                flight.add_done_callback(_retrieve_exception)
                flight.add_done_callback(
                    lambda t: account.flights.pop(loop) if account.flights.get(loop) is t else None
                )
            # shield: a waiter being cancelled must not cancel the refresh everyone shares.
            token = await asyncio.shield(flight)
            if not joined or self._usable(token, stale):
                return token
        return token

    @staticmethod
    def _refuses_fresh(stored: StoredToken, failed: str | None) -> bool:
        """Whether the API refused ``stored``'s token, which a 401-forced refresh just issued."""
        token = stored.token
        return (
            stored.after_unauthorized
            and token is not None
            and token.access_token == failed
            and time.time() - (token.issued_at or 0.0) < _UNAUTHORIZED_QUIET
        )

    def _usable(self, token: Token | None, stale: str | None) -> bool:
        return (
            token is not None
            and token.access_token != stale
            and time.time() < self._refresh_due_at(token)
        )

    def _refresh_due_at(self, token: Token) -> float:
        """When ``token`` falls due here: ``leeway`` plus this account's jitter before expiry."""
        if not self.refresh_jitter:
            return token.refresh_due_at(self.leeway)
        digest = hashlib.blake2b(
            f"{self.key}\0{token.expires_at!r}".encode(), digest_size=8
        ).digest()
        share = int.from_bytes(digest, "big") / 2**64  # uniform in [0, 1), fixed per token
        return token.refresh_due_at(self.leeway + share * self.refresh_jitter)

    async def _read(self) -> StoredToken:
        record = await self._store.load(self.key)
        answered = self._account.store_answered
        if answered is not None:
            answered.set()
        return _decode(self.key, record)

    def _adopt(self, stored: StoredToken) -> None:
        self._account.stored = stored

    def _check_alive(self, stored: StoredToken) -> Token:
        if stored.reauthorization_required:
            self._adopt(stored)
            self._account.dead_checked_at = time.monotonic()
            raise ReauthorizationRequired(self.key, stored.reauthorization_required)
        if stored.token is None:
            raise TokenMissing(self.key)
        return stored.token

    def _mark_left(self, stored: StoredToken) -> float | None:
        """Seconds another worker's in-flight mark on ``stored`` is still honoured (negative
        once it ran out), or ``None`` if no other worker's rotation is marked."""
        if stored.rotating_by is None or stored.rotating_since is None:
            return None
        account = self._account
        if stored.rotating_by == account.owner:
            # Our own mark, left by a rotation of ours that ended (its clearing failed): we
            # know it holds no unsaved token, since _adopt_or_rotate first waits for that one.
            return None
        # One clock decides "presumed dead": this process's monotonic time since it first saw
        # this very mark. The mark's ``since`` is the writer's wall clock, and another host's
        # clock running ahead would presume a live holder dead; here it only names the mark.
        mark = (stored.rotating_by, stored.rotating_since)
        seen = account.seen_mark
        if seen is None or seen[0] != mark:
            seen = account.seen_mark = (mark, time.monotonic())
        return seen[1] + self.in_flight_timeout - time.monotonic()

    async def _await_unsaved(self) -> None:
        """Before rotating again, the token kept in memory must be in the store."""
        unsaved = self._account.unsaved
        if unsaved is None or unsaved.done():
            return
        done, _ = await asyncio.wait({unsaved}, timeout=self.lock_timeout)
        if not done:
            raise StoreUnavailable(
                f"account {self.key!r}: the last rotated token is still not saved after "
                f"{self.lock_timeout:g}s (the store is unreachable); it is not rotated again "
                "before it is saved, and is saved as soon as the store answers"
            )

    async def _adopt_or_rotate(
        self, stale: str | None, *, force: bool, unauthorized: bool
    ) -> Token:
        """The body of one refresh flight (steps 3 to 6 of the module docstring): adopt a
        token another process already rotated, else rotate under the store's lock."""
        unsaved = self._account.unsaved
        current = self._account.stored.token
        if (
            unsaved is not None
            and not unsaved.done()
            and current is not None
            and current.access_token != stale
            and not current.is_expired()
        ):
            return current  # due, but it cannot be rotated before the store has it
        await self._await_unsaved()
        # Lock-free look first: in a fleet, most workers find the rotation already done.
        stored = await self._read()
        if not force and self._usable(stored.token, stale):
            self._adopt(stored)
            return self._check_alive(stored)
        self._check_alive(stored)

        deadline = time.monotonic() + self.lock_timeout
        lapses = 0
        while True:
            left = self._mark_left(stored)
            if left is None or self._given_up(stored, left):
                taken = False
                try:
                    # In slices, re-reading in between: a holder that saved its token while
                    # the store was away could not release its lease, which then blocks
                    # until it expires; its token is usable long before.
                    async with self._store.lock(
                        self.key,
                        ttl=self.lock_ttl,
                        timeout=min(_LOCK_SLICE, max(deadline - time.monotonic(), 0.0)),
                    ) as lease:
                        taken = True
                        # Read again under the lock, bypassing every cache: a peer may have
                        # rotated while we waited, and its refresh token is the only live one.
                        stored = await self._read()
                        token = self._check_alive(stored)
                        if self._usable(token, stale) or (
                            unauthorized and self._refuses_fresh(stored, stale)
                        ):
                            self._adopt(stored)
                            return token
                        left = self._mark_left(stored)
                        if left is None or self._given_up(stored, left):
                            if left is not None:
                                log.warning(
                                    "account %r: a rotation marked in flight %.0fs ago never "
                                    "saved its token; presuming that worker dead and refreshing",
                                    self.key,
                                    self.in_flight_timeout - left,
                                )
                            new = await self._rotate(stored, token, lease, unauthorized)
                            break
                except _LeaseLapsed:
                    lapses += 1
                    if lapses >= 3:
                        raise LockTimeout(
                            self.key,
                            self.lock_timeout,
                            "the lease kept running out before the token request could "
                            "start; raise lock_ttl or look for what stalls this process",
                        ) from None
                    stored = await self._read()
                    continue  # take the lock again and re-read
                except LockTimeout:
                    if taken:
                        raise
                    if time.monotonic() >= deadline:
                        raise LockTimeout(self.key, self.lock_timeout) from None
                    stored = await self._read()
                    if self._usable(stored.token, stale):
                        self._adopt(stored)
                        return self._check_alive(stored)
                    continue
            # Another worker's rotation is in flight: its refresh token may be spent already.
            # Wait (without the lock) for its save; a mark that ran out gets one more grace
            # period, since a holder whose store just came back saves within a second.
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise LockTimeout(
                    self.key,
                    self.lock_timeout,
                    "another worker's token rotation is in flight and its new token is not "
                    "saved yet; is the store reachable from every worker?",
                )
            log.info(
                "account %r: another worker's rotation is in flight; waiting for its save",
                self.key,
            )
            wait = left if left > 0 else self._grace_left(stored)
            await self._await_change(stored.version, max(min(wait, remaining), 0.0))
            with contextlib.suppress(StoreUnavailable):
                stored = await self._read()
            token = self._check_alive(stored)
            if self._usable(token, stale):
                self._adopt(stored)
                return token
        log.info(
            "refreshed token for account %r: rotation %d, access token %s",
            self.key,
            self._account.stored.rotation,
            new.fingerprint,
        )
        await self._fire_hooks(new)
        return self._with_access(new)

    def _with_access(self, token: Token) -> Token:
        """``token``, unless the endpoint issued no usable access token with its refresh token
        (kept and saved all the same: :meth:`Token.salvage`)."""
        if not token.access_token:
            raise TokenEndpointError(
                f"account {self.key!r}: the token endpoint issued a refresh token (saved) but no "
                "usable access token; the next call refreshes again",
                status=200,
            )
        return token

    def _grace_left(self, stored: StoredToken) -> float:
        """Seconds of grace still given to ``stored``'s expired in-flight mark.

        The grace is counted from when this process first saw the mark expired, across calls
        (each call waits at most ``lock_timeout``), so it is never cut short.
        """
        seen = self._account.expired_mark
        if seen is None or seen[0] != stored.version:
            seen = self._account.expired_mark = (stored.version, time.monotonic())
        return seen[1] + self.request_timeout - time.monotonic()

    def _given_up(self, stored: StoredToken, left: float) -> bool:
        """Whether ``stored``'s expired in-flight mark has had its grace: its holder is dead."""
        return left <= 0 and self._grace_left(stored) <= 0

    async def _await_change(self, version: int | None, seconds: float) -> bool:
        """Poll the record until its version is no longer ``version``; ``False`` on timeout."""
        deadline = time.monotonic() + seconds
        pause = 0.02
        while True:
            with contextlib.suppress(StoreUnavailable):
                record = await self._store.load(self.key)
                if (record.version if record is not None else None) != version:
                    return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            await asyncio.sleep(min(pause, left))
            pause = min(pause * 2, 0.25)

    async def _rotate(
        self, stored: StoredToken, token: Token, lease: Lease | None, unauthorized: bool = False
    ) -> Token:
        """Spend ``token``'s refresh token and persist the result. Runs under the lock."""
        if not token.refresh_token:
            return await self._mark_dead(stored, "the stored token has no refresh token")
        # Fencing: a process that stalled after taking the lock (GC pause, slow store) may have
        # outlived its lease; a peer may already have spent this refresh token. Spend it only
        # if the lease certainly covers the whole token request (renewing it if need be).
        if (
            lease is not None
            and lease.remaining() <= self.request_timeout
            and (not await self._renew(lease) or lease.remaining() <= self.request_timeout)
        ):
            log.warning(
                "account %r: lease has %.2fs left, less than a token request may take; "
                "re-acquiring instead of refreshing",
                self.key,
                lease.remaining(),
            )
            raise _LeaseLapsed
        # Mark the rotation in flight first (compare-and-set): from here on the refresh token
        # may be spent, and no peer may present it until this rotation's result is saved.
        marked = attrs.evolve(
            stored, rotating_by=self._account.owner, rotating_since=self._next_since()
        )
        try:
            marked = attrs.evolve(
                marked,
                version=await self._store.save(self.key, _encode(self.key, marked), stored.version),
            )
        except StoreConflict:
            raise _LeaseLapsed from None  # someone wrote since our read: take it from the top
        except StoreUnavailable:
            # Nothing was spent, but the mark may have landed with its answer lost.
            self._lift_later(marked)
            raise

        async def fence() -> None:
            nonlocal marked
            marked = await self._fence(lease, marked)

        async with self._lease_kept(lease):
            try:
                new = await self._refresh_grant(token.refresh_token, unauthorized, fence)
            except InvalidGrant:
                return await self._after_invalid_grant(marked, token, lease)
            except _Fenced as exc:
                if exc.ours:  # nothing was spent: lift the mark so peers need not wait for it
                    await self._unmark(marked)
                raise
            except BaseException as exc:
                # Nothing was issued to us: lift the mark so peers need not wait for it.
                await self._unmark(marked, later=not isinstance(exc, asyncio.CancelledError))
                raise
            if new.refresh_token is None:  # RFC 6749 §6: the server may keep the old one
                new = new.with_refresh_token(token.refresh_token)
            rotated = StoredToken(new, None, stored.rotation + 1, after_unauthorized=unauthorized)
            try:
                # Callers wait at most about a second: then the token is served from memory.
                version = await self._persist(rotated, marked.version, _MAX_SAVE_PAUSE)
            except StoreConflict:
                # Our lease ran out and a peer wrote meanwhile. Its record wins; ours is not
                # written over it. Adopt theirs if it is usable.
                latest = await self._read()
                log.error(
                    "account %r: the token store changed while this process refreshed (lease "
                    "expired?); keeping the stored version %s",
                    self.key,
                    latest.version,
                )
                latest_token = self._check_alive(latest)
                self._adopt(latest)
                return latest_token
            except StoreUnavailable:
                # The token exists nowhere else: serve it from memory, keep saving it.
                self._keep_unsaved(rotated, marked.version)
                return new
            except asyncio.CancelledError:
                await self._last_save(rotated, marked.version)
                raise
        self._adopt(attrs.evolve(rotated, version=version))
        return new

    def _next_since(self) -> float:
        """A new mark's ``since``: strictly later than any earlier mark of ours, since the mark
        lifter tells our marks apart by it (it names a mark; no peer measures age with it)."""
        account = self._account
        since = max(time.time(), math.nextafter(account.last_mark, math.inf))
        account.last_mark = since
        return since

    async def _fence(self, lease: Lease | None, marked: StoredToken) -> StoredToken:
        """Prove, right before the refresh token is sent, that this rotation is still ours.

        A holder paused after writing its mark (SIGSTOP, a stop-the-world GC, a suspended VM
        or container, a debugger) may have been presumed dead meanwhile, and a peer may have
        spent the refresh token. So the lease is renewed (a lost lease stops the rotation),
        then the mark is written again with compare-and-set on the version this holder wrote:
        if anyone wrote since, nothing is spent and the caller re-reads. The new mark also
        restarts every peer's count towards presuming this holder dead. Returns the record
        as now marked. What no client can close is the time from this write's answer to the
        request leaving the socket (README, "Reliability").
        """
        if lease is not None and not await self._renew(lease):
            log.warning(
                "account %r: the refresh lease could not be renewed before the token request "
                "(lost during a pause, or the store is away); not spending the refresh token",
                self.key,
            )
            raise _Fenced(ours=True)
        restamped = attrs.evolve(marked, rotating_since=self._next_since())
        try:
            version = await self._store.save(self.key, _encode(self.key, restamped), marked.version)
        except StoreConflict:
            log.warning(
                "account %r: the record changed after this process marked its rotation (a peer "
                "presumed it dead during a pause?); re-reading instead of spending the refresh "
                "token",
                self.key,
            )
            raise _Fenced(ours=False) from None
        except StoreUnavailable:
            self._lift_later(restamped)  # it may have landed; the caller lifts ``marked``
            raise
        return attrs.evolve(restamped, version=version)

    async def _refresh_grant(
        self, refresh_token: str, unauthorized: bool, fence: Callable[[], Awaitable[None]]
    ) -> Token:
        """Spend ``refresh_token`` at the token endpoint, each attempt right after ``fence``
        (reported to the observer, if any)."""
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        observer = self.observer
        if observer is None:
            return await self._call_token_endpoint(form, fence)
        started = time.monotonic()
        outcome = "ok"
        try:
            return await self._call_token_endpoint(form, fence)
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

    async def _unmark(self, marked: StoredToken, *, later: bool = True) -> None:
        """Lift ``marked``'s in-flight mark; if the store does not answer, keep lifting it in
        the background (``later``; not while being cancelled, the event loop may be ending)."""
        cleared = attrs.evolve(marked, rotating_by=None, rotating_since=None)
        try:
            await self._store.save(self.key, _encode(self.key, cleared), marked.version)
        except StoreUnavailable:
            if later:
                self._lift_later(marked)
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

    def _lift_later(self, marked: StoredToken) -> None:
        """Lift ``marked``'s mark (which may or may not be in the store) in the background.

        Peers honour a mark for ``in_flight_timeout``; this process ignores its own, so
        without this a mark whose save lost its answer stalls the fleet until it expires
        whenever this process needs no token again. Tracked for :meth:`settle`/:meth:`aclose`.
        """
        account = self._account
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
        deadline = time.monotonic() + self.in_flight_timeout
        pause = 0.05
        while time.monotonic() < deadline:
            await self._pause_for_store(pause)
            pause = min(pause * 2, _MAX_SAVE_PAUSE)
            try:
                latest = await self._read()
                if not (
                    latest.rotating_by == marked.rotating_by
                    and latest.rotating_since == marked.rotating_since
                    and latest.token == marked.token
                    and latest.rotation == marked.rotation
                ):
                    log.info("account %r: our rotation mark is gone: nothing to lift", self.key)
                    return
                cleared = attrs.evolve(latest, rotating_by=None, rotating_since=None)
                await self._store.save(self.key, _encode(self.key, cleared), latest.version)
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

    def _until_store_answers(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run ``work``, a loop that waits for the store with :meth:`_pause_for_store`, as a
        task; from now on every read tells such loops that the store answers."""
        if self._account.store_answered is None:
            self._account.store_answered = asyncio.Event()
        return asyncio.get_running_loop().create_task(work)

    async def _pause_for_store(self, seconds: float) -> None:
        """Sleep ``seconds``, cut short when the store answers any read (a background save or
        mark lift then tries at once)."""
        answered = self._account.store_answered
        if answered is None:
            await asyncio.sleep(seconds)
            return
        answered.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(answered.wait(), seconds)

    async def _renew(self, lease: Lease) -> bool:
        try:
            return await lease.renew(self.lock_ttl)
        except StoreError:
            return False

    @contextlib.asynccontextmanager
    async def _lease_kept(self, lease: Lease | None) -> AsyncIterator[None]:
        """Renew ``lease`` every third of ``lock_ttl`` while the block runs."""
        if lease is None or lease.deadline is None:
            yield
            return

        async def keep() -> None:
            while True:
                await asyncio.sleep(self.lock_ttl / 3)
                if not await self._renew(lease):
                    log.warning("account %r: could not renew the refresh lease", self.key)

        keeper = asyncio.get_running_loop().create_task(keep())
        try:
            yield
        finally:
            keeper.cancel()

    async def _persist(
        self, fresh: StoredToken, expected: int | None, patience: float | None = None
    ) -> int:
        """Save a freshly issued token (a rotation or a login), retrying for ``patience``
        seconds (default ``lock_ttl``) while the store is unreachable.

        Retrying is safe because the save is a compare-and-set; a conflict whose winner is our
        own token means an earlier attempt landed and only its answer was lost. A longer
        outage raises :class:`StoreUnavailable`; the caller then keeps the token in memory and
        saves it in the background (:meth:`_keep_unsaved`).
        """
        data = _encode(self.key, fresh)
        deadline = time.monotonic() + (self.lock_ttl if patience is None else patience)
        delay = 0.05
        while True:
            try:
                return await self._save_once(fresh, data, expected)
            except StoreUnavailable as exc:
                if time.monotonic() + delay > deadline:
                    raise
                log.warning("account %r: store unavailable, retrying the save: %s", self.key, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, _MAX_SAVE_PAUSE)

    async def _save_once(self, fresh: StoredToken, data: bytes, expected: int | None) -> int:
        try:
            return await self._store.save(self.key, data, expected)
        except StoreConflict:
            latest = await self._read()
            if latest.token is not None and latest.token == fresh.token:
                return latest.version or 0
            raise

    def _keep_unsaved(self, fresh: StoredToken, expected: int | None) -> None:
        """Serve ``fresh`` from memory and save it in the background until the store takes it.

        The grant that produced it is spent: dropping it would cost a login, and the next
        refresh would present a dead token. Peers do not spend the old refresh token meanwhile
        (the record is marked in flight, or this is a login they cannot have read).
        """
        account = self._account
        self._adopt(fresh)
        log.error(
            "account %r: the store cannot take the new token (%s); serving it from memory and "
            "saving it as soon as the store answers",
            self.key,
            fresh.token.fingerprint if fresh.token else "no token",
        )
        account.unsaved = self._until_store_answers(self._save_in_background(fresh, expected))

    async def _save_in_background(self, fresh: StoredToken, expected: int | None) -> None:
        account = self._account
        data = _encode(self.key, fresh)
        pause = 0.05
        started = time.monotonic()
        try:
            while True:
                await self._pause_for_store(pause)
                pause = min(pause * 2, _MAX_SAVE_PAUSE)
                try:
                    version = await self._save_once(fresh, data, expected)
                except StoreUnavailable:
                    continue
                except StoreConflict:
                    latest = await self._read()
                    log.error(
                        "account %r: while the new token waited to be saved, the store got "
                        "version %s from elsewhere (a new login, or a peer that presumed this "
                        "process dead); that record wins",
                        self.key,
                        latest.version,
                    )
                    if account.stored.token == fresh.token:
                        self._adopt(latest)
                    return
                except CorruptRecord:
                    log.exception("account %r: cannot save the new token", self.key)
                    return
                if account.stored.token == fresh.token:
                    self._adopt(attrs.evolve(fresh, version=version))
                log.warning(
                    "account %r: the new token was saved after %.1fs of store outage",
                    self.key,
                    time.monotonic() - started,
                )
                return
        except asyncio.CancelledError:
            await self._last_save(fresh, expected)
            raise
        finally:
            if account.unsaved is asyncio.current_task():
                account.unsaved = None

    async def _last_save(self, fresh: StoredToken, expected: int | None) -> None:
        """One bounded attempt to save ``fresh`` while being cancelled (the event loop is
        shutting down: ``asyncio.run`` cancels every task, then runs them to their end)."""
        try:
            async with asyncio.timeout(_LAST_SAVE_SECONDS):
                await self._save_once(fresh, _encode(self.key, fresh), expected)
        except (StoreError, TimeoutError, asyncio.CancelledError):
            log.error(
                "account %r: cancelled (event loop shutdown?) before the store took the new "
                "token; it is lost, and the account will likely need a new login",
                self.key,
            )
        else:
            log.warning("account %r: saved the new token while being cancelled", self.key)

    async def _after_invalid_grant(
        self, stored: StoredToken, spent: Token, lease: Lease | None
    ) -> Token:
        latest = await self._settled_after_invalid_grant(stored)
        latest_token = self._check_alive(latest)
        if latest_token.refresh_token != spent.refresh_token:
            # A peer rotated it (its lease overlapped ours): a recovered race, not a dead chain.
            log.warning("account %r: refresh token was rotated by another worker", self.key)
            if self._usable(latest_token, None):
                self._adopt(latest)
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
        deadline = time.monotonic() + self.request_timeout
        while True:
            latest = await self._read()
            if latest.version != stored.version or time.monotonic() >= deadline:
                return latest
            await asyncio.sleep(min(0.05, max(deadline - time.monotonic(), 0)))

    async def _mark_dead(self, stored: StoredToken, reason: str) -> Token:
        dead = attrs.evolve(
            stored, reauthorization_required=reason, rotating_by=None, rotating_since=None
        )
        try:
            version = await self._store.save(self.key, _encode(self.key, dead), stored.version)
            dead = attrs.evolve(dead, version=version)
        except StoreConflict:
            pass  # someone stored something newer (perhaps a new login); it wins
        self._adopt(dead)
        self._account.dead_checked_at = time.monotonic()
        log.error("account %r needs a new login: %s", self.key, reason)
        raise ReauthorizationRequired(self.key, reason)

    async def _call_token_endpoint(
        self, form: dict[str, str], fence: Callable[[], Awaitable[None]] | None = None
    ) -> Token:
        # Retried only where the grant was provably not consumed: no connection, or the
        # server said it is unavailable. Anything else may have spent a single-use token.
        # ``fence`` runs right before each attempt's first byte leaves, and raises (nothing is
        # sent) when the attempt must not be made.
        deadline = time.monotonic() + self.request_timeout
        delay = 0.1
        attempt = 0
        while True:
            attempt += 1
            remaining = deadline - time.monotonic()
            try:
                return await request_token(
                    self._http(),
                    self.environment,
                    self.credentials,
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

    async def _fire_hooks(self, token: Token) -> None:
        for hook in self._hooks:
            try:
                result = hook(token)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("on_refresh hook %r failed for account %r", hook, self.key)
