"""FeedConsumer in one process: commits, redelivery, the overlap window and the lease."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from ffn_async import FFNClient, models
from ffn_async.ordersync import _feed_seen
from ffn_async.ordersync.checkpoint import (
    CHECKPOINT_PREFIX,
    Batch,
    Checkpoint,
    FeedConsumer,
    LeaseLost,
)
from ffn_async.testing.pytest_plugin import RunningFake
from token_stores import LockTimeout, MemoryTokenStore

from .conftest import add_products


def _consumer(
    ffn: FFNClient, store: MemoryTokenStore, **options: object
) -> FeedConsumer[models.Product]:
    return FeedConsumer(
        store,
        "products",
        ffn.merchant.products.updates,
        key=lambda p: p.jfsku,
        **options,  # type: ignore[arg-type]
    )


async def test_batches_commit_and_resume(ffn: FFNClient, ffn_fake: RunningFake) -> None:
    store = MemoryTokenStore()
    consumer = _consumer(ffn, store)
    first = add_products(ffn_fake, 5)
    async with consumer.batch() as batch:
        assert [p.jfsku for p in batch] == first
    assert batch.committed
    checkpoint = await consumer.checkpoint()
    assert checkpoint.watermark is not None
    # All within the overlap of the watermark, remembered by digest.
    assert set(checkpoint.seen) == {_feed_seen.digest(j) for j in first}
    assert (await store.load(CHECKPOINT_PREFIX + "products")) is not None

    second = add_products(ffn_fake, 3)
    async with consumer.batch() as batch:
        # The window starts `overlap` early, so the first five come back: dropped by id and
        # modification time.
        assert [p.jfsku for p in batch] == second
        assert batch.dropped == 5


async def test_a_failed_batch_is_delivered_again(ffn: FFNClient, ffn_fake: RunningFake) -> None:
    store = MemoryTokenStore()
    consumer = _consumer(ffn, store)
    added = add_products(ffn_fake, 4)
    seen: list[Batch[models.Product]] = []

    async def fail() -> None:
        async with consumer.batch() as batch:
            seen.append(batch)
            raise RuntimeError("processing failed")

    with pytest.raises(RuntimeError):
        await fail()
    assert len(seen[0]) == 4
    assert not seen[0].committed
    assert (await consumer.checkpoint()).watermark is None
    async with consumer.batch() as again:
        assert [p.jfsku for p in again] == added


async def test_a_modified_object_in_the_overlap_is_delivered(
    ffn: FFNClient, ffn_fake: RunningFake
) -> None:
    store = MemoryTokenStore()
    consumer = _consumer(ffn, store)
    [jfsku] = add_products(ffn_fake, 1)
    async with consumer.batch() as batch:
        assert len(batch) == 1
    clock = ffn_fake.server.clock
    clock.advance(-8)
    ffn_fake.server.api.products.collection.update(jfsku, {"name": "Renamed"})
    clock.advance(8)
    async with consumer.batch() as batch:
        assert [p.name for p in batch] == ["Renamed"]
        assert batch.dropped == 0


async def test_windows_cap_a_long_history(ffn: FFNClient, ffn_fake: RunningFake) -> None:
    store = MemoryTokenStore()
    start = ffn_fake.server.clock.now_datetime() - dt.timedelta(hours=2, seconds=1)
    early = add_products(ffn_fake, 2, ago=7200)
    late = add_products(ffn_fake, 2, ago=3600)
    consumer = _consumer(
        ffn, store, start=start, window=dt.timedelta(minutes=30), overlap=dt.timedelta(seconds=5)
    )
    delivered: list[str] = []
    for _ in range(5):
        async with consumer.batch() as batch:
            delivered += [p.jfsku for p in batch]
    assert delivered == early + late


async def test_a_commit_after_another_workers_commit_is_refused(
    ffn: FFNClient, ffn_fake: RunningFake
) -> None:
    store = MemoryTokenStore()
    consumer = _consumer(ffn, store)
    add_products(ffn_fake, 2)

    async def overtaken() -> None:
        async with consumer.batch():
            # Someone wrote the checkpoint behind the lease's back (a worker whose lease ran
            # out): this batch must not overwrite it.
            record = await store.load(consumer.record_key)
            await store.save(consumer.record_key, Checkpoint().encode(), record and record.version)

    with pytest.raises(LeaseLost):
        await overtaken()
    assert (await consumer.checkpoint()).watermark is None


async def test_a_commit_without_lease_left_is_refused(
    ffn: FFNClient, ffn_fake: RunningFake
) -> None:
    consumer = _consumer(ffn, MemoryTokenStore(), lease_ttl=0.3, commit_margin=0.2)
    add_products(ffn_fake, 1)

    async def slow() -> None:
        async with consumer.batch():
            # A handler that blocks the event loop: the lease cannot be renewed meanwhile.
            time.sleep(0.35)

    with pytest.raises(LeaseLost):
        await slow()
    assert (await consumer.checkpoint()).watermark is None


async def test_one_batch_at_a_time(ffn: FFNClient, ffn_fake: RunningFake) -> None:
    store = MemoryTokenStore()
    one, two = _consumer(ffn, store), _consumer(ffn, store)

    async def second() -> None:
        async with two.batch(wait=0.1):
            pass

    async with one.batch():
        with pytest.raises(LockTimeout):
            await second()
