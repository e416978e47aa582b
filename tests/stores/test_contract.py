"""The TokenStore contract, run against every store: versions, compare-and-set, locks."""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest

from token_stores import InvalidKey, LockTimeout, Record, StoreConflict, TokenStore

from .specs import StoreSpec


async def test_missing_key_loads_none(store: TokenStore, key: str) -> None:
    assert await store.load(key) is None


async def test_versions_start_at_one_and_grow_by_one(store: TokenStore, key: str) -> None:
    assert await store.save(key, b"first", None) == 1
    assert await store.load(key) == Record(b"first", 1)
    assert await store.save(key, b"second", 1) == 2
    assert await store.save(key, b"third", 2) == 3
    assert await store.load(key) == Record(b"third", 3)


async def test_every_byte_value_and_empty_data_round_trip(store: TokenStore, key: str) -> None:
    data = bytes(range(256)) * 4
    await store.save(key, data, None)
    assert (await store.load(key)) == Record(data, 1)
    await store.save(key, b"", 1)
    assert (await store.load(key)) == Record(b"", 2)


async def test_create_only_conflicts_when_a_record_exists(store: TokenStore, key: str) -> None:
    await store.save(key, b"mine", None)
    with pytest.raises(StoreConflict) as caught:
        await store.save(key, b"theirs", None)
    assert (caught.value.expected, caught.value.actual) == (None, 1)
    assert await store.load(key) == Record(b"mine", 1)


async def test_stale_version_conflicts_and_leaves_record(store: TokenStore, key: str) -> None:
    await store.save(key, b"v1", None)
    await store.save(key, b"v2", 1)
    with pytest.raises(StoreConflict) as caught:
        await store.save(key, b"stale writer", 1)
    assert (caught.value.expected, caught.value.actual) == (1, 2)
    assert await store.load(key) == Record(b"v2", 2)


async def test_version_on_missing_key_conflicts(store: TokenStore, key: str) -> None:
    with pytest.raises(StoreConflict) as caught:
        await store.save(key, b"x", 3)
    assert caught.value.actual is None
    assert await store.load(key) is None


async def test_racing_creators_exactly_one_wins(store: TokenStore, key: str) -> None:
    results = await asyncio.gather(
        *(store.save(key, f"w{i}".encode(), None) for i in range(10)), return_exceptions=True
    )
    assert results.count(1) == 1
    assert all(isinstance(r, StoreConflict) for r in results if r != 1)


async def test_delete(store: TokenStore, key: str) -> None:
    await store.save(key, b"x", None)
    await store.delete(key)
    assert await store.load(key) is None
    await store.delete(key)  # deleting nothing is fine
    assert await store.save(key, b"again", None) == 1


async def test_delete_under_lock_keeps_the_lock(store: TokenStore, key: str) -> None:
    await store.save(key, b"x", None)
    async with store.lock(key, ttl=30, timeout=1):
        await store.delete(key)
        assert await store.load(key) is None
        with pytest.raises(LockTimeout):
            async with store.lock(key, timeout=0.05):
                pass
        assert await store.save(key, b"new", None) == 1


async def test_save_and_load_under_own_lock(store: TokenStore, key: str) -> None:
    async with store.lock(key, ttl=30, timeout=1):
        assert await store.load(key) is None
        assert await store.save(key, b"created under lock", None) == 1
        assert await store.save(key, b"updated under lock", 1) == 2
    assert await store.load(key) == Record(b"updated under lock", 2)


async def test_thousand_keys_are_isolated(store: TokenStore, key: str) -> None:
    keys = [f"{key}-tenant-{i}" for i in range(1000)]
    limit = asyncio.Semaphore(20)

    async def each(i: int, k: str) -> None:
        async with limit:
            assert await store.save(k, f"token of {i}".encode(), None) == 1
            if i % 2 == 0:
                assert await store.save(k, f"rotated token of {i}".encode(), 1) == 2

    await asyncio.gather(*(each(i, k) for i, k in enumerate(keys)))

    async def check(i: int, k: str) -> None:
        async with limit:
            want = Record(f"rotated token of {i}".encode(), 2) if i % 2 == 0 else None
            want = want or Record(f"token of {i}".encode(), 1)
            assert await store.load(k) == want

    await asyncio.gather(*(check(i, k) for i, k in enumerate(keys)))
    assert await store.load(key) is None  # the prefix itself is another key


