"""Token store round trips: lock + load + compare-and-set, per store, on loopback.

    python -m benchmarks.stores                     # every store whose server answers
    python -m benchmarks.stores --json stores.json  # also write the numbers as JSON
    python -m benchmarks.stores --stores file,redis --ops 500 --processes 1,8

One round trip is what ``TokenManager`` does per rotation, minus the token request:
``async with store.lock(key): record = await store.load(key); await store.save(key, data,
record.version)``. Reported: p50 and p99 latency in milliseconds

* with 1 key and with ``--keys`` (default 1,000) populated keys, picked at random, one process;
* with 1 to 8 processes at once, each on its own keys (load on the store, no lock contention),
  plus the total round trips per second.

Server URLs come from ``FFN_TEST_POSTGRES_URL``, ``FFN_TEST_MYSQL_URL``, ``FFN_TEST_REDIS_URL``
(defaults: the loopback servers of the test suite). Tables and keys are unique per run and
removed afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import secrets
import socket
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from token_stores import EncryptedTokenStore, TokenStore, from_url

RUN = secrets.token_hex(4)
TABLE = f"ffn_bench_{RUN}"
PREFIX = f"ffnbench-{RUN}:"
FERNET_KEY = "L0PRpgGHJq3ZJPm1Zbxw7XyI4M8xMIiVvOTqMg_n3T0="
PAYLOAD = b'{"access_token": "' + b"a" * 900 + b'", "refresh_token": "' + b"r" * 64 + b'"}'
ALL = ["memory", "file", "redis", "postgres", "mysql", "sqlite", "encrypted-sqlite"]

Spec = tuple[str, dict[str, Any], bool]  # url, options, encrypted


def specs(tmp: Path) -> dict[str, Spec]:
    env = os.environ.get
    return {
        "memory": ("memory://", {}, False),
        "file": (f"file://{tmp / 'tokens'}", {}, False),
        "redis": (env("FFN_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"), {"prefix": PREFIX}, False),
        "postgres": (
            env("FFN_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"),
            {"table": TABLE},
            False,
        ),
        "mysql": (
            env("FFN_TEST_MYSQL_URL", "mysql+asyncmy://root@127.0.0.1:3306/test"),
            {"table": TABLE},
            False,
        ),
        "sqlite": (f"sqlite+aiosqlite:///{tmp / 'tokens.db'}", {"table": TABLE}, False),
        "encrypted-sqlite": (f"sqlite+aiosqlite:///{tmp / 'enc.db'}", {"table": TABLE}, True),
    }


def reachable(url: str) -> bool:
    parts = urlsplit(url)
    if not parts.hostname:
        return True  # embedded
    try:
        socket.create_connection((parts.hostname, parts.port or 0), timeout=1).close()
    except OSError:
        return False
    return True


async def build(spec: Spec) -> TokenStore:
    url, options, encrypted = spec
    store = from_url(url, **options)
    create_schema = getattr(store, "create_schema", None)
    if create_schema is not None:
        await create_schema()
    return EncryptedTokenStore(store, FERNET_KEY) if encrypted else store


async def round_trip(store: TokenStore, key: str) -> float:
    started = time.perf_counter()
    async with store.lock(key, ttl=30, timeout=30):
        record = await store.load(key)
        await store.save(key, PAYLOAD, None if record is None else record.version)
    return time.perf_counter() - started


async def populate(store: TokenStore, keys: list[str]) -> None:
    limit = asyncio.Semaphore(16)

    async def one(key: str) -> None:
        async with limit:
            if await store.load(key) is None:
                await store.save(key, PAYLOAD, None)

    await asyncio.gather(*(one(k) for k in keys))


async def measure(store: TokenStore, keys: list[str], ops: int) -> list[float]:
    await round_trip(store, keys[0])  # warm up connections
    return [await round_trip(store, random.choice(keys)) for _ in range(ops)]


def worker(spec: Spec, keys: list[str], ops: int, start_at: float) -> tuple[list[float], float]:
    """One process of the multi-process run: latencies and how long the whole run took."""

    async def main() -> tuple[list[float], float]:
        store = await build(spec)
        try:
            await round_trip(store, keys[0])
            await asyncio.sleep(max(0.0, start_at - time.time()))
            began = time.perf_counter()
            latencies = [await round_trip(store, random.choice(keys)) for _ in range(ops)]
            return latencies, time.perf_counter() - began
        finally:
            await store.close()

    return asyncio.run(main())


def percentiles(samples: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {"p50_ms": cuts[49] * 1e3, "p99_ms": cuts[98] * 1e3, "n": len(samples)}


async def bench_store(name: str, spec: Spec, args: argparse.Namespace) -> dict[str, Any]:
    keys = [f"bench-{i}" for i in range(args.keys)]
    store = await build(spec)
    try:
        await populate(store, keys)
        result: dict[str, Any] = {
            "keys_1": percentiles(await measure(store, keys[:1], args.ops)),
            f"keys_{args.keys}": percentiles(await measure(store, keys, args.ops)),
        }
    finally:
        await store.close()
    if name == "memory":
        return result  # one process's memory: nothing to share between processes
    context = get_context("spawn")
    for n in args.processes:
        per = max(1, args.ops // n)
        start_at = time.time() + 0.5 + 0.25 * n
        with ProcessPoolExecutor(n, mp_context=context) as pool:
            futures = [pool.submit(worker, spec, keys[i::n], per, start_at) for i in range(n)]
            runs = [f.result() for f in futures]
        latencies = [x for lat, _ in runs for x in lat]
        wall = max(elapsed for _, elapsed in runs)
        result[f"procs_{n}"] = {**percentiles(latencies), "ops_per_s": len(latencies) / wall}
    return result


async def cleanup(chosen: dict[str, Spec]) -> None:
    import sqlalchemy as sa
    from sqlalchemy.ext.asyncio import create_async_engine

    for name in ("postgres", "mysql"):
        if name in chosen:
            engine = create_async_engine(chosen[name][0])
            async with engine.begin() as conn:
                await conn.execute(sa.text(f"DROP TABLE IF EXISTS {TABLE}"))
            await engine.dispose()
    if "redis" in chosen:
        import redis.asyncio as aioredis

        client = aioredis.Redis.from_url(chosen["redis"][0])
        keys = [k async for k in client.scan_iter(match=f"{PREFIX}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


def table(results: dict[str, dict[str, Any]], args: argparse.Namespace) -> str:
    def cell(entry: dict[str, float] | None) -> str:
        return "n/a" if entry is None else f"{entry['p50_ms']:.2f} / {entry['p99_ms']:.2f}"

    head = ["store", "1 key", f"{args.keys:,} keys"]
    head += [f"{n} proc" + ("s" if n > 1 else "") for n in args.processes]
    head += [f"ops/s at {args.processes[-1]} procs"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, r in results.items():
        row = [name, cell(r["keys_1"]), cell(r[f"keys_{args.keys}"])]
        row += [cell(r.get(f"procs_{n}")) for n in args.processes]
        last = r.get(f"procs_{args.processes[-1]}")
        row.append("n/a" if last is None else f"{last['ops_per_s']:,.0f}")
        lines.append("| " + " | ".join(row) + " |")
    return (
        "Lock + load + compare-and-set round trip, p50 / p99 in ms "
        "(processes: each on its own keys)\n\n" + "\n".join(lines)
    )


async def amain(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        available = specs(Path(tmp))
        chosen = {n: available[n] for n in args.stores}
        results: dict[str, dict[str, Any]] = {}
        skipped: dict[str, str] = {}
        try:
            for name, spec in chosen.items():
                if not reachable(spec[0]):
                    skipped[name] = "server unreachable"
                    print(f"skipping {name}: server unreachable", file=sys.stderr)
                    continue
                print(f"measuring {name} ...", file=sys.stderr)
                results[name] = await bench_store(name, spec, args)
        finally:
            await cleanup({n: s for n, s in chosen.items() if n not in skipped})
    print(table(results, args))
    return {
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "ops": args.ops,
        "keys": args.keys,
        "results": results,
        "skipped": skipped,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stores", default=",".join(ALL), help=f"comma list of {ALL}")
    parser.add_argument("--ops", type=int, default=300, help="round trips per measurement")
    parser.add_argument("--keys", type=int, default=1000, help="keys of the many-keys run")
    parser.add_argument("--processes", default="1,2,4,8", help="process counts to run")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args(argv)
    args.stores = [s for s in args.stores.split(",") if s]
    unknown = set(args.stores) - set(ALL)
    if unknown:
        parser.error(f"unknown stores {sorted(unknown)}; choose from {ALL}")
    args.processes = [int(n) for n in args.processes.split(",")]
    report = asyncio.run(amain(args))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
