"""FFNClient: the session, the one request pipeline, and the API namespaces.

Every call, typed or raw, is built, then sent (the :class:`~ffn_async.http._requester.Requester`
protocol): :meth:`FFNClient.build` makes the URL, checks the scope and encodes the body into a
:class:`~ffn_async.http._requester.Request`; :meth:`FFNClient.send` hands it, with the
``decode`` to apply to its answer, to two coroutines:

1. :meth:`FFNClient._send`: the attempts. Each carries the current token (the auth's
   synchronous ``fresh_token()`` while it is fresh, else ``await access_token()``); a 401 gets
   one forced refresh and a resend (not counted as a retry); :class:`~ffn_async.retry.RetryPolicy`
   decides whether and how long to wait before another attempt. The answer of the attempt that
   succeeds is decoded here (JSON, a model, or left as the :class:`Response`); an error answer
   left after the retries becomes its exception (:func:`ffn_async.errors.error_for_status`).
2. :meth:`FFNClient._send_single_request`: one HTTP exchange within the size limits.

Why so few frames: a tiny request spends a few µs in this pipeline next to ~60 µs in aiohttp,
and every coroutine between the caller and aiohttp is created, resumed and finished on each
request (``python -m benchmarks --case tiny`` measures it against raw aiohttp).

A safe create is a step above this pipeline (:mod:`ffn_async.api.creates`): its POST and
look-ups are built and sent like any other request, each answer decoded by ``send``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import weakref
from collections.abc import Awaitable, Callable, ItemsView, Iterable, Iterator, Mapping
from contextlib import AbstractAsyncContextManager
from functools import cached_property
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar
from urllib.parse import quote

import aiohttp
from yarl import URL

from . import retry as _retry
from ._redact import Secrets, credentials_in
from .auth import Auth, with_defaults
from .environment import Environment
from .errors import (
    ERROR_BODY_KEEP,
    DecodeError,
    MissingScope,
    TransportError,
    ValidationError,
    error_for_status,
    missing_api_hint,
)
from .http import _sessions
from .http._bodies import announced_size, read_limited, too_large
from .http._files import replacing
from .http._requester import Request, Response, as_is, display, redacted
from .http.links import on_origin
from .observe._logfields import logger
from .observe.events import Observer, RequestEvent, RetryEvent, notify
from .observe.tracing import sending
from .retry import RetryPolicy

if TYPE_CHECKING:
    from .api.creates import CreateKind
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

log = logger("ffn_async")


def operation_for(method: str, template: str) -> str:
    """The operation id of a route (:func:`ffn_async.api.operation_for`), for observers and logs.

    Imported on first use: only clients with an observer or a log line to write pay for
    importing the registry of every operation."""
    from .api import operation_for

    return operation_for(method, template)


T = TypeVar("T")

try:
    __version__ = version("ffn-async")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0"

USER_AGENT: Final = f"ffn-async/{__version__}"

# Parameterless paths ("/v1/users/current") are built once; bounded so arbitrary absolute
# links cannot grow it without limit.
_URL_CACHE_SIZE: Final = 256

# Characters left as they are in query values: OData needs $ ' ( ) , / : and friends readable,
# while space, &, +, = and # must be escaped so they cannot change the query's structure.
_QUERY_SAFE: Final = "$'()*,/:;@!"

#: Default limit of a response body read into memory (JSON answers), in bytes.
DEFAULT_MAX_RESPONSE_SIZE: Final = 64 * 1024 * 1024
#: Default limit of a binary download (``download`` methods), in bytes.
DEFAULT_MAX_DOWNLOAD_SIZE: Final = 512 * 1024 * 1024
_DOWNLOAD_CHUNK: Final = 256 * 1024


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)


async def _read_prefix(resp: aiohttp.ClientResponse, keep: int) -> tuple[bytes, bool]:
    """At most ``keep`` bytes of the body, and whether there was more (then left unread)."""
    size = announced_size(resp)
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
    size = announced_size(resp)
    if size is not None and size > limit[0]:
        raise too_large(resp, limit, method, url, size)
    async with replacing(target) as file:
        total = 0
        async for chunk in resp.content.iter_chunked(_DOWNLOAD_CHUNK):
            total += len(chunk)
            if total > limit[0]:
                raise too_large(resp, limit, method, url, size)
            await asyncio.to_thread(file.write, chunk)


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


def _observe(
    observer: Observer,
    exchange: Request,
    attempt: int,
    status: int | None,
    error: str | None,
    t0: float,
) -> None:
    """Report one attempt's end (its answer's ``status``, or the ``error`` that ended it)."""
    notify(
        observer,
        RequestEvent(
            operation_for(exchange.method, exchange.template),
            exchange.method,
            status,
            error,
            time.monotonic() - t0,
            attempt,
        ),
    )


def _scope_satisfied(needed: str, granted: Iterable[str]) -> bool:
    granted = tuple(granted)
    if needed in granted:
        return True
    # Finer per-endpoint scopes exist (``ffn.merchant.<something>``) whose names are not
    # documented; when the token carries any, we cannot judge and leave it to the server.
    api = needed.rsplit(".", 1)[0] + "."
    coarse = {api + "read", api + "write"}
    return any(s.startswith(api) and s not in coarse for s in granted)


class _SessionSent(Mapping[str, str]):
    """What every request of a client carries besides its own headers: the session's default
    headers and the cookies of its jar (a ``Cookie`` entry), for redaction.

    Read only when something is redacted, never on the way: reading a cookie jar costs
    microseconds, more than a whole pass through the pipeline. Holds the client weakly, so
    a kept :class:`Response` does not keep the client alive.
    """

    __slots__ = ("_client",)

    def __init__(self, client: FFNClient) -> None:
        self._client = weakref.ref(client)

    def _now(self) -> dict[str, str]:
        client = self._client()
        session = client._session if client is not None else None
        if session is None:
            return {}
        found = dict(session.headers)
        jar = "; ".join(f"{m.key}={m.value}" for m in session.cookie_jar)
        if jar:
            found["Cookie"] = f"{found['Cookie']}; {jar}" if "Cookie" in found else jar
        return found

    def items(self) -> ItemsView[str, str]:
        return self._now().items()

    def __getitem__(self, name: str) -> str:
        return self._now()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._now())

    def __len__(self) -> int:
        return len(self._now())


class _Exchange(Request):
    """A request this client built: a :class:`Request` that names its operation id."""

    __slots__ = ()

    @property
    def operation(self) -> str:
        """``"<api>.<operationId>"`` of a documented route, else the path template."""
        return operation_for(self.method, self.template)


class FFNClient:
    """An async client for one FFN account.

    Use it as ``async with FFNClient(auth) as ffn:`` so its connections are closed. One client
    per process serves any number of concurrent coroutines.

    Clients built without ``session=`` (and without ``trace_configs``) in one event loop share
    one session and connection pool (per ``connector_limit`` and ``user_agent``), closed when
    the last of them closes: a process serving 1,000 accounts (a client each) holds at most
    ``connector_limit`` sockets, not 1,000 pools.

    Args:
        auth: a :class:`TokenManager` (refreshing), :class:`StaticToken`, or any strategy
            implementing the :class:`~ffn_async.auth.Auth` protocol.
        environment: where the API is; defaults to the strategy's (a TokenManager's), else
            production.
        session: an ``aiohttp.ClientSession`` to use (it stays yours to close; a closed one is
            an error, never replaced). Without one, the loop's shared session is used.
        timeout: total seconds for one HTTP attempt, unless a call overrides it.
        retry: the retry policy (see :mod:`ffn_async.retry`).
        max_concurrency: cap on requests in flight from this client.
        limiter: any async context manager entered around each HTTP attempt (API calls, not
            token calls), for example ``aiolimiter.AsyncLimiter(10, 1)`` for ten attempts a
            second; a retry is another attempt and enters it again.
        user_agent: replaces ``ffn-async/<version>``.
        trace_configs: aiohttp ``TraceConfig`` objects for metrics and tracing; each attempt's
            ``trace_request_ctx`` is ``{"attempt": n, "template": path_template}``
            (``"<token endpoint>"`` for token calls). A client with trace configs gets a
            session of its own (tracing is per session).
        connector_limit: connection pool size of the shared session (or of the client's own
            one, with ``trace_configs``): connections to the API, for every client sharing it.
        safe_creates: creates of outbounds, inbounds, products, returns and inbound shipping
            notifications are retried after a lost answer without ever making a duplicate
            (:mod:`ffn_async.api.creates`); ``False`` sends them once, like any other POST.
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
        limiter: AbstractAsyncContextManager[object] | None = None,
    ) -> None:
        self.auth = auth  # also binds _strategy and _fresh_token (the property below)
        if environment is None:
            environment = self._strategy.environment or Environment.PRODUCTION
        self.environment = environment
        self.retry = retry or RetryPolicy()
        self.safe_creates = safe_creates
        self.max_response_size = max_response_size
        self.max_download_size = max_download_size
        self.observer = observer
        if observer is not None:
            self._strategy.use_observer(observer)
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session = session
        self._session_sent = _SessionSent(self)
        self._owns_session = session is None
        self._share: _sessions.Share | None = None
        self._trace_configs = trace_configs
        self._connector_limit = connector_limit
        self._semaphore = asyncio.Semaphore(max_concurrency) if max_concurrency else None
        self._limiter = limiter
        self._api_base = environment.api_url.path.rstrip("/")
        self._api_origin = environment.api_origin
        self._headers = {
            "User-Agent": user_agent or USER_AGENT,
            "Accept": "application/json",
        }
        self._request_headers: dict[str, str] = self._headers if session is not None else {}
        self._bearer_for: str | None = None
        self._bearer = ""
        # A caller's session may carry trace configs we cannot see: always pass the context.
        self._traced = bool(trace_configs) or session is not None
        self._url_cache: dict[str, URL] = {}
        if session is not None:
            self._lend(session)

    def __repr__(self) -> str:
        return f"FFNClient(environment={self.environment.name!r}, auth={self.auth!r})"

    @property
    def auth(self) -> Auth:
        """The auth strategy (a :class:`TokenManager`, :class:`StaticToken` or your own)."""
        return self._auth

    @auth.setter
    def auth(self, auth: Auth) -> None:
        self._auth = auth
        # ``auth`` with every optional capability of the protocol (its own, else the default).
        self._strategy = with_defaults(auth)
        # The synchronous fast path of the auth layer: the token at hand without I/O, or None
        # (then ``access_token()`` is awaited).
        self._fresh_token: Callable[[], str | None] = self._strategy.fresh_token
        self._account_key = self._strategy.account_key

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> FFNClient:
        self._http()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the auth strategy, then the session this client created.

        The strategy closes first (a TokenManager waits for a token refresh in flight, up to
        its ``close_timeout``, logged), so that leaving ``async with`` (for example after a
        caller's ``asyncio.wait_for`` timed out) never cuts a token request the server may
        already have answered with a rotated token: that request may use this session.
        """
        try:
            await self._strategy.aclose()
        finally:
            await self._close_session()

    async def _close_session(self) -> None:
        session, share = self._session, self._share
        if self._owns_session and session is not None:
            self._session = self._share = None
            await (share.leave() if share is not None else session.close())

    def _lend(self, session: aiohttp.ClientSession) -> None:
        self._strategy.use_session(session)

    def _http(self) -> aiohttp.ClientSession:
        session = self._session
        if session is None:
            # Created (or joined) lazily, inside the running loop (stripe-python PR #1271).
            if self._trace_configs:
                session = aiohttp.ClientSession(
                    connector=aiohttp.TCPConnector(limit=self._connector_limit),
                    headers=self._headers,
                    timeout=self._timeout,
                    trace_configs=self._trace_configs,
                )
            else:
                self._share = _sessions.join(self._connector_limit, self._headers)
                session = self._share.session
            self._session = session
            # opentelemetry's AioHttpClientInstrumentor adds its trace config to every session
            self._traced = self._traced or bool(getattr(session, "trace_configs", True))
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
        if json is not None and method.upper() == "POST":
            safe = self._safe_create(path, json, safe_create)
            if safe is not None:  # the creates step: never a duplicate after a lost answer
                return await self._create(
                    safe, json, path_params, params, headers, timeout, Response.json
                )
        request = self.build(
            method,
            path,
            path_params=path_params,
            params=params,
            json=json,
            headers=headers,
            scope=scope,
            idempotent=idempotent,
            timeout=timeout,
        )
        return await self.send(request, Response.json)

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
            json: the body: a model (validated first, see :func:`ffn_async.codec.dumps`)
                or JSON-ready data (``Decimal`` is written exactly, models inside it too).
            headers: extra headers.
            scope: the scope the operation needs; checked before sending when the token's
                scopes are known (:class:`MissingScope`).
            idempotent: overrides whether the method may be retried.
            timeout: seconds for each attempt.
            safe_create: for a POST that creates an outbound, inbound, product, return or
                inbound shipping notification, whether to make it a safe create
                (:mod:`ffn_async.api.creates`); ``None``: the client's ``safe_creates``.
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
        if json is not None and method.upper() == "POST":
            safe = self._safe_create(path, json, safe_create)
            if safe is not None:  # the creates step: never a duplicate after a lost answer
                return await self._create(safe, json, path_params, params, headers, timeout, as_is)
        request = self.build(
            method,
            path,
            path_params=path_params,
            params=params,
            json=json,
            headers=headers,
            scope=scope,
            idempotent=idempotent,
            timeout=timeout,
            download=download,
            dest=dest,
        )
        return await self.send(request, as_is)

    def _safe_create(
        self, path: str, json: Any, safe_create: bool | None
    ) -> tuple[CreateKind[Any, Any], str] | None:
        """The safe-create kind and merchant's number a ``POST`` of ``json`` to ``path`` stands
        for, or ``None``: sent once, as it is.

        :meth:`request` and :meth:`request_raw` keep the promise of 0.2.0: a POST to a create
        path is a safe create by default, as the typed ``create`` methods are. ``request`` is
        the escape hatch for what the namespaces lack, and a create sent through it is exactly
        where a retried lost answer would make a duplicate order; ``safe_create=False`` (or
        ``FFNClient(safe_creates=False)``) sends it once. Only these two entries decide this:
        :meth:`build` and :meth:`send` never turn a request into another.
        """
        if path.startswith(("http://", "https://")):
            return None
        from .api.creates import safe_kind

        return safe_kind(self, path, json, safe_create)

    async def _create(
        self,
        safe: tuple[CreateKind[Any, Any], str],
        json: Any,
        path_params: Mapping[str, str | int] | None,
        params: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None,
        timeout: float | None,
        decode: Callable[[Response], T],
    ) -> T:
        """``request()``/``request_raw()`` of a create: the safe create of its kind and number
        (:func:`ffn_async.api.creates.create_response`), its answer read by ``decode``."""
        from .api.creates import create_response

        answer, _, _ = await create_response(
            self,
            safe[0],
            json,
            number=safe[1],
            path_params=path_params,
            params=params,
            headers=headers,
            timeout=timeout,
            decode=decode,
        )
        return answer

    def build(
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
        download: bool = False,
        dest: str | os.PathLike[str] | None = None,
    ) -> Request:
        """The request, built and checked, ready for :meth:`send`; nothing is sent.

        Builds the URL (a parameterless one is cached), checks ``scope`` against the token's
        scopes when they are known (:class:`MissingScope`) and encodes ``json``
        (:func:`ffn_async.codec.serialization.dumps`: models validated, decimals exact). The
        arguments are :meth:`request_raw`'s; a POST is sent as it is, never as a safe create.
        """
        method = method.upper()
        absolute = path.startswith(("http://", "https://"))
        url = None if path_params or params else self._url_cache.get(path)
        if url is None:
            url = self._url(path, path_params, params, absolute)
        if scope is not None:
            granted = self._auth.granted_scopes()
            if granted is not None and not _scope_satisfied(scope, granted):
                raise MissingScope(scope, granted, method=method, url=display(url))
        body = None
        # User-Agent and Accept ride on the session this client owns; only a caller's
        # session needs them per request.
        send_headers = dict(self._request_headers)
        if json is not None:
            from .codec.serialization import dumps  # models validated; decimals exact

            body = dumps(json)
            send_headers["Content-Type"] = "application/json"
        if headers:
            send_headers.update(headers)
        if download or dest is not None:
            limit = (self.max_download_size, "max_download_size")
        else:
            limit = (self.max_response_size, "max_response_size")
        timeout_ = aiohttp.ClientTimeout(total=timeout) if timeout else self._timeout
        target = Path(dest) if dest is not None else None
        # Positional, in Request's order (method, url, template, headers, timeout, limit, body,
        # idempotent, target, authorize): a class called with keywords builds a dict of them
        # first, ~2,500 instructions on every request (benchmark case 9).
        if not absolute:  # the common case: a path on the API, carrying the token
            return _Exchange(
                method, url, path, send_headers, timeout_, limit, body, idempotent, target
            )
        authorize = on_origin(url, self._api_origin)
        return _Exchange(
            method,
            url,
            url.path,
            send_headers,
            timeout_,
            limit,
            body,
            idempotent,
            target,
            authorize,
        )

    def send(self, request: Request, decode: Callable[[Response], T]) -> Awaitable[T]:
        """Send ``request`` (from :meth:`build`) and apply ``decode`` to its answer.

        Returns the pipeline's own coroutine (:meth:`_send`), not one of this method: a call
        is three frames deep (the caller's, :meth:`_send`, :meth:`_send_single_request`) on
        every resume. ``decode`` runs inside it, on the answer that succeeds, so a
        :class:`DecodeError` is redacted of the request's credentials like an error answer.
        A request may be sent again (a safe create does): each send has its own attempts.
        """
        request.attempt, request.refreshed = 1, False
        return self._send(request, decode)

    # The pipeline below: _send (the attempts: token, retries, the one forced refresh after a
    # 401), then _send_single_request (one HTTP exchange within the size limits).

    async def _send(self, exchange: Request, decode: Callable[[Response], T]) -> T:
        """Attempts until one answers below 400, its answer decoded; or, once :attr:`retry`
        allows no further attempt, the error answer raised as its :class:`ApiError`, or the
        last :class:`TransportError`.

        Each attempt carries the current token: the auth's synchronous ``fresh_token()`` while
        it is fresh (no coroutine), else ``await access_token()``. A 401 gets one forced refresh
        per request, and only if nobody has replaced the failing token yet; the resend counts
        as the same attempt.
        """
        started = time.monotonic()
        attempt = 1
        while True:
            token = None
            if exchange.authorize:
                token = self._fresh_token()
                if token is None:
                    if self._session is None:
                        self._http()  # lend it first: a client used without ``async with``
                    token = await self._auth.access_token()
                if token is not None:
                    if token is not self._bearer_for:  # the header string is built once per token
                        self._bearer_for, self._bearer = token, f"Bearer {token}"
                    exchange.headers["Authorization"] = self._bearer
            try:
                response = await self._send_single_request(exchange, attempt)
            except TransportError as exc:
                wait = self._wait_after_failure(exchange, attempt, started, exc)
                if wait is None:
                    raise
            else:
                status = response.status
                if status < 400:
                    try:
                        return decode(response)
                    except DecodeError as exc:
                        raise redacted(exc, response) from None
                if status == 401 and token is not None and not exchange.refreshed:
                    exchange.refreshed = True
                    if await self._auth.handle_unauthorized(token):
                        continue
                wait = self._wait_after_status(exchange, attempt, started, response)
                if wait is None:
                    raise self._error(exchange, response)
            await _retry._sleep(wait)
            attempt = exchange.attempt = attempt + 1

    def _wait_after_failure(
        self,
        exchange: Request,
        attempt: int,
        started: float,
        exc: TransportError,
    ) -> float | None:
        """Seconds to wait before the next attempt after no answer; ``None``: give up."""
        method = exchange.method
        may_repeat = self.retry.is_idempotent(method, exchange.idempotent)
        wait = (
            self.retry.delay(attempt, started=started)
            if self.retry.retries_transport_error(sent=exc.sent, idempotent=may_repeat)
            else None
        )
        if wait is not None and self.observer is not None:
            op = operation_for(method, exchange.template)
            notify(self.observer, RetryEvent(op, method, attempt, None, "TransportError", wait))
        log.warning(
            "%s %s failed: %s (attempt %d%s)",
            method,
            display(exchange.url),
            exc,
            attempt,
            f", retrying in {wait:.2f}s" if wait is not None else ", giving up",
            extra=self._log_fields(logging.WARNING, exchange, attempt, None),
        )
        return wait

    def _wait_after_status(
        self,
        exchange: Request,
        attempt: int,
        started: float,
        response: Response,
    ) -> float | None:
        """Seconds to wait before the next attempt after an error answer; ``None``: final."""
        method, status = exchange.method, response.status
        # A request rejected by rate limiting was not processed: safe to repeat.
        may_repeat = status == 429 or self.retry.is_idempotent(method, exchange.idempotent)
        if not self.retry.retries_status(status, idempotent=may_repeat):
            return None
        wait = self.retry.delay(attempt, headers=response.headers, started=started)
        if wait is None:
            return None
        if self.observer is not None:
            op = operation_for(method, exchange.template)
            notify(self.observer, RetryEvent(op, method, attempt, status, None, wait))
        log.info(
            "%s %s -> %d, retrying in %.2fs (attempt %d)",
            method,
            display(exchange.url),
            status,
            wait,
            attempt,
            extra=self._log_fields(logging.INFO, exchange, attempt, status),
        )
        return wait

    def _log_fields(
        self, level: int, exchange: Request, attempt: int, status: int | None
    ) -> dict[str, Any] | None:
        """The structured fields of a log line about one attempt
        (:mod:`ffn_async.observe._logfields`),
        looked up only if a line at ``level`` is emitted."""
        if not log.isEnabledFor(level):
            return None
        return {
            "ffn_operation": exchange.operation,
            "ffn_status": status,
            "ffn_attempt": attempt,
            "ffn_account": self._account_key,
        }

    def _error(self, exchange: Request, response: Response) -> Exception:
        """The exception for the final error answer, redacted of the request's credentials."""
        hint = None
        if response.status == 401 and exchange.authorize:
            hint = self._strategy.unauthorized_hint
        elif response.status == 404 and not self._api_base.endswith("/api"):
            hint = missing_api_hint(self._api_base)
        return error_for_status(
            response.status,
            method=exchange.method,
            url=display(exchange.url),
            template=exchange.template,
            content=response.content,
            headers=response.headers,
            truncated=response.truncated,
            hint=hint,
            secrets=credentials_in(response.sent),
        )

    def _url(
        self,
        path: str,
        path_params: Mapping[str, str | int] | None,
        params: Mapping[str, Any] | None,
        absolute: bool,
    ) -> URL:
        """The request's URL, built; a parameterless one is kept in ``_url_cache``, where
        :meth:`build` looks first."""
        cacheable = not (path_params or params)
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

    async def _enter_limits(self) -> None:
        """The caller's pace first (``limiter=``), then a place among the requests in flight."""
        limiter, semaphore = self._limiter, self._semaphore
        if limiter is not None:
            await limiter.__aenter__()
        if semaphore is not None:
            try:
                await semaphore.acquire()
            except BaseException:  # cancelled while waiting: leave the limiter too
                if limiter is not None:
                    await limiter.__aexit__(None, None, None)
                raise

    async def _leave_limits(self) -> None:
        if self._semaphore is not None:
            self._semaphore.release()
        if self._limiter is not None:
            await self._limiter.__aexit__(None, None, None)

    def _transport_error(
        self, exc: TimeoutError | aiohttp.ClientError, exchange: Request
    ) -> TransportError:
        """What went wrong without an answer, and whether the request may have been sent."""
        url = exchange.url
        if isinstance(exc, aiohttp.ClientConnectorError):
            return TransportError(
                f"cannot connect to {url.host}:{url.port}: {exc.os_error}", sent=False
            )
        if isinstance(exc, aiohttp.ConnectionTimeoutError):
            return TransportError(f"timed out connecting to {url.host}:{url.port}", sent=False)
        # aiohttp's text may quote the full URL (its query included) and bytes the server
        # sent (a header line it could not parse): shown by path, without credentials.
        detail = Secrets(credentials_in((exchange.headers, self._session_sent))).redact(
            (str(exc) or type(exc).__name__).replace(str(url), display(url))
        )
        return TransportError(
            f"{exchange.method} {display(url)}: {detail} (the request may have reached the server)"
        )

    async def _send_single_request(self, exchange: Request, attempt: int) -> Response:
        """One HTTP exchange: the body read within its limit (or streamed to the target), an
        error body only up to :data:`ERROR_BODY_KEEP`; :class:`TransportError` when there is
        no answer."""
        method, url = exchange.method, exchange.url
        debug = log.isEnabledFor(logging.DEBUG)
        observer = self.observer
        t0 = time.monotonic() if debug or observer is not None else 0.0
        failure: TransportError | None
        status: int | None = None  # the answer's, once its head has come
        limited = self._limiter is not None or self._semaphore is not None
        if limited:
            await self._enter_limits()
        session = self._session or self._http()
        # Only a traced client names the attempt to its trace hooks (ffn_async.observe.tracing): a
        # context variable's set and reset cost ~15,000 instructions per request (case 9).
        # Checked after the session exists: an instrumentor traces every session it sees made.
        current = sending.set(exchange) if self._traced else None
        try:
            # Awaited, not ``async with``: leaving that block releases the response twice and
            # marks its (read) body closed with an exception, ~20,000 instructions per request
            # (benchmark case 9), while a body read to its end has already handed the
            # connection back. On any failure the response is released as leaving would.
            resp = await session.request(
                method,
                url,
                data=exchange.body,
                headers=exchange.headers,
                allow_redirects=False,
                timeout=exchange.timeout,
                trace_request_ctx=(
                    {"attempt": attempt, "template": exchange.template} if self._traced else None
                ),
            )
            status = resp.status
            try:
                if status >= 400:
                    content, truncated = await _read_prefix(resp, ERROR_BODY_KEEP)
                    sent = (exchange.headers, self._session_sent)
                    response = Response(status, resp.headers, content, url, method, truncated, sent)
                elif exchange.target is not None:
                    await _stream_to_file(resp, exchange.target, exchange.limit, method, url)
                    response = Response(status, resp.headers, b"", url, method)
                else:
                    content = await read_limited(resp, exchange.limit, method, url)
                    sent = (exchange.headers, self._session_sent)
                    response = Response(status, resp.headers, content, url, method, False, sent)
            except BaseException:
                resp.release()
                raise
            if resp.connection is not None:
                resp.release()  # an upload still running: cancelled, as leaving the block would
        except (TimeoutError, aiohttp.ClientError) as exc:
            failure = self._transport_error(exc, exchange)
        except BaseException as exc:  # a body over its limit, a cancellation: observed too
            if observer is not None:
                _observe(observer, exchange, attempt, status, type(exc).__name__, t0)
            raise
        else:
            failure = None
        finally:
            if current is not None:
                sending.reset(current)
            if limited:
                await self._leave_limits()
        if observer is not None or debug:
            self._report(exchange, attempt, None if failure else status, t0, debug)
        if failure is not None:
            raise failure  # raised outside the handler: no aiohttp traceback chained to it
        return response

    def _report(
        self, exchange: Request, attempt: int, status: int | None, t0: float, debug: bool
    ) -> None:
        """An attempt that ended with an answer (``status``) or without one (``None``), to the
        observer and, for an answer, to the debug log."""
        if self.observer is not None:
            error = None if status is not None else "TransportError"
            _observe(self.observer, exchange, attempt, status, error, t0)
        if debug and status is not None:
            log.debug(
                "%s %s -> %d in %.1f ms (attempt %d)",
                exchange.method,
                display(exchange.url),
                status,
                (time.monotonic() - t0) * 1000,
                attempt,
                extra=self._log_fields(logging.DEBUG, exchange, attempt, status),
            )
