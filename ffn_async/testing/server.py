"""``FakeFFN``: the OAuth server, the API and fault injection, served on a loopback port."""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from ..environment import Environment
from ..token import ClientCredentials, Token
from .api import FakeAPI
from .clock import FakeClock
from .faults import Faults
from .http import ApiFailure, error_response
from .oauth import OAuthServer
from .received import ReceivedRequest
from .stats import FakeStats

__all__ = ["FakeFFN"]


class FakeFFN:
    """A stateful stand-in for JTL-FFN: OAuth, merchant/fulfiller API, faults and counters.

    ``async with fake.run() as env`` serves it on a free loopback port and gives the
    :class:`~ffn_async.Environment` pointing at it; :attr:`credentials` are the client it
    accepts. :attr:`stats` counts what happened, :attr:`received` logs the API requests
    themselves (method, encoded path, query, body), :attr:`faults` breaks things on purpose,
    :attr:`oauth` and :attr:`api` hold the state (tokens; products, outbounds, …).

    Args:
        client_id, client_secret, redirect_uri: the one registered OAuth client.
        token_lifetime: access-token lifetime in seconds (``2.0`` makes tokens rotate fast).
        token_latency: seconds each refresh answer is delayed.
        scopes: scopes every login gets (``None``: what was requested).
        include_scope: put ``scope`` in token responses (JTL does not; clients read the JWT).
        merchant_id, fulfiller_id: 4-character FFN ids of the two accounts.
        chunk_size: objects per change-feed chunk (``…/updates``).
        auto_ship_after: while running, ship every outbound this many seconds after its
            creation (``None``: only when told to, e.g. :meth:`FakeAPI.ship_outbound`).
        faults: fault injection settings (none by default).
        received_size: how many of the latest API requests :attr:`received` keeps.
    """

    def __init__(
        self,
        *,
        client_id: str = "test-client",
        client_secret: str = "test-secret",  # noqa: S107 - a fake's well-known test secret
        redirect_uri: str | None = "http://127.0.0.1/callback",
        token_lifetime: float = 1800.0,
        token_latency: float = 0.0,
        scopes: Iterable[str] | None = None,
        include_scope: bool = False,
        merchant_id: str = "MERC",
        fulfiller_id: str = "FULF",
        chunk_size: int = 100,
        auto_ship_after: float | None = None,
        faults: Faults | None = None,
        received_size: int = 1000,
    ) -> None:
        self.stats = FakeStats()
        self.received: deque[ReceivedRequest] = deque(maxlen=received_size)
        """The latest API requests, oldest first (bounded, so fleet tests do not grow it)."""
        self.clock = FakeClock()
        self.faults = faults or Faults()
        self.oauth = OAuthServer(
            client_id=client_id,
            client_secret=client_secret,
            redirect_uri=redirect_uri,
            token_lifetime=token_lifetime,
            token_latency=token_latency,
            scopes=scopes,
            include_scope=include_scope,
            clock=self.clock,
            stats=self.stats,
        )
        self.api = FakeAPI(
            merchant_id=merchant_id,
            fulfiller_id=fulfiller_id,
            chunk_size=chunk_size,
            clock=self.clock,
            stats=self.stats,
        )
        self.api.auto_ship_after = auto_ship_after
        self._environment: Environment | None = None

    # ------------------------------------------------------------------ configuration

    @property
    def credentials(self) -> ClientCredentials:
        """The client credentials the fake accepts."""
        return ClientCredentials(
            self.oauth.client_id, self.oauth.client_secret, self.oauth.redirect_uri
        )

    @property
    def environment(self) -> Environment:
        """The environment of the running server (only inside :meth:`run`)."""
        if self._environment is None:
            raise RuntimeError("the fake FFN server is not running; use `async with fake.run()`")
        return self._environment

    def issue_token(self, scopes: Iterable[str] | None = None) -> dict[str, Any]:
        """Log in without a browser: the token-endpoint JSON of a fresh login."""
        return self.oauth.issue_tokens(scopes)

    def token(self, scopes: Iterable[str] | None = None) -> Token:
        """:meth:`issue_token` as a :class:`~ffn_async.Token`."""
        return Token.from_response(self.issue_token(scopes))

    def is_valid_access_token(self, token: str) -> bool:
        """Whether the API would accept ``token`` now."""
        return self.oauth.is_valid_access_token(token)

    # ------------------------------------------------------------------ the application

    def app(self) -> web.Application:
        """The aiohttp application (mount it yourself, or use :meth:`run`)."""
        app = web.Application(middlewares=[self._count, self.faults.middleware(self.stats)])
        app.add_routes(self.oauth.routes())
        app.add_routes([web.get("/_fake/stats", self._stats)])
        api = web.Application(middlewares=[self._authorize])
        api.add_routes(self.api.routes())
        app.add_subapp("/api", api)
        return app

    @web.middleware
    async def _count(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith("/api/"):
            return await handler(request)
        route = request.match_info.route.resource
        template = route.canonical if route is not None else request.path
        self.stats.requests[f"{request.method} {template}"] += 1
        body, status = b"", 500  # unless read and answered
        try:
            body = await request.read()  # cached: the handler reads it again
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            self.received.append(
                ReceivedRequest(
                    method=request.method,
                    path=request.rel_url.raw_path,
                    query=tuple(request.query.items()),
                    body=body,
                    route=template,
                    status=status,
                )
            )

    @web.middleware
    async def _authorize(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Bearer check (401 with no body, as FFN) and scope check (403) per API area."""
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        scopes = self.oauth.access_token_scopes(token) if scheme.lower() == "bearer" else None
        if scopes is None:
            return web.Response(status=401, headers={"WWW-Authenticate": "Bearer"})
        needed = _needed_scope(request)
        if needed is not None and needed not in scopes:
            return error_response(
                403,
                "Shared_OperationForbidden",
                f"the access token lacks the scope {needed}",
                {"RequiredScope": needed},
            )
        try:
            return await handler(request)
        except ApiFailure as failure:
            return failure.response()
        except (web.HTTPNotFound, web.HTTPMethodNotAllowed) as exc:
            return error_response(exc.status, "Shared_NotFound", f"no such operation: {exc.reason}")

    async def _stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.stats.as_dict())

    # ------------------------------------------------------------------ serving

    @asynccontextmanager
    async def run(self, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[Environment]:
        """Serve on ``host:port`` (0: a free port) in this event loop; yield the environment."""
        runner = web.AppRunner(self.app(), access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        try:
            # A deep backlog: thousands of clients may connect at once in fleet tests.
            site = web.TCPSite(runner, host, port, backlog=4096)
            await site.start()
            bound_port = runner.addresses[0][1]
            base = f"http://{host}:{bound_port}"
            self._environment = Environment(
                api_url=f"{base}/api",
                authorize_url=f"{base}/authorize",
                token_url=f"{base}/token",
                name="fake",
            )
            shipper = asyncio.create_task(self.api.auto_ship())
            try:
                yield self._environment
            finally:
                shipper.cancel()
                with suppress(asyncio.CancelledError):
                    await shipper
        finally:
            self._environment = None
            await runner.cleanup()

    @contextmanager
    def run_in_thread(self, host: str = "127.0.0.1", port: int = 0) -> Iterator[Environment]:
        """Serve from a background thread with its own event loop (for blocking tests).

        Use it when the test's own loop blocks (``subprocess.run``, ``multiprocessing``), or
        from synchronous code. Change the fake's state from the test only between requests.
        """
        started = threading.Event()
        result: list[Environment | BaseException] = []
        loop = asyncio.new_event_loop()
        stop = asyncio.Event()

        async def serve() -> None:
            try:
                async with self.run(host, port) as env:
                    result.append(env)
                    started.set()
                    await stop.wait()
            except BaseException as exc:
                result.append(exc)
                started.set()
                raise

        thread = threading.Thread(
            target=lambda: loop.run_until_complete(serve()), name="ffn-fake", daemon=True
        )
        thread.start()
        started.wait()
        try:
            outcome = result[0]
            if isinstance(outcome, BaseException):
                raise RuntimeError(f"the fake FFN server did not start: {outcome}") from outcome
            yield outcome
        finally:
            loop.call_soon_threadsafe(stop.set)
            thread.join()
            loop.close()


def _needed_scope(request: web.Request) -> str | None:
    """``ffn.<area>.read`` for GET, ``.write`` otherwise; ``None`` for shared endpoints."""
    parts = request.path.split("/")  # ["", "api", "v1", area, ...]
    if len(parts) < 4 or parts[3] not in ("merchant", "fulfiller"):
        return None
    return f"ffn.{parts[3]}.{'read' if request.method in ('GET', 'HEAD') else 'write'}"
