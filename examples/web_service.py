"""An aiohttp web service that shares one FFNClient and token store across all requests.

The client is created once in the app's ``cleanup_ctx`` (startup and shutdown in one place) and
stored under an ``AppKey``: every request handler reuses its connection pool and its token, and
a refresh happens exactly once no matter how many requests arrive while the token expires.

Run it (after ``ffn-async login`` with the same FFN_* variables)::

    python examples/web_service.py              # port 8000; ffn-async fake-server has 8080
    curl http://127.0.0.1:8000/me
    curl 'http://127.0.0.1:8000/outbounds?top=5'
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import AsyncIterator

from aiohttp import web
from ffn_env import open_account

from ffn_async import FFNClient
from ffn_async.errors import ApiError, AuthError

FFN = web.AppKey("ffn", FFNClient)


async def ffn_client(app: web.Application) -> AsyncIterator[None]:
    """Startup: open the store and one client; shutdown: close both."""
    store, auth = await open_account()
    try:
        async with FFNClient(auth) as ffn:
            app[FFN] = ffn
            yield
    finally:
        await store.close()


@web.middleware
async def ffn_errors(request: web.Request, handler: web.Handler) -> web.StreamResponse:
    """FFN failures become JSON errors: 503 when a login is needed, 502 for API errors."""
    try:
        return await handler(request)
    except AuthError as exc:
        return web.json_response({"error": str(exc)}, status=503)
    except ApiError as exc:
        return web.json_response({"error": str(exc), "code": exc.code}, status=502)


async def me(request: web.Request) -> web.Response:
    user = await request.app[FFN].shared.users.current()
    return web.json_response({"userId": user.user_id, "role": user.role})


def _top(request: web.Request) -> int:
    """The ``top`` query parameter, 1..500; anything else is the caller's error (400)."""
    text = request.query.get("top", "10")
    if not text.isdigit() or not 1 <= int(text) <= 500:
        raise web.HTTPBadRequest(
            text='{"error": "top must be a whole number from 1 to 500"}',
            content_type="application/json",
        )
    return int(text)


async def outbounds(request: web.Request) -> web.Response:
    top = _top(request)
    page = await request.app[FFN].merchant.outbounds.list(top=top)
    items = [
        {
            "outboundId": o.outbound_id,
            "merchantOutboundNumber": o.merchant_outbound_number,
            "status": str(o.status),
        }
        for o in page.items
    ]
    # `_page.total` counts pages, not outbounds: say which, so no caller mistakes it.
    return web.json_response({"pages": page.total, "items": items})


def create_app() -> web.Application:
    app = web.Application(middlewares=[ffn_errors])
    app.cleanup_ctx.append(ffn_client)
    app.router.add_get("/me", me)
    app.router.add_get("/outbounds", outbounds)
    return app


#: Not 8080: that is where ``ffn-async fake-server`` listens, and both often run at once.
DEFAULT_PORT = 8000


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="default: %(default)s")
    port = parser.parse_args().port
    try:
        web.run_app(create_app(), host="127.0.0.1", port=port)
    except OSError as exc:
        sys.exit(f"{sys.argv[0]}: cannot listen on 127.0.0.1:{port}: {exc.strerror} (try --port)")
