"""An outbox kept by ffn-async 0.1.0 (one record of every entry) is moved into the queue."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import orjson
import pytest

from ffn_async import FFNClient, StaticToken
from ffn_async.codec.serialization import dumps
from ffn_async.ordersync.outbox import EntryState, Outbox
from ffn_async.testing import FakeFFN
from tests.ordersync import builders
from tests.ordersync.conftest import FAST, SCOPES

from .specs import StoreSpec


@pytest.fixture
async def fake() -> AsyncIterator[FakeFFN]:
    server = FakeFFN()
    async with server.run():
        yield server


def _record_of_0_1_0(entries: list[tuple[int, str, bytes, str | None]]) -> bytes:
    """The bytes 0.1.0's ``_State.encode`` wrote: ``{"format", "next", "entries": [...]}``."""
    return orjson.dumps(
        {
            "format": 1,
            "next": len(entries) + 1,
            "entries": [
                {
                    "id": ident,
                    "kind": "outbound",
                    "number": number,
                    "body": body.decode(),
                    "path_params": {},
                    "params": {},
                    "kept_at": "2026-11-30T22:10:00+00:00",
                    "reason": "ReauthorizationRequired: the refresh token was rejected",
                    "failed": failed,
                }
                for ident, number, body, failed in entries
            ],
        }
    )


async def test_kept_orders_of_0_1_0_are_moved_into_the_queue_and_replayed_in_order(
    spec: StoreSpec, key: str, fake: FakeFFN
) -> None:
    store = await spec.build_ready()
    jfsku = fake.api.add_product(f"SKU-{secrets.token_hex(3)}", "Part")["jfsku"]
    run = secrets.token_hex(3)
    numbers = [f"OLD-{run}-{i}" for i in range(3)]
    bodies = [dumps(builders.outbound(n, fake.api.default_warehouse_id, jfsku)) for n in numbers]
    refusal = "BadRequest: 400 on POST /api/v1/merchant/outbounds"
    outbox = Outbox(store, key)
    await store.save(
        outbox.record_key,
        _record_of_0_1_0(
            [
                (1, numbers[0], bodies[0], None),
                (2, numbers[1], bodies[1], refusal),
                (3, numbers[2], bodies[2], None),
            ]
        ),
        None,
    )
    try:
        entries = await outbox.entries()
        assert [(e.number, e.state) for e in entries] == [
            (numbers[0], EntryState.WAITING),
            (numbers[2], EntryState.WAITING),
            (numbers[1], EntryState.FAILED),
        ]
        assert entries[2].reason == refusal
        assert await store.load(outbox.record_key) is None  # moved, not copied
        token = fake.token(SCOPES).access_token
        async with FFNClient(
            StaticToken(token, scopes=SCOPES), environment=fake.environment, retry=FAST
        ) as ffn:
            report = await Outbox(store, key).replay(ffn)
        assert [e.number for e, _ in report.applied] == [numbers[0], numbers[2]]
        on_server = [o["merchantOutboundNumber"] for o in fake.api.outbounds.collection]
        assert on_server == [numbers[0], numbers[2]]
        assert [e.number for e in await outbox.entries()] == [numbers[1]]  # for a person
    finally:
        await store.close()