async def test_lock_excludes_coroutines_of_one_process(store: TokenStore, key: str) -> None:
    inside = 0
    most = 0
    entered = 0

    async def worker() -> None:
        nonlocal inside, most, entered
        async with store.lock(key, ttl=30, timeout=20):
            inside += 1
            entered += 1
            most = max(most, inside)
            await asyncio.sleep(0.002)
            inside -= 1

    await asyncio.gather(*(worker() for _ in range(15)))
    assert (most, entered) == (1, 15)


async def test_lock_timeout(store: TokenStore, key: str) -> None:
    async with store.lock(key, ttl=30, timeout=1):
        started = time.monotonic()
        with pytest.raises(LockTimeout) as caught:
            async with store.lock(key, ttl=30, timeout=0.2):
                pytest.fail("took a held lock")
        assert time.monotonic() - started >= 0.2
    assert caught.value.key == key
    assert "0.2s" in str(caught.value)


async def test_lock_is_released_when_the_body_raises(store: TokenStore, key: str) -> None:
    with pytest.raises(RuntimeError):
        async with store.lock(key, ttl=30, timeout=1):
            raise RuntimeError("boom")
    async with store.lock(key, ttl=30, timeout=0.5):
        pass


async def test_locks_of_different_keys_are_independent(store: TokenStore, key: str) -> None:
    async with store.lock(key, ttl=30, timeout=1), store.lock(key + "-other", timeout=0.5):
        pass


async def test_waiting_for_a_lock_can_be_cancelled(store: TokenStore, key: str) -> None:
    async with store.lock(key, ttl=30, timeout=1):
        waiter = asyncio.create_task(_take(store, key, timeout=30))
        await asyncio.sleep(0.05)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        # The cancelled waiter took nothing and the holder still holds.
        with pytest.raises(LockTimeout):
            await _take(store, key, timeout=0.05)
    await _take(store, key, timeout=0.5)


async def _take(store: TokenStore, key: str, *, timeout: float) -> None:
    async with store.lock(key, ttl=30, timeout=timeout):
        pass


async def _second_holder(store: TokenStore, key: str) -> tuple[asyncio.Task[None], asyncio.Event]:
    """Start B, which waits for ``key``'s lock and holds it until the returned event is set;
    return once B holds it."""
    holds = asyncio.Event()
    may_leave = asyncio.Event()

    async def b() -> None:
        async with store.lock(key, ttl=30, timeout=5):
            holds.set()
            await may_leave.wait()

    task = asyncio.create_task(b())
    await asyncio.wait_for(holds.wait(), 5)
    return task, may_leave


async def test_expired_lease_is_taken_and_only_its_owner_releases(
    spec: StoreSpec, store: TokenStore, key: str
) -> None:
    if not spec.lease_expires:
        # Kernel-released locks have no lease clock: a living holder keeps the lock.
        async with store.lock(key, ttl=0.1, timeout=1):
            await asyncio.sleep(0.2)
            with pytest.raises(LockTimeout):
                await _take(store, key, timeout=0.2)
        return
    async with store.lock(key, ttl=0.3, timeout=1):  # A: outlives its lease
        b, b_may_leave = await _second_holder(store, key)
    # A has left its block: B's lock must survive A's release.
    with pytest.raises(LockTimeout):
        await _take(store, key, timeout=0.2)
    b_may_leave.set()
    await b
    await _take(store, key, timeout=0.5)


async def test_the_lock_yields_a_lease_that_says_how_long_it_holds(
    spec: StoreSpec, store: TokenStore, key: str
) -> None:
    """Fencing needs an honest, conservative deadline: never later than the real expiry."""
    before = time.monotonic()
    async with store.lock(key, ttl=5, timeout=1) as lease:
        after = time.monotonic()
        assert lease.key == key
        remaining = lease.remaining()
        if spec.lease_expires:
            # Timed from the start of the winning attempt, which lies between the two reads.
            assert lease.deadline is not None
            assert before + 5 <= lease.deadline <= after + 5
            assert 0 < remaining <= 5
            await asyncio.sleep(0.05)
            assert lease.remaining() < remaining  # it counts down
        else:  # the kernel frees it when the holder dies: no deadline while it lives
            assert remaining == float("inf")
            assert lease.deadline is None


async def test_a_renewed_lease_outlives_its_first_ttl(
    spec: StoreSpec, store: TokenStore, key: str
) -> None:
    """A holder still at work extends its lease; nobody takes the lock meanwhile."""
    async with store.lock(key, ttl=0.4, timeout=1) as lease:
        assert await lease.renew(5)
        if spec.lease_expires:
            assert lease.deadline is not None
            assert 4 < lease.remaining() <= 5
        await asyncio.sleep(0.6)  # past the first ttl
        with pytest.raises(LockTimeout):
            await _take(store, key, timeout=0.2)
        assert await lease.renew(5)
    await _take(store, key, timeout=0.5)  # released as usual


