"""The exception tree: every failure of ffn-async is an :class:`FFNError` a person can act on.

API errors carry the HTTP status, the FFN error code, its messages and metadata (the body's
``ErrorResponse``). Auth errors say what to do next (log in again, fix the client secret).
Store errors: :mod:`token_stores` stays independent of ffn-async, so its errors derive from
``token_stores.StoreError`` only. Where the two meet, in :class:`~ffn_async.TokenManager`, each
store error is re-raised as the same-named class of this module, which derives from *both*
:class:`FFNError` and the store's class (the original is kept as ``__cause__``, its attributes
are copied). So ``except FFNError`` catches a store outage, and ``except
token_stores.StoreUnavailable`` keeps working. No message ever holds a token or a secret:
bodies of token-endpoint responses are never quoted.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, ParamSpec, TypeVar

from yarl import URL

from token_stores import base as _stores

from ._error_codes import ErrorCode

__all__ = [
    "ApiError",
    "AuthError",
    "BadRequest",
    "Conflict",
    "CorruptRecord",
    "DecodeError",
    "ErrorCode",
    "FFNError",
    "Forbidden",
    "ForeignLinkError",
    "Gone",
    "InvalidClient",
    "InvalidState",
    "LockTimeout",
    "Locked",
    "MissingScope",
    "NotFound",
    "RateLimited",
    "ReauthorizationRequired",
    "ResponseTooLarge",
    "ServerError",
    "StoreConflict",
    "StoreError",
    "StoreUnavailable",
    "TokenEndpointError",
    "TokenMissing",
    "TransportError",
    "Unauthorized",
    "ValidationError",
    "WrongEventLoop",
    "translate_store_errors",
]


class FFNError(Exception):
    """Base of every error raised by ffn-async, store errors included."""


# --------------------------------------------------------------------------- API responses


class ApiError(FFNError):
    """The FFN API answered with an error status.

    Attributes:
        status: HTTP status code.
        method, url: the request that failed (the URL never carries a token).
        code: FFN's error code: an :class:`ErrorCode` member when this release knows it
            (``ErrorCode.PRODUCTS_DUPLICATE_PRODUCT``), else the code as a plain ``str``;
            ``None`` if the body had none. Members compare equal to their text.
        description: the code's description.
        messages: the ``errorMessages[].message`` texts.
        metadata: ``errorMetaData`` (the API also spells it ``errorMetadata``; both are read).
        body: the raw response body (bytes), for diagnostics.
        headers: the response headers.
    """

    def __init__(
        self,
        status: int,
        *,
        method: str = "",
        url: str = "",
        code: ErrorCode | str | None = None,
        description: str | None = None,
        messages: Sequence[str] = (),
        metadata: Mapping[str, Any] | None = None,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        hint: str | None = None,
    ) -> None:
        self.status = status
        self.method = method
        self.url = url
        self.code: ErrorCode | str | None = _known(code)
        self.description = description
        self.messages = list(messages)
        self.metadata = dict(metadata or {})
        self.body = body
        self.headers = dict(headers or {})
        self.hint = hint
        super().__init__(self._compose())

    def _compose(self) -> str:
        head = f"{self.status} {type(self).__name__}"
        if self.method or self.url:
            head += f" on {self.method} {self.url}".rstrip()
        parts = [head]
        if self.code:
            parts.append(f"[{self.code}]")
        detail = "; ".join(self.messages) or self.description
        if detail:
            parts.append(detail)
        text = ": ".join([parts[0], " ".join(parts[1:])]) if len(parts) > 1 else parts[0]
        if self.hint:
            text += f" ({self.hint})"
        return text


def _known(code: ErrorCode | str | None) -> ErrorCode | str | None:
    """The :class:`ErrorCode` member for ``code``; unknown codes stay plain strings."""
    if code is None or isinstance(code, ErrorCode):
        return code
    text = str(code)  # a server may send anything; keep it as text
    try:
        return ErrorCode(text)
    except ValueError:
        return text


class BadRequest(ApiError):
    """400: the API rejected the request's content (see ``code`` and ``messages``)."""


