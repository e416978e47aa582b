"""What order sync costs on the happy path (issue 12): safe creates, the outbox, feed batches.

Against the in-process fake server on loopback, one coroutine after the other (the cost of
each call, not throughput):

* an outbound create as a plain POST (``safe_create=False``) and as a safe create: on the happy
  path both send one POST, so the difference is the safe create's own bookkeeping;
* :meth:`Outbox.submit` per store: the create plus one head read of the outbox queue;
* an empty :meth:`FeedConsumer.batch`: lease lock, checkpoint read, one feed GET, commit
  (compare-and-set) and unlock.

Redis and PostgreSQL are used when they answer on 127.0.0.1 (a unique key prefix / table,
removed afterwards).

    python -m benchmarks.order_sync              # 400 creates, 50 batches per store
    python -m benchmarks.order_sync --creates 100 --batches 20
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import socket
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

__all__ = ["main", "run"]

_SCOPES = ("ffn.merchant.read", "ffn.merchant.write")
_SERVICES = {
    "redis": ("redis://127.0.0.1:6379/0", 6379),
    "postgres": ("postgresql+asyncpg://postgres@127.0.0.1:5432/test", 5432),
}


def _answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True


def _order(number: str, warehouse_id: str, jfsku: str) -> Any:
    from ffn_async.models import merchant as m

    return m.CreateOutboundRequest(
        merchant_outbound_number=number,
        warehouse_id=warehouse_id,
        currency="EUR",
        shipping_address=m.CreateAddressRequest(street="Hauptstr. 1", city="Monheim", country="DE"),
        items=[m.CreateOutboundItemRequest(outbound_item_id="1", jfsku=jfsku, quantity=Decimal(1))],
    )


async def _stores(tmp: Path) -> list[tuple[str, Any, Any]]:
    """``(name, store, cleanup)`` for every store that can be had here."""
    from token_stores import MemoryTokenStore, from_url

    run = secrets.token_hex(4)
    stores: list[tuple[str, Any, Any]] = [("memory", MemoryTokenStore(), None)]
    sqlite = from_url(f"sqlite+aiosqlite:///{tmp / 'bench.db'}", table=f"bench_{run}")
    await sqlite.create_schema()  # type: ignore[attr-defined]
    stores.append(("sqlite", sqlite, None))
    redis_url, port = _SERVICES["redis"]
    if _answers(port):
        prefix = f"ffnbench-{run}:"
        redis = from_url(redis_url, prefix=prefix)

        async def drop_keys() -> None:
            import redis.asyncio as aioredis

            client = aioredis.Redis.from_url(redis_url)
            keys = [k async for k in client.scan_iter(match=f"{prefix}*")]
            if keys:
                await client.delete(*keys)
            await client.aclose()

        stores.append(("redis", redis, drop_keys))
    pg_url, port = _SERVICES["postgres"]
    if _answers(port):
        table = f"ffnbench_{run}"
        postgres = from_url(pg_url, table=table)
        await postgres.create_schema()  # type: ignore[attr-defined]

        async def drop_table() -> None:
            import sqlalchemy as sa
            from sqlalchemy.ext.asyncio import create_async_engine

            engine = create_async_engine(pg_url)
            async with engine.begin() as conn:
                for name in (table, f"{table}_queue"):  # the records, and the outbox's queue
                    await conn.execute(sa.text(f"DROP TABLE IF EXISTS {name}"))
            await engine.dispose()

        stores.append(("postgres", postgres, drop_table))
    return stores


async def _run(creates: int, batches: int) -> list[dict[str, Any]]:
    from ffn_async import FFNClient, StaticToken
    from ffn_async.api import creates as safe
    from ffn_async.ordersync.checkpoint import FeedConsumer
    from ffn_async.ordersync.outbox import Outbox
    from ffn_async.testing import FakeFFN

    rows: list[dict[str, Any]] = []
    fake = FakeFFN()
    async with fake.run() as env:
        jfsku = fake.api.add_product("BENCH-SKU", "x")["jfsku"]
        warehouse = fake.api.default_warehouse_id
        auth = StaticToken(fake.token(_SCOPES).access_token, scopes=_SCOPES)
        async with FFNClient(auth, environment=env) as ffn:
            for label, flag in (("plain POST", False), ("safe create", True)):
                orders = [
                    _order(f"B-{secrets.token_hex(5)}", warehouse, jfsku) for _ in range(creates)
                ]
                started = time.perf_counter()
                for order in orders:
                    await ffn.request("POST", safe.OUTBOUND.path, json=order, safe_create=flag)
                took = time.perf_counter() - started
                rows.append(
                    {"what": f"outbound create, {label}", "store": "-", "us": took / creates * 1e6}
                )
            with tempfile.TemporaryDirectory() as tmp:
                for name, store, cleanup in await _stores(Path(tmp)):
                    try:
                        outbox = Outbox(store, f"bench-{secrets.token_hex(3)}")
                        orders = [
                            _order(f"O-{secrets.token_hex(5)}", warehouse, jfsku)
                            for _ in range(creates)
                        ]
                        started = time.perf_counter()
                        for order in orders:
                            await outbox.submit(ffn, safe.OUTBOUND, order)
                        took = time.perf_counter() - started
                        rows.append(
                            {"what": "Outbox.submit", "store": name, "us": took / creates * 1e6}
                        )
                        feed = FeedConsumer(
                            store,
                            f"bench-{secrets.token_hex(3)}",
                            ffn.merchant.products.updates,
                            key=lambda p: p.jfsku,
                        )
                        started = time.perf_counter()
                        for _ in range(batches):
                            async with feed.batch():
                                pass
                        took = time.perf_counter() - started
                        rows.append(
                            {
                                "what": "empty FeedConsumer.batch",
                                "store": name,
                                "us": took / batches * 1e6,
                            }
                        )
                    finally:
                        await store.close()
                        if cleanup is not None:
                            await cleanup()
    return rows


def run(creates: int = 400, batches: int = 50) -> list[dict[str, Any]]:
    """Measure; one row per (what, store) with microseconds per call."""
    return asyncio.run(_run(creates, batches))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--creates", type=int, default=400, help="creates per row")
    parser.add_argument("--batches", type=int, default=50, help="feed batches per store")
    args = parser.parse_args()
    for row in run(args.creates, args.batches):
        print(f"{row['what']:32} {row['store']:9} {row['us']:9.0f} µs")


if __name__ == "__main__":
    main()
