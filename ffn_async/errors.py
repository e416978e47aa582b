"""The exception tree: every failure of ffn-async is an :class:`FFNError` a person can act on.

The whole tree (``*`` marks a class that also derives from the same-named class of
``token_stores``; ``(X)`` a second built-in base)::

    FFNError
    ├── ApiError                     the API answered with an error status (error_for_status)
    │   ├── BadRequest               400
    │   ├── Unauthorized             401 even after one forced token refresh
    │   ├── Forbidden                403
    │   │   └── MissingScope         the token lacks the operation's scope (checked before sending)
    │   ├── NotFound                 404
    │   ├── Conflict                 409
    │   ├── Gone                     410
    │   ├── Locked                   423
    │   ├── RateLimited              429 (``retry_after``)
    │   └── ServerError              5xx
    ├── TransportError               no answer: connect, reset, TLS, timeout (``sent``)
    ├── DecodeError                  an answer that is not what the operation promises
    ├── ResponseTooLarge             a body beyond max_response_size / max_download_size
    ├── ForeignLinkError             a pagination / feed link off the API's origin, not followed
    ├── ValidationError (ValueError) a request model breaks the spec; nothing was sent
    ├── AuthError                    the OAuth flow and the token lifecycle (auth.py, oauth.py)
    │   ├── TokenEndpointError       the token endpoint said no, or sent no token
    │   │   ├── InvalidClient        wrong client id or secret
    │   │   └── InvalidGrant         code or refresh token used, expired or revoked
    │   ├── ReauthorizationRequired  the refresh token is dead: a person must log in again
    │   ├── TokenMissing             nothing stored under the key yet
    │   └── InvalidState             the authorization redirect's state does not match
    ├── StoreError *                 a token store failed (raised through TokenManager)
    │   ├── StoreConflict *          compare-and-set lost
    │   ├── LockTimeout *            the store's lease lock was not had in time (auth.py)
    │   ├── StoreUnavailable *       the store's service cannot be reached
    │   │   └── StoreBusy *          its connection pool stayed busy for the whole pool wait
    │   └── CorruptRecord *          a stored record cannot be read back (left untouched)
    ├── WrongEventLoop (RuntimeError) an object bound to one event loop used from another
    └── LeaseLost                    a feed consumer lost its lease (ffn_async.ordersync)

API errors carry the HTTP status, the FFN error code, its messages and metadata (the body's
``ErrorResponse``); :func:`error_for_status` maps an answer to its class and adds the hints
below. Auth errors say what to do next (log in again, fix the client secret).
Store errors: :mod:`token_stores` stays independent of ffn-async, so its errors derive from
``token_stores.StoreError`` only. Where the two meet, in :class:`~ffn_async.TokenManager`, each
store error is re-raised as the same-named class of this module, which derives from *both*
:class:`FFNError` and the store's class (the original is kept as ``__cause__``, its attributes
are copied). So ``except FFNError`` catches a store outage, and ``except
token_stores.StoreUnavailable`` keeps working. No message ever holds a token or a secret:
bodies of token-endpoint responses are never quoted, and in an API error answer every
credential the request carried (its access token …) is redacted wherever the server echoed it:
in the message, ``body``, ``metadata`` and ``headers``; so it is in a :class:`DecodeError`'s
message and ``body`` (a success that is not what the call promises).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, Final, NamedTuple, ParamSpec, TypeVar

import orjson
from multidict import CIMultiDict
from yarl import URL

from token_stores import base as _stores

from ._error_codes import ErrorCode
from ._redact import Secrets, redact_cookies
from .retry import parse_retry_after

__all__ = [
    "ERROR_BODY_KEEP",
    "UNAUTHORIZED_HINT",
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
    "InvalidGrant",
    "InvalidState",
    "LockTimeout",
    "Locked",
    "MissingScope",
    "NotFound",
    "RateLimited",
    "ReauthorizationRequired",
    "ResponseTooLarge",
    "ServerError",
    "StoreBusy",
    "StoreConflict",
    "StoreError",
    "StoreUnavailable",
    "TokenEndpointError",
    "TokenMissing",
    "TransportError",
    "Unauthorized",
    "ValidationError",
    "WrongEventLoop",
    "error_for_status",
    "missing_api_hint",
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
        body: the response body (bytes) as received, for diagnostics, except that every
            credential the request carried (the access token …) is replaced by
            ``<redacted>`` wherever the server echoed it; so are ``messages``,
            ``description``, ``metadata`` and ``headers``.
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


#: How much of an error body is read and kept (``ApiError.body``, ``DecodeError.body``).
ERROR_BODY_KEEP: Final = 64 * 1024

_ERROR_TYPES: Final[dict[int, type[ApiError]]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    410: Gone,
    423: Locked,
    429: RateLimited,
}
#: Added to an :class:`Unauthorized` when a :class:`~ffn_async.TokenManager` made the token.
UNAUTHORIZED_HINT: Final = (
    "the API rejects a token the authorization server has just issued: check that the login "
    "was made with the right account (a user of this merchant or fulfiller), that it granted "
    "the scopes this operation needs, and that the token comes from the same environment as "
    "the API URL (sandbox tokens fail in production and vice versa)"
)


def missing_api_hint(api_path: str) -> str:
    """Added to any 404 when the API URL's path does not end in ``/api``: FFN serves every
    operation under ``/api``, so the 404 says nothing about the operation itself."""
    return (
        f"the API URL's path is {api_path or '/'!r}, not one ending in /api: FFN serves its "
        "operations under /api (e.g. https://ffn-sbx.api.jtl-software.com/api); add /api to "
        "Environment.api_url"
    )


# What an error of one operation (status, path template) most likely means.
_HINTS: Final = {
    (404, "/v1/users/current"): (
        "the user has never logged into the FFN portal of this environment; log in once at "
        "https://fulfillment.jtl-software.com (or the sandbox portal) and try again"
    ),
}


def error_for_status(
    status: int,
    *,
    method: str,
    url: str,
    template: str,
    content: bytes,
    headers: Mapping[str, str],
    truncated: bool = False,
    hint: str | None = None,
    secrets: Iterable[str | None] = (),
) -> ApiError:
    """The :class:`ApiError` subclass for an error answer, with FFN's ``ErrorResponse`` read.

    ``url`` is the path as it may be shown; ``template`` the operation's path template (it
    selects a hint); ``truncated``: ``content`` is only the first :data:`ERROR_BODY_KEEP` bytes;
    ``secrets``: what the request carried (its access token), redacted from the body and the
    headers before anything is read from them (:class:`~ffn_async._redact.Secrets`).
    """
    redactor = Secrets(secrets)
    if redactor:  # a server or proxy may echo the request's Authorization header
        content = redactor.redact_bytes(content)
    # A cookie the answer sets is a credential too: its value never rides on the exception.
    headers = CIMultiDict(
        (name, redactor.redact(redact_cookies(name, value))) for name, value in headers.items()
    )
    answer = _read_error_body(content, headers, truncated)
    kwargs: dict[str, Any] = {
        "method": method,
        "url": url,
        "code": answer.code,
        "description": answer.description,
        "messages": answer.messages,
        "metadata": answer.metadata,
        "body": content,
        "headers": dict(headers),
        "hint": hint or _HINTS.get((status, template)),
    }
    if status == 429:
        return RateLimited(
            status, retry_after=parse_retry_after(headers.get("Retry-After")), **kwargs
        )
    error_type = _ERROR_TYPES.get(status) or (ServerError if status >= 500 else ApiError)
    return error_type(status, **kwargs)


class _ErrorBody(NamedTuple):
    """What an error answer's body says: FFN's ``ErrorResponse``, or what came instead."""

    code: str | None = None
    description: str | None = None
    messages: Sequence[str] = ()
    metadata: Mapping[str, Any] | None = None


def _read_error_body(content: bytes, headers: Mapping[str, str], truncated: bool) -> _ErrorBody:
    payload = None
    if content and not truncated:  # a cut body is not JSON: not even tried
        with contextlib.suppress(orjson.JSONDecodeError):
            payload = orjson.loads(content)
    ctype = headers.get("Content-Type", "no content type")
    if isinstance(payload, dict):
        return _error_response(payload, f"{ctype}, {len(content)} bytes")
    if truncated:
        return _ErrorBody(
            description=f"error body larger than {ERROR_BODY_KEEP} bytes ({ctype}); only its "
            "start was read and is kept in .body"
        )
    if content:
        return _ErrorBody(description=f"non-JSON error body ({ctype}, {len(content)} bytes)")
    return _ErrorBody()


def _error_response(payload: dict[str, Any], shape: str) -> _ErrorBody:
    """FFN's ``ErrorResponse``. An ``errorCode`` or metadata that is not an object, a
    description that is not text, and an ``errorMessages`` item that is not an object with a
    message, are left out. An ``errorMessages`` that is not a list of objects at all says the
    body is not in FFN's error format: the description says so (``shape``: its content type
    and size), so the error still reads as one, and the body stays in ``.body``."""
    code, description = _error_code(payload.get("errorCode"))
    metadata = payload.get("errorMetaData", payload.get("errorMetadata"))
    metadata = metadata if isinstance(metadata, dict) else {}
    items = payload.get("errorMessages")
    problem = _messages_problem(items)
    if problem is not None:
        description = (
            f"error body not in FFN's error format: errorMessages {problem} ({shape}; "
            "kept in .body)"
        )
        return _ErrorBody(code, description, (), metadata)
    messages = [
        f"{item['target']}: {item['message']}" if item.get("target") else str(item["message"])
        for item in items or ()
        if isinstance(item, dict) and item.get("message")
    ]
    return _ErrorBody(code, description, messages, metadata)


def _error_code(value: Any) -> tuple[str | None, str | None]:
    """``errorCode``'s code and description (text only), if it is an object."""
    if not isinstance(value, dict):
        return None, None
    description = value.get("description")
    return value.get("code"), description if isinstance(description, str) else None


