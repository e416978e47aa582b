"""What the outbox keeps and what blocks it (issue 20), on every store.

Each scenario failed on the single-record outbox of 0.1.0: a failing token endpoint, a peer's
rotation in flight or a login without the write scope marked every entry failed for good; one
create FFN always answers 500 blocked every later entry and new orders forever; a damaged
record stopped submit() and drop() with a raw ``token_stores.CorruptRecord``.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

import attrs
import pytest

from ffn_async import FFNClient, TokenManager
from ffn_async.api import creates
from ffn_async.api.creates import Created
from ffn_async.ordersync.outbox import MAX_ATTEMPTS, EntryState, Kept, Outbox
from ffn_async.testing import FakeFFN
from tests.ordersync import builders
from tests.ordersync.conftest import FAST, SCOPES
from token_stores import EncryptedTokenStore, TokenStore, queue_of

from .specs import StoreSpec


@pytest.fixture
async def fake() -> AsyncIterator[FakeFFN]:
    server = FakeFFN()
    async with server.run():
        yield server


@attrs.define
class Shop:
    """A logged-in account on the fake, its store, its outbox and a client."""

    fake: FakeFFN
    store: TokenStore
    auth: TokenManager
    outbox: Outbox
    ffn: FFNClient
    key: str
    jfsku: str

    def order(self, number: str, **items: Any) -> Any:
        body = builders.outbound(number, self.fake.api.default_warehouse_id, self.jfsku)
        if items:
            item = attrs.evolve(body.items[0], jfsku=None, **items)
            body = attrs.evolve(body, items=[item])
        return body

    async def keep(self, *bodies: Any, kind: Any = creates.OUTBOUND) -> None:
        """Submit while FFN answers only 503: every create is kept."""
        self.fake.faults.unavailable = 1.0
        try:
            for body in bodies:
                assert isinstance(await self.outbox.submit(self.ffn, kind, body), Kept)
        finally:
            self.fake.faults.unavailable = 0.0

    async def login(self, scopes: tuple[str, ...] = SCOPES) -> None:
        await self.auth.store_token(self.fake.token(scopes))

    async def expire_token(self) -> None:
        """The stored access token runs out: the next call refreshes it first."""
        stored = self.fake.token(SCOPES)
        await self.auth.store_token(attrs.evolve(stored, expires_at=time.time() - 60))

    def outbounds(self) -> list[str]:
        return [o["merchantOutboundNumber"] for o in self.fake.api.outbounds.collection.live()]


@pytest.fixture
async def shop(spec: StoreSpec, key: str, fake: FakeFFN) -> AsyncIterator[Shop]:
    store = await spec.build_ready()
    auth = TokenManager(
        fake.credentials,
        store,
        key=key,
        environment=fake.environment,
        request_timeout=1.0,
        lock_timeout=0.5,
    )
    jfsku = fake.api.add_product(f"SKU-{secrets.token_hex(3)}", "Part")["jfsku"]
    try:
        async with FFNClient(auth, retry=FAST) as ffn:
            made = Shop(fake, store, auth, Outbox(store, key), ffn, key, jfsku)
            await made.login()
            yield made
    finally:
        await auth.aclose()
        await store.close()


def _numbers(prefix: str, n: int) -> list[str]:
    run = secrets.token_hex(3)
    return [f"{prefix}-{run}-{i}" for i in range(n)]


async def _states(outbox: Outbox) -> list[tuple[str, EntryState]]:
    return [(e.number, e.state) for e in await outbox.entries()]


async def test_a_failing_token_endpoint_keeps_entries_and_new_submits(shop: Shop) -> None:
    numbers = _numbers("TE", 3)
    await shop.keep(*(shop.order(n) for n in numbers[:2]))
    await shop.expire_token()
    shop.fake.faults.include_token_endpoint = True
    shop.fake.faults.unavailable = 1.0  # the token endpoint answers 503 (and the API)

    report = await shop.outbox.replay(shop.ffn)
    assert report.stopped is not None
    assert (report.failed, report.applied) == ([], [])
    entries = await shop.outbox.entries()
    assert [e.state for e in entries] == [EntryState.WAITING] * 2
    assert "TokenEndpointError" in entries[0].reason  # the last error, visible
    # A new order while the token endpoint fails is kept, not raised.
    assert isinstance(
        await shop.outbox.submit(shop.ffn, creates.OUTBOUND, shop.order(numbers[2])), Kept
    )

    shop.fake.faults.clear()
    shop.fake.faults.include_token_endpoint = False
    report = await shop.outbox.replay(shop.ffn)
    assert report.stopped is None
    assert shop.outbounds() == numbers
    assert await shop.outbox.pending() == 0


async def test_submit_says_why_it_kept_and_lets_a_failed_replay_breathe(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A submit behind waiting entries replays first; after a replay that failed for want of
    FFN, the next submits keep their creates without replaying until the quiet time is over."""
    monkeypatch.setattr("ffn_async.ordersync.outbox._QUIET_AFTER_FAILED_REPLAY", 0.5)
    replays: list[None] = []
    real_replay = shop.outbox.replay

    async def replay(*args: Any, **kwargs: Any) -> Any:
        replays.append(None)
        return await real_replay(*args, **kwargs)

    monkeypatch.setattr(shop.outbox, "replay", replay)
    numbers = _numbers("QUIET", 5)
    shop.fake.faults.unavailable = 1.0
    first = await shop.outbox.submit(shop.ffn, creates.OUTBOUND, shop.order(numbers[0]))
    assert isinstance(first, Kept)
    assert (first.entry.attempts, first.entry.reason[:16]) == (1, "ServerError: 503")
    assert replays == []  # nothing waited: it was sent
    behind = await shop.outbox.submit(shop.ffn, creates.OUTBOUND, shop.order(numbers[1]))
    assert replays == [None]  # the replay failed (503): the quiet time starts
    shop.fake.faults.unavailable = 0.0
    quiet = [
        await shop.outbox.submit(shop.ffn, creates.OUTBOUND, shop.order(n)) for n in numbers[2:4]
    ]
    assert replays == [None]
    for kept in (behind, *quiet):
        assert isinstance(kept, Kept)
        assert (kept.entry.state, kept.entry.attempts) == (EntryState.WAITING, 0)
        assert kept.entry.reason == "queued behind waiting entries"
    await asyncio.sleep(0.6)
    done = await shop.outbox.submit(shop.ffn, creates.OUTBOUND, shop.order(numbers[4]))
    assert isinstance(done, Created)
    assert replays == [None, None]
    assert shop.outbounds() == numbers
    assert shop.outbox.stats.kept == 4


