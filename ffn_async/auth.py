"""Token lifecycle: refresh exactly once per rotation, across coroutines, processes and hosts.

JTL's refresh tokens are single-use: a refresh token presented twice fails, and a strict server
revokes the whole chain, which costs a human login. :class:`TokenManager` therefore refreshes in
this order (each step is there because some library skipped it and its users paid; see
``research/anchors.md``):

1. Fast path: a cached access token that is not due for refresh is returned with no I/O and no
   lock.
2. One refresh in flight per account and event loop, shared by every ``TokenManager`` on the
   same store and key (authlib #673: a lock per client instance is no lock).
3. A lock-free read of the store adopts a token another process already rotated.
4. Under the store's cross-process lease lock the record is read again, bypassing every cache
   (Duende #1286: a waiter that refreshes with what it read *before* the lock spends a dead
   token). Only if it is still due is the token endpoint called.
5. The new token is persisted with compare-and-set on the version read under the lock, before
   memory is updated (authlib's ordering hazard); if our lease ran out and someone else wrote
   meanwhile, the write is refused instead of overwriting the newer token.
6. ``invalid_grant`` re-reads the store: a changed refresh token means a peer won the race
   (adopt it); otherwise the account is marked as needing a login, in the store too, so every
   worker fails fast with :class:`ReauthorizationRequired` instead of retrying.
7. ``on_refresh`` hooks run after the lock is released, so a hook may use the client.
"""

from __future__ import annotations

import asyncio
import hmac
import inspect
import logging
import secrets
import time
import weakref
from collections.abc import Awaitable, Callable, Iterable
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
    StoreUnavailable,
    TokenStore,
    validate_key,
)

from .environment import Environment
from .errors import (
    InvalidState,
    ReauthorizationRequired,
    TokenEndpointError,
    TokenMissing,
    TransportError,
    translate_store_errors,
)
from .oauth import InvalidGrant, authorize_url, request_token
from .token import ClientCredentials, Token, _jwt_scopes, fingerprint

__all__ = ["Auth", "StaticToken", "StoredToken", "TokenManager"]

log = logging.getLogger("ffn_async.auth")

RefreshHook = Callable[[Token], Awaitable[None] | None]

_RECORD_FORMAT = 1
# While an account is marked dead, the store is re-read at most this often, so a new login
# stored by another process is noticed without hammering the store.
_DEAD_RECHECK_SECONDS = 1.0


