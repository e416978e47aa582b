"""Entry points run in child processes (spawn): each builds its store from a ``StoreSpec``."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from .specs import StoreSpec


def append_markers(spec: StoreSpec, key: str, log: str, rounds: int, start_at: float) -> None:
    """Under the lock, append a start and an end marker with a pause between them."""
    asyncio.run(_append_markers(spec, key, Path(log), rounds, start_at))


async def _append_markers(
    spec: StoreSpec, key: str, log: Path, rounds: int, start_at: float
) -> None:
    store = spec.build()
    me = os.getpid()
    # Start together, so the processes really compete.
    await asyncio.sleep(max(0.0, start_at - time.time()))
    try:
        for i in range(rounds):
            async with store.lock(key, ttl=30, timeout=60):
                _append(log, f"{me} {i} start\n")
                await asyncio.sleep(0.003)
                _append(log, f"{me} {i} end\n")
    finally:
        await store.close()


def _append(log: Path, line: str) -> None:
    with log.open("a") as f:
        f.write(line)
        f.flush()


def hold_lock_forever(spec: StoreSpec, key: str, ttl: float, ready: str) -> None:
    """Take the lock, say so by creating ``ready``, then hang until killed."""

    async def main() -> None:
        store = spec.build()
        async with store.lock(key, ttl=ttl, timeout=30):
            Path(ready).touch()
            await asyncio.sleep(3600)

    asyncio.run(main())
