"""FeedConsumer keeps making progress: a lasting lease, bounded batches, paging, damaged records.

Each test here failed on the consumer before issue 21: a handler slower than the lease lost
every commit, the first batch without ``start`` was the whole history, a change shifted across
a page boundary was never delivered, a burst outgrew the record, a damaged record stopped the
feed, and an empty batch wrote its checkpoint.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from ffn_async import FFNClient
from ffn_async.api.pagination import ChangeFeed
from ffn_async.ordersync.checkpoint import Checkpoint, FeedConsumer, LeaseLost
from ffn_async.testing.pytest_plugin import RunningFake
from token_stores import LockTimeout, MemoryTokenStore, Record, TokenStore

from .conftest import add_products

Products = FeedConsumer[Any]


def _consumer(ffn: FFNClient, store: TokenStore, **options: Any) -> Products:
    source = options.pop("source", ffn.merchant.products.updates)
    return FeedConsumer(store, "products", source, key=lambda p: p.jfsku, **options)


async def _drain(consumer: Products, limit: int = 50) -> list[list[str]]:
    """Batches until one is caught up: the jfskus of each."""
    batches: list[list[str]] = []
    for _ in range(limit):
        async with consumer.batch() as batch:
            batches.append([p.jfsku for p in batch])
        if batch.caught_up:
            return batches
    raise AssertionError("never caught up")


class Counting:
    """A memory store counting saves (what an empty batch must not do)."""

    def __init__(self) -> None:
        self.inner = MemoryTokenStore()
        self.saves = 0

    async def load(self, key: str) -> Record | None:
        return await self.inner.load(key)

    async def save(self, key: str, data: bytes, expected_version: int | None) -> int:
        self.saves += 1
        return await self.inner.save(key, data, expected_version)

    def lock(self, key: str, *, ttl: float = 30.0, timeout: float = 60.0) -> Any:
        return self.inner.lock(key, ttl=ttl, timeout=timeout)

    async def delete(self, key: str) -> None:
        await self.inner.delete(key)

    async def close(self) -> None:
        await self.inner.close()


async def test_a_handler_slower_than_the_lease_still_commits(
    ffn: FFNClient, ffn_fake: RunningFake
) -> None:
    consumer = _consumer(ffn, MemoryTokenStore(), lease_ttl=0.3, commit_margin=0.1)
    added = add_products(ffn_fake, 3)
    async with consumer.batch() as batch:
        for _ in batch:
            await asyncio.sleep(0.3)  # three times the lease: renewed meanwhile
    assert batch.committed
    assert [p.jfsku for p in batch] == added
    async with consumer.batch() as again:
        assert len(again) == 0  # not delivered again


async def test_a_lost_lease_is_still_refused(ffn: FFNClient, ffn_fake: RunningFake) -> None:
    store = MemoryTokenStore()
    consumer = _consumer(ffn, store, lease_ttl=0.3, commit_margin=0.1)
    add_products(ffn_fake, 1)

    async def overtaken() -> None:
        async with consumer.batch():
            # Another worker took the lock behind the lease's back: renewal fails.
            store._leases[consumer.record_key] = ("someone-else", float("inf"))
            await asyncio.sleep(0.5)

    with pytest.raises(LeaseLost):
        await overtaken()


async def test_the_first_batch_without_start_spans_one_window(
    ffn: FFNClient, ffn_fake: RunningFake
) -> None:
    early = add_products(ffn_fake, 2, ago=3 * 3600)
    middle = add_products(ffn_fake, 2, ago=2 * 3600)
    late = add_products(ffn_fake, 2, ago=60)
    consumer = _consumer(
        ffn, MemoryTokenStore(), window=dt.timedelta(minutes=30), overlap=dt.timedelta(seconds=5)
    )
    batches = await _drain(consumer)
    assert batches[0] == early  # not the whole history
    assert [j for b in batches for j in b] == early + middle + late
    assert len(batches) > 3


async def test_batches_hold_at_most_max_items(ffn: FFNClient, ffn_fake: RunningFake) -> None:
    ffn_fake.server.api.chunk_size = 4
    added = add_products(ffn_fake, 23)
    consumer = _consumer(ffn, MemoryTokenStore(), max_items=10)
    batches = await _drain(consumer)
    assert [len(b) for b in batches] == [10, 10, 3]
    assert [j for b in batches for j in b] == added


def _shifting(ffn: FFNClient, ffn_fake: RunningFake) -> Callable[..., ChangeFeed[Any]]:
    """The products feed, where the first object of the first page is modified as soon as
    that page arrived, before the next is requested: it moves to the end of the window."""
    touched: list[str] = []

    def source(**window: Any) -> ChangeFeed[Any]:
        feed = ffn.merchant.products.updates(**window)
        walk = feed.chunks

        async def chunks() -> AsyncIterator[Any]:
            async for chunk in walk():
                if not touched and chunk.items:
                    touched.append(chunk.items[0].jfsku)
                    clock = ffn_fake.server.clock
                    clock.advance(-8)  # still inside the window, which ends 5 s before now
                    ffn_fake.server.api.products.collection.update(touched[0], {"name": "New"})
                    clock.advance(8)
                yield chunk

        feed.chunks = chunks  # type: ignore[method-assign]
        return feed

    return source


async def test_a_change_shifted_across_a_page_boundary_is_delivered(
    ffn: FFNClient, ffn_fake: RunningFake
) -> None:
    ffn_fake.server.api.chunk_size = 3
    added = add_products(ffn_fake, 7, ago=20)
    consumer = _consumer(ffn, MemoryTokenStore(), source=_shifting(ffn, ffn_fake))
    async with consumer.batch() as batch:
        delivered = [(p.jfsku, p.name) for p in batch]
    # Page 2 was asked for after page 1's first object moved to the window's end: paging by
    # number skips added[3], which the shift moved onto page 1.
    assert delivered == [(j, "Part") for j in added] + [(added[0], "New")]


async def test_a_burst_keeps_the_record_small(ffn: FFNClient, ffn_fake: RunningFake) -> None:
    ffn_fake.server.api.chunk_size = 500
    store = MemoryTokenStore()
    added = add_products(ffn_fake, 2500)
    consumer = _consumer(ffn, store, max_items=None)
    async with consumer.batch() as batch:
        assert len(batch) == 2500
    record = await store.load(consumer.record_key)
    assert record is not None
    assert len(record.data) < 40_000
    checkpoint = await consumer.checkpoint()
    assert checkpoint.watermark is not None
    more = add_products(ffn_fake, 5)
    async with consumer.batch() as batch:
        assert [p.jfsku for p in batch] == more  # none of the burst again, nothing lost
        assert batch.dropped == 2500
    assert len(added) == 2500


async def test_an_empty_batch_writes_nothing(ffn: FFNClient, ffn_fake: RunningFake) -> None:
    store = Counting()
    consumer = _consumer(ffn, store)
    add_products(ffn_fake, 2)
    async with consumer.batch() as batch:
        assert len(batch) == 2
    assert store.saves == 1
    for _ in range(3):
        async with consumer.batch() as batch:
            assert len(batch) == 0
            assert batch.caught_up
        assert batch.committed  # nothing to save
    assert store.saves == 1
    more = add_products(ffn_fake, 1)
    async with consumer.batch() as batch:
        assert [p.jfsku for p in batch] == more
    assert store.saves == 2


async def test_poll_interval_leaves_a_polled_feed_to_others(
    ffn: FFNClient, ffn_fake: RunningFake
) -> None:
    store = MemoryTokenStore()
    one = _consumer(ffn, store, poll_interval=0.5)
    two = _consumer(ffn, store, poll_interval=0.5)
    async with one.batch():
        pass
    with pytest.raises(LockTimeout):  # polled less than 0.5 s ago: skipped, not waited for
        async with two.batch(wait=0):
            pass
    await asyncio.sleep(0.6)
    async with two.batch(wait=0) as batch:
        pass
    assert batch.committed


DAMAGED = [b"\x00garbage", b'{"format": 1, "watermark": "yesterday", "seen": {}}']


@pytest.mark.parametrize("bad", DAMAGED)
async def test_a_damaged_checkpoint_is_kept_aside_and_the_feed_goes_on(
    ffn: FFNClient, ffn_fake: RunningFake, bad: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    store = MemoryTokenStore()
    consumer = _consumer(ffn, store)
    added = add_products(ffn_fake, 3)
    await store.save(consumer.record_key, bad, None)
    with caplog.at_level(logging.ERROR, "ffn_async"):
        async with consumer.batch() as batch:
            assert [p.jfsku for p in batch] == added  # again from the start
    assert batch.committed
    assert batch.recovered_from is not None
    kept = await store.load(batch.recovered_from)
    assert kept is not None
    assert kept.data == bad
    [entry] = [r for r in caplog.records if "unreadable" in r.getMessage()]
    assert batch.recovered_from in entry.getMessage()
    assert getattr(entry, "ffn_feed", None) == "products"
    async with consumer.batch() as batch:
        assert len(batch) == 0
        assert batch.recovered_from is None


async def test_reset_replaces_a_damaged_checkpoint(ffn: FFNClient, ffn_fake: RunningFake) -> None:
    store = MemoryTokenStore()
    consumer = _consumer(ffn, store)
    await store.save(consumer.record_key, DAMAGED[0], None)
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    await consumer.reset(start)
    assert (await consumer.checkpoint()).watermark == start
    aside = [k for k in store._records if k.startswith(consumer.record_key + ".corrupt-")]
    assert len(aside) == 1


def test_the_first_record_layout_still_reads() -> None:
    old = (
        b'{"format": 1, "watermark": "2026-01-01T00:00:00+00:00",'
        b' "seen": {"MERC1": "2025-12-31T23:59:30+00:00"}}'
    )
    checkpoint = Checkpoint.decode(Record(old, 3))
    assert checkpoint.delivered("MERC1", dt.datetime(2025, 12, 31, 23, 59, 30, tzinfo=dt.UTC))
    assert not checkpoint.delivered("MERC1", dt.datetime(2025, 12, 31, 23, 59, 31, tzinfo=dt.UTC))
    assert Checkpoint.decode(Record(checkpoint.encode(), 4)).seen == checkpoint.seen


async def test_a_cut_batch_never_moves_the_watermark_back(
    ffn: FFNClient, ffn_fake: RunningFake
) -> None:
    consumer = _consumer(ffn, MemoryTokenStore(), max_items=3, overlap=dt.timedelta(minutes=1))
    add_products(ffn_fake, 2)
    async with consumer.batch():
        pass
    mark = (await consumer.checkpoint()).watermark
    assert mark is not None
    late = add_products(ffn_fake, 5, ago=30)  # visible only now, stamped before the watermark
    delivered: list[str] = []
    for _ in range(3):
        async with consumer.batch() as batch:
            delivered += [p.jfsku for p in batch]
        now = (await consumer.checkpoint()).watermark
        assert now is not None
        assert now >= mark
        mark = now
    assert delivered == late
