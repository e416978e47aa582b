"""A burst of changes on every store: the checkpoint record stays small and commits go on.

Before issue 21 the checkpoint kept every change of the overlap as an id and an ISO time: 1,800
changes in 30 s made a record over MySQL's 64 KB column, and every commit failed from then on
(the watermark stayed ``None``). The record now packs the set and caps it.
"""

from __future__ import annotations

import datetime as dt
import secrets

from ffn_async import FFNClient, StaticToken
from ffn_async.ordersync.checkpoint import FeedConsumer
from ffn_async.testing import FakeFFN
from token_stores import TokenStore

SCOPES = ("ffn.merchant.read", "ffn.merchant.write")
BURST = 2500  # more than the 2,048 changes a record remembers: the cap is exercised too


async def test_a_burst_of_changes_commits_on_every_store(store: TokenStore) -> None:
    fake = FakeFFN(chunk_size=500)
    fake.clock.advance(-30)  # the burst: 2,500 changes within 30 s, inside the 2 min overlap
    burst = [fake.api.add_product(f"B-{i}", "Part")["jfsku"] for i in range(BURST)]
    fake.clock.advance(30)
    name = f"burst-{secrets.token_hex(4)}"
    async with (
        fake.run() as env,
        FFNClient(
            StaticToken(fake.token(SCOPES).access_token, scopes=SCOPES), environment=env
        ) as ffn,
    ):
        consumer = FeedConsumer(
            store, name, ffn.merchant.products.updates, key=lambda p: p.jfsku, max_items=None
        )
        async with consumer.batch() as batch:
            assert [p.jfsku for p in batch] == burst
        assert (await consumer.checkpoint()).watermark is not None
        record = await store.load(consumer.record_key)
        assert record is not None
        assert len(record.data) < 40_000
        fake.clock.advance(-10)
        later = fake.api.add_product("after", "Part")["jfsku"]
        fake.clock.advance(10)
        async with consumer.batch() as batch:
            assert [p.jfsku for p in batch] == [later]
        assert batch.to_date is not None
        assert batch.to_date > dt.datetime.now(dt.UTC) - dt.timedelta(seconds=30)
        await store.delete(consumer.record_key)
