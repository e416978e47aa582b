"""A fleet of feed workers (issue 21): how the feeds spread over workers, and what it costs.

``F`` feeds (one checkpoint each, as one per merchant account) and ``N`` worker processes, each
running :func:`ffn_async.ordersync.checkpoint.sweep` over all ``F`` in a loop, with one Redis store
for checkpoints and leases and the in-process fake server on loopback. With ``poll_interval`` a
polled feed's lease is held that long, so the other workers skip it: the fleet polls each feed once
per interval instead of once per worker. Measured per configuration, with the interval longer than
the run (each feed is due once):

* **fleet sweep**: seconds from the first poll to the moment every feed has been polled once;
* **polls per feed**: 1.0 when the work is spread, ``N`` when every worker polls every feed;
* **store operations** per worker sweep: lock attempts, checkpoint loads, saves (a polled
  feed's claim adds one lease renewal). A feed another worker holds costs one lock attempt;
  an empty poll a lock, a load and the claim (no save).

The feeds are warmed up first (each polled once, its checkpoint written); the figures are of
the steady state, where every poll is an empty batch.

The ``every worker`` row is the shape before issue 21 (no ``poll_interval``) for comparison.
Timings are from a shared, loaded machine: compare rows of one run, not runs.

    python -m benchmarks.feed_fleet                      # 1, 4, 8 workers x 200, 2,000 feeds
    python -m benchmarks.feed_fleet --feeds 200 --workers 4
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import secrets
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs

__all__ = ["Fleet", "main", "read_log", "run_fleet", "worker"]

SCOPES = ("ffn.merchant.read", "ffn.merchant.write")
REDIS_URL = "redis://127.0.0.1:6379/0"
_SPAWN = multiprocessing.get_context("spawn")


@attrs.frozen
class Fleet:
    """One worker's orders (picklable): where the store and the API are, which feeds."""

    store_url: str
    store_options: dict[str, Any]
    api_url: str
    token: str
    feeds: int
    poll_interval: float | None
    log: str
    stop: str
    pause: float = 0.05
    sweeps: int | None = None


def worker(fleet: Fleet) -> None:
    """Process entry point: sweep the feeds until ``fleet.stop`` exists (or ``sweeps`` ran).

    Log lines (appended, one ``write`` each): ``B pid feed start end changes`` a batch
    (monotonic clock, shared by the processes of one host), ``D pid feed jfsku`` a change
    delivered, ``S pid start end batches skipped locks loads saves`` a sweep.
    """
    asyncio.run(_sweeps(fleet))


class _Counting:
    """A store that counts what a sweep asks of it (lock attempts, loads, saves)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.locks = self.loads = self.saves = 0

    async def load(self, key: str) -> Any:
        self.loads += 1
        return await self.inner.load(key)

    async def save(self, key: str, data: bytes, expected_version: int | None) -> int:
        self.saves += 1
        return int(await self.inner.save(key, data, expected_version))

    def lock(self, key: str, **options: Any) -> Any:
        self.locks += 1
        return self.inner.lock(key, **options)

    async def delete(self, key: str) -> None:
        await self.inner.delete(key)

    async def close(self) -> None:
        await self.inner.close()


async def _sweeps(fleet: Fleet) -> None:
    from ffn_async import Environment, FFNClient, StaticToken
    from ffn_async.ordersync.checkpoint import Batch, FeedConsumer, sweep
    from token_stores import from_url

    me = os.getpid()
    store = _Counting(from_url(fleet.store_url, **fleet.store_options))
    env = Environment(
        api_url=fleet.api_url, authorize_url=fleet.api_url, token_url=fleet.api_url, name="fake"
    )
    fd = os.open(fleet.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        async with FFNClient(StaticToken(fleet.token, scopes=SCOPES), environment=env) as ffn:
            consumers = [
                FeedConsumer(
                    store,
                    f"fleet-{n}",
                    ffn.merchant.products.updates,
                    key=lambda p: p.jfsku,
                    lease_ttl=10.0,
                    poll_interval=fleet.poll_interval,
                )
                for n in range(fleet.feeds)
            ]

            async def handle(batch: Batch[Any]) -> None:
                feed, began = batch.lease.key, time.monotonic()
                for product in batch:
                    _write(fd, f"D {me} {feed} {product.jfsku}")
                _write(fd, f"B {me} {feed} {began:.6f} {time.monotonic():.6f} {len(batch)}")

            done = 0
            while not os.path.exists(fleet.stop) and (fleet.sweeps is None or done < fleet.sweeps):
                locks, loads, saves = store.locks, store.loads, store.saves
                began = time.monotonic()
                result = await sweep(consumers, handle)
                ops = f"{store.locks - locks} {store.loads - loads} {store.saves - saves}"
                _write(
                    fd,
                    f"S {me} {began:.6f} {time.monotonic():.6f} {result.batches} "
                    f"{result.skipped} {ops} {len(result.failed)}",
                )
                done += 1
                await asyncio.sleep(fleet.pause)
    finally:
        os.close(fd)
        await store.close()


def _write(fd: int, line: str) -> None:
    os.write(fd, (line + "\n").encode())


def read_log(path: Path) -> list[list[str]]:
    """The log's lines, split."""
    return [line.split() for line in path.read_text().splitlines()] if path.exists() else []


