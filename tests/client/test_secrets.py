"""No access token, refresh token or client secret in any log record, repr or exception text."""

from __future__ import annotations

import asyncio
import base64
import logging
import time
import traceback
from collections.abc import Awaitable, Callable
from urllib.parse import quote, quote_plus

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from ffn_async import ClientCredentials, FFNClient, StaticToken, Token, TokenManager
from ffn_async.errors import ApiError, DecodeError
from ffn_async.testing.oauth import OAuthServer
from ffn_async.testing.pytest_plugin import RunningFake
from token_stores import MemoryTokenStore

from ..conftest import environment_for

SECRET = "client-secret-XYZZY"


async def test_secrets_never_reach_logs_reprs_or_errors(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    creds = ClientCredentials("client-id", SECRET, "http://127.0.0.1/callback")
    oauth = OAuthServer(client_id="client-id", client_secret=SECRET, token_lifetime=1800)
    seen_tokens: set[str] = set()
    texts: list[str] = []

    async def api(request: web.Request) -> web.Response:
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            seen_tokens.add(header[7:])
        if request.path.endswith("/fail"):
            return web.json_response(
                {"errorCode": {"code": "X"}, "errorMessages": [{"message": "nope"}]}, status=400
            )
        if request.path.endswith("/down"):
            return web.Response(status=503, text="<html>down</html>", content_type="text/html")
        if not oauth.is_valid_access_token(header[7:]):
            return web.Response(status=401)
        return web.json_response({"userId": "MERC"})

    app = web.Application()
    app.add_routes(oauth.routes())
    app.router.add_get("/api/{tail:.*}", api)
    async with TestServer(app, host="127.0.0.1") as server:
        env = environment_for(server)
        store = MemoryTokenStore()
        auth = TokenManager(creds, store, key="acct", environment=env, request_timeout=0.5)
        url, state = auth.authorization_url(["ffn.merchant.read"])
        async with FFNClient(auth) as ffn:
            # The whole flow: authorize, exchange, request, refresh (expired), 401-refresh.
            async with ffn._http().get(url, allow_redirects=False) as redirect:
                code = redirect.headers["Location"].split("code=")[1].split("&")[0]
            token = await auth.exchange_code(code, state=state)
            await ffn.request("GET", "/v1/users/current")
            await auth.store_token(
                Token(token.access_token, token.refresh_token, time.time() - 1, scopes=token.scopes)
            )
            await ffn.request("GET", "/v1/users/current")
            oauth.clock.advance(4000)
            await ffn.request("GET", "/v1/users/current")
            texts += [repr(auth), repr(ffn), repr(await auth.token()), str(await auth.stored())]
            texts += [repr(creds), str(creds), repr(store), repr(await store.load("acct"))]
            failures: list[BaseException] = []
            for path in ("/v1/fail", "/v1/down"):
                try:
                    await ffn.request("GET", path)
                except Exception as exc:
                    failures.append(exc)
            # Failures of the token endpoint: wrong secret, reused refresh token, bad code.
            bad = TokenManager(
                ClientCredentials("client-id", "wrong-" + SECRET), store, key="b", environment=env
            )
            for call in (bad.exchange_code("nope"), auth.exchange_code("used-code")):
                try:
                    await call
                except Exception as exc:
                    failures.append(exc)
            stale = await auth.stored()
            assert stale.token is not None
            assert stale.token.refresh_token
            await auth.store_token(Token(stale.token.access_token, "r-unknown", time.time() - 1))
            try:
                await auth.access_token()
            except Exception as exc:
                failures.append(exc)
            await bad.aclose()
    assert len(failures) == 5
    for exc in failures:
        texts.append(str(exc))
        texts.append(repr(exc))
        texts.append("".join(traceback.format_exception(exc)))
    texts += [record.getMessage() for record in caplog.records]
    texts += [str(record.args) for record in caplog.records]

    secrets = {SECRET, "wrong-" + SECRET, code} | seen_tokens
    for record in oauth._refresh:  # every refresh token the server ever issued
        secrets.add(record)
    assert len(seen_tokens) >= 3
    assert len(secrets) >= 6
    blob = "\n".join(texts)
    leaked = sorted(s for s in secrets if s in blob)
    assert leaked == [], f"secrets leaked: {[s[:6] + '…' for s in leaked]}"
    assert any("refreshed token" in r.getMessage() for r in caplog.records)  # logging did run
    await asyncio.sleep(0)


# An opaque token with the characters percent-encoding changes, as long as a JTL access token.
OPAQUE = ("AbC+dEf/GhI=" + "x1Y2z3W4v5U6t7S8" * 60)[:900]
CALLER = base64.b64encode(b"caller:own-password-1234").decode()


def pieces(*secrets: str) -> set[str]:
    """Every 8 characters of each secret, raw and percent-encoded: none may be shown."""
    forms = {form for s in secrets for form in (s, quote(s, safe=""), quote_plus(s))}
    return {form[i : i + 8] for form in forms for i in range(len(form) - 7)}


async def _failure(call: Awaitable[object]) -> ApiError:
    with pytest.raises(ApiError) as info:
        await call
    return info.value


async def test_an_echoed_token_never_reaches_errors_logs_or_events(
    ffn_fake: RunningFake, caplog: pytest.LogCaptureFixture
) -> None:
    """A server (or proxy) answers 400 quoting the request's Authorization back: whole,
    percent-encoded and cut in two, in the body and a response header (the fake's ``echo``)."""
    caplog.set_level(logging.DEBUG)
    fake, env = ffn_fake.server, ffn_fake.environment
    events: list[object] = []
    auth = TokenManager(fake.credentials, MemoryTokenStore(), key="acct", environment=env)
    await auth.store_token(fake.token())
    jwt = (await auth.token()).access_token
    failures: list[ApiError] = []
    async with FFNClient(auth, observer=events.append) as ffn:
        fake.faults.inject_next("echo", "echo")
        failures.append(await _failure(ffn.merchant.products.get("JFSKU1")))
        failures.append(await _failure(ffn.request("GET", "/v1/merchant/products")))
    async with FFNClient(StaticToken(OPAQUE), environment=env, observer=events.append) as ffn:
        fake.faults.inject_next("echo", "echo")
        failures.append(await _failure(ffn.request("GET", "/v1/users/current")))
        # A caller's own credentials, to another origin (where no token of ours goes).
        elsewhere = str(env.api_url).replace("127.0.0.1", "localhost") + "/v1/users/current"
        failures.append(
            await _failure(
                ffn.request("GET", elsewhere, headers={"Authorization": f"Basic {CALLER}"})
            )
        )
    assert fake.stats.faults["echo"] == 4
    texts: list[str] = []
    for exc in failures:
        assert exc.status == 400
        assert exc.code == "Shared_Echo"
        assert "<redacted>" in str(exc)  # the message still says what the server said
        assert exc.headers["X-Echo-Authorization"].endswith(" <redacted>")
        assert set(exc.metadata) == {"tokenStart", "tokenEnd"}
        logging.getLogger("app").exception("the call failed", exc_info=exc)
        texts += [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
        texts += [exc.body.decode(), repr(exc.metadata), repr(exc.headers), repr(exc.messages)]
        texts.append(str(exc.description))
    texts += [caplog.text, *(repr(r.args) for r in caplog.records), repr(events)]
    blob = "\n".join(texts)
    shown = sorted(p for p in pieces(jwt, OPAQUE, CALLER) if p in blob)
    assert shown == [], f"pieces of a credential shown: {shown[:5]}"
    assert len(events) >= 4  # the observer did see the attempts


async def _feed_chunk(ffn: FFNClient) -> object:
    async for item in ffn.merchant.inbounds.shipping_notifications.updates():
        return item
    return None


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda ffn: ffn.request("GET", "/v1/proxied"), id="request"),
        pytest.param(lambda ffn: ffn.merchant.credentials.amazon_sfp.list(), id="array"),
        pytest.param(lambda ffn: ffn.merchant.stocks.changes.list(), id="page"),
        pytest.param(_feed_chunk, id="change-feed"),
    ],
)
async def test_a_success_that_is_not_json_keeps_no_credential(
    call: Callable[[FFNClient], Awaitable[object]],
) -> None:
    """A 200 whose body is not what the call promises (a proxy's page quoting the request) is a
    DecodeError: its message and ``body`` (kept for inspection) are redacted too, whether the
    call reads one object, an array, a page or a change feed; they were kept as received."""

    async def proxy_page(request: web.Request) -> web.Response:
        sent = request.headers["Authorization"]
        page = f"<html>you sent: {sent} ({quote(sent, safe='')})</html>"
        return web.Response(text=page, content_type="text/html")

    app = web.Application()
    app.router.add_get("/{tail:.*}", proxy_page)
    async with TestServer(app, host="127.0.0.1") as server:
        env = environment_for(server)
        async with FFNClient(StaticToken(OPAQUE), environment=env) as ffn:
            with pytest.raises(DecodeError) as info:
                await call(ffn)
    exc = info.value
    assert exc.body.startswith(b"<html>you sent: Bearer <redacted>")
    texts = [str(exc), repr(exc), exc.body.decode(), "".join(traceback.format_exception(exc))]
    blob = "\n".join(texts)
    assert not [p for p in pieces(OPAQUE) if p in blob]
