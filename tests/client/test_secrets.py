"""No access token, refresh token or client secret in any log record, repr or exception text."""

from __future__ import annotations

import asyncio
import logging
import time
import traceback

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from ffn_async import ClientCredentials, FFNClient, Token, TokenManager
from ffn_async.testing.oauth import OAuthServer
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
