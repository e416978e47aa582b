"""A fleet of worker processes sharing one account, for the refresh-exactly-once tests.

The strict OAuth server (``ffn_async.testing.oauth``) runs in the test process beside a tiny API
route that accepts only live access tokens. Each worker process builds its own store from a URL,
its own TokenManager and FFNClient, and hammers the API from many coroutines while the tokens
expire every ``token_lifetime`` seconds.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from collections.abc import AsyncIterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

import attrs
from aiohttp import web
from aiohttp.test_utils import TestServer

from ffn_async import ClientCredentials, Environment, FFNClient, Token, TokenManager
from ffn_async.testing.oauth import OAuthServer

from .conftest import environment_for

CREDS = ClientCredentials("fleet-client", "fleet-secret", "http://127.0.0.1/callback")


@attrs.frozen
class WorkerResult:
    calls: int
    failures: int
    errors: tuple[str, ...]


@attrs.frozen
class FleetResult:
    workers: tuple[WorkerResult, ...]
    token_requests: int
    refreshes: int
    reuse_attempts: int
    invalid_grants: int
    stored_rotation: int

    @property
    def calls(self) -> int:
        return sum(w.calls for w in self.workers)

    @property
    def failures(self) -> int:
        return sum(w.failures for w in self.workers)

    def assert_exactly_once(self, label: str, *, min_rotations: int = 5) -> None:
        """Zero failed calls, zero reuse, and one token call per rotation; prints the figures."""
        print(
            f"\nfleet({label}): calls={self.calls} failures={self.failures} "
            f"rotations={self.stored_rotation} token_calls={self.token_requests} "
            f"reuse={self.reuse_attempts}"
        )
        assert self.failures == 0, [e for w in self.workers for e in w.errors]
        assert self.reuse_attempts == 0
        assert self.invalid_grants == 0
        assert self.stored_rotation >= min_rotations
        assert self.token_requests == self.refreshes == self.stored_rotation
        assert all(w.calls > 0 for w in self.workers)


@asynccontextmanager
async def strict_server(
    *, token_lifetime: float, token_latency: float = 0.0
) -> AsyncIterator[tuple[OAuthServer, Environment]]:
    oauth = OAuthServer(
        client_id=CREDS.client_id,
        client_secret=CREDS.client_secret,
        redirect_uri=CREDS.redirect_uri,
        token_lifetime=token_lifetime,
        token_latency=token_latency,
    )

    async def current_user(request: web.Request) -> web.Response:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer ") or not oauth.is_valid_access_token(header[7:]):
            return web.Response(status=401)
        return web.json_response({"userId": "MERC"})

    app = web.Application()
    app.add_routes(oauth.routes())
    app.router.add_get("/api/v1/users/current", current_user)
    async with TestServer(app, host="127.0.0.1") as server:
        env = environment_for(server)
        yield oauth, env


async def _work(
    store_url: str,
    options: dict[str, Any],
    key: str,
    env: Environment,
    coroutines: int,
    duration: float,
    ttl: float,
) -> WorkerResult:
    from token_stores import from_url

    store = from_url(store_url, **options)
    calls = failures = 0
    errors: list[str] = []
    deadline = time.monotonic() + duration
    auth = TokenManager(
        CREDS, store, key=key, environment=env, leeway=60, request_timeout=ttl / 2, lock_ttl=ttl
    )
    async with FFNClient(auth) as ffn:

        async def loop() -> None:
            nonlocal calls, failures
            while time.monotonic() < deadline:
                try:
                    await ffn.request("GET", "/v1/users/current")
                    calls += 1
                except Exception as exc:
                    failures += 1
                    if len(errors) < 5:
                        errors.append(f"{type(exc).__name__}: {exc}")
                await asyncio.sleep(0.01)

        await asyncio.gather(*(loop() for _ in range(coroutines)))
    await store.close()
    return WorkerResult(calls, failures, tuple(errors))


def run_worker(
    store_url: str,
    options: dict[str, Any],
    key: str,
    env: Environment,
    coroutines: int,
    duration: float,
    ttl: float,
) -> WorkerResult:
    """Entry point of one worker process."""
    return asyncio.run(_work(store_url, options, key, env, coroutines, duration, ttl))


async def run_fleet(
    store_url: str,
    *,
    key: str,
    processes: int,
    coroutines: int,
    duration: float,
    token_lifetime: float,
    lock_ttl: float = 10.0,
    token_latency: float = 0.0,
    setup_store: Any = None,
    store_options: dict[str, Any] | None = None,
) -> FleetResult:
    """Log in once, run ``processes`` workers for ``duration`` seconds, and count.

    ``store_options`` go to ``from_url`` in every process (a scratch SQL table, say)."""
    options = store_options or {}
    from token_stores import from_url

    async with strict_server(token_lifetime=token_lifetime, token_latency=token_latency) as (
        oauth,
        env,
    ):
        store = from_url(store_url, **options)
        if setup_store is not None:
            await setup_store(store)
        login = TokenManager(CREDS, store, key=key, environment=env)
        await login.store_token(Token.from_response(oauth.issue_tokens()))
        await login.aclose()

        loop = asyncio.get_running_loop()
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(processes, mp_context=context) as pool:
            futures = [
                loop.run_in_executor(
                    pool, run_worker, store_url, options, key, env, coroutines, duration, lock_ttl
                )
                for _ in range(processes)
            ]
            results = await asyncio.gather(*futures)
        stored = await TokenManager(CREDS, store, key=key, environment=env).stored()
        await store.close()
        stats = oauth.stats
        return FleetResult(
            workers=tuple(results),
            token_requests=stats.token_requests,
            refreshes=stats.refreshes,
            reuse_attempts=stats.reuse_attempts,
            invalid_grants=stats.invalid_grants,
            stored_rotation=stored.rotation,
        )
