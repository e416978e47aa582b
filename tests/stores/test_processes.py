"""Locks across real processes: mutual exclusion, and a SIGKILLed holder does not block others."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import time
from pathlib import Path

import pytest

from token_stores import LockTimeout

from . import workers
from .specs import StoreSpec

pytestmark = pytest.mark.slow
SPAWN = multiprocessing.get_context("spawn")


async def test_lock_excludes_processes(process_spec: StoreSpec, key: str, tmp_path: Path) -> None:
    await (await process_spec.build_ready()).close()  # schema exists before the race
    log = tmp_path / "markers.log"
    processes, rounds = 4, 8
    start_at = time.time() + 1.5  # after every child has imported and connected
    children = [
        SPAWN.Process(
            target=workers.append_markers, args=(process_spec, key, str(log), rounds, start_at)
        )
        for _ in range(processes)
    ]
    for child in children:
        child.start()
    await asyncio.to_thread(_join_all, children, 60)
    assert [c.exitcode for c in children] == [0] * processes

    lines = log.read_text().splitlines()
    assert len(lines) == processes * rounds * 2
    # Every "start" is directly followed by the same process's "end": no interleaving.
    for start, end in zip(lines[::2], lines[1::2], strict=True):
        pid, i, what = start.split()
        assert (what, end) == ("start", f"{pid} {i} end")
    assert len({line.split()[0] for line in lines}) == processes


async def test_lock_of_a_killed_holder_is_taken_by_another_process(
    process_spec: StoreSpec, key: str, tmp_path: Path
) -> None:
    store = await process_spec.build_ready()
    ready = tmp_path / "ready"
    ttl = 1.0 if process_spec.lease_expires else 3600.0
    holder = SPAWN.Process(
        target=workers.hold_lock_forever, args=(process_spec, key, ttl, str(ready))
    )
    holder.start()
    try:
        deadline = time.monotonic() + 30
        while not ready.exists():
            assert holder.is_alive(), "holder died before locking"
            assert time.monotonic() < deadline, "holder never locked"
            await asyncio.sleep(0.02)
        with pytest.raises(LockTimeout):  # it really holds the lock
            async with store.lock(key, timeout=0.1):
                pass
        assert holder.pid is not None
        os.kill(holder.pid, signal.SIGKILL)
        await asyncio.to_thread(holder.join, 10)
        assert holder.exitcode == -signal.SIGKILL
        # Lease stores: the 1 s lease runs out. File: the kernel drops the flock with the
        # process, although its "lease" would last an hour.
        async with store.lock(key, ttl=30, timeout=10 if process_spec.lease_expires else 1):
            await store.save(key, b"taken over", None)
        assert (await store.load(key)) is not None
    finally:
        if holder.is_alive():
            holder.kill()
        await store.close()


def _join_all(children: list[multiprocessing.process.BaseProcess], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for child in children:
        child.join(max(0.1, deadline - time.monotonic()))
        if child.is_alive():
            child.kill()
