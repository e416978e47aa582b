"""Many feeds, several worker processes: the work spreads over the fleet and nothing starves.

Three worker processes sweep the same twelve feeds (:func:`ffn_async.ordersync.checkpoint.sweep`)
with a ``poll_interval``, on a store every process shares. Before issue 21 every worker polled every
feed on every sweep (and wrote its checkpoint each time). Checked from the workers' logs:

* every feed is polled, by more than one worker over the run, and every change reaches every
  feed exactly once (spread, not duplicated; nothing lost);
* no feed is polled again sooner than ``poll_interval`` after its last poll, by any worker;
* no sweep failed.
"""

from __future__ import annotations

import secrets
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from benchmarks.feed_fleet import Fleet, read_log, run_fleet
from ffn_async.testing import FakeFFN

from .conftest import make_spec

pytestmark = pytest.mark.slow

FEEDS, WORKERS, POLL = 12, 3, 0.6


@pytest.mark.parametrize("kind", ["redis", "postgres"])
async def test_feeds_spread_over_workers(kind: str, tmp_path: Path) -> None:
    spec = make_spec(kind, tmp_path)
    await (await spec.build_ready()).close()  # the schema exists before the workers
    fake = FakeFFN()
    fake.clock.advance(-10)  # stamped in the past: inside every feed's first window
    before = [fake.api.add_product(f"F-{n}", "Part")["jfsku"] for n in range(4)]
    fake.clock.advance(10)
    log = tmp_path / "fleet.log"
    prefix = f"{secrets.token_hex(3)}-"
    async with fake.run() as env:
        fleet = Fleet(
            spec.url,
            spec.options,
            str(env.api_url),
            fake.token(("ffn.merchant.read", "ffn.merchant.write")).access_token,
            FEEDS,
            POLL,
            str(log),
            str(tmp_path / "stop"),
        )
        started = time.monotonic()
        added: list[str] = []

        def enough() -> bool:
            if not added and time.monotonic() - started > 3:
                fake.clock.advance(-10)  # a change made while the fleet runs
                added.append(fake.api.add_product(f"F-{prefix}late", "Part")["jfsku"])
                fake.clock.advance(10)
            return time.monotonic() - started > 6

        children = await run_fleet(fleet, WORKERS, until=enough, timeout=60)
    assert [c.exitcode for c in children] == [0] * WORKERS
    lines = read_log(log)
    batches = [line for line in lines if line[0] == "B"]
    sweeps = [line for line in lines if line[0] == "S"]
    assert sweeps
    assert all(s[9] == "0" for s in sweeps), "a sweep failed"

    # Every feed got every change exactly once, whichever worker delivered it.
    delivered: dict[str, Counter[str]] = defaultdict(Counter)
    for line in lines:
        if line[0] == "D":
            delivered[line[2]][line[3]] += 1
    assert len(delivered) == FEEDS
    for feed, counts in delivered.items():
        assert set(counts) == set(before + added), feed
        assert set(counts.values()) == {1}, f"{feed}: delivered twice"

    # Spread: feeds were polled by several workers; never two polls of a feed within POLL.
    by_feed: dict[str, list[tuple[float, float, str]]] = defaultdict(list)
    for line in batches:
        by_feed[line[2]].append((float(line[3]), float(line[4]), line[1]))
    assert len({line[1] for line in batches}) >= 2, "one worker did everything"
    for feed, polls in by_feed.items():
        polls.sort()
        assert len(polls) >= 2, f"{feed} starved"
        for (_, end, _), (start, _, _) in zip(polls, polls[1:], strict=False):
            assert start - end >= POLL * 0.9, f"{feed} polled again after {start - end:.2f} s"
    # Without the claim every worker polls every feed on each of its sweeps.
    idle = sum(int(s[5]) for s in sweeps)
    assert idle > len(batches), "workers did not skip the feeds others had polled"


async def test_the_fleet_benchmark_reports_spread_work(tmp_path: Path) -> None:
    from benchmarks import feed_fleet

    make_spec("redis", tmp_path)  # skipped (or failed under CI) without Redis
    spread = await feed_fleet._measure(6, 2, 3600.0, tmp_path)
    every = await feed_fleet._measure(6, 2, None, tmp_path)
    assert spread["polls_per_feed"] == 1.0  # each feed once, by whichever worker came first
    assert spread["busy_sweep"]["saves"] == 0  # empty batches write nothing
    assert spread["failures"] == every["failures"] == 0
    assert every["polls_per_feed"] > 1.0  # without the claim both workers poll
    assert "| 6 | 2 | poll_interval |" in feed_fleet._table([spread, every])
