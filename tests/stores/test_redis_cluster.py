"""RedisTokenStore on a live Redis Cluster (three masters started by tests/services.py).

The contract suite and the process tests run against it as the ``redis-cluster`` store kind
(tests/stores/conftest.py), and the fleet race in tests/auth/test_fleet_stores.py; this file
checks what is particular to a cluster: keys spread over the masters, and each account's
record and lock share one slot (the hash tag), so no command ever crosses slots.
"""

from __future__ import annotations

import secrets

import redis

from tests import services
from token_stores import RedisTokenStore, from_url

from .specs import REDIS_PREFIX


async def test_accounts_spread_over_the_masters_and_record_and_lock_share_a_slot() -> None:
    cluster = services.redis_cluster()
    store = from_url(cluster.url, prefix=REDIS_PREFIX)
    assert isinstance(store, RedisTokenStore)
    assert "redis+cluster://127.0.0.1:" in repr(store)
    run = secrets.token_hex(4)
    keys = [f"spread-{run}-{i}" for i in range(30)]
    try:
        for key in keys:
            await store.save(key, b"token", None)
            async with store.lock(key, timeout=1):
                assert await store.save(key, b"rotated", 1) == 2
    finally:
        await store.close()
    holders = set()
    for port in cluster.ports:
        node = redis.Redis(host="127.0.0.1", port=port)
        try:
            found = list(node.scan_iter(match=f"{REDIS_PREFIX}{{spread-{run}-*", count=1000))
            if found:
                holders.add(port)
            for key in keys[:5]:
                record, lock = (f"{REDIS_PREFIX}{{{key}}}:{kind}" for kind in ("rec", "lock"))
                assert node.cluster("KEYSLOT", record) == node.cluster("KEYSLOT", lock)
        finally:
            node.close()
    assert len(holders) >= 2  # the records really live on several masters