async def test_a_peers_rotation_in_flight_keeps_entries(shop: Shop) -> None:
    numbers = _numbers("LT", 2)
    await shop.keep(*(shop.order(n) for n in numbers))
    await shop.expire_token()
    async with shop.store.lock(shop.key, ttl=30):  # a peer is rotating the refresh token
        report = await shop.outbox.replay(shop.ffn)
    assert "LockTimeout" in (report.stopped or "")
    assert report.failed == []
    assert await _states(shop.outbox) == [(n, EntryState.WAITING) for n in numbers]

    assert (await shop.outbox.replay(shop.ffn)).stopped is None
    assert shop.outbounds() == numbers


async def test_a_login_without_the_write_scope_keeps_entries_until_the_right_login(
    shop: Shop,
) -> None:
    numbers = _numbers("MS", 2)
    await shop.keep(*(shop.order(n) for n in numbers))
    await shop.login(scopes=("ffn.merchant.read",))  # re-login, the write scope forgotten

    report = await shop.outbox.replay(shop.ffn)
    assert "MissingScope" in (report.stopped or "")
    assert report.failed == []
    assert await _states(shop.outbox) == [(n, EntryState.WAITING) for n in numbers]

    await shop.login()
    assert (await shop.outbox.replay(shop.ffn)).stopped is None
    assert shop.outbounds() == numbers


async def test_a_create_ffn_keeps_failing_is_set_aside_and_blocks_nothing(shop: Shop) -> None:
    first, poison, *rest = _numbers("PO", 5)
    await shop.keep(*(shop.order(n) for n in (first, poison, *rest)))
    shop.fake.faults.fail_writes.add(poison)  # FFN answers 500 to this one, takes the others

    for _ in range(MAX_ATTEMPTS):  # each replay tries it once more, in order
        report = await shop.outbox.replay(shop.ffn)
    assert [e.number for e in report.held] == [poison]
    assert shop.outbounds() == [first, *rest]
    entries = await shop.outbox.entries()
    assert [(e.number, e.state) for e in entries] == [(poison, EntryState.HELD)]
    assert entries[0].attempts == MAX_ATTEMPTS
    assert "ServerError: 500" in entries[0].reason

    # New orders go straight through: they do not queue behind the held one.
    late = _numbers("PO-NEW", 1)[0]
    done = await shop.outbox.submit(shop.ffn, creates.OUTBOUND, shop.order(late))
    assert isinstance(done, Created)

    shop.fake.faults.fail_writes.clear()
    report = await shop.outbox.replay(shop.ffn)
    assert [e.number for e, _ in report.applied] == [poison]
    assert shop.outbounds() == [first, *rest, late, poison]
    assert await shop.outbox.pending() == 0


async def test_a_lone_failing_entry_is_set_aside_once_a_new_order_goes_through(
    shop: Shop,
) -> None:
    (poison,) = _numbers("LONE", 1)
    await shop.keep(shop.order(poison))
    shop.fake.faults.fail_writes.add(poison)
    for _ in range(MAX_ATTEMPTS):
        await shop.outbox.replay(shop.ffn)
    # Nothing after it to show that FFN takes others: the next new order is that proof.
    late = _numbers("LONE-NEW", 1)[0]
    assert isinstance(
        await shop.outbox.submit(shop.ffn, creates.OUTBOUND, shop.order(late)), Created
    )
    assert await _states(shop.outbox) == [(poison, EntryState.HELD)]
    following = _numbers("LONE-NEXT", 1)[0]
    assert isinstance(
        await shop.outbox.submit(shop.ffn, creates.OUTBOUND, shop.order(following)), Created
    )
    assert shop.outbounds() == [late, following]


