"""Case 1, request overhead: the same authenticated GETs through four client stacks.

One local aiohttp server runs in its own process (loopback; see :mod:`benchmarks.server`).
Every client sends ``Authorization: Bearer <token>``, reads the body and decodes it with
``orjson.loads`` (the same work everywhere, so the difference is the stack), and every pool
is capped at 100 connections: ``FFNClient``'s default ``connector_limit=100``, the same
``TCPConnector(limit=100)`` for raw aiohttp, ``httpx.Limits(max_connections=100)`` for httpx.

Each measurement runs ``concurrency`` coroutines in a loop for a fixed time and counts the
completed requests. Clients are measured one after the other, their order rotated every
round, and the best round is reported (the least disturbed one on a shared 2-core machine).
"""

from __future__ import annotations

import asyncio
import time
import warnings
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import attrs
import orjson

from ffn_async import ClientCredentials, Environment, FFNClient, StaticToken, Token, TokenManager
from token_stores import MemoryTokenStore

from .page import outbound_page, tiny_body
from .report import CaseResult, Table, median
from .server import PAGE_PATH, TINY_PATH, ApiServer, api_server

__all__ = [
    "FULL",
    "QUICK",
    "Params",
    "environment",
    "managed_client",
    "measure",
    "raw_get",
    "request_loops",
    "run",
]

TOKEN = "bench-access-token." + "x" * 900  # about the length of JTL's JWT access tokens
CREDS = ClientCredentials("bench-client", "bench-secret")
POOL = 100

Get = Callable[[str], Awaitable[Any]]


@attrs.frozen
class Params:
    """Sizes of one run."""

    concurrencies: tuple[int, ...] = (1, 100, 1000)
    page_concurrencies: tuple[int, ...] = (1, 100, 1000)
    duration: float = 1.0  # seconds per measurement
    rounds: int = 3
    bodies: tuple[str, ...] = ("tiny", "page")
    warmup: int = 200  # requests per client before measuring


FULL = Params()
QUICK = Params(page_concurrencies=(1, 100), duration=0.25, rounds=2, warmup=50)


@attrs.frozen
class Measurement:
    requests: int
    seconds: float
    errors: int
    server_cpu: float  # share of one core the server used meanwhile
    client_cpu: float  # CPU seconds this (client) process used meanwhile

    @property
    def cpu_us_per_request(self) -> float:
        return self.client_cpu / self.requests * 1e6 if self.requests else 0.0

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def environment(api_url: str) -> Environment:
    base = api_url.removesuffix("/api")
    return Environment(
        api_url=api_url, authorize_url=base + "/authorize", token_url=base + "/token"
    )


async def managed_client(env: Environment) -> FFNClient:
    """An open ``FFNClient`` on the real auth path: a TokenManager over a MemoryTokenStore
    holding a token valid for a day (so no refresh happens while measuring)."""
    manager = TokenManager(CREDS, MemoryTokenStore(), key="bench", environment=env)
    now = time.time()
    await manager.store_token(Token(TOKEN, "bench-refresh-token", now + 86_400, issued_at=now))
    client = FFNClient(manager, environment=env, connector_limit=POOL)
    await client.__aenter__()
    return client


def raw_get(session: aiohttp.ClientSession, base: str) -> Get:
    """Raw aiohttp's authenticated GET: ``session.get`` + ``resp.read()`` + ``orjson.loads``."""
    header = {"Authorization": f"Bearer {TOKEN}"}

    async def raw(path: str) -> Any:
        async with session.get(base + path, headers=header) as resp:
            body = await resp.read()
            if resp.status != 200:
                raise RuntimeError(f"raw aiohttp got {resp.status}")
            return orjson.loads(body)

    return raw


