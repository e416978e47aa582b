"""The request pipeline over real sockets: what goes on the wire, tracing, timeouts.

Kept apart from the aioresponses tests so CI can run these against every aiohttp line users
get (aioresponses cannot mock aiohttp 3.14 yet).
"""

from __future__ import annotations

import asyncio
import gc
import warnings
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from ffn_async import FFNClient, RetryPolicy, StaticToken
from ffn_async.errors import ERROR_BODY_KEEP, NotFound, ResponseTooLarge, TransportError

from ..conftest import environment_for

FAST = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.02, jitter=lambda c: c)


async def test_path_parameters_are_percent_encoded_and_odata_kept() -> None:
    """Checked on a real socket: aioresponses re-normalizes URLs and would hide the wire form."""
    seen: list[tuple[str, str]] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append((request.raw_path, request.query["$filter"]))
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    async with TestServer(app, host="127.0.0.1") as server:
        env = environment_for(server)
        async with FFNClient(StaticToken("t"), environment=env) as ffn:
            await ffn.request(
                "GET",
                "/v1/merchant/outbounds/{outboundId}",
                path_params={"outboundId": "A/B C%"},
                params={"$filter": "name eq 'O''Brien & Co'", "$top": 5, "flag": True, "x": None},
            )
    ((raw, odata_filter),) = seen
    assert raw == (
        "/api/v1/merchant/outbounds/A%2FB%20C%25"
        "?$filter=name%20eq%20'O''Brien%20%26%20Co'&$top=5&flag=true"
    )
    assert odata_filter == "name eq 'O''Brien & Co'"


async def test_trace_configs_on_a_real_socket() -> None:
    attempts: list[tuple[int, str]] = []

    async def on_start(
        session: aiohttp.ClientSession, ctx: object, params: aiohttp.TraceRequestStartParams
    ) -> None:
        info = ctx.trace_request_ctx  # type: ignore[attr-defined]
        attempts.append((info["attempt"], info["template"]))

    calls = 0

    async def handler(request: web.Request) -> web.Response:
        nonlocal calls
        calls += 1
        return web.Response(status=503) if calls == 1 else web.json_response({})

    app = web.Application()
    app.router.add_get("/api/v1/x/{id}", handler)
    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_start)
    async with TestServer(app, host="127.0.0.1") as server:
        env = environment_for(server)
        async with FFNClient(
            StaticToken("t"), environment=env, retry=FAST, trace_configs=[trace]
        ) as ffn:
            await ffn.request("GET", "/v1/x/{id}", path_params={"id": 1})
    assert attempts == [(1, "/v1/x/{id}"), (2, "/v1/x/{id}")]


@pytest.mark.parametrize("where", ["client", "caller-session", "per-call"])
async def test_timeouts_apply_wherever_they_are_set(where: str) -> None:
    """The owned session carries the client's timeout; a caller's session gets it per request."""

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return web.json_response({})

    app = web.Application()
    app.router.add_get("/api/v1/slow", slow)
    no_retry = RetryPolicy(max_attempts=1)
    async with TestServer(app, host="127.0.0.1") as server:
        env = environment_for(server)
        async with aiohttp.ClientSession() as caller_session:
            client_timeout = 60.0 if where == "per-call" else 0.2
            session = caller_session if where == "caller-session" else None
            async with FFNClient(
                StaticToken("t"),
                environment=env,
                retry=no_retry,
                timeout=client_timeout,
                session=session,
            ) as ffn:
                started = asyncio.get_running_loop().time()
                with pytest.raises(TransportError):
                    await ffn.request(
                        "GET", "/v1/slow", timeout=0.2 if where == "per-call" else None
                    )
                assert asyncio.get_running_loop().time() - started < 1.5


async def test_every_way_an_exchange_ends_hands_the_connection_back(tmp_path: Path) -> None:
    """The pipeline awaits the response instead of ``async with``: a body read to its end, an
    error body cut short, a body over the limit, a read cut by a timeout or a cancellation and
    a POST answered before its upload ended must each give the one pooled connection back (or
    close it), so the next request on a pool of one still gets through; no response is left
    unclosed (the loop in debug mode: aiohttp then warns of a response collected unclosed)."""
    asyncio.get_running_loop().set_debug(True)
    release_slow = asyncio.Event()

    async def ok(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def error(request: web.Request) -> web.Response:
        return web.Response(status=404, body=b"x" * (ERROR_BODY_KEEP * 4))

    async def big(request: web.Request) -> web.Response:
        return web.Response(body=b"[" + b"1," * 600 + b"1]", content_type="application/json")

    async def trickle(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.content_length = 100
        await response.prepare(request)
        await response.write(b"[1,")
        await release_slow.wait()  # the body never ends while the client waits
        return response

    async def trickle_error(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(status=500)  # chunked: read piece by piece
        await response.prepare(request)
        await response.write(b"oops")
        await release_slow.wait()
        return response

    async def early(request: web.Request) -> web.Response:
        return web.json_response({"early": True})  # answers without reading the upload

    app = web.Application()
    app.router.add_get("/api/v1/ok", ok)
    app.router.add_get("/api/v1/error", error)
    app.router.add_get("/api/v1/big", big)
    app.router.add_get("/api/v1/trickle", trickle)
    app.router.add_get("/api/v1/trickle-error", trickle_error)
    app.router.add_post("/api/v1/early", early)
    once = RetryPolicy(max_attempts=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with TestServer(app, host="127.0.0.1") as server:
            env = environment_for(server)
            async with FFNClient(
                StaticToken("t"),
                environment=env,
                retry=once,
                connector_limit=1,
                max_response_size=1000,
                safe_creates=False,
            ) as ffn:

                async def next_request_gets_through() -> None:
                    assert await asyncio.wait_for(ffn.request("GET", "/v1/ok"), 5) == {"ok": True}

                await next_request_gets_through()
                await next_request_gets_through()
                with pytest.raises(NotFound):
                    await ffn.request("GET", "/v1/error")
                await next_request_gets_through()
                with pytest.raises(ResponseTooLarge):
                    await ffn.request("GET", "/v1/big")
                await next_request_gets_through()
                with pytest.raises(TransportError):
                    await ffn.request("GET", "/v1/trickle", timeout=0.3)
                await next_request_gets_through()
                task = asyncio.ensure_future(ffn.request("GET", "/v1/trickle"))
                await asyncio.sleep(0.3)
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
                await next_request_gets_through()
                with pytest.raises(TransportError):
                    await ffn.request("GET", "/v1/trickle-error", timeout=0.3)
                await next_request_gets_through()
                with pytest.raises(TransportError):
                    await ffn.request_raw("GET", "/v1/trickle", dest=tmp_path / "f", timeout=0.3)
                assert not (tmp_path / "f").exists()
                await next_request_gets_through()
                upload = {"data": "y" * 4_000_000}
                assert await asyncio.wait_for(
                    ffn.request("POST", "/v1/early", json=upload), 10
                ) == {"early": True}
                await next_request_gets_through()
                release_slow.set()
        gc.collect()
    unclosed = [str(w.message) for w in caught if "nclosed" in str(w.message)]
    assert not unclosed