async def run_fleet(
    fleet: Fleet, workers: int, *, until: Any, timeout: float
) -> list[multiprocessing.process.BaseProcess]:
    """Start ``workers`` processes of ``fleet``; stop them once ``until()`` or ``timeout``."""
    children: list[multiprocessing.process.BaseProcess] = [
        _SPAWN.Process(target=worker, args=(fleet,)) for _ in range(workers)
    ]
    for child in children:
        child.start()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and not until():
            await asyncio.sleep(0.1)
    finally:
        Path(fleet.stop).touch()
        for child in children:
            await asyncio.to_thread(child.join, 60)
            if child.is_alive():
                child.kill()
    return children


async def _measure(feeds: int, workers: int, poll: float | None, tmp: Path) -> dict[str, Any]:
    """Warm the feeds up (each polled once, its checkpoint written), then measure the fleet
    polling each of them once more: the steady state, every poll an empty batch."""
    from ffn_async.testing import FakeFFN

    run = secrets.token_hex(4)
    prefix = f"ffnbench-fleet-{run}:"
    fake = FakeFFN()
    async with fake.run() as env:
        token = fake.token(SCOPES).access_token

        def fleet(poll_interval: float | None, name: str) -> Fleet:
            return Fleet(
                REDIS_URL, {"prefix": prefix}, str(env.api_url), token, feeds, poll_interval,
                str(tmp / f"{name}-{run}.log"), str(tmp / f"stop-{name}-{run}"),
            )  # fmt: skip

        warm = fleet(0.2, "warm")
        await run_fleet(warm, workers, until=_all_polled(Path(warm.log), feeds, None), timeout=300)
        await asyncio.sleep(0.5)  # the warm-up's claims run out
        measured = fleet(poll, "run")
        log = Path(measured.log)
        until = _all_polled(log, feeds, workers)
        if poll is None:  # every worker polls every feed: one sweep each says it all
            measured = attrs.evolve(measured, sweeps=1)
            until = lambda: sum(line[0] == "S" for line in read_log(log)) >= workers  # noqa: E731
        began = time.monotonic()
        await run_fleet(measured, workers, until=until, timeout=300)
        took = time.monotonic() - began
    await _drop(prefix)
    return _figures(read_log(log), feeds, workers, poll, took)


def _all_polled(log: Path, feeds: int, workers: int | None) -> Callable[[], bool]:
    """Whether every feed was polled and (unless ``workers`` is ``None``) every worker swept
    once more since the last poll."""

    def check() -> bool:
        lines = read_log(log)
        polled = {line[2] for line in lines if line[0] == "B"}
        if len(polled) < feeds or workers is None:
            return len(polled) >= feeds
        last_poll = max(float(line[4]) for line in lines if line[0] == "B")
        finished = {line[1] for line in lines if line[0] == "S" and float(line[2]) > last_poll}
        return len(finished) >= workers

    return check


