"""Fault injection: latency, 429, 503 with an HTML page, dropped connections, echoed credentials.

Each kind has a rate (0.0 to 1.0) drawn from a seeded RNG, so a failing run can be replayed;
:meth:`Faults.inject_next` forces faults on the next requests regardless of the rates.
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from typing import Literal
from urllib.parse import quote

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from .stats import FakeStats

__all__ = ["FaultKind", "Faults"]

FaultKind = Literal["latency", "rate_limit", "unavailable", "drop", "drop_after", "echo"]
"""``drop``: the connection is closed before the request is processed. ``drop_after``: a
non-GET request is processed, then the connection is closed without an answer (it reached the
server but the answer was lost). ``echo`` (only through :meth:`Faults.inject_next`): a 400 that
quotes the request's ``Authorization`` back, as a careless proxy or debug page might: whole,
percent-encoded and cut in two, in the body's messages, metadata and a response header (to
check that credentials never reach errors or logs)."""


_HTML_503 = (
    "<!DOCTYPE html><html><head><title>503 Service Unavailable</title></head>"
    "<body><h1>Service Unavailable</h1><p>The server is temporarily busy.</p></body></html>"
)


class Faults:
    """Rates and a queue of forced faults; apply with :meth:`middleware`.

    Args:
        latency: seconds added to a request picked at ``latency_rate``.
        rate_limit: share of requests answered 429 with ``Retry-After: retry_after``.
        unavailable: share answered 503 with an HTML body.
        drop: share whose connection is closed before processing.
        drop_after: share of non-GET requests processed and then dropped unanswered.
        include_token_endpoint: also inject on ``/token`` (off: OAuth stays reliable).
        seed: RNG seed; the same seed and request order give the same faults.
    """

    def __init__(
        self,
        *,
        latency: float = 0.0,
        latency_rate: float = 0.0,
        rate_limit: float = 0.0,
        retry_after: float = 1.0,
        unavailable: float = 0.0,
        drop: float = 0.0,
        drop_after: float = 0.0,
        include_token_endpoint: bool = False,
        seed: int = 0,
    ) -> None:
        self.latency = latency
        self.latency_rate = latency_rate
        self.rate_limit = rate_limit
        self.retry_after = retry_after
        self.unavailable = unavailable
        self.drop = drop
        self.drop_after = drop_after
        self.include_token_endpoint = include_token_endpoint
        self.rng = random.Random(seed)
        self._forced: deque[FaultKind] = deque()
        self.fail_writes: set[str] = set()
        """Writes whose body contains one of these strings are answered 500, every time (a
        create FFN keeps failing while it takes others)."""
        self.hang_writes: set[str] = set()
        """Writes whose body contains one of these strings get no answer until :meth:`clear`
        (a client stuck in that request, to be killed)."""
        self._unhang = asyncio.Event()

    def inject_next(self, *kinds: FaultKind) -> None:
        """Force these faults, in order, on the next eligible requests (one per request)."""
        self._forced.extend(kinds)

    def clear(self) -> None:
        """Set every rate to zero and forget forced faults."""
        self.latency_rate = self.rate_limit = self.unavailable = self.drop = self.drop_after = 0.0
        self._forced.clear()
        self.fail_writes.clear()
        self.hang_writes.clear()
        self._unhang.set()
        self._unhang = asyncio.Event()

    async def _targeted(self, request: web.Request) -> web.StreamResponse | None:
        """The answer to a write named by :attr:`fail_writes` or :attr:`hang_writes`, if any."""
        body = await request.read()  # cached: the handler reads it again
        if any(text.encode() in body for text in self.hang_writes):
            await self._unhang.wait()
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=500, text="connection dropped")
        if any(text.encode() in body for text in self.fail_writes):
            return web.json_response(
                {"errorCode": {"code": "InternalError", "description": "this write fails"}},
                status=500,
            )
        return None

    def _pick(self, writes: bool) -> FaultKind | None:
        if self._forced:
            return self._forced.popleft()
        for kind, rate in (
            ("drop", self.drop),
            ("unavailable", self.unavailable),
            ("rate_limit", self.rate_limit),
            ("drop_after", self.drop_after if writes else 0.0),
            ("latency", self.latency_rate),
        ):
            if rate > 0 and self.rng.random() < rate:
                return kind  # type: ignore[return-value]
        return None

    def middleware(self, stats: FakeStats) -> Middleware:
        """An aiohttp middleware that injects faults on API (and optionally token) requests."""

        @web.middleware
        async def inject(request: web.Request, handler: Handler) -> web.StreamResponse:
            path = request.path
            eligible = path.startswith("/api/") or (
                self.include_token_endpoint and path == "/token"
            )
            if eligible and request.method != "GET" and (self.fail_writes or self.hang_writes):
                answer = await self._targeted(request)
                if answer is not None:
                    return answer
            kind = self._pick(request.method != "GET") if eligible else None
            if kind is None:
                return await handler(request)
            stats.faults[kind] += 1
            if kind == "latency":
                await asyncio.sleep(self.latency)
                return await handler(request)
            if kind == "rate_limit":
                return web.json_response(
                    {"errorCode": {"code": "TooManyRequests", "description": "rate limited"}},
                    status=429,
                    headers={"Retry-After": f"{self.retry_after:g}"},
                )
            if kind == "unavailable":
                return web.Response(status=503, text=_HTML_503, content_type="text/html")
            if kind == "echo":
                return _echo(request)
            if kind == "drop_after":
                await handler(request)
            if request.transport is not None:
                request.transport.abort()
            # Returned, not raised: aiohttp logs a handler's exception with a traceback, while
            # a response to an aborted transport is simply never sent.
            return web.Response(status=500, text="connection dropped")

        return inject


def _echo(request: web.Request) -> web.Response:
    """400 quoting the request's ``Authorization`` header back (the ``echo`` fault)."""
    header = request.headers.get("Authorization", "")
    credential = header.partition(" ")[2] or header
    half = len(credential) // 2
    body = {
        "errorCode": {"code": "Shared_Echo", "description": f"rejected {header}"},
        "errorMessages": [
            {"message": f"token {credential} is not accepted"},
            {"message": f"token={quote(credential, safe='')}", "target": "query"},
        ],
        "errorMetaData": {"tokenStart": credential[:half], "tokenEnd": credential[half:]},
    }
    return web.Response(
        status=400,
        body=orjson.dumps(body),
        content_type="application/json",
        headers={"X-Echo-Authorization": header},
    )
