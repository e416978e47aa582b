"""The queue capability on every store: order, pages, replace/remove once, sizes, unreadable."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from token_stores import MAX_ENTRY_BYTES, DataTooLarge, EncryptedTokenStore, TokenStore, queue_of

from .conftest import make_spec


async def test_entries_come_back_in_order_in_bounded_pages(store: TokenStore, key: str) -> None:
    queue = queue_of(store)
    ids = [await queue.append(key, f"entry {i}".encode()) for i in range(7)]
    assert ids == sorted(ids)
    assert len(set(ids)) == 7
    first = await queue.page(key, limit=3)
    assert [i.data for i in first] == [b"entry 0", b"entry 1", b"entry 2"]
    rest = await queue.page(key, after=first[-1].id, limit=10)
    assert [i.id for i in rest] == ids[3:]
    assert await queue.count(key) == 7
    assert await queue.page(f"{key}-other") == []  # queues are separate


async def test_replace_and_remove_act_once_on_one_entry(store: TokenStore, key: str) -> None:
    queue = queue_of(store)
    a, b = await queue.append(key, b"a"), await queue.append(key, b"b")
    assert await queue.replace(key, a, b"a2")
    assert await queue.remove(key, b)
    assert not await queue.remove(key, b)
    assert not await queue.replace(key, b, b"resurrected")
    assert [(i.id, i.data) for i in await queue.page(key)] == [(a, b"a2")]
    later = await queue.append(key, b"c")
    assert later > b  # an id is never reused


async def test_concurrent_appends_all_land_with_distinct_ids(store: TokenStore, key: str) -> None:
    queue = queue_of(store)
    ids = await asyncio.gather(*(queue.append(key, bytes([i])) for i in range(20)))
    assert len(set(ids)) == 20
    assert sorted(i.data for i in await queue.page(key, limit=50)) == [
        bytes([i]) for i in range(20)
    ]


async def test_an_entry_too_large_is_refused_before_anything_is_written(
    store: TokenStore, key: str
) -> None:
    queue = queue_of(store)
    with pytest.raises(DataTooLarge, match="nothing written"):
        await queue.append(key, b"x" * (MAX_ENTRY_BYTES + 1))
    assert await queue.count(key) == 0


async def test_a_long_entry_comes_back_whole(store: TokenStore, key: str) -> None:
    # Over MySQL's BLOB (65,535 bytes), which strict-mode-off servers cut silently.
    queue = queue_of(store)
    data = bytes(range(256)) * 1024  # 256 KiB
    item = await queue.append(key, data)
    assert (await queue.page(key))[0].data == data
    assert await queue.replace(key, item, data[::-1])
    assert (await queue.page(key))[0].data == data[::-1]


async def test_an_entry_no_key_opens_is_returned_unreadable_not_raised(
    tmp_path: Path, key: str
) -> None:
    store = await make_spec("encrypted", tmp_path).build_ready()
    assert isinstance(store, EncryptedTokenStore)
    try:
        inner = queue_of(store.inner)
        await inner.append(key, b"not fernet at all")
        await queue_of(store).append(key, b"fine")
        items = await queue_of(store).page(key)
        assert [(i.readable, i.data) for i in items] == [
            (False, b"not fernet at all"),
            (True, b"fine"),
        ]
    finally:
        await store.close()