def _figures(
    lines: list[list[str]], feeds: int, workers: int, poll: float | None, took: float
) -> dict[str, Any]:
    batches = [line for line in lines if line[0] == "B"]
    sweeps = [line for line in lines if line[0] == "S"]
    first: dict[str, tuple[float, float]] = {}
    for line in batches:
        first.setdefault(line[2], (float(line[3]), float(line[4])))
    spans = list(first.values())
    busy = [s for s in sweeps if int(s[4]) > 0]  # sweeps that polled at least one feed
    idle = [s for s in sweeps if int(s[4]) == 0]

    def mean(rows: Sequence[list[str]], index: int) -> float:
        return sum(float(r[index]) for r in rows) / len(rows) if rows else 0.0

    per_worker: dict[str, int] = defaultdict(int)
    for line in batches:
        per_worker[line[1]] += 1
    return {
        "feeds": feeds,
        "workers": workers,
        "shape": "poll_interval" if poll else "every worker",
        "fleet_sweep_s": round(max(e for _, e in spans) - min(s for s, _ in spans), 2),
        "polls_per_feed": round(len(batches) / feeds, 2),
        "busiest_worker_share": round(max(per_worker.values()) / len(batches), 2),
        "busy_sweep": {
            "batches": round(mean(busy, 4), 1),
            "locks": round(mean(busy, 6), 1),
            "loads": round(mean(busy, 7), 1),
            "saves": round(mean(busy, 8), 1),
            "seconds": round(sum(float(s[3]) - float(s[2]) for s in busy) / max(len(busy), 1), 2),
        },
        "idle_sweep": {
            "locks": round(mean(idle, 6), 1),
            "loads": round(mean(idle, 7), 1),
            "saves": round(mean(idle, 8), 1),
            "seconds": round(sum(float(s[3]) - float(s[2]) for s in idle) / max(len(idle), 1), 3),
        },
        "failures": sum(int(s[9]) for s in sweeps),
        "wall_s": round(took, 1),
    }  # fmt: skip


async def _drop(prefix: str) -> None:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        keys = [k async for k in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.feed_fleet")
    parser.add_argument("--feeds", type=int, action="append", help="default: 200 and 2000")
    parser.add_argument("--workers", type=int, action="append", help="default: 1, 4 and 8")
    args = parser.parse_args(argv)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for feeds in args.feeds or [200, 2000]:
            for workers in args.workers or [1, 4, 8]:
                row = asyncio.run(_measure(feeds, workers, 3600.0, Path(tmp)))
                print(row, file=sys.stderr, flush=True)
                rows.append(row)
            row = asyncio.run(_measure(feeds, 4, None, Path(tmp)))
            print(row, file=sys.stderr, flush=True)
            rows.append(row)
    print(_table(rows))
    return 0


def _table(rows: list[dict[str, Any]]) -> str:
    head = (
        "| feeds | workers | shape | fleet sweep (s) | polls/feed | busiest worker | "
        "busy sweep: locks / loads / saves | idle sweep: locks / loads / saves (s) |\n"
        "|---:|---:|---|---:|---:|---:|---|---|"
    )
    body = [
        f"| {r['feeds']:,} | {r['workers']} | {r['shape']} | {r['fleet_sweep_s']} | "
        f"{r['polls_per_feed']} | {r['busiest_worker_share']:.0%} | "
        f"{r['busy_sweep']['locks']} / {r['busy_sweep']['loads']} / {r['busy_sweep']['saves']} | "
        f"{r['idle_sweep']['locks']} / {r['idle_sweep']['loads']} / {r['idle_sweep']['saves']} "
        f"({r['idle_sweep']['seconds']}) |"
        for r in rows
    ]
    return "\n".join([head, *body])


if __name__ == "__main__":
    raise SystemExit(main())
