"""Log records of the order-sync modules carry the structured fields
(:mod:`ffn_async.observe._logfields`): ``ffn_outbox`` on the outbox's, ``ffn_operation`` and
``ffn_account`` on a safe create's, ``ffn_feed`` on a feed's; every field present, ``None`` when
unknown."""

from __future__ import annotations

import logging
import secrets

import pytest

from ffn_async import FFNClient, TokenManager
from ffn_async.api import creates
from ffn_async.observe._logfields import FIELDS
from ffn_async.ordersync.checkpoint import FeedConsumer
from ffn_async.ordersync.outbox import Kept, Outbox
from ffn_async.testing.pytest_plugin import RunningFake
from token_stores import MemoryTokenStore

from . import builders
from .conftest import FAST, SCOPES, add_products


def fields(record: logging.LogRecord) -> dict[str, object]:
    return {name: getattr(record, name) for name in FIELDS}


async def test_outbox_replay_and_safe_create_records_name_outbox_operation_and_account(
    ffn_fake: RunningFake, caplog: pytest.LogCaptureFixture
) -> None:
    fake = ffn_fake.server
    store = MemoryTokenStore()
    auth = TokenManager(fake.credentials, store, key="acct-log", environment=fake.environment)
    await auth.store_token(fake.token(SCOPES))
    outbox = Outbox(store, "box-log")
    jfsku = fake.api.add_product(f"SKU-{secrets.token_hex(3)}", "Part")["jfsku"]
    order = builders.outbound(f"OB-{secrets.token_hex(4)}", fake.api.default_warehouse_id, jfsku)
    caplog.set_level(logging.INFO, logger="ffn_async")
    try:
        async with FFNClient(auth, retry=FAST) as ffn:
            fake.faults.unavailable = 1.0  # FFN down beyond the retry budget: the create is kept
            assert isinstance(await outbox.submit(ffn, creates.OUTBOUND, order), Kept)
            fake.faults.clear()
            fake.faults.inject_next("unavailable")  # the replay's first POST: 503, not created
            report = await outbox.replay(ffn)
    finally:
        await auth.aclose()
    assert len(report.applied) == 1

    made = [r for r in caplog.records if r.name == "ffn_async.creates"]
    assert any("look-up after a lost answer failed" in r.getMessage() for r in made)
    assert any("sending again" in r.getMessage() for r in made)
    for record in made:
        assert fields(record) == {
            "ffn_operation": "merchant.OutboundsPost",
            "ffn_status": None,
            "ffn_attempt": None,
            "ffn_account": "acct-log",
            "ffn_outbox": None,
            "ffn_feed": None,
        }, record.getMessage()

    boxed = [r for r in caplog.records if r.name == "ffn_async.outbox"]
    assert {r.ffn_outbox for r in boxed} == {"box-log"}  # type: ignore[attr-defined]
    [replayed] = [r for r in boxed if "replayed" in r.getMessage()]
    assert fields(replayed) == {
        "ffn_operation": None,
        "ffn_status": None,
        "ffn_attempt": None,
        "ffn_account": "acct-log",
        "ffn_outbox": "box-log",
        "ffn_feed": None,
    }


async def test_a_feed_batch_record_carries_the_feed_and_every_field(
    ffn: FFNClient, ffn_fake: RunningFake, caplog: pytest.LogCaptureFixture
) -> None:
    store = MemoryTokenStore()
    consumer = FeedConsumer(store, "products", ffn.merchant.products.updates, key=lambda p: p.jfsku)
    added = add_products(ffn_fake, 2)
    await store.save(consumer.record_key, b"\x00garbage", None)
    with caplog.at_level(logging.ERROR, "ffn_async"):
        async with consumer.batch() as batch:
            assert [p.jfsku for p in batch] == added
    [entry] = [r for r in caplog.records if "unreadable" in r.getMessage()]
    assert fields(entry) == {
        "ffn_operation": None,
        "ffn_status": None,
        "ffn_attempt": None,
        "ffn_account": None,
        "ffn_outbox": None,
        "ffn_feed": "products",
    }