async def test_a_lost_lease_cannot_be_renewed(spec: StoreSpec, store: TokenStore, key: str) -> None:
    if not spec.lease_expires:
        # Kernel-released locks have no lease to lose while the holder lives.
        async with store.lock(key, ttl=0.1, timeout=1) as held:
            await asyncio.sleep(0.2)
            assert await held.renew(30)
        return
    async with store.lock(key, ttl=0.3, timeout=1) as lease:  # A outlives its lease
        b, b_may_leave = await _second_holder(store, key)
        assert not await lease.renew(30)  # B holds it now
        with pytest.raises(LockTimeout):  # and B still does
            await _take(store, key, timeout=0.2)
    b_may_leave.set()
    await b


#: Keys that differ only in case, a trailing space, an accent, or Unicode normalisation (NFC
#: "á" is one code point, NFD is "a" + a combining accent). Each must be its own record and
#: its own lock on every backend: a case- or accent-insensitive collation would hand one tenant
#: another tenant's token.
LOOKALIKE_KEYS = ["Acme", "acme", "ACME", "acme ", "acme  ", " acme", "ácme", "a\u0301cme", "acmé"]


async def test_keys_are_compared_byte_for_byte(store: TokenStore, key: str) -> None:
    keys = [f"{key}/{variant}" for variant in LOOKALIKE_KEYS]
    assert len(set(keys)) == len(keys)
    for i, k in enumerate(keys):
        assert await store.save(k, f"token of tenant {i}".encode(), None) == 1
    for i, k in enumerate(keys):
        assert await store.load(k) == Record(f"token of tenant {i}".encode(), 1)
    assert await store.save(keys[0], b"rotated", 1) == 2
    others = [await store.load(k) for k in keys[1:]]
    assert [r.version if r else None for r in others] == [1] * (len(keys) - 1)
    await store.delete(keys[1])
    assert await store.load(keys[0]) == Record(b"rotated", 2)
    assert await store.load(keys[1]) is None


async def test_locks_of_lookalike_keys_are_independent(store: TokenStore, key: str) -> None:
    keys = [f"{key}/{variant}" for variant in LOOKALIKE_KEYS]
    async with contextlib.AsyncExitStack() as stack:
        for k in keys:  # a shared lock would time out on the second key
            await stack.enter_async_context(store.lock(k, ttl=30, timeout=0.5))


#: Keys no backend can hold: each is refused with InvalidKey before any I/O.
BAD_KEYS = {
    "empty": "",
    "too-long": "k" * 201,
    "nul": "acme\x00",
    "tab": "ac\tme",
    "del": "acme\x7f",
    "lone-surrogate": "acme-\udc80",
    "lone-high-surrogate": "\ud800acme",
}


@pytest.mark.parametrize("bad", list(BAD_KEYS.values()), ids=list(BAD_KEYS))
async def test_unusable_keys_are_a_typed_error(store: TokenStore, bad: str) -> None:
    for call in (store.load(bad), store.save(bad, b"x", None), store.delete(bad)):
        with pytest.raises(InvalidKey):
            await call
    with pytest.raises(InvalidKey):
        async with store.lock(bad, timeout=0.1):
            pass


async def test_cancelled_lock_waiters_stop_and_take_nothing(store: TokenStore, key: str) -> None:
    """Cancels landing at any point of a lock attempt (mid-command too) end the waiter.

    redis-py 8.1 swallowed a cancellation that arrived during a command: the "cancelled"
    waiter kept polling and would have taken the lock for a caller that had given up.
    """
    for round_ in range(25):
        k = f"{key}-{round_}"
        async with store.lock(k, ttl=30, timeout=1):
            waiters = [asyncio.create_task(_take(store, k, timeout=30)) for _ in range(5)]
            await asyncio.sleep(0.001 * (round_ % 8))
            for waiter in waiters:
                waiter.cancel()
            done, pending = await asyncio.wait(waiters, timeout=10)
            assert not pending, f"round {round_}: a cancelled waiter kept running"
            assert all(w.cancelled() for w in done)
            with pytest.raises(LockTimeout):  # the holder still holds
                await _take(store, k, timeout=0.05)
        await _take(store, k, timeout=1)  # and nothing was left behind