class Unauthorized(ApiError):
    """401 even after a fresh token: the token is not accepted for this API."""


class Forbidden(ApiError):
    """403: the account or the token lacks a permission (often a missing scope)."""


class MissingScope(Forbidden):
    """The token's scopes do not include what the operation needs.

    Raised *before* sending when the token's scopes are known, or from a 403.
    """

    def __init__(self, scope: str, granted: Sequence[str] = (), **kwargs: Any) -> None:
        self.scope = scope
        self.granted = list(granted)
        kwargs.setdefault(
            "hint",
            f"the token lacks scope {scope!r} (granted: {', '.join(self.granted) or 'none'}); "
            "log in again asking for it",
        )
        super().__init__(kwargs.pop("status", 403), **kwargs)


class NotFound(ApiError):
    """404: the resource does not exist (or, on ``users/current``, the user never logged in)."""


class Conflict(ApiError):
    """409: the resource changed or already exists."""


class Gone(ApiError):
    """410: the resource existed but is gone (for example an expired attachment)."""


class Locked(ApiError):
    """423: the operation is locked for now (``POST /outbounds``: creating outbounds is locked).

    Nothing was created; try again later.
    """


class RateLimited(ApiError):
    """429: too many requests. ``retry_after`` holds the server's wait in seconds, if sent."""

    def __init__(self, status: int = 429, *, retry_after: float | None = None, **kwargs: Any):
        self.retry_after = retry_after
        super().__init__(status, **kwargs)


class ServerError(ApiError):
    """5xx: the API failed; idempotent calls were already retried."""


class TransportError(FFNError):
    """The request did not complete: connection refused or reset, DNS, TLS, or a timeout.

    ``sent`` is ``False`` when the request provably never reached the server (safe to retry).
    """

    def __init__(self, message: str, *, sent: bool = True) -> None:
        self.sent = sent
        super().__init__(message)


class DecodeError(FFNError):
    """A response could not be decoded into what the operation promises."""

    def __init__(self, message: str, *, body: bytes = b"") -> None:
        self.body = body
        super().__init__(message)


class ResponseTooLarge(FFNError):
    """A response body exceeded the client's size limit; the rest of it was not read.

    ``limit`` is the limit in bytes, ``setting`` the ``FFNClient`` argument that sets it
    (``max_response_size`` for JSON, ``max_download_size`` for binary downloads), ``size`` the
    announced ``Content-Length`` (``None`` when the server did not announce one).
    """

    def __init__(
        self, *, method: str, url: str, limit: int, setting: str, size: int | None = None
    ) -> None:
        self.method = method
        self.url = url
        self.limit = limit
        self.setting = setting
        self.size = size
        announced = f" (Content-Length: {size})" if size is not None else ""
        super().__init__(
            f"{method} {url}: the response body is larger than {limit} bytes{announced}; if such "
            f"an answer is expected, raise the limit with FFNClient({setting}=...)"
        )


class ForeignLinkError(FFNError):
    """A pagination link points at another origin than the API's; it was not followed."""

    def __init__(
        self, link: str, expected_origin: str | URL, *, reason: str = "it is outside the API origin"
    ) -> None:
        self.link = link
        self.expected_origin = str(expected_origin)
        shown = link.partition("?")[0]  # the query may be long; the host is what matters
        super().__init__(
            f"refusing to follow pagination link {shown!r}: {reason}; the access token is only "
            f"ever sent to the API at {self.expected_origin}"
        )


class ValidationError(FFNError, ValueError):
    """A request model broke a constraint of the spec; nothing was sent.

    ``field`` names the offending attribute path (``items[2].quantity``).
    """

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


# --------------------------------------------------------------------------- authentication


