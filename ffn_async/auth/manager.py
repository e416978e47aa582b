"""TokenManager: one account's token, kept valid and persisted through a token store.

The public strategy of the token lifecycle and the top of :mod:`ffn_async.auth`'s layers:
construction, the login (authorization URL, code exchange, storing a token), the access
methods the client calls, and closing. How a token is refreshed exactly once across
coroutines, processes and hosts is :mod:`~ffn_async.auth.rotation` (its module docstring
states the design, step by step); this module holds step 1 (the fast path) and step 10
(closing), and delegates the rest.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
import time
import weakref
from collections.abc import Iterable

import aiohttp
import attrs

from token_stores.base import (
    DEFAULT_LOCK_TIMEOUT,
    DEFAULT_LOCK_TTL,
    StoreConflict,
    StoreUnavailable,
    TokenStore,
    validate_key,
)

from ..environment import Environment
from ..errors import UNAUTHORIZED_HINT, InvalidState, WrongEventLoop, translate_store_errors
from ..observe._logfields import logger
from ..observe.events import Observer, observed_store
from ..token import ClientCredentials, Token
from .account import AccountRecord, account_for
from .oauth import authorize_url
from .record import StoredToken, refuses_fresh
from .rotation import RefreshHook, Rotation
from .strategies import Auth, AuthBase, StaticToken

__all__ = ["Auth", "StaticToken", "StoredToken", "TokenManager"]

log = logger("ffn_async.auth")

#: Default of ``TokenManager(in_flight_timeout=...)``: how long a peer's mark is honoured.
DEFAULT_IN_FLIGHT_TIMEOUT = 120.0
#: Default of ``TokenManager(close_timeout=...)``.
DEFAULT_CLOSE_TIMEOUT = 30.0
#: Default of ``TokenManager(refresh_jitter=...)``: refreshes spread over this many seconds.
DEFAULT_REFRESH_JITTER = 120.0


class TokenManager(AuthBase):
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

    environment: Environment

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
        self._account = account_for(store, self.key)
        # The store calls go through ``_record.store``: the observed store, if observed.
        self._record = AccountRecord(self.key, observed_store(store, observer), self._account, self)
        self._rotation = Rotation(self, self._record, self._http, self._hooks)
        # Fast-path cache: the token last seen and the time it falls due for refresh.
        self._due_for: Token | None = None
        self._due_at = 0.0

    def __repr__(self) -> str:
        return (
            f"TokenManager(client_id={self.credentials.client_id!r}, key={self.key!r}, "
            f"environment={self.environment.name!r}, store={self.store!r})"
        )

    #: Added to the :class:`~ffn_async.errors.Unauthorized` the API answers with even after a
    #: refresh: the token is as fresh as the authorization server makes them.
    unauthorized_hint = UNAUTHORIZED_HINT

    @property
    def account_key(self) -> str:
        """The account's name in the store (:attr:`key`): the client logs it as ``ffn_account``."""
        return self.key

    @property
    def _store(self) -> TokenStore:
        """What the manager's store calls go to (the store, observed when there is an observer)."""
        return self._record.store

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

        Returns ``True`` when nothing is left pending. Called by :meth:`aclose` (which
        :meth:`FFNClient.aclose <ffn_async.FFNClient.aclose>` calls).
        """
        timeout = self.close_timeout if timeout is None else timeout
        pending = self._account.pending()
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
            self._record.store = observed_store(self.store, observer)

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
        token = await self._rotation.call_token_endpoint(form)
        await self.store_token(token)
        return self._rotation.with_access(token)

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
        record = self._record
        login = StoredToken(token, None)
        async with record.store.lock(self.key, ttl=self.lock_ttl, timeout=self.lock_timeout):
            for _ in range(3):
                expected = await record.replaceable_version()
                try:
                    version = await record.persist(login, expected)
                    break
                except StoreConflict:
                    continue  # a lease overrun wrote meanwhile; a login replaces anything
                except StoreUnavailable:
                    record.keep_unsaved(login, expected)
                    raise
            else:
                raise StoreConflict(self.key, expected, None)
        record.adopt(attrs.evolve(login, version=version))
        log.info(
            "stored a new login for account %r (%s)",
            self.key,
            token.fingerprint,
            extra={"ffn_account": self.key},
        )
        await self._rotation.fire_hooks(token)

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
            self._due_at = self._rotation.due_at(token) if token is not None else 0.0
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
        return await self._record.read()

    def granted_scopes(self) -> tuple[str, ...] | None:
        token = self._account.stored.token
        return token.scopes if token else None

    async def handle_unauthorized(self, failed_access_token: str) -> bool:
        """After a 401: refresh unless someone already replaced ``failed_access_token``.

        A token that itself came from a 401-forced refresh is not rotated again for the first
        five minutes of its life (the API rejecting a token it has just issued means the wrong
        account, scopes or environment, which another rotation cannot fix). So forced
        refreshes are bounded: at most one per token, and one per five minutes while the API
        keeps refusing fresh tokens.
        """
        if refuses_fresh(self._account.stored, failed_access_token):
            return False
        token = await self._obtain(failed_access_token, unauthorized=True)
        return token.access_token != failed_access_token

    @translate_store_errors  # store errors leave as FFNError subclasses
    async def _obtain(
        self, stale: str | None, *, force: bool = False, unauthorized: bool = False
    ) -> Token:
        """Steps 2 to 9 of :mod:`~ffn_async.auth.rotation`: a token other than ``stale``."""
        self._check_loop()
        return await self._rotation.obtain(stale, force=force, unauthorized=unauthorized)
