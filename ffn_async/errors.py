"""The exception tree: every failure of ffn-async is an :class:`FFNError` a person can act on.

API errors carry the HTTP status, the FFN error code, its messages and metadata (the body's
``ErrorResponse``). Auth errors say what to do next (log in again, fix the client secret).
Store errors come from :mod:`token_stores` and are re-exported here. No message ever holds a
token or a secret: bodies of token-endpoint responses are never quoted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from yarl import URL

from token_stores.base import (
    CorruptRecord,
    LockTimeout,
    StoreConflict,
    StoreError,
    StoreUnavailable,
)

__all__ = [
    "ApiError",
    "AuthError",
    "BadRequest",
    "Conflict",
    "CorruptRecord",
    "DecodeError",
    "FFNError",
    "Forbidden",
    "ForeignLinkError",
    "Gone",
    "InvalidClient",
    "InvalidState",
    "LockTimeout",
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
]


class FFNError(Exception):
    """Base of every error raised by ffn-async (store errors derive from ``StoreError``)."""


# --------------------------------------------------------------------------- API responses


class ApiError(FFNError):
    """The FFN API answered with an error status.

    Attributes:
        status: HTTP status code.
        method, url: the request that failed (the URL never carries a token).
        code: FFN error code such as ``Products_DuplicateProduct`` (``None`` if the body had none).
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
        code: str | None = None,
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
        self.code = code
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


class WrongEventLoop(FFNError, RuntimeError):
    """An object bound to one event loop (a TokenManager, its session, its store's
    connections) was used from another; create one per event loop."""