class _Stacks:
    """The client stacks under test, each reduced to ``get(path) -> decoded JSON``."""

    def __init__(self, server: ApiServer) -> None:
        self.server = server
        self.env = environment(server.api_url)
        self._closers: list[Callable[[], Awaitable[Any]]] = []

    async def open(self) -> dict[str, Get]:
        base = self.server.api_url
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=POOL))
        self._closers.append(session.close)

        raw = raw_get(session, base)
        managed = await managed_client(self.env)
        static = FFNClient(StaticToken(TOKEN), environment=self.env, connector_limit=POOL)
        await static.__aenter__()
        self._closers += [managed.aclose, static.aclose]

        # The client's own coroutine, awaited as a caller's code awaits it (no adapter frame).
        def ffn_managed(path: str) -> Awaitable[Any]:
            return managed.request("GET", path)

        def ffn_static(path: str) -> Awaitable[Any]:
            return static.request("GET", path)

        import httpx

        with warnings.catch_warnings():  # Authlib warns that it prefers httpx2 over httpx
            warnings.showwarning = lambda *args, **kwargs: None
            from authlib.integrations.httpx_client import AsyncOAuth2Client  # type: ignore[import-untyped]

        oauth = AsyncOAuth2Client(
            CREDS.client_id,
            CREDS.client_secret,
            token={
                "access_token": TOKEN,
                "refresh_token": "bench-refresh-token",
                "token_type": "Bearer",
                "expires_at": int(time.time()) + 86_400,
            },
            token_endpoint=str(self.env.token_url),
            limits=httpx.Limits(max_connections=POOL, max_keepalive_connections=POOL),
            timeout=httpx.Timeout(60.0),  # the default 5 s pool timeout trips at 1,000
        )
        self._closers.append(oauth.aclose)

        async def httpx_authlib(path: str) -> Any:
            resp = await oauth.get(base + path)
            if resp.status_code != 200:
                raise RuntimeError(f"httpx + Authlib got {resp.status_code}")
            return orjson.loads(resp.content)

        return {
            "raw aiohttp": raw,
            "ffn-async (TokenManager)": ffn_managed,
            "ffn-async (StaticToken)": ffn_static,
            "httpx + Authlib": httpx_authlib,
        }

    async def aclose(self) -> None:
        for close in reversed(self._closers):
            await close()


async def request_loops(get: Get, path: str, concurrency: int, deadline: float) -> tuple[int, int]:
    """``concurrency`` loops calling ``get(path)`` until ``deadline`` (``perf_counter``):
    requests completed and failed."""
    done = errors = 0

    async def loop() -> None:
        nonlocal done, errors
        while time.perf_counter() < deadline:
            try:
                await get(path)
                done += 1
            except Exception:
                errors += 1

    await asyncio.gather(*(loop() for _ in range(concurrency)))
    return done, errors


async def measure(
    get: Get, path: str, concurrency: int, duration: float, server: ApiServer | None = None
) -> Measurement:
    """Run ``concurrency`` request loops for ``duration`` seconds; count what completed."""
    cpu0 = server.cpu_seconds() if server else 0.0
    own0 = time.process_time()
    start = time.perf_counter()
    done, errors = await request_loops(get, path, concurrency, start + duration)
    elapsed = time.perf_counter() - start
    own = time.process_time() - own0
    cpu = (server.cpu_seconds() - cpu0) / elapsed if server else 0.0
    return Measurement(done, elapsed, errors, cpu, own)


async def _run(params: Params, server: ApiServer) -> dict[str, Any]:
    stacks = _Stacks(server)
    clients = await stacks.open()
    paths = {"tiny": TINY_PATH, "page": PAGE_PATH}
    results: dict[str, Any] = {}
    try:
        for get in clients.values():  # warm up: connections, caches, lazy imports
            for path in paths.values():
                await asyncio.gather(*(get(path) for _ in range(params.warmup)))
        names = list(clients)
        for body in params.bodies:
            path = paths[body]
            levels = params.page_concurrencies if body == "page" else params.concurrencies
            for concurrency in levels:
                rounds: dict[str, list[Measurement]] = {n: [] for n in names}
                for r in range(params.rounds):
                    order = names[r % len(names) :] + names[: r % len(names)]
                    for name in order:
                        m = await measure(clients[name], path, concurrency, params.duration, server)
                        rounds[name].append(m)
                results[f"{body}@{concurrency}"] = {
                    "body": body,
                    "concurrency": concurrency,
                    "clients": {
                        name: {
                            "best_rps": round(max(m.rps for m in ms), 1),
                            "median_rps": round(median(m.rps for m in ms), 1),
                            "rounds_rps": [round(m.rps, 1) for m in ms],
                            "errors": sum(m.errors for m in ms),
                            "server_cpu": round(max(m.server_cpu for m in ms), 2),
                            "client_cpu_us_per_request": round(
                                min(m.cpu_us_per_request for m in ms), 1
                            ),
                        }
                        for name, ms in rounds.items()
                    },
                }
    finally:
        await stacks.aclose()
    return results


