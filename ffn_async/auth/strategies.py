"""Auth strategies: what :class:`~ffn_async.FFNClient` needs from one, and the simplest one.

:class:`Auth` is the protocol (what a strategy must and may implement), :class:`AuthBase` its
defaults for the optional part, :func:`with_defaults` how the client treats every strategy
alike (its own, :class:`StaticToken`, :class:`~ffn_async.auth.TokenManager`), as httpx
treats its ``Auth``: the client knows the protocol, never a strategy's class.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Protocol, runtime_checkable

import aiohttp
import attrs

from ..environment import Environment
from ..observe.events import Observer
from ..token import _jwt_scopes, fingerprint

__all__ = ["Auth", "AuthBase", "StaticToken", "with_defaults"]


@runtime_checkable
class Auth(Protocol):
    """What :class:`~ffn_async.FFNClient` needs from an auth strategy.

    A strategy **must** implement the three methods below. It **may** also implement any of
    these optional capabilities, which the client uses where present (subclass
    :class:`AuthBase` to start from their defaults, or write them on any class):

    - ``fresh_token() -> str | None``: the token to send now if it is at hand without I/O
      (synchronous, no lock), else ``None``; the client then awaits :meth:`access_token`.
      Default: ``None``, so every request awaits :meth:`access_token`.
    - ``environment: Environment | None``: where the strategy's tokens are valid; the client's
      environment when it is given none. Default: ``None`` (production).
    - ``account_key: str | None``: the account's name, logged as ``ffn_account`` with each
      attempt (never a secret: it is written to logs). Default: ``None``.
    - ``unauthorized_hint: str | None``: added to the
      :class:`~ffn_async.errors.Unauthorized` raised when the API still refuses a token after
      :meth:`handle_unauthorized`. Default: ``None``.
    - ``use_observer(observer)``: the client's observer, passed when the client has one (to
      report token events through it). Default: ignored.
    - ``use_session(session)``: the client's ``aiohttp.ClientSession``, lent for token calls;
      the client closes it, so a strategy must not use it after :meth:`aclose <AuthBase.aclose>`.
      Default: ignored.
    - ``async aclose(*, timeout: float | None = None)``: called when the client closes, before
      its session is closed: finish (waiting at most ``timeout`` seconds, ``None`` meaning the
      strategy's own limit) what must not be cut, such as a token refresh in flight, and release
      what the strategy holds. Default: nothing to do.
    """

    __slots__ = ()

    async def access_token(self) -> str:
        """A bearer token to send now."""
        ...

    async def handle_unauthorized(self, failed_access_token: str) -> bool:
        """React to a 401 for ``failed_access_token``; ``True`` if a retry may succeed."""
        ...

    def granted_scopes(self) -> tuple[str, ...] | None:
        """Scopes of the current token, or ``None`` when unknown."""
        ...


class AuthBase(Auth):
    """An :class:`Auth` with every optional capability at its default; subclass it and
    implement the three required methods (and override any optional one)."""

    __slots__ = ()

    environment: Environment | None = None
    unauthorized_hint: str | None = None

    @property
    def account_key(self) -> str | None:
        """The account's name for log fields (never a secret)."""
        return None

    def fresh_token(self) -> str | None:
        """The token to send now if it is at hand without I/O, else ``None``."""
        return None

    def use_observer(self, observer: Observer) -> None:
        """Report through the client's ``observer``."""

    def use_session(self, session: aiohttp.ClientSession) -> None:
        """Make token calls through the client's ``session`` (the client closes it)."""

    async def aclose(self, *, timeout: float | None = None) -> None:
        """Finish what must not be cut (within ``timeout``) and release what is held."""


def with_defaults(auth: Auth) -> AuthBase:
    """``auth`` with every optional capability: itself if it is an :class:`AuthBase`, else a
    view of it that uses what it implements and the defaults for the rest."""
    return auth if isinstance(auth, AuthBase) else _WithDefaults(auth)


class _WithDefaults(AuthBase):
    """A strategy that does not subclass :class:`AuthBase`, completed with the defaults."""

    def __init__(self, auth: Auth) -> None:
        self._auth = auth
        environment = getattr(auth, "environment", None)
        self.environment = environment if isinstance(environment, Environment) else None
        self._account_key = _str_or_none(getattr(auth, "account_key", None))
        self.unauthorized_hint = _str_or_none(getattr(auth, "unauthorized_hint", None))
        fresh: Callable[[], str | None] = getattr(auth, "fresh_token", _no_token)
        self.fresh_token = fresh  # type: ignore[method-assign]  # bound once: the hot path
        self._use_observer: Callable[[Observer], None] | None = getattr(auth, "use_observer", None)
        self._use_session: Callable[[aiohttp.ClientSession], None] | None = getattr(
            auth, "use_session", None
        )
        self._aclose = getattr(auth, "aclose", None)
        # A strategy written before 0.3.0 may have an ``aclose()`` without ``timeout``: it is
        # called without one rather than failing the client's close with a TypeError.
        self._aclose_takes_timeout = self._aclose is not None and _takes_timeout(self._aclose)

    def __repr__(self) -> str:
        return repr(self._auth)

    @property
    def account_key(self) -> str | None:
        return self._account_key

    async def access_token(self) -> str:
        return await self._auth.access_token()

    async def handle_unauthorized(self, failed_access_token: str) -> bool:
        return await self._auth.handle_unauthorized(failed_access_token)

    def granted_scopes(self) -> tuple[str, ...] | None:
        return self._auth.granted_scopes()

    def use_observer(self, observer: Observer) -> None:
        if self._use_observer is not None:
            self._use_observer(observer)

    def use_session(self, session: aiohttp.ClientSession) -> None:
        if self._use_session is not None:
            self._use_session(session)

    async def aclose(self, *, timeout: float | None = None) -> None:
        if self._aclose is None:
            return
        if self._aclose_takes_timeout:
            await self._aclose(timeout=timeout)
        else:
            await self._aclose()


def _takes_timeout(method: Callable[..., object]) -> bool:
    try:
        parameters = inspect.signature(method).parameters.values()
    except (TypeError, ValueError):  # a builtin or C callable without a signature
        return True
    return any(
        (p.name == "timeout" and p.kind is not p.POSITIONAL_ONLY) or p.kind is p.VAR_KEYWORD
        for p in parameters
    )


def _no_token() -> None:
    return None


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


@attrs.frozen(repr=False)
class StaticToken(AuthBase):
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
