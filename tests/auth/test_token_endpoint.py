"""What the token endpoint may answer, and what never leaves or enters the client because of it.

Redirects are never followed (the body carries the grant), token responses are validated
before anything is stored, and server text is scrubbed of every secret the request carried.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from ffn_async import ClientCredentials, Token, TokenManager
from ffn_async.auth.oauth import MAX_TOKEN_ANSWER_SIZE
from ffn_async.errors import InvalidClient, ResponseTooLarge, TokenEndpointError
from ffn_async.token import MAX_EXPIRES_IN
from tests.http_mock import aioresponses
from token_stores import MemoryTokenStore

from ..conftest import TEST_ENV, environment_for, token_response

TOKEN_URL = str(TEST_ENV.token_url)
SECRET = "s3cr3t-client-secret"


@pytest.fixture
async def thief() -> AsyncIterator[tuple[TestServer, list[dict[str, Any]]]]:
    """Another host that would happily take a refresh token and hand out its own tokens."""
    received: list[dict[str, Any]] = []

    async def token(request: web.Request) -> web.Response:
        received.append(dict(await request.post()))
        return web.json_response(token_response())

    app = web.Application()
    app.router.add_post("/token", token)
    async with TestServer(app, host="127.0.0.1") as server:
        yield server, received


async def _redirecting_endpoint(target: str, status: int) -> TestServer:
    async def token(request: web.Request) -> web.Response:
        await request.read()
        raise (
            web.HTTPTemporaryRedirect(target)
            if status == 307
            else web.HTTPPermanentRedirect(target)
        )

    app = web.Application()
    app.router.add_post("/token", token)
    return TestServer(app, host="127.0.0.1")


@pytest.mark.parametrize("status", [307, 308])
@pytest.mark.parametrize("grant", ["refresh_token", "authorization_code"])
async def test_a_redirect_from_the_token_endpoint_is_never_followed(
    creds: ClientCredentials,
    thief: tuple[TestServer, list[dict[str, Any]]],
    grant: str,
    status: int,
) -> None:
    thief_server, received = thief
    target = str(thief_server.make_url("/token"))
    async with await _redirecting_endpoint(target, status) as server:
        env = environment_for(server)
        store = MemoryTokenStore()
        async with TokenManager(creds, store, key="acct", environment=env) as auth:
            if grant == "refresh_token":
                old = Token("old-access", "refresh-that-must-stay-home", time.time() - 5)
                await auth.store_token(old)
                call = auth.access_token()
            else:
                call = auth.exchange_code("code-that-must-stay-home")
            with pytest.raises(TokenEndpointError) as caught:
                await call
            stored = await auth.stored()
    assert received == []  # the grant never reached the other host
    assert caught.value.status == status
    assert "'127.0.0.1'" in str(caught.value)  # names the target's host
    assert "not followed" in str(caught.value)
    assert "must-stay-home" not in str(caught.value)
    if grant == "refresh_token":
        assert stored.token is not None
        assert stored.token.access_token == "old-access"  # nothing from elsewhere was stored
    else:
        assert stored.token is None


@pytest.mark.parametrize(
    "literal",
    [
        '"inf"',
        '"Infinity"',
        '"NaN"',
        '"-5"',
        '"1e999"',
        "1e999",
        "true",
        "false",
        "0",
        "-1",
        "-0.5",
        "1" + "0" * 400,
        str(400 * 86400),
        "[]",
        "{}",
        '"soon"',
        '"3600 s"',
        '""',
    ],
)
@pytest.mark.parametrize("with_refresh_token", [True, False], ids=["rotated", "no-refresh"])
async def test_unusable_expires_in_is_repaired_only_when_a_refresh_token_came(
    creds: ClientCredentials, literal: str, with_refresh_token: bool
) -> None:
    """An answer carrying a refresh token is kept (the grant is spent), with ``expires_in``
    clamped or defaulted; without a refresh token nothing was issued and nothing is stored."""
    store = MemoryTokenStore()
    answer = {**token_response(), "expires_in": "__X__"}
    if not with_refresh_token:
        del answer["refresh_token"]
    # The JSON text is built by hand: orjson would not write 1e999 or a 400-digit integer.
    body = orjson.dumps(answer).decode().replace('"__X__"', literal)
    try:
        orjson.loads(body)
        readable = True
    except orjson.JSONDecodeError:
        readable = False  # not JSON at all: nothing can be read from it
    async with TokenManager(creds, store, key="acct", environment=TEST_ENV) as auth:
        with aioresponses() as mock:
            mock.post(TOKEN_URL, body=body, content_type="application/json")
            if with_refresh_token and readable:
                token = await auth.exchange_code("c")
            else:
                with pytest.raises(TokenEndpointError, match="expires_in|malformed JSON"):
                    await auth.exchange_code("c")
    if with_refresh_token and readable:
        stored = await auth.stored()
        assert stored.token == token
        assert token.refresh_token == answer["refresh_token"]
        assert 0 < token.expires_in() <= MAX_EXPIRES_IN
    else:
        assert await store.load("acct") is None


@pytest.mark.parametrize("expires_in", [1800, 1800.5, "3600", 1, None])
async def test_usable_expires_in_is_accepted(creds: ClientCredentials, expires_in: object) -> None:
    answer = token_response()
    if expires_in is None:
        del answer["expires_in"]
    else:
        answer["expires_in"] = expires_in
    async with TokenManager(creds, MemoryTokenStore(), key="acct", environment=TEST_ENV) as auth:
        with aioresponses() as mock:
            mock.post(TOKEN_URL, payload=answer)
            token = await auth.exchange_code("c")
        stored = await auth.stored()
    assert stored.token == token
    assert 0 < token.expires_in() <= 3600


@pytest.mark.parametrize("access", ["has space", "line\nbreak", "x" * 20000, "\u00e9t\u00e9"])
async def test_an_access_token_a_header_cannot_carry_is_refused(
    creds: ClientCredentials, access: str
) -> None:
    """Never sent; the refresh token that came with it is kept, so the next call refreshes."""
    store = MemoryTokenStore()
    answer = {**token_response(), "access_token": access}
    async with TokenManager(creds, store, key="acct", environment=TEST_ENV) as auth:
        with aioresponses() as mock:
            mock.post(TOKEN_URL, payload=answer)
            with pytest.raises(TokenEndpointError, match="no usable access token"):
                await auth.exchange_code("c")
        stored = await auth.stored()
    assert stored.token is not None
    assert stored.token.refresh_token == answer["refresh_token"]
    assert stored.token.access_token == ""
    assert stored.token.is_expired()


async def test_an_unusable_access_token_without_refresh_token_stores_nothing(
    creds: ClientCredentials,
) -> None:
    store = MemoryTokenStore()
    answer = {**token_response(), "access_token": "has space"}
    del answer["refresh_token"]
    async with TokenManager(creds, store, key="acct", environment=TEST_ENV) as auth:
        with aioresponses() as mock:
            mock.post(TOKEN_URL, payload=answer)
            with pytest.raises(TokenEndpointError, match="access_token"):
                await auth.exchange_code("c")
    assert await store.load("acct") is None


async def test_an_echoed_request_is_scrubbed_from_error_and_description(
    creds: ClientCredentials, caplog: pytest.LogCaptureFixture
) -> None:
    """A server that echoes the request puts secrets into ``error``: none reach the caller."""
    refresh = "refresh-ABCDEFGH12345678/+="
    store = MemoryTokenStore()
    async with TokenManager(creds, store, key="acct", environment=TEST_ENV) as auth:
        await auth.store_token(Token("old-access", refresh, time.time() - 5))
        echo = f"grant_type=refresh_token&refresh_token={refresh}"
        from urllib.parse import quote_plus

        answers: list[dict[str, Any]] = [
            {"status": 400, "payload": {"error": echo, "error_description": SECRET}},
            {"status": 400, "payload": {"error": quote_plus(refresh), "error_description": "x"}},
            {
                "status": 401,
                "payload": {"error": f"bad {SECRET}", "error_description": SECRET[:12]},
            },
            {
                "status": 400,
                "payload": {"error": ["list", refresh], "error_description": refresh[:14]},
            },
        ]
        caught: list[Exception] = []
        for answer in answers:
            with aioresponses() as mock:
                mock.post(TOKEN_URL, **answer)
                with pytest.raises(TokenEndpointError) as info:
                    await auth.refresh()
            caught.append(info.value)
    assert isinstance(caught[2], InvalidClient)
    texts = [str(e) for e in caught] + [str(getattr(e, "error", "")) for e in caught]
    texts += [r.getMessage() for r in caplog.records]
    blob = "\n".join(texts)
    for secret in (refresh, quote_plus(refresh), SECRET, SECRET[:12], refresh[:14], "ABCDEFGH"):
        assert secret not in blob
    assert "<redacted>" in blob


def test_stored_records_never_hold_an_unreadable_expiry() -> None:
    with pytest.raises(ValueError, match="finite"):
        Token.from_dict({"access_token": "a", "refresh_token": "r", "expires_at": float("inf")})


@pytest.mark.parametrize("announced", [True, False], ids=["content-length", "chunked"])
async def test_an_oversized_token_answer_is_not_read(
    creds: ClientCredentials, announced: bool
) -> None:
    """A token answer beyond MAX_TOKEN_ANSWER_SIZE raises ResponseTooLarge, as an API answer
    beyond its limit does; the reading stops there (here a 4 MiB stream: the server is told
    to stop by the connection closing, long before the end)."""
    chunk = b" " * 65536
    sent: list[int] = []

    async def huge(request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        if announced:
            response.content_length = 64 * len(chunk)
        await response.prepare(request)
        try:
            for _ in range(64):
                await response.write(chunk)
                sent.append(len(chunk))
        except (ConnectionError, RuntimeError):
            pass
        return response

    app = web.Application()
    app.router.add_post("/token", huge)
    async with TestServer(app, host="127.0.0.1") as server:
        env = environment_for(server)
        store = MemoryTokenStore()
        async with TokenManager(creds, store, key="acct", environment=env) as auth:
            await auth.store_token(Token("old-access", "refresh-kept-1234", time.time() - 5))
            with pytest.raises(ResponseTooLarge) as caught:
                await auth.access_token()
            stored = await auth.stored()
    assert caught.value.limit == MAX_TOKEN_ANSWER_SIZE
    assert "token" in str(caught.value)
    assert "FFNClient(" not in str(caught.value)  # no client setting changes this limit
    assert stored.rotating_by is None  # nothing usable was issued: the mark was lifted
    assert sum(sent) < 4 * 1024 * 1024
