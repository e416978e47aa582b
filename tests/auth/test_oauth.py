"""Direct tests of :mod:`ffn_async.auth.oauth`: the authorize URL and the token endpoint's
answers."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Awaitable, Callable
from urllib.parse import parse_qs, quote

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from ffn_async import ClientCredentials, Environment
from ffn_async.auth.oauth import (
    InvalidGrant,
    authorize_url,
    basic_authorization,
    request_token,
    scrub,
)
from ffn_async.errors import InvalidClient, TokenEndpointError, TransportError
from tests.conftest import environment_for

CREDS = ClientCredentials("client-id", "s3cr3t-client-secret", "http://127.0.0.1:8765/callback")
REFRESH = "refresh-token-value-0123456789"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def test_authorize_url_carries_the_code_flow_parameters(env: Environment) -> None:
    url = authorize_url(env, CREDS, ["ffn.merchant.read", "ffn.merchant.write"], "state-1")
    assert url.with_query(None) == env.authorize_url
    assert dict(url.query) == {
        "response_type": "code",
        "client_id": "client-id",
        "scope": "ffn.merchant.read ffn.merchant.write",
        "state": "state-1",
        "redirect_uri": "http://127.0.0.1:8765/callback",
    }
    no_redirect = authorize_url(env, ClientCredentials("c", "s"), [], "s")
    assert "redirect_uri" not in no_redirect.query
    assert "s3cr3t" not in str(url)  # the secret never goes to the browser


def test_basic_authorization_is_rfc_7617() -> None:
    value = basic_authorization(CREDS)
    assert value.startswith("Basic ")
    assert base64.b64decode(value.removeprefix("Basic ")) == b"client-id:s3cr3t-client-secret"


def test_scrub_removes_secrets_whole_encoded_or_in_part() -> None:
    secret = "abc+def/ghi=jklmnop"
    text = f"bad token {secret} or {quote(secret, safe='')} or {secret[:10]} end\x00\x1b"
    clean = scrub(text, [secret, None, "c"])
    assert secret not in clean
    assert secret[:10] not in clean
    assert "%2B" not in clean
    assert "\x00" not in clean
    assert "\x1b" not in clean
    assert clean.startswith("bad token <redacted>")
    assert scrub("x" * 500, [], limit=10) == "x" * 10 + "…"


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Handler], Awaitable[Environment]]]:
    servers: list[TestServer] = []

    async def start(handler: Handler) -> Environment:
        app = web.Application()
        app.router.add_post("/token", handler)
        server = TestServer(app)
        await server.start_server()
        servers.append(server)
        return environment_for(server)

    yield start
    for server in servers:
        await server.close()


async def _call(env: Environment, form: dict[str, str] | None = None) -> object:
    async with aiohttp.ClientSession() as session:
        return await request_token(
            session,
            env,
            CREDS,
            form or {"grant_type": "refresh_token", "refresh_token": REFRESH},
            timeout=5,
        )


async def test_a_token_answer_is_parsed_and_the_request_is_well_formed(serve) -> None:  # type: ignore[no-untyped-def]
    seen: dict[str, object] = {}

    async def handler(request: web.Request) -> web.Response:
        seen["authorization"] = request.headers.get("Authorization")
        seen["accept"] = request.headers.get("Accept")
        seen["form"] = parse_qs(await request.text())
        return web.json_response(
            {"access_token": "new-access-token", "refresh_token": "new-refresh", "expires_in": 60}
        )

    env = await serve(handler)
    token = await _call(env)
    assert token.access_token == "new-access-token"  # type: ignore[attr-defined]
    assert token.refresh_token == "new-refresh"  # type: ignore[attr-defined]
    assert seen["authorization"] == basic_authorization(CREDS)
    assert seen["accept"] == "application/json"
    assert seen["form"] == {"grant_type": ["refresh_token"], "refresh_token": [REFRESH]}


@pytest.mark.parametrize("status", [301, 302, 307, 308])
async def test_a_redirect_is_refused_and_not_followed(serve, status: int) -> None:  # type: ignore[no-untyped-def]
    followed: list[str] = []

    async def elsewhere(request: web.Request) -> web.Response:
        followed.append(await request.text())
        return web.json_response({"access_token": "stolen"})

    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=status, headers={"Location": "https://evil.test/token"})

    env = await serve(handler)
    with pytest.raises(TokenEndpointError, match="'evil.test'.*not followed") as info:
        await _call(env)
    assert info.value.status == status
    assert REFRESH not in str(info.value)
    assert followed == []


@pytest.mark.parametrize(
    ("status", "body", "error", "match"),
    [
        (
            400,
            {"error": "invalid_grant", "error_description": "used"},
            InvalidGrant,
            "invalid_grant",
        ),
        (400, {"error": "invalid_client"}, InvalidClient, "client 'client-id'"),
        (401, None, InvalidClient, "client 'client-id'"),
        (400, {"error": "invalid_request"}, TokenEndpointError, "invalid_request"),
        (500, {"oops": 1}, TokenEndpointError, "no OAuth error code"),
        (200, {"access_token": ""}, TokenEndpointError, "without a usable token"),
        (200, {"error": "server_error"}, TokenEndpointError, "server_error"),
    ],
)
async def test_error_answers_become_typed_errors(  # type: ignore[no-untyped-def]
    serve, status: int, body: object, error: type[Exception], match: str
) -> None:
    async def handler(request: web.Request) -> web.Response:
        if body is None:
            return web.Response(status=status)
        return web.json_response(body, status=status)

    env = await serve(handler)
    with pytest.raises(error, match=match) as info:
        await _call(env)
    assert type(info.value) is error
    assert info.value.status == status  # type: ignore[attr-defined]


async def test_an_echoed_secret_is_scrubbed_from_the_error(serve) -> None:  # type: ignore[no-untyped-def]
    async def handler(request: web.Request) -> web.Response:
        return web.json_response(
            {"error": "invalid_grant", "error_description": f"token {REFRESH} is dead"},
            status=400,
        )

    env = await serve(handler)
    with pytest.raises(InvalidGrant) as info:
        await _call(env)
    assert REFRESH not in str(info.value)
    assert "<redacted>" in str(info.value)


@pytest.mark.parametrize(
    ("content_type", "body", "match"),
    [
        ("text/html", b"<html>login</html>", "an HTML page"),
        ("application/json", b"{not json", "malformed JSON"),
        ("application/json", b"", "empty body"),
    ],
)
async def test_non_json_answers_name_what_came_back(  # type: ignore[no-untyped-def]
    serve, content_type: str, body: bytes, match: str
) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=200, body=body, content_type=content_type)

    env = await serve(handler)
    with pytest.raises(TokenEndpointError, match=match):
        await _call(env)


async def test_an_unreachable_endpoint_is_a_transport_error_never_sent() -> None:
    env = Environment(
        api_url="http://127.0.0.1:1/api",
        authorize_url="http://127.0.0.1:1/authorize",
        token_url="http://127.0.0.1:1/token",
    )
    with pytest.raises(TransportError, match="cannot reach the token endpoint") as info:
        await _call(env)
    assert info.value.sent is False
