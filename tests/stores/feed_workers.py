"""A change-feed consumer run in child processes (spawn), logging what it holds and delivers.

Log lines (appended, one ``write`` each): ``L pid t`` lease taken (monotonic clock, shared by
the processes of one host), ``D pid id mtime`` a change delivered, ``R pid t`` processing done
(the lease is still held), ``C pid`` committed, ``X pid`` commit refused.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import time
from pathlib import Path

from ffn_async import Environment, FFNClient, StaticToken
from ffn_async.ordersync.checkpoint import FeedConsumer, LeaseLost, modification_time
from ffn_async.retry import RetryPolicy
from token_stores import LockTimeout

from .specs import StoreSpec

SCOPES = ("ffn.merchant.read", "ffn.merchant.write")


def consume(
    spec: StoreSpec, api_url: str, token: str, name: str, log: str, stop: str, lease_ttl: float
) -> None:
    """Consume the products feed until ``stop`` exists."""
    asyncio.run(_consume(spec, api_url, token, name, Path(log), Path(stop), lease_ttl))


async def _consume(
    spec: StoreSpec,
    api_url: str,
    token: str,
    name: str,
    log: Path,
    stop: Path,
    lease_ttl: float,
) -> None:
    me = os.getpid()
    store = spec.build()
    env = Environment(api_url=api_url, authorize_url=api_url, token_url=api_url, name="fake")
    retry = RetryPolicy(base_delay=0.01, max_delay=0.05)
    try:
        async with FFNClient(
            StaticToken(token, scopes=SCOPES), environment=env, retry=retry
        ) as ffn:
            consumer = FeedConsumer(
                store,
                name,
                ffn.merchant.products.updates,
                key=lambda p: p.jfsku,
                overlap=dt.timedelta(seconds=30),
                lease_ttl=lease_ttl,
                commit_margin=0.5,
            )
            while not stop.exists():
                try:
                    async with consumer.batch(wait=0.3) as batch:
                        _append(log, f"L {me} {time.monotonic()}")
                        for product in batch:
                            at = modification_time(product)
                            assert at is not None
                            _append(log, f"D {me} {product.jfsku} {at.isoformat()}")
                            await asyncio.sleep(0.005)
                        _append(log, f"R {me} {time.monotonic()}")
                    _append(log, f"C {me}")
                except LockTimeout:
                    continue
                except LeaseLost:
                    _append(log, f"X {me}")
                await asyncio.sleep(0.02)
    finally:
        await store.close()


def _append(log: Path, line: str) -> None:
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)