def _tables(results: dict[str, Any], bodies: tuple[str, ...]) -> tuple[Table, ...]:
    tables = []
    labels = {"tiny": "tiny JSON body", "page": "100-outbound page (~390 KB)"}
    names: list[str] = []
    cpu_rows = []
    for body in bodies:
        rows = []
        for entry in results.values():
            if entry["body"] != body:
                continue
            clients = entry["clients"]
            names = list(clients)
            raw = clients["raw aiohttp"]
            cells = [str(entry["concurrency"])]
            cpu_cells = [f"{body} @ {entry['concurrency']}"]
            for name in names:
                c = clients[name]
                cell = f"{c['best_rps']:,.0f}"
                us = c["client_cpu_us_per_request"]
                cpu = f"{us:,.0f}"
                if name != "raw aiohttp":
                    cell += f" ({c['best_rps'] / (raw['best_rps'] or 1):.2f}x)"
                    cpu += f" ({raw['client_cpu_us_per_request'] / (us or 1):.2f}x)"
                if c["errors"]:
                    cell += f" ⚠{c['errors']} errors"
                cells.append(cell)
                cpu_cells.append(cpu)
            cells.append(f"{raw['server_cpu']:.0%}")
            rows.append(tuple(cells))
            cpu_rows.append(tuple(cpu_cells))
        tables.append(
            Table(
                f"Requests per second, {labels[body]} (best of rounds; ratio to raw aiohttp)",
                ("concurrency", *names, "server CPU (raw)"),
                tuple(rows),
            )
        )
    tables.append(
        Table(
            "Client CPU µs per request (lowest of rounds; raw aiohttp's ÷ this: the share of raw "
            "throughput a client-bound run would reach)",
            ("body @ concurrency", *names),
            tuple(cpu_rows),
        )
    )
    return tuple(tables)


def run(params: Params = FULL) -> CaseResult:
    """Start the server process, measure every stack, and summarise."""
    started = time.perf_counter()
    page = outbound_page() if "page" in params.bodies else b"[]"
    with api_server(TOKEN, tiny_body(), page) as server:
        results = asyncio.run(_run(params, server))
    notes = [
        f"pool: {POOL} connections for every stack; bodies decoded with orjson by every stack",
        f"{params.rounds} rounds of {params.duration:g} s per cell, client order rotated per round",
        "server CPU: share of one core the server process used while raw aiohttp ran; near "
        "100% would mean the server, not the client, set the pace",
    ]
    target = results.get("tiny@100")
    if target:
        c = target["clients"]
        raw = c["raw aiohttp"]["best_rps"] or 1.0
        ffn = c["ffn-async (TokenManager)"]["best_rps"]
        hx = c["httpx + Authlib"]["best_rps"]
        verdict = "met" if ffn >= 0.9 * raw and ffn > hx else "MISSED"
        cpu_raw = c["raw aiohttp"]["client_cpu_us_per_request"]
        cpu_ffn = c["ffn-async (TokenManager)"]["client_cpu_us_per_request"] or 1.0
        notes.append(
            f"target (tiny body, concurrency 100: ffn-async ≥ 0.9x raw aiohttp and ahead of "
            f"httpx + Authlib): {verdict} — {ffn / raw:.2f}x raw, {ffn / max(hx, 1):.1f}x "
            f"httpx + Authlib; by client CPU per request {cpu_raw / cpu_ffn:.2f}x raw "
            f"({cpu_ffn - cpu_raw:+.0f} µs per request)"
        )
    return CaseResult(
        name="overhead",
        title="1. Request overhead: raw aiohttp vs ffn-async vs httpx + Authlib",
        tables=_tables(results, params.bodies),
        data={"params": attrs.asdict(params), "results": results},
        notes=tuple(notes),
        seconds=time.perf_counter() - started,
    )
