"""Credentials stay out of exceptions on the paths that once decoded an answer after the pipeline.

A safe create's answer was decoded after the creates step returned it (now ``send`` decodes it
inside the pipeline, as every answer), and ``request_raw(...).json()`` decodes wherever the
caller calls it: both raised a ``DecodeError`` quoting the bearer token a proxy's page echoed.
Cookies (sent by the caller, set by an answer) are credentials too.
"""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Awaitable, Callable
from urllib.parse import quote

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from ffn_async import Environment, FFNClient, StaticToken
from ffn_async.api import creates
from ffn_async.errors import ApiError, DecodeError, TransportError
from ffn_async.ordersync.outbox import Outbox
from token_stores import MemoryTokenStore

from ..conftest import environment_for
from ..ordersync import builders
from .test_secrets import OPAQUE, pieces

COOKIE = "sessionid-Q1w2E3r4T5y6U7i8O9p0"
SET_COOKIE = "lb-sticky-Z9x8C7v6B5n4M3"


async def _echo(request: web.Request) -> web.Response:
    """A proxy's page quoting what it was sent, as a success (201 for a POST)."""
    await request.read()
    sent = request.headers.get("Authorization", "")
    cookie = request.headers.get("Cookie", "")
    page = f"<html>you sent: {sent} ({quote(sent, safe='')}) cookie: {cookie}</html>"
    status = 201 if request.method == "POST" else 200
    return web.Response(status=status, text=page, content_type="text/html")


def _shown(exc: BaseException) -> str:
    body = getattr(exc, "body", b"")
    texts = [str(exc), repr(exc), body.decode(errors="replace")]
    return "\n".join([*texts, "".join(traceback.format_exception(exc))])


async def _create_typed(ffn: FFNClient) -> object:
    return await ffn.merchant.products.create(builders.product("SKU-1"))


async def _create_raw(ffn: FFNClient) -> object:
    body = builders.product("SKU-1")
    return await ffn.request("POST", "/v1/merchant/products", json=body)


async def _raw_then_json(ffn: FFNClient) -> object:
    response = await ffn.request_raw("GET", "/v1/users/current")
    return response.json()


async def _created_raw_then_json(ffn: FFNClient) -> object:
    response = await ffn.request_raw(
        "POST", "/v1/merchant/products", json=builders.product("SKU-1")
    )
    return response.json()


async def _outbox_submit(ffn: FFNClient) -> object:
    """The outbox reads a sent create's answer itself: not kept, and redacted like the rest."""
    outbox = Outbox(MemoryTokenStore(), "acct")
    try:
        return await outbox.submit(ffn, creates.PRODUCT, builders.product("SKU-1"))
    finally:
        assert await outbox.entries() == []


@pytest.mark.parametrize("safe_creates", [True, False], ids=["safe-create", "plain"])
@pytest.mark.parametrize(
    "call",
    [
        pytest.param(_outbox_submit, id="outbox-submit"),
        pytest.param(_create_typed, id="typed-create"),
        pytest.param(_create_raw, id="request-create"),
        pytest.param(_raw_then_json, id="request_raw-json"),
        pytest.param(_created_raw_then_json, id="request_raw-create-json"),
    ],
)
async def test_an_answer_decoded_after_the_pipeline_keeps_no_credential(
    call: Callable[[FFNClient], Awaitable[object]], safe_creates: bool
) -> None:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", _echo)
    async with TestServer(app, host="127.0.0.1") as server:
        env = environment_for(server)
        async with FFNClient(
            StaticToken(OPAQUE), environment=env, safe_creates=safe_creates
        ) as ffn:
            with pytest.raises(DecodeError) as info:
                await call(ffn)
    exc = info.value
    assert b"you sent: Bearer <redacted>" in exc.body  # still useful: what the proxy said
    shown = _shown(exc)
    assert not [p for p in pieces(OPAQUE) if p in shown]


async def test_a_cookie_the_caller_sent_is_redacted_like_a_token() -> None:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", _echo)
    async with TestServer(app, host="127.0.0.1") as server:
        env = environment_for(server)
        async with FFNClient(StaticToken(OPAQUE), environment=env) as ffn:
            response = await ffn.request_raw(
                "GET", "/v1/users/current", headers={"Cookie": f"session={COOKIE}; theme=dark"}
            )
            with pytest.raises(DecodeError) as info:
                response.json()
    shown = _shown(info.value)
    assert "cookie: session=<redacted>" in shown
    assert not [p for p in pieces(OPAQUE, COOKIE) if p in shown]


async def test_a_cookie_an_error_answer_sets_is_not_kept_on_the_exception() -> None:
    async def refuse(request: web.Request) -> web.Response:
        response = web.json_response({"errorCode": "x"}, status=400)
        response.headers["Set-Cookie"] = f"sticky={SET_COOKIE}; Path=/; HttpOnly"
        return response

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", refuse)
    async with TestServer(app, host="127.0.0.1") as server:
        env = environment_for(server)
        async with FFNClient(StaticToken(OPAQUE), environment=env) as ffn:
            with pytest.raises(ApiError) as info:
                await ffn.request("GET", "/v1/users/current")
    headers = info.value.headers
    assert headers is not None
    assert headers["Set-Cookie"] == "sticky=<redacted>; Path=/; HttpOnly"
    assert SET_COOKIE not in _shown(info.value)


async def test_a_cookie_from_the_jar_quoted_back_is_redacted() -> None:
    async def set_then_echo(request: web.Request) -> web.Response:
        if request.path.endswith("/login"):
            response = web.json_response({})
            response.set_cookie("sticky", SET_COOKIE)
            return response
        return await _echo(request)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", set_then_echo)
    async with TestServer(app, host="127.0.0.1") as server:
        env = environment_for(server)
        # unsafe=True: a jar takes cookies from an IP address (127.0.0.1) only then.
        jar = aiohttp.CookieJar(unsafe=True)
        async with (
            aiohttp.ClientSession(cookie_jar=jar) as session,
            FFNClient(StaticToken(OPAQUE), environment=env, session=session) as ffn,
        ):
            await ffn.request("GET", "/v1/login")
            with pytest.raises(DecodeError) as info:
                await ffn.request("GET", "/v1/users/current")
    shown = _shown(info.value)
    assert "cookie: sticky=<redacted>" in shown
    assert SET_COOKIE not in shown


async def test_a_transport_error_quotes_neither_the_query_nor_an_echoed_token() -> None:
    """aiohttp's text for an answer it cannot parse quotes the full URL and the start of the
    offending header line: a proxy echoing the Authorization header there leaked the token,
    and a signed link's query its signature."""

    async def echo_in_a_huge_header(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
        sent = next(line for line in head.split("\r\n") if line.startswith("Authorization"))
        writer.write(f"HTTP/1.1 200 OK\r\nX-Echo: {sent}{'a' * 9000}\r\n\r\n".encode())
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo_in_a_huge_header, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    env = Environment(f"{base}/api", f"{base}/authorize", f"{base}/token", name="echo")
    signature = "sig-Zq8Wm3Kx9Lp2Vn7R"
    async with server, FFNClient(StaticToken(OPAQUE), environment=env) as ffn:
        with pytest.raises(TransportError) as info:
            await ffn.request("GET", f"/v1/chunk?signature={signature}", idempotent=False)
    shown = _shown(info.value)
    assert "Got more than" in shown  # aiohttp's reason is kept
    assert "/api/v1/chunk" in shown
    assert signature not in shown
    assert not [p for p in pieces(OPAQUE) if p in shown]
