"""The outbox on every store: writes kept through a dead refresh chain are applied exactly once.

The fake revokes the account's whole token family mid-run; creates are kept in the store,
reads fail fast, and after a new login one replay applies every kept create once, in order,
even while the fake drops answers after committing.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest

from ffn_async import FFNClient, TokenManager
from ffn_async.api import creates
from ffn_async.api.creates import Created, CreateOutcome
from ffn_async.errors import ReauthorizationRequired
from ffn_async.ordersync import outbox as outbox_module
from ffn_async.ordersync.outbox import Kept, Outbox
from ffn_async.testing import FakeFFN
from tests.ordersync import builders
from tests.ordersync.conftest import FAST, SCOPES
from token_stores import TokenStore

from .specs import StoreSpec


@pytest.fixture
async def fake() -> AsyncIterator[FakeFFN]:
    server = FakeFFN()
    async with server.run():
        yield server


def _orders(fake: FakeFFN, n: int) -> list[Any]:
    jfsku = fake.api.add_product(f"SKU-{secrets.token_hex(3)}", "Part")["jfsku"]
    run = secrets.token_hex(3)
    return [
        builders.outbound(f"OB-{run}-{i:03d}", fake.api.default_warehouse_id, jfsku)
        for i in range(n)
    ]


def _numbers_on_server(fake: FakeFFN) -> list[str]:
    return [o["merchantOutboundNumber"] for o in fake.api.outbounds.collection.live()]


def _manager(fake: FakeFFN, store: TokenStore, key: str) -> TokenManager:
    # A short token-request timeout: after invalid_grant the manager waits that long for a
    # peer's rotation to land before declaring the chain dead.
    return TokenManager(
        fake.credentials, store, key=key, environment=fake.environment, request_timeout=1.0
    )


async def _login(auth: TokenManager, fake: FakeFFN) -> None:
    await auth.store_token(fake.token(SCOPES))  # the fake's browserless login


async def test_outbox_replays_every_kept_write_once_after_a_new_login(
    spec: StoreSpec, key: str, fake: FakeFFN
) -> None:
    store: TokenStore = await spec.build_ready()
    auth = _manager(fake, store, key)
    outbox = Outbox(store, key)
    orders = _orders(fake, 12)
    try:
        await _login(auth, fake)
        async with FFNClient(auth, retry=FAST) as ffn:
            before = [await outbox.submit(ffn, creates.OUTBOUND, o) for o in orders[:4]]
            assert all(isinstance(r, Created) and r.created for r in before)

            fake.oauth.revoke_all()  # the refresh chain dies: every token of the login
            kept = [await outbox.submit(ffn, creates.OUTBOUND, o) for o in orders[4:]]
            assert all(isinstance(r, Kept) for r in kept)
            assert await outbox.pending() == 8
            with pytest.raises(ReauthorizationRequired):  # reads fail fast, nothing kept
                await ffn.merchant.outbounds.list()

            await _login(auth, fake)
            # Answers are lost after FFN committed: the safe creates find, never repeat.
            fake.faults.inject_next("drop_after", "unavailable", "drop_after")
            report = await outbox.replay(ffn)

        assert report.stopped is None
        assert (outbox.stats.kept, outbox.stats.replayed) == (8, 8)
        assert [e.number for e, _ in report.applied] == [
            o.merchant_outbound_number for o in orders[4:]
        ]
        assert await outbox.pending() == 0
        numbers = [o.merchant_outbound_number for o in orders]
        assert _numbers_on_server(fake) == numbers  # every write once, in order
        assert all(fake.stats.outbound_creates[n] == 1 for n in numbers)
    finally:
        await auth.aclose()
        await store.close()


async def test_a_replay_that_dies_before_removing_an_entry_applies_it_once(
    spec: StoreSpec, key: str, fake: FakeFFN, monkeypatch: pytest.MonkeyPatch
) -> None:
    store: TokenStore = await spec.build_ready()
    auth = _manager(fake, store, key)
    outbox = Outbox(store, key)
    orders = _orders(fake, 3)
    try:
        await _login(auth, fake)
        async with FFNClient(auth, retry=FAST) as ffn:
            fake.faults.unavailable = 1.0  # FFN unreachable beyond the retry budget
            kept = [await outbox.submit(ffn, creates.OUTBOUND, o) for o in orders]
            assert all(isinstance(r, Kept) for r in kept)
            fake.faults.clear()

            real = outbox_module.create_response

            async def dies_after_ffn_has_it(*args: Any, **kwargs: Any) -> Any:
                await real(*args, **kwargs)
                raise KeyboardInterrupt  # FFN has the first; the process dies before removing it

            with monkeypatch.context() as patched:
                patched.setattr(outbox_module, "create_response", dies_after_ffn_has_it)
                with pytest.raises(KeyboardInterrupt):
                    await outbox.replay(ffn)
            assert await outbox.pending() == 3  # nothing removed: FFN has the first one

            report = await outbox.replay(ffn)
        outcomes = [outcome for _, outcome in report.applied]
        assert outcomes == [CreateOutcome.EXISTED, CreateOutcome.CREATED, CreateOutcome.CREATED]
        numbers = [o.merchant_outbound_number for o in orders]
        assert _numbers_on_server(fake) == numbers
    finally:
        await auth.aclose()
        await store.close()