class AuthError(FFNError):
    """Base of errors from the OAuth flow and the token lifecycle."""


class TokenEndpointError(AuthError):
    """The token endpoint answered with an error or with something that is not a token.

    ``error`` is the OAuth error code (``invalid_grant`` …) when there is one; the response
    body is never quoted because it may echo a secret.
    """

    def __init__(self, message: str, *, status: int | None = None, error: str | None = None):
        self.status = status
        self.error = error
        super().__init__(message)


class InvalidClient(TokenEndpointError):
    """The token endpoint rejected the client id or secret (``invalid_client`` / 401)."""


class ReauthorizationRequired(AuthError):
    """The refresh token is dead; a person must log in again through the browser.

    Every worker sharing the account fails fast with this error until a new login is stored.
    """

    def __init__(self, key: str, reason: str = "the refresh token was rejected") -> None:
        self.key = key
        self.reason = reason
        super().__init__(
            f"account {key!r} needs a new login: {reason}. Run the authorization-code flow again "
            "(for example `ffn-async login`) to store a fresh token."
        )


class TokenMissing(AuthError):
    """No token is stored under the key yet."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(
            f"no token stored for account {key!r}; log in first (TokenManager.authorization_url "
            "then exchange_code, or `ffn-async login`)"
        )


class InvalidState(AuthError):
    """The ``state`` returned by the authorization redirect does not match the one sent."""


# --------------------------------------------------------------------------- token stores


class StoreError(FFNError, _stores.StoreError):
    """A token store failed; also a ``token_stores.StoreError``."""


class StoreConflict(StoreError, _stores.StoreConflict):
    """``save`` found another version than expected; also a ``token_stores.StoreConflict``."""


class LockTimeout(StoreError, _stores.LockTimeout):
    """The store's lock could not be taken in time; also a ``token_stores.LockTimeout``."""


class StoreUnavailable(StoreError, _stores.StoreUnavailable):
    """The store's service could not be reached; also a ``token_stores.StoreUnavailable``."""


class CorruptRecord(StoreError, _stores.CorruptRecord):
    """The stored record cannot be read back (left untouched); also a
    ``token_stores.CorruptRecord``."""


# Most specific first: the first class the store's error is an instance of wins.
_STORE_ERRORS: tuple[tuple[type[_stores.StoreError], type[StoreError]], ...] = (
    (_stores.StoreConflict, StoreConflict),
    (_stores.LockTimeout, LockTimeout),
    (_stores.CorruptRecord, CorruptRecord),
    (_stores.StoreUnavailable, StoreUnavailable),
    (_stores.StoreError, StoreError),
)

_P = ParamSpec("_P")
_T = TypeVar("_T")


def _as_ffn_error(exc: _stores.StoreError) -> StoreError:
    """The ffn-async twin of a store error: same message and attributes."""
    cls = next(ours for theirs, ours in _STORE_ERRORS if isinstance(exc, theirs))
    twin = cls.__new__(cls, *exc.args)  # the store classes' __init__ take other arguments
    twin.args = exc.args
    twin.__dict__.update(vars(exc))
    return twin


def translate_store_errors(
    func: Callable[_P, Awaitable[_T]],
) -> Callable[_P, Awaitable[_T]]:
    """Decorate an async method so store errors leave it as :class:`FFNError` subclasses.

    Applied to the public methods of :class:`~ffn_async.TokenManager`, the one place where
    ffn-async calls a store; the store's own exception stays reachable as ``__cause__``.
    """

    @functools.wraps(func)
    async def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _T:
        try:
            return await func(*args, **kwargs)
        except FFNError:
            raise
        except _stores.StoreError as exc:
            raise _as_ffn_error(exc) from exc

    return wrapper


class WrongEventLoop(FFNError, RuntimeError):
    """An object bound to one event loop (a TokenManager, its session, its store's
    connections) was used from another; create one per event loop."""
