"""FFNClient: the session, the one request pipeline, and the API namespaces.

Every call, typed or raw, goes through :meth:`FFNClient.request_raw`: URL building, scope check,
authentication, retries, logging and error mapping live there and nowhere else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import tempfile
import time
from collections.abc import Iterable, Mapping
from functools import cached_property
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

import aiohttp
import attrs
import orjson
from multidict import CIMultiDictProxy
from yarl import URL

from .auth import Auth, TokenManager
from .environment import Environment
from .errors import (
    ApiError,
    BadRequest,
    Conflict,
    DecodeError,
    Forbidden,
    Gone,
    Locked,
    MissingScope,
    NotFound,
    RateLimited,
    ResponseTooLarge,
    ServerError,
    TransportError,
    Unauthorized,
    ValidationError,
)
from .observe import Observer, RequestEvent, RetryEvent, notify, operation_for
from .retry import RetryPolicy, parse_retry_after

if TYPE_CHECKING:
    from .api.fulfiller import FulfillerAPI
    from .api.merchant import MerchantAPI
    from .api.shared import SharedAPI

__all__ = [
    "DEFAULT_MAX_DOWNLOAD_SIZE",
    "DEFAULT_MAX_RESPONSE_SIZE",
    "ERROR_BODY_KEEP",
    "FFNClient",
    "Response",
]

log = logging.getLogger("ffn_async")

try:
    __version__ = version("ffn-async")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0"

USER_AGENT: Final = f"ffn-async/{__version__}"

# Parameterless paths ("/v1/users/current") are built once; bounded so arbitrary absolute
# links cannot grow it without limit.
_URL_CACHE_SIZE: Final = 256

# Indirection so tests can observe retry waits without sleeping.
_sleep = asyncio.sleep

# Characters left as they are in query values: OData needs $ ' ( ) , / : and friends readable,
# while space, &, +, = and # must be escaped so they cannot change the query's structure.
_QUERY_SAFE: Final = "$'()*,/:;@!"
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
_UNAUTHORIZED_HINT: Final = (
    "the API rejects a token the authorization server has just issued: check that the login "
    "was made with the right account (a user of this merchant or fulfiller), that it granted "
    "the scopes this operation needs, and that the token comes from the same environment as "
    "the API URL (sandbox tokens fail in production and vice versa)"
)
_HINTS: Final = {
    (404, "/v1/users/current"): (
        "the user has never logged into the FFN portal of this environment; log in once at "
        "https://fulfillment.jtl-software.com (or the sandbox portal) and try again"
    ),
}


#: Default limit of a response body read into memory (JSON answers), in bytes.
DEFAULT_MAX_RESPONSE_SIZE: Final = 64 * 1024 * 1024
#: Default limit of a binary download (``download`` methods), in bytes.
DEFAULT_MAX_DOWNLOAD_SIZE: Final = 512 * 1024 * 1024
#: How much of an error body is read and kept (``ApiError.body``, ``DecodeError.body``).
ERROR_BODY_KEEP: Final = 64 * 1024
_DOWNLOAD_CHUNK: Final = 256 * 1024


@attrs.define(slots=True)
class Response:
    """A completed HTTP exchange: status, headers and the undecoded body.

    ``content`` is empty when the body was streamed to a file; ``truncated`` is true when only
    the first :data:`ERROR_BODY_KEEP` bytes of an error body were read.
    """

    status: int
    headers: CIMultiDictProxy[str]
    content: bytes
    url: URL
    method: str
    truncated: bool = False

    def json(self) -> Any:
        """The body decoded as JSON (``None`` when empty)."""
        if not self.content:
            return None
        try:
            return orjson.loads(self.content)
        except orjson.JSONDecodeError:
            ctype = self.headers.get("Content-Type", "no content type")
            raise DecodeError(
                f"{self.method} {_display(self.url)} answered {self.status} with a body that is "
                f"not JSON ({ctype}, {len(self.content)} bytes)",
                body=self.content[:ERROR_BODY_KEEP],
            ) from None


def _display(url: URL) -> str:
    """The URL as it may appear in logs and errors: path only, no query values."""
    return url.path


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)


def _announced_size(resp: aiohttp.ClientResponse) -> int | None:
    """``Content-Length`` if it is the size of the body we will read (not compressed)."""
    if resp.headers.get("Content-Encoding", "identity").lower() != "identity":
        return None  # aiohttp decompresses: the body may be far larger than announced
    return resp.content_length


def _too_large(
    resp: aiohttp.ClientResponse, limit: tuple[int, str], method: str, url: URL, size: int | None
) -> ResponseTooLarge:
    resp.close()  # drop the connection instead of reading (or draining) the rest
    return ResponseTooLarge(
        method=method, url=_display(url), limit=limit[0], setting=limit[1], size=size
    )


async def _read_limited(
    resp: aiohttp.ClientResponse, limit: tuple[int, str], method: str, url: URL
) -> bytes:
    """The whole body, or :class:`ResponseTooLarge` as soon as it exceeds ``limit``."""
    size = _announced_size(resp)
    if size is not None:
        if size > limit[0]:
            raise _too_large(resp, limit, method, url, size)
        return await resp.read()  # the fast path: the parser reads exactly ``size`` bytes
    chunks: list[bytes] = []
    total = 0
    async for chunk in resp.content.iter_any():
        total += len(chunk)
        if total > limit[0]:
            raise _too_large(resp, limit, method, url, None)
        chunks.append(chunk)
    return b"".join(chunks)


async def _read_prefix(resp: aiohttp.ClientResponse, keep: int) -> tuple[bytes, bool]:
    """At most ``keep`` bytes of the body, and whether there was more (then left unread)."""
    size = _announced_size(resp)
    if size is not None and size <= keep:
        return await resp.read(), False
    chunks: list[bytes] = []
    total = 0
    async for chunk in resp.content.iter_any():
        chunks.append(chunk)
        total += len(chunk)
        if total > keep:
            resp.close()
            return b"".join(chunks)[:keep], True
    return b"".join(chunks), False


async def _stream_to_file(
    resp: aiohttp.ClientResponse, target: Path, limit: tuple[int, str], method: str, url: URL
) -> None:
    """Write the body to ``target`` via a temporary file beside it; never half a file."""
    size = _announced_size(resp)
    if size is not None and size > limit[0]:
        raise _too_large(resp, limit, method, url, size)
    fd, tmp = await asyncio.to_thread(
        tempfile.mkstemp, dir=target.parent, prefix=f".{target.name}.", suffix=".part"
    )
    try:
        with os.fdopen(fd, "wb") as file:
            total = 0
            async for chunk in resp.content.iter_chunked(_DOWNLOAD_CHUNK):
                total += len(chunk)
                if total > limit[0]:
                    raise _too_large(resp, limit, method, url, size)
                await asyncio.to_thread(file.write, chunk)
        await asyncio.to_thread(os.replace, tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):  # also on cancellation: quick, so done inline
            os.unlink(tmp)
        raise


def _path_segment(name: str, value: str | int) -> str:
    """``value`` percent-encoded as one path segment; ``""``, ``.`` and ``..`` are refused.

    Encoding cannot neutralise those three: ``/authorizations/..`` is ``/authorizations`` to
    every server and proxy, so a request would hit another resource than the one named.
    """
    text = str(value)
    if value is None or text in ("", ".", ".."):
        raise ValidationError(
            name,
            f"path parameter {text!r} would change which resource the request reaches; "
            "pass the id of the resource",
        )
    return quote(text, safe="")


def _encode_query(params: Mapping[str, Any]) -> str:
    parts = []
    for key, value in params.items():
        if value is None:
            continue
        values = value if isinstance(value, list | tuple) else (value,)
        for item in values:
            parts.append(f"{quote(key, safe='$')}={quote(_query_value(item), safe=_QUERY_SAFE)}")
    return "&".join(parts)


def _scope_satisfied(needed: str, granted: Iterable[str]) -> bool:
    granted = tuple(granted)
    if needed in granted:
        return True
    # Finer per-endpoint scopes exist (``ffn.merchant.<something>``) whose names are not
    # documented; when the token carries any, we cannot judge and leave it to the server.
    api = needed.rsplit(".", 1)[0] + "."
    coarse = {api + "read", api + "write"}
    return any(s.startswith(api) and s not in coarse for s in granted)


def _raise_for_status(response: Response, template: str, hint: str | None = None) -> None:
    status = response.status
    payload = None
    if response.content and not response.truncated:
        try:
            payload = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            payload = None
    code = description = None
    messages: list[str] = []
    metadata: Mapping[str, Any] = {}
    if isinstance(payload, dict):
        error_code = payload.get("errorCode")
        if isinstance(error_code, dict):
            code = error_code.get("code")
            description = error_code.get("description")
        for item in payload.get("errorMessages") or ():
            if isinstance(item, dict) and item.get("message"):
                target = item.get("target")
                messages.append(f"{target}: {item['message']}" if target else str(item["message"]))
        raw_meta = payload.get("errorMetaData", payload.get("errorMetadata"))
        if isinstance(raw_meta, dict):
            metadata = raw_meta
    elif response.truncated:
        ctype = response.headers.get("Content-Type", "no content type")
        description = (
            f"error body larger than {ERROR_BODY_KEEP} bytes ({ctype}); only its start was "
            "read and is kept in .body"
        )
    elif response.content:
        ctype = response.headers.get("Content-Type", "no content type")
        description = f"non-JSON error body ({ctype}, {len(response.content)} bytes)"
    kwargs: dict[str, Any] = {
        "method": response.method,
        "url": _display(response.url),
        "code": code,
        "description": description,
        "messages": messages,
        "metadata": metadata,
        "body": response.content,
        "headers": dict(response.headers),
        "hint": hint or _HINTS.get((status, template)),
    }
    if status == 429:
        raise RateLimited(
            status, retry_after=parse_retry_after(response.headers.get("Retry-After")), **kwargs
        )
    error_type = _ERROR_TYPES.get(status) or (ServerError if status >= 500 else ApiError)
    raise error_type(status, **kwargs)


class FFNClient:
    """An async client for one FFN account.

    Use it as ``async with FFNClient(auth) as ffn:`` so its connections are closed. One client
    per process serves any number of concurrent coroutines.

    Args:
        auth: a :class:`TokenManager` (refreshing) or :class:`StaticToken`.
        environment: where the API is; defaults to the TokenManager's, else production.
        session: an ``aiohttp.ClientSession`` to use (it stays yours to close).
        timeout: total seconds for one HTTP attempt, unless a call overrides it.
        retry: the retry policy (see :mod:`ffn_async.retry`).
        max_concurrency: cap on requests in flight from this client.
        user_agent: replaces ``ffn-async/<version>``.
        trace_configs: aiohttp ``TraceConfig`` objects for metrics and tracing; each attempt's
            ``trace_request_ctx`` is ``{"attempt": n, "template": path_template}``
            (``"<token endpoint>"`` for token calls).
        connector_limit: connection pool size of the session this client creates.
        safe_creates: creates of outbounds, inbounds, products, returns and inbound shipping
            notifications are retried after a lost answer without ever making a duplicate
            (:mod:`ffn_async.creates`); ``False`` sends them once, like any other POST.
        max_response_size: largest response body read into memory, in bytes; a larger one
            raises :class:`~ffn_async.errors.ResponseTooLarge` without being read.
        max_download_size: largest binary download (``download`` methods), in bytes.
        observer: receives request, retry and (through a TokenManager without an observer
            of its own) token events, see :mod:`ffn_async.observe`; ``None``: nothing is
            measured.

    A :class:`TokenManager` without a session of its own makes its token calls through this
    client's session, so they are traced and limited like API calls.
    """

    def __init__(
        self,
        auth: Auth,
        *,
        environment: Environment | None = None,
        session: aiohttp.ClientSession | None = None,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        max_concurrency: int | None = None,
        user_agent: str | None = None,
        trace_configs: list[aiohttp.TraceConfig] | None = None,
        connector_limit: int = 100,
        safe_creates: bool = True,
        max_response_size: int = DEFAULT_MAX_RESPONSE_SIZE,
        max_download_size: int = DEFAULT_MAX_DOWNLOAD_SIZE,
        observer: Observer | None = None,
    ) -> None:
        if environment is None:
            environment = (
                auth.environment if isinstance(auth, TokenManager) else Environment.PRODUCTION
            )
        self.auth = auth
        self.environment = environment
        self.retry = retry or RetryPolicy()
        self.safe_creates = safe_creates
        self.max_response_size = max_response_size
        self.max_download_size = max_download_size
        self.observer = observer
        if observer is not None and isinstance(auth, TokenManager):
            auth.use_observer(observer)
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session = session
        self._owns_session = session is None
        self._trace_configs = trace_configs
        self._connector_limit = connector_limit
        self._semaphore = asyncio.Semaphore(max_concurrency) if max_concurrency else None
        self._api_base = environment.api_url.path.rstrip("/")
        self._api_origin = environment.api_origin
        self._headers = {
            "User-Agent": user_agent or USER_AGENT,
            "Accept": "application/json",
        }
        self._request_headers: dict[str, str] = self._headers if session is not None else {}
        self._request_timeout: aiohttp.ClientTimeout | None = (
            self._timeout if session is not None else None
        )
        self._bearer_for: str | None = None
        self._bearer = ""
        # A caller's session may carry trace configs we cannot see: always pass the context.
        self._traced = bool(trace_configs) or session is not None
        self._url_cache: dict[str, URL] = {}
        if session is not None:
            self._lend(session)

    def __repr__(self) -> str:
        return f"FFNClient(environment={self.environment.name!r}, auth={self.auth!r})"

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> FFNClient:
        self._http()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the session this client created (and a TokenManager's own session).

        A token refresh in flight is waited for first (up to the TokenManager's
        ``close_timeout``, logged), so that leaving ``async with`` (for example after a
        caller's ``asyncio.wait_for`` timed out) never cuts a token request the server may
        already have answered with a rotated token.
        """
        if isinstance(self.auth, TokenManager):
            await self.auth.settle()
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None
        if isinstance(self.auth, TokenManager):
            await self.auth.aclose()

    def _lend(self, session: aiohttp.ClientSession) -> None:
        if isinstance(self.auth, TokenManager):
            self.auth.use_session(session)

    def _http(self) -> aiohttp.ClientSession:
        session = self._session
        if session is None or session.closed:
            # Created lazily, inside the running loop (stripe-python PR #1271).
            session = self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._connector_limit),
                headers=self._headers,
                timeout=self._timeout,
                trace_configs=self._trace_configs,
            )
            self._owns_session = True
            self._lend(session)
        return session

    # ------------------------------------------------------------------ namespaces

    @cached_property
    def fulfiller(self) -> FulfillerAPI:
        """Operations of the Fulfiller API (``/v1/fulfiller/...``)."""
        from .api.fulfiller import FulfillerAPI

        return FulfillerAPI(self)

    @cached_property
    def merchant(self) -> MerchantAPI:
        """Operations of the Merchant API (``/v1/merchant/...``)."""
        from .api.merchant import MerchantAPI

        return MerchantAPI(self)

    @cached_property
    def shared(self) -> SharedAPI:
        """Operations available to every user (``/v1/users/current``)."""
        from .api.shared import SharedAPI

        return SharedAPI(self)

    # ------------------------------------------------------------------ the pipeline

    async def request(
        self,
        method: str,
        path: str,
        *,
        path_params: Mapping[str, str | int] | None = None,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        scope: str | None = None,
        idempotent: bool | None = None,
        timeout: float | None = None,
        safe_create: bool | None = None,
    ) -> Any:
        """Send a request and return its decoded JSON body (``None`` when empty).

        ``path`` is a template relative to the environment's ``api_url``
        (``"/v1/merchant/outbounds/{outboundId}"``, placeholders filled from ``path_params``
        and percent-encoded) or an absolute URL. This is the escape hatch for anything the
        typed namespaces do not cover; see :meth:`request_raw` for the arguments.
        """
        response = await self.request_raw(
            method,
            path,
            path_params=path_params,
            params=params,
            json=json,
            headers=headers,
            scope=scope,
            idempotent=idempotent,
            timeout=timeout,
            safe_create=safe_create,
        )
        return response.json()

    async def request_raw(
        self,
        method: str,
        path: str,
        *,
        path_params: Mapping[str, str | int] | None = None,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        scope: str | None = None,
        idempotent: bool | None = None,
        timeout: float | None = None,
        safe_create: bool | None = None,
        download: bool = False,
        dest: str | os.PathLike[str] | None = None,
    ) -> Response:
        """Send a request and return the :class:`Response` with its body undecoded.

        Args:
            method: HTTP method.
            path: path template or absolute URL; absolute URLs on another origin than the
                API's are sent without the Authorization header.
            path_params: values for the template's ``{placeholders}``.
            params: query parameters; ``None`` values are dropped, booleans become
                ``true``/``false``, ``$``-names (OData) are kept as they are.
            json: the body: a model (validated first, see :func:`ffn_async.serialization.dumps`)
                or JSON-ready data (``Decimal`` is written exactly, models inside it too).
            headers: extra headers.
            scope: the scope the operation needs; checked before sending when the token's
                scopes are known (:class:`MissingScope`).
            idempotent: overrides whether the method may be retried.
            timeout: seconds for each attempt.
            safe_create: for a POST that creates an outbound, inbound, product, return or
                inbound shipping notification, whether to make it a safe create
                (:mod:`ffn_async.creates`); ``None``: the client's ``safe_creates``.
            download: the body is a binary download, limited by ``max_download_size``
                instead of ``max_response_size``.
            dest: stream a successful body into this file (atomically: a temporary file
                beside it, renamed when complete) instead of memory; implies ``download``.

        Raises:
            ApiError: (subclasses by status) the API answered with an error.
            TransportError: no answer, after retries where they were safe.
            AuthError: no valid token could be had.
            StoreError: the token store failed (``StoreUnavailable``, ``CorruptRecord`` …).
            ResponseTooLarge: the body exceeded its limit.
        """
        method = method.upper()
        absolute = path.startswith(("http://", "https://"))
        safe = self.safe_creates if safe_create is None else safe_create
        if safe and method == "POST" and not absolute and json is not None:
            from .creates import create_response, kind_for_path

            kind = kind_for_path(method, path)
            number = None if kind is None else kind.find_number(json)
            if kind is not None and number is not None:  # never a duplicate after a lost answer
                response, _, _ = await create_response(
                    self, kind, json, number=number, path_params=path_params, params=params,
                    headers=headers, timeout=timeout,
                )  # fmt: skip
                return response
        url = self._url(path, path_params, params, absolute)
        if scope is not None:
            granted = self.auth.granted_scopes()
            if granted is not None and not _scope_satisfied(scope, granted):
                raise MissingScope(scope, granted, method=method, url=_display(url))
        body = None
        # User-Agent and Accept ride on the session this client owns; only a caller's
        # session needs them per request.
        send_headers = dict(self._request_headers)
        if json is not None:
            from .serialization import dumps  # models validated; decimals exact

            body = dumps(json)
            send_headers["Content-Type"] = "application/json"
        if headers:
            send_headers.update(headers)
        authorize = not absolute or url.origin() == self._api_origin
        # The owned session carries the default timeout; pass one only to override it.
        attempt_timeout = aiohttp.ClientTimeout(total=timeout) if timeout else self._request_timeout
        debug = log.isEnabledFor(logging.DEBUG)
        if download or dest is not None:
            limit = (self.max_download_size, "max_download_size")
        else:
            limit = (self.max_response_size, "max_response_size")
        target = Path(dest) if dest is not None else None

        started = time.monotonic()
        obs = self.observer
        op = operation_for(method, url.path if absolute else path) if obs is not None else ""
        attempt = 0
        refreshed = False
        while True:
            attempt += 1
            token = await self.auth.access_token() if authorize else None
            if token is not None:
                if token is not self._bearer_for:  # the header string is built once per token
                    self._bearer_for, self._bearer = token, f"Bearer {token}"
                send_headers["Authorization"] = self._bearer
            t0 = time.monotonic() if debug or obs is not None else 0.0
            try:
                response = await self._send(
                    method, url, body, send_headers, attempt_timeout, attempt, path, limit, target
                )
            except TransportError as exc:
                may_repeat = self.retry.is_idempotent(method, idempotent)
                wait = (
                    self.retry.delay(attempt, started=started)
                    if self.retry.retries_transport_error(sent=exc.sent, idempotent=may_repeat)
                    else None
                )
                if obs is not None:
                    error, took = type(exc).__name__, time.monotonic() - t0
                    notify(obs, RequestEvent(op, method, None, error, took, attempt))
                    if wait is not None:
                        notify(obs, RetryEvent(op, method, attempt, None, error, wait))
                log.warning(
                    "%s %s failed: %s (attempt %d%s)",
                    method,
                    _display(url),
                    exc,
                    attempt,
                    f", retrying in {wait:.2f}s" if wait is not None else ", giving up",
                )
                if wait is None:
                    raise
                await _sleep(wait)
                continue
            status = response.status
            if obs is not None:
                notify(obs, RequestEvent(op, method, status, None, time.monotonic() - t0, attempt))
            if debug:
                log.debug(
                    "%s %s -> %d in %.1f ms (attempt %d)",
                    method,
                    _display(url),
                    status,
                    (time.monotonic() - t0) * 1000,
                    attempt,
                )
            if status < 400:
                return response
            hint = None
            if status == 401 and token is not None:
                # One forced refresh, and only if nobody has replaced the failing token yet
                # (nor was it itself the result of one); it does not count as a retry attempt.
                if not refreshed:
                    refreshed = True
                    if await self.auth.handle_unauthorized(token):
                        attempt -= 1
                        continue
                if isinstance(self.auth, TokenManager):
                    hint = _UNAUTHORIZED_HINT
            # A request rejected by rate limiting was not processed: safe to repeat.
            may_repeat = status == 429 or self.retry.is_idempotent(method, idempotent)
            if self.retry.retries_status(status, idempotent=may_repeat):
                wait = self.retry.delay(attempt, headers=response.headers, started=started)
                if wait is not None:
                    if obs is not None:
                        notify(obs, RetryEvent(op, method, attempt, status, None, wait))
                    log.info(
                        "%s %s -> %d, retrying in %.2fs (attempt %d)",
                        method,
                        _display(url),
                        status,
                        wait,
                        attempt,
                    )
                    await _sleep(wait)
                    continue
            _raise_for_status(response, url.path if absolute else path, hint)

    def _url(
        self,
        path: str,
        path_params: Mapping[str, str | int] | None,
        params: Mapping[str, Any] | None,
        absolute: bool,
    ) -> URL:
        cacheable = not (path_params or params)
        if cacheable:
            cached = self._url_cache.get(path)
            if cached is not None:
                return cached
        if absolute:
            base = URL(path)
            raw_path, inline_query = base.raw_path, base.raw_query_string
            origin = base.origin()
        else:
            if path_params:
                path = path.format_map(
                    {name: _path_segment(name, value) for name, value in path_params.items()}
                )
            raw_path, _, inline_query = path.partition("?")
            raw_path = self._api_base + (raw_path if raw_path.startswith("/") else "/" + raw_path)
            origin = self._api_origin
        query = _encode_query(params) if params else ""
        if inline_query:
            query = f"{inline_query}&{query}" if query else inline_query
        url = URL.build(
            scheme=origin.scheme,
            host=origin.raw_host or "",
            port=origin.explicit_port,
            path=raw_path,
            query_string=query,
            encoded=True,
        )
        if cacheable:
            if len(self._url_cache) >= _URL_CACHE_SIZE:
                self._url_cache.clear()
            self._url_cache[path] = url
        return url

    async def _send(
        self,
        method: str,
        url: URL,
        body: bytes | None,
        headers: Mapping[str, str],
        timeout: aiohttp.ClientTimeout | None,
        attempt: int,
        template: str,
        limit: tuple[int, str],
        target: Path | None,
    ) -> Response:
        semaphore = self._semaphore
        if semaphore is not None:
            await semaphore.acquire()
        # timeout=None would mean "no timeout" to aiohttp: omit it to use the session's.
        options: dict[str, Any] = {"timeout": timeout} if timeout is not None else {}
        if self._traced:
            options["trace_request_ctx"] = {"attempt": attempt, "template": template}
        try:
            async with self._http().request(
                method, url, data=body, headers=headers, allow_redirects=False, **options
            ) as resp:
                if resp.status >= 400:
                    content, truncated = await _read_prefix(resp, ERROR_BODY_KEEP)
                    return Response(resp.status, resp.headers, content, url, method, truncated)
                if target is not None:
                    await _stream_to_file(resp, target, limit, method, url)
                    return Response(resp.status, resp.headers, b"", url, method)
                content = await _read_limited(resp, limit, method, url)
                return Response(resp.status, resp.headers, content, url, method)
        except aiohttp.ClientConnectorError as exc:
            raise TransportError(
                f"cannot connect to {url.host}:{url.port}: {exc.os_error}", sent=False
            ) from None
        except aiohttp.ConnectionTimeoutError:
            raise TransportError(
                f"timed out connecting to {url.host}:{url.port}", sent=False
            ) from None
        except (TimeoutError, aiohttp.ClientError) as exc:
            detail = str(exc) or type(exc).__name__
            raise TransportError(
                f"{method} {_display(url)}: {detail} (the request may have reached the server)"
            ) from None
        finally:
            if semaphore is not None:
                semaphore.release()
