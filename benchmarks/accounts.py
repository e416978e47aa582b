"""Case 10, many accounts in one process: one store, one session, 1,000 token managers.

The strict OAuth server and API route of ``tests/fleet.py`` run in this process. Every run
below uses ``accounts`` accounts (one ``TokenManager`` and ``FFNClient`` each), one Redis
store and one shared aiohttp session, side by side in one process:

* **wave**: every account sends one request at once; tokens fresh (the baseline), or all due
  (the refresh storm of accounts whose logins came together) through redis-py's default pool
  (100 connections, failing at once when all are busy: the code before), the store's blocking
  pool of 100 (the default now) and a pool of 1,000; and through PostgreSQL's default pool.
  Reported: failures, p50/p99 latency and p99 *added* over the fresh wave.
* **jitter**: every account sends a request every ``poll_interval`` seconds (spread evenly)
  for ``poll_seconds``; tokens all due at the start (no jitter: every account refreshes on its
  first request), or falling due spread over a ``jitter`` window (``refresh_jitter``, scaled
  down from the default 120 s so the run stays short). Reported: p99 latency, the most
  refreshes in any 250 ms.
* **throughput**: fresh tokens, ``requests`` requests per account all at once, against one
  account sending as many; ``rounds`` paired rounds in alternating order, the median of the
  per-round ratios and their range.
* **memory**: ``tracemalloc`` bytes held per account (manager, client, cached token, store
  and session state) after each account's first request.

Absolute timings move with the machine's load (the server shares the process and its core);
read the ratios and the failure counts.
"""

from __future__ import annotations

import asyncio
import gc
import secrets
import statistics
import time
import tracemalloc
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import attrs

from ffn_async import Environment, FFNClient, Token, TokenManager
from ffn_async.testing import OAuthServer
from token_stores import MemoryTokenStore, TokenStore

from . import stores
from .report import CaseResult, Table

__all__ = ["FULL", "QUICK", "Params", "run"]


@attrs.frozen
class Params:
    """Sizes of one run."""

    accounts: int = 1000
    requests: int = 5  # per account, throughput run
    rounds: int = 7  # throughput: paired rounds, order alternating
    jitter: float = 8.0
    poll_interval: float = 2.0
    poll_seconds: float = 10.0
    postgres: bool = True