#: How a JSON value that should have been a list is named in an error's description.
_JSON_KINDS: Final = {
    bool: "a boolean",
    int: "a number",
    float: "a number",
    str: "a string",
    dict: "an object",
}


def _messages_problem(items: Any) -> str | None:
    """What makes ``errorMessages`` unreadable: not a list (absent or null is fine), or a
    list without a single object; ``None`` when it can be read."""
    if items is None:
        return None
    if not isinstance(items, list):
        return f"is {_JSON_KINDS.get(type(items), type(items).__name__)}, not a list"
    if items and not any(isinstance(item, dict) for item in items):
        return "holds no objects"
    return None


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
    announced ``Content-Length`` (``None`` when the server did not announce one). ``advice``
    replaces the message's last sentence where no client setting applies (a token answer).
    """

    def __init__(
        self,
        *,
        method: str,
        url: str,
        limit: int,
        setting: str,
        size: int | None = None,
        advice: str | None = None,
    ) -> None:
        self.method = method
        self.url = url
        self.limit = limit
        self.setting = setting
        self.size = size
        announced = f" (Content-Length: {size})" if size is not None else ""
        advice = advice or (
            f"if such an answer is expected, raise the limit with FFNClient({setting}=...)"
        )
        super().__init__(
            f"{method} {url}: the response body is larger than {limit} bytes{announced}; {advice}"
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


class InvalidGrant(TokenEndpointError):
    """The code or refresh token was rejected (``invalid_grant``): used, expired or revoked."""


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


class StoreBusy(StoreUnavailable, _stores.StoreBusy):
    """The store's connection pool stayed busy for the whole pool wait; also a
    ``token_stores.StoreBusy``."""


class CorruptRecord(StoreError, _stores.CorruptRecord):
    """The stored record cannot be read back (left untouched); also a
    ``token_stores.CorruptRecord``."""


# Most specific first: the first class the store's error is an instance of wins.
_STORE_ERRORS: tuple[tuple[type[_stores.StoreError], type[StoreError]], ...] = (
    (_stores.StoreConflict, StoreConflict),
    (_stores.LockTimeout, LockTimeout),
    (_stores.CorruptRecord, CorruptRecord),
    (_stores.StoreBusy, StoreBusy),
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