@runtime_checkable
class Auth(Protocol):
    """What :class:`~ffn_async.FFNClient` needs from an auth strategy."""

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
    """

    token: Token | None
    version: int | None
    rotation: int = 0
    reauthorization_required: str | None = None

    def __repr__(self) -> str:
        return (
            f"StoredToken(token={self.token!r}, version={self.version}, rotation={self.rotation}, "
            f"reauthorization_required={self.reauthorization_required!r})"
        )


def _encode(stored: StoredToken) -> bytes:
    return orjson.dumps(
        {
            "format": _RECORD_FORMAT,
            "token": stored.token.to_dict() if stored.token else None,
            "rotation": stored.rotation,
            "reauthorization_required": stored.reauthorization_required,
            "saved_at": time.time(),
        }
    )


def _decode(key: str, record: Record | None) -> StoredToken:
    if record is None:
        return StoredToken(None, None)
    try:
        raw = orjson.loads(record.data)
        if not isinstance(raw, dict) or raw.get("format") != _RECORD_FORMAT:
            raise ValueError("unknown record format")
        token = Token.from_dict(raw["token"]) if raw.get("token") else None
        return StoredToken(
            token,
            record.version,
            int(raw.get("rotation", 0)),
            raw.get("reauthorization_required"),
        )
    except (ValueError, KeyError, TypeError, orjson.JSONDecodeError) as exc:
        raise CorruptRecord(
            f"the record under key {key!r} (version {record.version}) is not an ffn-async token "
            f"({type(exc).__name__}); it was left untouched"
        ) from None


class _LeaseLapsed(Exception):
    """The lease no longer covers a token request; the refresh must re-take the lock."""


@attrs.define(eq=False)
class _Account:
    """In-process state of one account, shared by every TokenManager on the same store and key."""

    stored: StoredToken = StoredToken(None, None)
    dead_checked_at: float = 0.0
    flights: dict[asyncio.AbstractEventLoop, asyncio.Task[Token]] = attrs.Factory(dict)
    issued_states: set[str] = attrs.Factory(set)


_ACCOUNTS: weakref.WeakKeyDictionary[Any, dict[str, _Account]] = weakref.WeakKeyDictionary()


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
        session: an ``aiohttp.ClientSession`` for token calls; one is created if omitted.
        leeway: refresh this many seconds before expiry (at most half the token's life).
        request_timeout: limit of one token-endpoint call; must be shorter than ``lock_ttl``.
        lock_ttl: lease of the cross-process lock held while refreshing.
        lock_timeout: how long to wait for another worker's refresh before giving up.
        on_refresh: called with every token this process obtains, after the lock is released.

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
        request_timeout: float = 10.0,
        lock_ttl: float = DEFAULT_LOCK_TTL,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
        on_refresh: RefreshHook | None = None,
    ) -> None:
        if request_timeout >= lock_ttl:
            raise ValueError(
                f"request_timeout ({request_timeout}s) must be shorter than lock_ttl "
                f"({lock_ttl}s): a refresh must finish while its lease still holds"
            )
        self.credentials = credentials
        self.store = store
        self.key = validate_key(key)
        self.environment = environment
        self.leeway = leeway
        self.request_timeout = request_timeout
        self.lock_ttl = lock_ttl
        self.lock_timeout = lock_timeout
        self._hooks: list[RefreshHook] = [on_refresh] if on_refresh else []
        self._session = session
        self._owns_session = session is None
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

    async def aclose(self) -> None:
        """Close the HTTP session this manager created (the store is the caller's)."""
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    def add_refresh_hook(self, hook: RefreshHook) -> None:
        """Also call ``hook`` with every token this process obtains."""
        self._hooks.append(hook)

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
            self._owns_session = True
        return self._session

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
        return token

    @translate_store_errors  # store errors leave as FFNError subclasses
    async def store_token(self, token: Token) -> None:
        """Store ``token`` as the account's login, replacing whatever was there."""
        login = StoredToken(token, None)
        async with self.store.lock(self.key, ttl=self.lock_ttl, timeout=self.lock_timeout):
            current = await self._read()
            version = await self._persist(login, current.version)
        self._adopt(attrs.evolve(login, version=version))
        log.info("stored a new login for account %r (%s)", self.key, token.fingerprint)
        await self._fire_hooks(token)

    # ------------------------------------------------------------------ access

    async def access_token(self) -> str:
        """A valid access token, refreshed first if it is due. No I/O while it is fresh."""
        token = self._account.stored.token
        if token is not self._due_for:
            # Another manager (or this one) adopted a new token: recompute when it falls due.
            self._due_for = token
            self._due_at = token.refresh_due_at(self.leeway) if token is not None else 0.0
        if token is not None and time.time() < self._due_at:
            return token.access_token
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
        return await self._read()

    def granted_scopes(self) -> tuple[str, ...] | None:
        token = self._account.stored.token
        return token.scopes if token else None

    async def handle_unauthorized(self, failed_access_token: str) -> bool:
        """After a 401: refresh unless someone already replaced ``failed_access_token``."""
        token = await self._obtain(failed_access_token)
        return token.access_token != failed_access_token

    # ------------------------------------------------------------------ refresh machinery

    @translate_store_errors  # store errors leave as FFNError subclasses
    async def _obtain(self, stale: str | None, *, force: bool = False) -> Token:
        account = self._account
        reason = account.stored.reauthorization_required
        if reason and time.monotonic() - account.dead_checked_at < _DEAD_RECHECK_SECONDS:
            raise ReauthorizationRequired(self.key, reason)
        loop = asyncio.get_running_loop()
        for _ in range(3):
            flight = account.flights.get(loop)
            joined = flight is not None
            if flight is None:
                flight = loop.create_task(self._sync(stale, force=force))
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

    def _usable(self, token: Token | None, stale: str | None) -> bool:
        return (
            token is not None
            and token.access_token != stale
            and time.time() < token.refresh_due_at(self.leeway)
        )

    async def _read(self) -> StoredToken:
        return _decode(self.key, await self.store.load(self.key))

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

    async def _sync(self, stale: str | None, *, force: bool) -> Token:
        # Lock-free look first: in a fleet, most workers find the rotation already done.
        stored = await self._read()
        if not force and self._usable(stored.token, stale):
            self._adopt(stored)
            return self._check_alive(stored)
        self._check_alive(stored)

        for _ in range(3):
            async with self.store.lock(
                self.key, ttl=self.lock_ttl, timeout=self.lock_timeout
            ) as lease:
                # Read again under the lock, bypassing every cache: a peer may have rotated
                # while we waited, and its refresh token is the only live one.
                stored = await self._read()
                token = self._check_alive(stored)
                if self._usable(token, stale):
                    self._adopt(stored)
                    return token
                try:
                    new = await self._rotate(stored, token, lease)
                except _LeaseLapsed:
                    continue  # take the lock again and re-read
            break
        else:
            raise LockTimeout(
                self.key,
                self.lock_timeout,
                "the lease kept running out before the token request could start; "
                "raise lock_ttl or look for what stalls this process",
            )
        log.info(
            "refreshed token for account %r: rotation %d, access token %s",
            self.key,
            self._account.stored.rotation,
            new.fingerprint,
        )
        await self._fire_hooks(new)
        return new

    async def _rotate(self, stored: StoredToken, token: Token, lease: Lease | None) -> Token:
        """Spend ``token``'s refresh token and persist the result. Runs under the lock."""
        if not token.refresh_token:
            return await self._mark_dead(stored, "the stored token has no refresh token")
        # Fencing: a process that stalled after taking the lock (GC pause, slow store) may have
        # outlived its lease; a peer may already have spent this refresh token. Spend it only
        # if the lease certainly covers the whole token request.
        if lease is not None and lease.remaining() <= self.request_timeout:
            log.warning(
                "account %r: lease has %.2fs left, less than a token request may take; "
                "re-acquiring instead of refreshing",
                self.key,
                lease.remaining(),
            )
            raise _LeaseLapsed
        try:
            new = await self._call_token_endpoint(
                {"grant_type": "refresh_token", "refresh_token": token.refresh_token}
            )
        except InvalidGrant:
            return await self._after_invalid_grant(stored, token, lease)
        if new.refresh_token is None:  # RFC 6749 §6: the server may keep the old one
            new = new.with_refresh_token(token.refresh_token)
        rotated = StoredToken(new, None, stored.rotation + 1)
        try:
            version = await self._persist(rotated, stored.version)
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
        self._adopt(attrs.evolve(rotated, version=version))
        return new

    async def _persist(self, fresh: StoredToken, expected: int | None) -> int:
        """Save a freshly issued token (a rotation or a login), retrying while the store is
        unreachable.

        Its refresh token exists nowhere else, and the grant that produced it is spent: losing
        it costs a human login, so a store outage is waited out (up to ``lock_ttl``) rather
        than reported at once. Retrying is safe because the save is a compare-and-set; a
        conflict whose winner is our own token means an earlier attempt landed and only its
        answer was lost.
        """
        data = _encode(fresh)
        deadline = time.monotonic() + self.lock_ttl
        delay = 0.05
        while True:
            try:
                try:
                    return await self.store.save(self.key, data, expected)
                except StoreConflict:
                    latest = await self._read()
                    if latest.token is not None and latest.token == fresh.token:
                        return latest.version or 0
                    raise
            except StoreUnavailable as exc:
                if time.monotonic() + delay > deadline:
                    log.error(
                        "account %r: could not store the new token (%s); the grant that "
                        "produced it is spent, so a new login may be needed",
                        self.key,
                        exc,
                    )
                    raise
                log.warning("account %r: store unavailable, retrying the save: %s", self.key, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)

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
        dead = attrs.evolve(stored, reauthorization_required=reason)
        try:
            version = await self.store.save(self.key, _encode(dead), stored.version)
            dead = attrs.evolve(dead, version=version)
        except StoreConflict:
            pass  # someone stored something newer (perhaps a new login); it wins
        self._adopt(dead)
        self._account.dead_checked_at = time.monotonic()
        log.error("account %r needs a new login: %s", self.key, reason)
        raise ReauthorizationRequired(self.key, reason)

    async def _call_token_endpoint(self, form: dict[str, str]) -> Token:
        # Retried only where the grant was provably not consumed: no connection, or the
        # server said it is unavailable. Anything else may have spent a single-use token.
        deadline = time.monotonic() + self.request_timeout
        delay = 0.1
        while True:
            remaining = deadline - time.monotonic()
            try:
                return await request_token(
                    self._http(),
                    self.environment,
                    self.credentials,
                    form,
                    timeout=max(remaining, 0.1),
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