FULL = Params()
QUICK = Params(
    accounts=100,
    requests=2,
    rounds=2,
    jitter=2.0,
    poll_interval=0.5,
    poll_seconds=2.5,
    postgres=False,
)


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def _p(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class _Fleet:
    """``accounts`` managers and clients over one store and one session."""

    def __init__(
        self,
        store: TokenStore,
        env: Environment,
        session: aiohttp.ClientSession,
        accounts: int,
        jitter: float = 0.0,
    ) -> None:
        from tests.fleet import CREDS

        prefix = f"acct-{secrets.token_hex(3)}-"
        self.managers = [
            TokenManager(CREDS, store, key=f"{prefix}{i}", environment=env, refresh_jitter=jitter)
            for i in range(accounts)
        ]
        self.clients = [FFNClient(m, session=session) for m in self.managers]

    async def login(
        self,
        oauth: OAuthServer,
        expires_in: float,
        responses: list[dict[str, Any]] | None = None,
    ) -> int:
        """Store a token per account expiring in ``expires_in`` s (from ``responses`` of the
        token endpoint, else issued now); return how many logins failed."""
        issued = time.time() - 1800.0 + expires_in  # the strict server's tokens live 1,800 s
        if responses is None:
            responses = [oauth.issue_tokens() for _ in self.managers]
        outcomes = await asyncio.gather(
            *(m.store_token(Token.from_response(r, now=issued))
              for m, r in zip(self.managers, responses, strict=True)),
            return_exceptions=True,
        )  # fmt: skip
        return sum(isinstance(o, BaseException) for o in outcomes)

    async def wave(self, per_account: int = 1) -> tuple[list[float], list[str]]:
        """``per_account`` requests per account, all at once: latencies and errors."""
        latencies: list[float] = []

        async def one(ffn: FFNClient) -> None:
            t0 = time.perf_counter()
            await ffn.request("GET", "/v1/users/current")
            latencies.append(time.perf_counter() - t0)

        outcomes = await asyncio.gather(
            *(one(c) for c in self.clients for _ in range(per_account)), return_exceptions=True
        )
        errors = [f"{type(o).__name__}: {o}" for o in outcomes if isinstance(o, BaseException)]
        return latencies, errors

    async def poll(self, interval: float, seconds: float) -> tuple[list[float], list[str]]:
        """Every account sends a request every ``interval`` seconds for ``seconds``."""
        latencies: list[float] = []
        errors: list[str] = []
        began = time.monotonic()

        async def account(ffn: FFNClient, offset: float) -> None:
            await asyncio.sleep(offset)
            while time.monotonic() - began < seconds:
                t0 = time.perf_counter()
                try:
                    await ffn.request("GET", "/v1/users/current")
                    latencies.append(time.perf_counter() - t0)
                except Exception as exc:
                    errors.append(f"{type(exc).__name__}: {exc}")
                await asyncio.sleep(max(interval - (time.perf_counter() - t0), 0.0))

        # Requests spread evenly over each interval: the load is steady, only refreshes vary.
        n = len(self.clients)
        await asyncio.gather(*(account(c, interval * i / n) for i, c in enumerate(self.clients)))
        return latencies, errors


@asynccontextmanager
async def _redis(url: str, prefix: str, factory: str, size: int) -> AsyncIterator[TokenStore]:
    import redis.asyncio as aioredis

    from token_stores import RedisTokenStore

    if factory == "redis-py default pool":
        client = aioredis.Redis.from_url(url, max_connections=size)
        store = RedisTokenStore(client=client, prefix=prefix)
    else:
        client = None
        store = RedisTokenStore(url, prefix=prefix, max_connections=size)
    try:
        yield store
    finally:
        await store.close()
        if client is not None:
            await client.aclose()


async def _clean_redis(url: str, prefix: str) -> None:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(url)
    try:
        keys = [k async for k in client.scan_iter(match=f"{prefix}*")]
        for i in range(0, len(keys), 500):
            await client.delete(*keys[i : i + 500])
    finally:
        await client.aclose()


def _row(name: str, latencies: list[float], errors: list[str], base_p99: float) -> dict[str, Any]:
    p99 = _p(latencies, 0.99)
    return {
        "run": name,
        "requests": len(latencies) + len(errors),
        "failures": len(errors),
        "p50_ms": _ms(_p(latencies, 0.5)),
        "p99_ms": _ms(p99),
        "p99_added_ms": _ms(max(p99 - base_p99, 0.0)),
        "errors": errors[:2],
    }


async def _waves(
    params: Params,
    oauth: OAuthServer,
    env: Environment,
    redis_url: str,
    prefix: str,
    postgres_url: str | None,
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    async with aiohttp.ClientSession() as session:
        async with _redis(redis_url, prefix, "store", 100) as store:
            fleet = _Fleet(store, env, session, params.accounts)
            await fleet.login(oauth, expires_in=1800.0)
            await fleet.wave()  # warm connections
            latencies, errors = await fleet.wave()
        base_p99 = _p(latencies, 0.99)
        rows.append(_row("fresh tokens (baseline)", latencies, errors, base_p99))
        for factory, size in (
            ("redis-py default pool", 100),
            ("blocking pool", 100),
            ("blocking pool", params.accounts),
        ):
            async with _redis(redis_url, prefix, factory, size) as store:
                fleet = _Fleet(store, env, session, params.accounts)
                failed = await fleet.login(oauth, expires_in=0.0)
                oauth.stats.reset()
                latencies, errors = await fleet.wave()
            row = _row(f"storm, Redis {factory} of {size}", latencies, errors, base_p99)
            rows.append(row | {"login_failures": failed, "refreshes": oauth.stats.refreshes})
        if postgres_url is not None:
            from token_stores import SQLTokenStore

            table = f"ffn_bench_{secrets.token_hex(4)}"
            sql = SQLTokenStore(postgres_url, table=table)
            await sql.create_schema()
            try:
                fleet = _Fleet(sql, env, session, params.accounts)
                failed = await fleet.login(oauth, expires_in=0.0)
                oauth.stats.reset()
                latencies, errors = await fleet.wave()
            finally:
                async with sql._engine.begin() as conn:
                    await conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
                await sql.close()
            row = _row("storm, PostgreSQL default pool (5 + 10)", latencies, errors, base_p99)
            rows.append(row | {"login_failures": failed, "refreshes": oauth.stats.refreshes})
    return rows


async def _jitter(
    params: Params, oauth: OAuthServer, env: Environment, redis_url: str, prefix: str
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    async with aiohttp.ClientSession() as session:
        for jitter in (0.0, params.jitter):
            refreshed: list[float] = []
            async with _redis(redis_url, prefix, "store", 100) as store:
                fleet = _Fleet(store, env, session, params.accounts, jitter=jitter)
                # Due at the start without jitter; spread over [0, jitter) s with it.
                await fleet.login(oauth, expires_in=60.0 + jitter - 0.05 if jitter else 0.0)
                hook = refreshed_at(refreshed)
                for m in fleet.managers:
                    m.add_refresh_hook(hook)
                began = time.monotonic()
                latencies, errors = await fleet.poll(params.poll_interval, params.poll_seconds)
            buckets = Counter(int((t - began) / 0.25) for t in refreshed)
            rows.append(
                _row(
                    f"a request per {params.poll_interval:g} s, jitter {jitter:g} s",
                    latencies,
                    errors,
                    0.0,
                )
                | {
                    "refreshes": len(refreshed),
                    "peak_refreshes_per_250ms": max(buckets.values(), default=0),
                }
            )
    return rows


def refreshed_at(times: list[float]) -> Callable[[Token], None]:
    """A refresh hook noting when each refresh landed."""
    return lambda _: times.append(time.monotonic())


async def _throughput(params: Params, env: Environment, oauth: OAuthServer) -> dict[str, Any]:
    store = MemoryTokenStore()
    rates: dict[str, list[float]] = {"accounts": [], "one": []}
    async with aiohttp.ClientSession() as session:
        many = _Fleet(store, env, session, params.accounts)
        await many.login(oauth, expires_in=1800.0)
        one = _Fleet(store, env, session, 1)
        await one.login(oauth, expires_in=1800.0)
        total = params.accounts * params.requests
        await many.wave()  # every client's first request (URL, header) done before timing
        runs = (("accounts", many, params.requests), ("one", one, total))
        for round_ in range(params.rounds):
            for name, fleet, per in runs if round_ % 2 == 0 else runs[::-1]:
                gc.collect()
                t0 = time.perf_counter()
                _, errors = await fleet.wave(per)
                rates[name].append(total / (time.perf_counter() - t0))
                assert not errors, errors[:2]
    # Each round's ratio is measured minutes apart from no other: the machine's load moves
    # both sides of a pair alike, so the median of the paired ratios is the figure.
    ratios = sorted(a / b for a, b in zip(rates["accounts"], rates["one"], strict=True))
    return {
        "requests": total,
        "rounds": params.rounds,
        "rps_accounts": round(statistics.median(rates["accounts"])),
        "rps_one_account": round(statistics.median(rates["one"])),
        "ratio": round(statistics.median(ratios), 3),
        "ratio_range": [round(ratios[0], 3), round(ratios[-1], 3)],
    }


async def _memory(params: Params, env: Environment, oauth: OAuthServer) -> dict[str, Any]:
    store = MemoryTokenStore()
    async with aiohttp.ClientSession() as session:
        warm = _Fleet(store, env, session, 1)  # session, connector, imports warm
        await warm.login(oauth, expires_in=1800.0)
        await warm.wave()
        # Issued before measuring: the fake server's own records are not the accounts' cost.
        responses = [oauth.issue_tokens() for _ in range(params.accounts)]
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            fleet = _Fleet(store, env, session, params.accounts)
            await fleet.login(oauth, expires_in=1800.0, responses=responses)
            await fleet.wave()
            gc.collect()
            after = tracemalloc.get_traced_memory()[0]
        finally:
            tracemalloc.stop()
    return {"bytes_per_account": round((after - before) / params.accounts)}


async def _run(params: Params) -> dict[str, Any]:
    from tests.fleet import strict_server

    urls = {name: spec[0] for name, spec in stores.specs(Path(".")).items()}
    redis_url, postgres_url = urls["redis"], urls["postgres"]
    if not stores.reachable(redis_url):
        return {"skipped": "Redis unreachable"}
    prefix = f"ffnbench-accounts-{secrets.token_hex(4)}:"
    async with strict_server(token_lifetime=1800.0) as (oauth, env):
        try:
            waves = await _waves(
                params, oauth, env, redis_url, prefix,
                postgres_url if params.postgres and stores.reachable(postgres_url) else None,
            )  # fmt: skip
            jitter = await _jitter(params, oauth, env, redis_url, prefix)
        finally:
            await _clean_redis(redis_url, prefix)
        throughput = await _throughput(params, env, oauth)
        memory = await _memory(params, env, oauth)
    return {"waves": waves, "jitter": jitter, "throughput": throughput, "memory": memory}


def _cells(
    row: dict[str, Any], keys: tuple[str, ...], fmt: Callable[[Any], str]
) -> tuple[str, ...]:
    return (row["run"], *(fmt(row.get(k, "")) for k in keys))


_WAVE_HEADERS = (
    "run", "requests", "failed logins", "failed requests", "p50 ms", "p99 ms", "p99 added ms"
)  # fmt: skip
_JITTER_HEADERS = ("run", "requests", "failed", "refreshes", "most refreshes in 250 ms", "p99 ms")


def run(params: Params = FULL) -> CaseResult:
    """Measure the many-accounts runs side by side."""
    started = time.perf_counter()
    data = asyncio.run(_run(params))
    if "skipped" in data:
        return CaseResult(
            name="accounts",
            title="10. Many accounts in one process: one store, one session",
            tables=(),
            data={"params": attrs.asdict(params), **data},
            notes=(f"skipped: {data['skipped']}",),
            seconds=time.perf_counter() - started,
        )
    show = lambda v: f"{v:,}" if isinstance(v, int | float) else str(v)  # noqa: E731
    wave_keys = ("requests", "login_failures", "failures", "p50_ms", "p99_ms", "p99_added_ms")
    jitter_keys = ("requests", "failures", "refreshes", "peak_refreshes_per_250ms", "p99_ms")
    t, m = data["throughput"], data["memory"]
    notes = [
        f"{params.accounts:,} accounts, one Redis store, one shared aiohttp session; the fake "
        "server runs in this process (timings move with load: read ratios and failures)",
        "p99 added: p99 latency of the run minus p99 of the fresh-token wave",
        f"requests/s, fresh tokens, {t['requests']:,} requests at once (medians of "
        f"{t['rounds']} paired rounds): {params.accounts:,} accounts {t['rps_accounts']:,} vs "
        f"one account {t['rps_one_account']:,}; ratio {t['ratio']}x (rounds: "
        f"{t['ratio_range'][0]}-{t['ratio_range'][1]}x)",
        f"memory per account (tracemalloc, manager + client + token): "
        f"{m['bytes_per_account'] / 1024:.1f} KiB",
        f"jitter run: refresh_jitter scaled to {params.jitter:g} s (default 120 s) so the "
        f"run stays short; {params.poll_seconds:g} s of requests",
    ]
    errors = [e for r in data["waves"] + data["jitter"] for e in r["errors"]]
    if errors:
        notes.append(f"first failure: {errors[0]}")
    return CaseResult(
        name="accounts",
        title="10. Many accounts in one process: one store, one session",
        tables=(
            Table(
                "Login wave and refresh storm (every account at once)",
                _WAVE_HEADERS,
                tuple(_cells(r, wave_keys, show) for r in data["waves"]),
            ),
            Table(
                "Steady requests while tokens fall due: without and with jitter",
                _JITTER_HEADERS,
                tuple(_cells(r, jitter_keys, show) for r in data["jitter"]),
            ),
        ),
        data={"params": attrs.asdict(params), **data},
        notes=tuple(notes),
        seconds=time.perf_counter() - started,
    )
