"""Feed checkpoints across real processes, on every store that spans processes.

Two workers consume one products feed while the fake keeps adding and changing products
(stamped a few seconds late, as a lagging server would). The worker holding the feed's lease is
SIGKILLed in the middle of a batch and a new one started. Checked from the workers' logs:

* nothing lost: the last version of every product was delivered;
* redeliveries only of what the killed worker delivered after its last commit;
* never two workers processing a batch at the same time (the lease).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import multiprocessing
import os
import secrets
import signal
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from ffn_async.testing import FakeFFN

from . import feed_workers
from .specs import StoreSpec

pytestmark = pytest.mark.slow
SPAWN = multiprocessing.get_context("spawn")
LATE = 8.0  # seconds by which the fake stamps changes in the past (inside the 30 s overlap)


def _change(fake: FakeFFN, round_: int) -> None:
    """Add three products and rename an older one, stamped LATE seconds ago."""
    api = fake.api
    fake.clock.advance(-LATE)
    try:
        for _ in range(3):
            api.add_product(f"P-{secrets.token_hex(4)}", "Part")
        live = api.products.collection.live()
        if len(live) > 5:
            jfsku = live[round_ * 7 % len(live)]["jfsku"]
            api.products.collection.update(jfsku, {"name": f"Renamed {round_}"})
    finally:
        fake.clock.advance(LATE)


def _final_versions(fake: FakeFFN) -> set[tuple[str, dt.datetime]]:
    return {
        (p["jfsku"], dt.datetime.fromisoformat(p["modificationInfo"]["updatedAt"]))
        for p in fake.api.products.collection.live()
    }


def _read(log: Path) -> list[list[str]]:
    return [line.split() for line in log.read_text().splitlines()] if log.exists() else []


def _delivered(lines: list[list[str]]) -> set[tuple[str, dt.datetime]]:
    return {(d[2], dt.datetime.fromisoformat(d[3])) for d in lines if d[0] == "D"}


def _mid_batch_holder(lines: list[list[str]]) -> int | None:
    """The pid processing a batch right now, once some batch was committed."""
    if not any(line[0] == "C" for line in lines):
        return None
    open_batches: dict[str, bool] = {}
    for line in lines:
        if line[0] == "L":
            open_batches[line[1]] = True
        elif line[0] == "R":
            open_batches[line[1]] = False
    if not lines or lines[-1][0] != "D":
        return None
    holder = lines[-1][1]
    return int(holder) if open_batches.get(holder) else None


async def test_feed_resumes_after_sigkill_and_one_worker_holds_the_lease(
    process_spec: StoreSpec, tmp_path: Path
) -> None:
    await (await process_spec.build_ready()).close()  # schema exists before the workers
    fake = FakeFFN()
    name = f"feed-{secrets.token_hex(4)}"
    log, stop = tmp_path / "feed.log", tmp_path / "stop"
    lease_ttl = 4.0
    async with fake.run() as env:
        token = fake.token(feed_workers.SCOPES).access_token
        args = (process_spec, str(env.api_url), token, name, str(log), str(stop), lease_ttl)

        def start() -> multiprocessing.process.BaseProcess:
            child = SPAWN.Process(target=feed_workers.consume, args=args)
            child.start()
            return child

        workers = [start(), start()]
        killed: int | None = None
        try:
            deadline = time.monotonic() + 90
            round_ = 0
            # Produce changes; once a batch has been committed, kill whoever is mid-batch.
            while killed is None or round_ < 60:
                assert time.monotonic() < deadline, "the workers made no progress"
                _change(fake, round_)
                round_ += 1
                await asyncio.sleep(0.05)
                if killed is None:
                    holder = _mid_batch_holder(_read(log))
                    if holder is not None:
                        os.kill(holder, signal.SIGKILL)
                        killed = holder
                        workers.append(start())
            # Let the survivors catch up with everything.
            want = _final_versions(fake)
            while not want <= _delivered(_read(log)):
                assert time.monotonic() < deadline, "changes were lost"
                await asyncio.sleep(0.1)
        finally:
            stop.touch()
            for child in workers:
                await asyncio.to_thread(child.join, 30)
                if child.is_alive():
                    child.kill()
    lines = _read(log)
    survivors = [c for c in workers if c.pid != killed]
    assert [c.exitcode for c in survivors] == [0] * len(survivors)
    assert not [line for line in lines if line[0] == "X"], "a commit was refused"

    # Redeliveries: only what the killed worker delivered after its last commit.
    by_pid: dict[str, list[list[str]]] = defaultdict(list)
    for line in lines:
        by_pid[line[1]].append(line)
    killed_lines = by_pid[str(killed)]
    last_commit = max((i for i, line in enumerate(killed_lines) if line[0] == "C"), default=-1)
    uncommitted = _delivered(killed_lines[last_commit + 1 :])
    assert uncommitted, "the kill did not happen mid-batch"
    counts = Counter((d[2], d[3]) for d in lines if d[0] == "D")
    repeated = {(k, dt.datetime.fromisoformat(at)) for (k, at), n in counts.items() if n > 1}
    assert repeated <= uncommitted
    assert all(n <= 2 for n in counts.values())

    # The lease: the [L, R] spans of different workers never overlap.
    spans = []
    current: dict[str, float] = {}
    for line in lines:
        if line[0] == "L":
            current[line[1]] = float(line[2])
        elif line[0] == "R":
            spans.append((current.pop(line[1]), float(line[2]), line[1]))
    spans.sort()
    for (_, end, pid), (start_next, _, pid_next) in zip(spans, spans[1:], strict=False):
        assert end <= start_next or pid == pid_next, "two workers held the feed's lease"
    holders = {line[1] for line in lines if line[0] == "L"}
    assert len(holders) >= 2  # the lease did move between workers (the killed one included)