async def test_a_product_goes_before_the_orders_that_name_it(shop: Shop) -> None:
    sku = f"DEP-{secrets.token_hex(3)}"
    product = attrs.evolve(builders.product(sku), name=f"Poison {sku}")
    order, other, later = _numbers("DEP", 3)
    await shop.keep(product, kind=creates.PRODUCT)
    await shop.keep(shop.order(order, merchant_sku=sku), shop.order(other))
    shop.fake.faults.fail_writes.add(f"Poison {sku}")  # the product's create fails, only it

    for _ in range(MAX_ATTEMPTS):
        await shop.outbox.replay(shop.ffn)
    assert shop.outbounds() == [other]  # the order naming the product waits for it
    assert await _states(shop.outbox) == [
        (sku, EntryState.HELD),
        (order, EntryState.HELD),
    ]
    # A new order naming the held product waits too; others go through.
    held_before = shop.outbox.stats.held
    kept = await shop.outbox.submit(shop.ffn, creates.OUTBOUND, shop.order(later, merchant_sku=sku))
    assert isinstance(kept, Kept)
    assert kept.entry.state is EntryState.HELD
    assert kept.entry.reason == f"waits for product {sku}, which is still kept"
    assert shop.outbox.stats.held == held_before + 1

    shop.fake.faults.fail_writes.clear()
    report = await shop.outbox.replay(shop.ffn)
    assert [e.number for e, _ in report.applied] == [sku, order, later]
    assert shop.outbounds() == [other, order, later]
    made = shop.fake.api.products.collection.find("merchantSku", sku)
    assert made is not None
    for outbound in shop.fake.api.outbounds.collection.live()[1:]:
        assert outbound["items"][0]["jfsku"] == made["jfsku"]  # the product existed by then


async def test_a_damaged_entry_is_quarantined_and_the_rest_goes_on(
    spec: StoreSpec, shop: Shop
) -> None:
    numbers = _numbers("DMG", 2)
    await shop.keep(shop.order(numbers[0]))
    queue = queue_of(shop.store)
    await queue.append(shop.outbox.record_key, b"\x00 not an entry")
    if spec.encrypted:  # bytes no key opens
        assert isinstance(shop.store, EncryptedTokenStore)
        await queue_of(shop.store.inner).append(shop.outbox.record_key, b"gAAAA-forged")
    await shop.keep(shop.order(numbers[1]))

    report = await shop.outbox.replay(shop.ffn)
    assert report.stopped is None
    assert shop.outbounds() == numbers
    assert report.quarantined == (2 if spec.encrypted else 1)
    assert await shop.outbox.quarantined() == report.quarantined
    kept = [i.data for i in await queue.page(shop.outbox.quarantine_key)]
    assert b"\x00 not an entry" in kept  # the bad bytes, as they were


async def test_a_damaged_outbox_record_of_0_1_0_is_kept_aside_and_orders_go_on(
    spec: StoreSpec, shop: Shop
) -> None:
    """0.1.0: submit() and drop() raised on it (partly as a raw ``token_stores.CorruptRecord``)
    and a new order was neither sent nor kept."""
    target = shop.store.inner if isinstance(shop.store, EncryptedTokenStore) else shop.store
    await target.save(shop.outbox.record_key, b"\x00 damaged", None)  # undecryptable, too
    outbox = Outbox(shop.store, shop.key)  # a fresh process meets the damaged record

    (number,) = _numbers("AFTER", 1)
    done = await outbox.submit(shop.ffn, creates.OUTBOUND, shop.order(number))
    assert isinstance(done, Created)
    assert not await outbox.drop(1)
    assert shop.outbounds() == [number]
    assert await shop.store.load(outbox.record_key) is None
    kept = [i.data for i in await queue_of(shop.store).page(outbox.quarantine_key)]
    if isinstance(shop.store, EncryptedTokenStore):
        assert len(kept) == 1  # the ciphertext as found, encrypted once more
    else:
        assert kept == [b"\x00 damaged"]


async def test_a_replay_longer_than_its_lease_renews_it_and_goes_through(shop: Shop) -> None:
    """0.1.0 stopped with "the replay's lease is running out; replay again"."""
    numbers = _numbers("LEASE", 6)
    await shop.keep(*(shop.order(n) for n in numbers))
    outbox = Outbox(shop.store, shop.key, lease_ttl=0.6, commit_margin=0.3)
    shop.fake.faults.latency, shop.fake.faults.latency_rate = 0.15, 1.0  # 6 x 0.15 s > 0.6 s

    report = await outbox.replay(shop.ffn)
    assert report.stopped is None
    assert shop.outbounds() == numbers
