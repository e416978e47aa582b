"""FeedConsumer's walk over a scripted feed: the paths the fake server never takes.

The fake server's feeds come ordered by modification time, with distinct times, and never
end before they start. A real feed may do neither: these tests drive the consumer with a
scripted feed (pages of a fixed history, in the order given) to pin what the walk does then:
follow the server's pages, deliver changes without a time every batch, step over a run of
equal times, commit an empty window, never move the watermark back, and cut an unordered
window at its oldest changes so that the next batch delivers the rest.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import AsyncGenerator
from typing import Any

import attrs
import pytest

from ffn_async.api.pagination import Chunk
from ffn_async.ordersync.checkpoint import FeedConsumer
from token_stores import MemoryTokenStore

T0 = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


@attrs.frozen
class Change:
    ident: str
    at: dt.datetime | None


class Server:
    """A feed's history in the server's order, served in pages of ``size``; ``now`` is the
    latest ``to_date`` it accepts (a later one is clamped, as FFN's is)."""

    def __init__(self, history: list[Change], *, size: int = 2, now: dt.datetime) -> None:
        self.history = history
        self.size = size
        self.now = now
        self.calls: list[tuple[dt.datetime | None, dt.datetime]] = []

    def updates(
        self, *, from_date: dt.datetime | None = None, to_date: dt.datetime | None = None
    ) -> Feed:
        feed = Feed(self, from_date, self.now if to_date is None else min(to_date, self.now))
        self.calls.append((feed.from_date, feed.to_date))
        return feed


class Feed:
    def __init__(self, server: Server, from_date: dt.datetime | None, to_date: dt.datetime):
        self.server = server
        self.from_date = from_date
        self.to_date = to_date
        self.to: dt.datetime | None = None

    def _inside(self, change: Change) -> bool:
        if change.at is None:
            return True  # a change without a time is in every window
        return (self.from_date is None or change.at >= self.from_date) and change.at < self.to_date

    async def chunks(self) -> AsyncGenerator[Chunk[Change], None]:
        self.to = None
        if self.from_date is not None and self.from_date >= self.to_date:
            self.to = self.from_date
            return
        window = [c for c in self.server.history if self._inside(c)]
        size = self.server.size
        for start in range(0, max(len(window), 1), size):
            more = start + size < len(window)
            yield Chunk(self.from_date, self.to_date, window[start : start + size], more, None)
        self.to = self.to_date


def _consumer(server: Server, store: MemoryTokenStore, **options: Any) -> FeedConsumer[Change]:
    return FeedConsumer(
        store,
        "scripted",
        server.updates,  # type: ignore[arg-type]  # a Feed quacks like a ChangeFeed
        key=lambda c: c.ident,
        modified=lambda c: c.at,
        **options,
    )


async def test_an_unordered_feed_is_followed_page_by_page() -> None:
    history = [Change(n, at(s)) for n, s in [("c", 3), ("a", 1), ("b", 2), ("e", 5), ("d", 4)]]
    server = Server(history, now=at(60))
    store = MemoryTokenStore()
    consumer = _consumer(server, store, start=at(0), max_items=None)
    async with consumer.batch() as batch:
        assert [c.ident for c in batch] == ["c", "a", "b", "e", "d"]
        assert batch.caught_up
    assert server.calls == [(at(0), at(60))]  # the server's pages, never a restart
    assert (await consumer.checkpoint()).watermark == at(60)


async def test_a_change_without_a_time_comes_every_batch() -> None:
    history = [Change("a", at(1)), Change("x", None), Change("b", at(2))]
    server = Server(history, now=at(60))
    store = MemoryTokenStore()
    consumer = _consumer(server, store, start=at(0))
    async with consumer.batch() as batch:
        assert [c.ident for c in batch] == ["a", "x", "b"]
    assert server.calls == [(at(0), at(60))]
    async with consumer.batch() as batch:
        assert [c.ident for c in batch] == ["x"]  # never dropped: at-least-once wins
        assert batch.dropped == 2
    assert (await consumer.checkpoint()).watermark == at(60)


async def test_a_run_of_equal_times_goes_on_with_the_servers_next_page() -> None:
    history = [Change("a", at(1)), Change("b", at(1)), Change("c", at(1)), Change("d", at(2))]
    server = Server(history, now=at(60))
    store = MemoryTokenStore()
    consumer = _consumer(server, store, start=at(0))
    async with consumer.batch() as batch:
        assert [c.ident for c in batch] == ["a", "b", "c", "d"]
        assert batch.dropped == 0  # a and b, fetched again at the restart, are not counted
        assert batch.caught_up
    # One restart at the last time seen; then the run of equal times is paged by the server.
    assert server.calls == [(at(0), at(60)), (at(1), at(60))]
    assert (await consumer.checkpoint()).watermark == at(60)


async def test_a_cut_batch_goes_on_at_its_last_change() -> None:
    history = [Change(n, at(s)) for n, s in [("a", 1), ("b", 2), ("c", 3), ("d", 4)]]
    server = Server(history, now=at(60))
    store = MemoryTokenStore()
    consumer = _consumer(server, store, start=at(0), max_items=2, overlap=dt.timedelta(0))
    async with consumer.batch() as batch:
        assert [c.ident for c in batch] == ["a", "b"]
        assert not batch.caught_up
    assert (await consumer.checkpoint()).watermark == at(2)
    async with consumer.batch() as batch:
        assert [c.ident for c in batch] == ["c", "d"]
        assert batch.dropped == 1  # b, at the watermark
    assert (await consumer.checkpoint()).watermark == at(60)


async def test_an_empty_window_commits_its_start() -> None:
    server = Server([Change("a", at(1))], now=at(0))
    store = MemoryTokenStore()
    consumer = _consumer(server, store, start=at(30))
    async with consumer.batch() as batch:
        assert len(batch) == 0
        assert batch.caught_up
        assert batch.to_date == at(30)
    assert server.calls == [(at(30), at(0))]
    assert (await consumer.checkpoint()).watermark == at(30)


async def test_a_window_ending_before_the_watermark_keeps_it() -> None:
    server = Server([Change("a", at(-90))], now=at(-60))  # FFN's clock behind the watermark
    store = MemoryTokenStore()
    consumer = _consumer(server, store)
    await consumer.reset(at(0))
    async with consumer.batch() as batch:
        assert [c.ident for c in batch] == ["a"]
        assert batch.to_date == at(0)
    assert server.calls == [(at(-120), at(-60))]
    assert (await consumer.checkpoint()).watermark == at(0)


async def test_an_unordered_feed_with_max_items_loses_nothing() -> None:
    history = [Change(n, at(s)) for n, s in [("c", 3), ("a", 1), ("b", 2), ("e", 5), ("d", 4)]]
    server = Server(history, now=at(600))
    consumer = _consumer(server, MemoryTokenStore(), start=at(0), max_items=2)
    delivered: list[str] = []
    for _ in range(4):
        async with consumer.batch() as batch:
            delivered += [c.ident for c in batch]
    assert sorted(delivered) == ["a", "b", "c", "d", "e"]


async def test_an_unordered_feed_is_cut_at_its_oldest_changes() -> None:
    history = [Change("c", at(3)), Change("a", at(1)), Change("x", None), Change("b", at(2))]
    server = Server(history, now=at(600))
    consumer = _consumer(server, MemoryTokenStore(), start=at(0), max_items=2)
    async with consumer.batch() as batch:
        # The two oldest, in the feed's order; a change without a time is never left out.
        assert [c.ident for c in batch] == ["a", "x", "b"]
        assert not batch.caught_up
        assert batch.to_date == at(2)
    assert (await consumer.checkpoint()).watermark == at(2)  # c, left out, is newer
    async with consumer.batch() as batch:
        assert [c.ident for c in batch] == ["c", "x"]
        assert batch.dropped == 2
        assert batch.caught_up
    assert (await consumer.checkpoint()).watermark == at(600)


async def test_a_change_left_out_is_not_taken_for_delivered() -> None:
    # b's older change is committed; its newer one is left out of the next batch at first.
    server = Server([Change("b", at(1))], now=at(10))
    consumer = _consumer(server, MemoryTokenStore(), start=at(0), max_items=1)
    async with consumer.batch() as batch:
        assert [c.ident for c in batch] == ["b"]
    server.history = [Change("c", at(70)), Change("a", at(60)), Change("b", at(80))]
    server.now = at(600)
    delivered: list[str] = []
    for _ in range(3):
        async with consumer.batch() as batch:
            delivered += [c.ident for c in batch]
    # The oldest first. b is left out twice: each time its record of the older change is put
    # back, so it is not taken for delivered and comes in the last batch.
    assert delivered == ["a", "c", "b"]
    assert batch.caught_up


@pytest.mark.parametrize("arrangement", ["shuffled", "newest first"])
@pytest.mark.parametrize("max_items", [1, 3, 7, 12])
async def test_an_unordered_feed_comes_whole_over_many_batches(
    max_items: int, arrangement: str
) -> None:
    # 40 changes (more than 3 x max_items), two at each time, 30 s apart (within the overlap
    # of each other), in pages of 4. The newest comes first, so that every window shows on
    # its first page that the feed is unordered; the rest shuffled, or newest first.
    order = list(range(38, -1, -1))
    if arrangement == "shuffled":
        random.Random(max_items).shuffle(order)
    history = [Change(f"o{n}", at(n // 2 * 30)) for n in [39, *order]]
    server = Server(history, size=4, now=at(3600))
    consumer = _consumer(server, MemoryTokenStore(), start=at(0), max_items=max_items)
    delivered: list[str] = []
    batches = 0
    caught_up = False
    while not caught_up:
        batches += 1
        assert batches <= len(history), "the walk makes no progress"
        async with consumer.batch() as batch:
            assert len(batch) <= max_items
            delivered += [c.ident for c in batch]
            caught_up = batch.caught_up
    assert sorted(set(delivered)) == sorted(c.ident for c in history)
    assert len(delivered) == len(history)  # and, here, none twice
    assert batches == -(-len(history) // max_items)  # each but the last one full
    assert (await consumer.checkpoint()).watermark == at(3600)
