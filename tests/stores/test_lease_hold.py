"""``Lease.hold``: a lease left to run out after its block, on every store.

Feed fleets use it as a claim (issue 21): a worker that polled a feed keeps the feed's lease
for ``poll_interval``, so the others skip it. Stores whose lock ends with its holder (the file
store's kernel lock) cannot hold one: ``hold`` says so and the lock is released as usual.
"""

from __future__ import annotations

import asyncio

import pytest

from token_stores import LockTimeout, TokenStore

from .specs import StoreSpec


async def test_a_held_lease_outlives_its_block(
    spec: StoreSpec, store: TokenStore, key: str
) -> None:
    async with store.lock(key, ttl=5.0) as lease:
        held = await lease.hold(0.8)
    assert held is spec.lease_expires
    if not held:  # released at once: free for the next taker
        async with store.lock(key, ttl=5.0, timeout=0):
            return
    with pytest.raises(LockTimeout):
        async with store.lock(key, ttl=5.0, timeout=0):
            pass
    await asyncio.sleep(1.0)
    async with store.lock(key, ttl=5.0, timeout=0) as again:  # ran out on its own
        assert not again.kept
