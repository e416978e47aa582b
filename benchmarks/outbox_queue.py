"""The outbox at 100 / 10,000 / 100,000 kept entries, per store (issue 20).

0.1.0 kept the outbox as one record: every submit read and rewrote all of it (20,000 kept
entries: 11 MB, 0.7-1.4 s per submit). Now each entry is one queue entry. Measured per store:

* ``submit`` while entries wait and FFN is down (the outage case, inside the quiet period
  after a failed replay): p50 and p99 of ``--submits`` calls per size, each a head read and
  one append, taken round-robin over the sizes so that all see the same load;
* the store's share of a replay (``replay store``): the real :meth:`Outbox.replay` with the
  create answered at once in-process, so only the outbox's own work is timed: renew, page,
  remove per entry; with the peak Python memory of the replay (``tracemalloc``); a size is
  skipped when ten times the previous one's time would exceed ``--budget``;
* a real replay over HTTP against the fake server (``replay http``) at the small sizes only:
  100,000 creates through HTTP take longer than this bench may run on a shared machine.

Entries are filled in bulk with the bytes ``submit`` writes (one INSERT per 5,000 rows, a Redis
pipeline, files written without fsync): filling is not what is measured. The machine is shared
and loaded: compare the sizes of one store with each other (ratios), not absolute times.

    python -m benchmarks.outbox_queue                          # every store that answers
    python -m benchmarks.outbox_queue --stores sqlite,redis --sizes 100,10000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from .order_sync import _answers, _order

__all__ = ["main", "run"]

_SCOPES = ("ffn.merchant.read", "ffn.merchant.write")
_RUN = secrets.token_hex(4)
_TABLE = f"ffnbench_q_{_RUN}"
_PREFIX = f"ffnbench-q-{_RUN}:"
_URLS = {
    "redis": ("redis://127.0.0.1:6379/0", 6379),
    "postgres": ("postgresql+asyncpg://postgres@127.0.0.1:5432/test", 5432),
    "mysql": ("mysql+asyncmy://root@127.0.0.1:3306/test", 3306),
}
ALL = ["memory", "file", "sqlite", "redis", "postgres", "mysql"]


def _store(name: str, tmp: Path) -> Any:
    from token_stores import from_url

    if name == "memory":
        return from_url("memory://")
    if name == "file":
        return from_url(f"file://{tmp / 'tokens'}")
    if name == "sqlite":
        return from_url(f"sqlite+aiosqlite:///{tmp / 'bench.db'}", table=_TABLE)
    if name == "redis":
        return from_url(_URLS["redis"][0], prefix=_PREFIX)
    return from_url(_URLS[name][0], table=_TABLE)


async def _fill(name: str, store: Any, queue_key: str, data: bytes, n: int) -> None:
    """``n`` entries of ``data`` in ``queue_key``, in bulk (the layout the queue writes)."""
    from token_stores import queue_of

    queue: Any = queue_of(store)
    if name == "memory":
        for _ in range(n):
            await queue.append(queue_key, data)
    elif name == "file":
        folder = queue._dir(queue_key)
        first = int((folder / "next").read_text()) if (folder / "next").exists() else 1
        for item_id in range(first, first + n):
            shard = folder / str(item_id // 1000)
            if item_id == first or item_id % 1000 == 0:
                shard.mkdir(mode=0o700, exist_ok=True)
            (shard / f"{item_id}.entry").write_bytes(data)
        (folder / "next").write_text(str(first + n))
    elif name == "redis":
        nxt, ids, entries = queue._keys(queue_key)
        client = store._client
        last = int(await client.incrby(nxt, n))
        for start in range(last - n + 1, last + 1, 5000):
            chunk = range(start, min(start + 5000, last + 1))
            async with client.pipeline(transaction=False) as pipe:
                pipe.hset(entries, mapping=dict.fromkeys(chunk, data))
                pipe.zadd(ids, {str(i): i for i in chunk})
                await pipe.execute()
    else:
        await queue._prepare()
        table = queue._table
        for start in range(0, n, 5000):
            rows = [{"queue_key": queue_key, "data": data}] * min(5000, n - start)
            async with store._engine.begin() as conn:
                await conn.execute(table.insert(), rows)


async def _drop(name: str, store: Any) -> None:
    if name == "redis":
        client = store._client
        keys = [k async for k in client.scan_iter(match=f"{_PREFIX}*")]
        if keys:
            await client.delete(*keys)
    elif name in ("postgres", "mysql", "sqlite"):
        import sqlalchemy as sa

        async with store._engine.begin() as conn:
            for table in (_TABLE, f"{_TABLE}_queue"):
                await conn.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))


def _ms(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(ordered) * 1e3, ordered[int(0.99 * (len(ordered) - 1))] * 1e3


async def _bench_store(
    name: str, sizes: list[int], submits: int, http_sizes: list[int], budget: float, env: Any
) -> list[dict[str, Any]]:
    from ffn_async import FFNClient, StaticToken
    from ffn_async.api import creates as safe
    from ffn_async.codec.serialization import dumps
    from ffn_async.ordersync import outbox as outbox_module
    from ffn_async.ordersync._outbox_entries import OutboxEntry, encode
    from ffn_async.ordersync.outbox import Kept, Outbox

    fake, ffn_env = env
    rows: list[dict[str, Any]] = []
    jfsku = fake.api.add_product(f"BENCH-{secrets.token_hex(3)}", "x")["jfsku"]
    warehouse = fake.api.default_warehouse_id
    sample = dumps(_order("B-SAMPLE", warehouse, jfsku))
    entry = encode(OutboxEntry(0, "outbound", "B-SAMPLE", sample, reason="bench"))
    auth = StaticToken(fake.token(_SCOPES).access_token, scopes=_SCOPES)
    with tempfile.TemporaryDirectory() as tmp:
        store = _store(name, Path(tmp))
        if hasattr(store, "create_schema"):
            await store.create_schema()
        try:
            async with FFNClient(auth, environment=ffn_env) as ffn:
                outboxes = {}
                for n in sizes:
                    outbox = Outbox(store, f"bench-{n}-{secrets.token_hex(3)}", lease_ttl=30)
                    await _fill(name, store, outbox.record_key, entry, n)
                    # The outage case: entries wait, a replay just failed, FFN is down.
                    outbox._quiet_until = float("inf")
                    outboxes[n] = outbox
                # Round-robin over the sizes, so each sees the same load of the machine.
                took: dict[int, list[float]] = {n: [] for n in sizes}
                for i in range(submits):
                    for n, outbox in outboxes.items():
                        order = _order(f"S-{n}-{i}-{secrets.token_hex(4)}", warehouse, jfsku)
                        started = time.perf_counter()
                        kept = await outbox.submit(ffn, safe.OUTBOUND, order)
                        took[n].append(time.perf_counter() - started)
                        assert isinstance(kept, Kept)
                for n in sizes:
                    p50, p99 = _ms(took[n])
                    rows.append(
                        {"store": name, "kept": n, "what": "submit", "p50": p50, "p99": p99}
                    )

                projected_ok = True
                for n, outbox in outboxes.items():
                    if not projected_ok:
                        rows.append({"store": name, "kept": n, "what": "replay store", "skip": 1})
                        continue
                    real = outbox_module.create_response

                    async def answered(*args: Any, **kwargs: Any) -> Any:
                        return None, outbox_module.CreateOutcome.CREATED, 1

                    outbox_module.create_response = answered  # type: ignore[assignment]
                    tracemalloc.start()
                    started = time.perf_counter()
                    try:
                        report = await outbox.replay(ffn)
                    finally:
                        outbox_module.create_response = real
                    seconds = time.perf_counter() - started
                    peak = tracemalloc.get_traced_memory()[1]
                    tracemalloc.stop()
                    assert report.stopped is None
                    assert report.sent == n + submits
                    rows.append(
                        {
                            "store": name,
                            "kept": n,
                            "what": "replay store",
                            "seconds": seconds,
                            "per_entry_us": seconds / (n + submits) * 1e6,
                            "peak_mb": peak / 1e6,
                        }
                    )
                    projected_ok = seconds * 10 < budget
                for n in http_sizes:
                    outbox = Outbox(store, f"bench-http-{n}-{secrets.token_hex(3)}")
                    run = secrets.token_hex(3)
                    for i in range(n):
                        body = dumps(_order(f"H-{run}-{i}", warehouse, jfsku))
                        await _fill(
                            name, store, outbox.record_key,
                            encode(OutboxEntry(0, "outbound", f"H-{run}-{i}", body)), 1,
                        )  # fmt: skip
                    started = time.perf_counter()
                    report = await outbox.replay(ffn)
                    seconds = time.perf_counter() - started
                    assert report.stopped is None
                    assert report.sent == n
                    rows.append(
                        {
                            "store": name,
                            "kept": n,
                            "what": "replay http",
                            "seconds": seconds,
                            "per_entry_us": seconds / n * 1e6,
                        }
                    )
        finally:
            await _drop(name, store)
            await store.close()
    return rows


async def _run(
    stores: list[str], sizes: list[int], submits: int, http_sizes: list[int], budget: float
) -> list[dict[str, Any]]:
    from ffn_async.testing import FakeFFN

    rows: list[dict[str, Any]] = []
    fake = FakeFFN()
    async with fake.run() as env:
        for name in stores:
            if name in _URLS and not _answers(_URLS[name][1]):
                print(f"{name}: not reachable on 127.0.0.1, skipped")
                continue
            rows += await _bench_store(name, sizes, submits, http_sizes, budget, (fake, env))
            for row in rows:
                if row["store"] == name:
                    print(_line(row), flush=True)
    return rows


def _line(row: dict[str, Any]) -> str:
    head = f"{row['store']:9} {row['kept']:>7,} kept  {row['what']:13}"
    if row.get("skip"):
        return f"{head} skipped (10x the previous size would exceed the time budget)"
    if row["what"] == "submit":
        return f"{head} p50 {row['p50']:7.2f} ms  p99 {row['p99']:7.2f} ms"
    extra = f"  peak {row['peak_mb']:6.1f} MB" if "peak_mb" in row else ""
    return f"{head} {row['seconds']:8.2f} s  {row['per_entry_us']:7.0f} µs/entry{extra}"


def run(
    stores: list[str] | None = None,
    sizes: tuple[int, ...] = (100, 10_000, 100_000),
    submits: int = 300,
    http_sizes: tuple[int, ...] = (100, 500),
    budget: float = 60.0,
) -> list[dict[str, Any]]:
    """Measure; one row per (store, size, what)."""
    return asyncio.run(_run(stores or ALL, list(sizes), submits, list(http_sizes), budget))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", default=",".join(ALL), help="comma-separated store names")
    parser.add_argument("--sizes", default="100,10000,100000", help="kept entries")
    parser.add_argument("--submits", type=int, default=300, help="submits timed per size")
    parser.add_argument("--http-sizes", default="100,500", help="replays through HTTP")
    parser.add_argument("--budget", type=float, default=60.0, help="seconds a replay may take")
    args = parser.parse_args()
    os.environ.setdefault("PYTHONHASHSEED", "0")
    run(
        args.stores.split(","),
        tuple(int(s) for s in args.sizes.split(",")),
        args.submits,
        tuple(int(s) for s in args.http_sizes.split(",") if s),
        args.budget,
    )


if __name__ == "__main__":
    main()
