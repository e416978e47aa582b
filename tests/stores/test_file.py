"""FileTokenStore specifics: on-disk format, permissions, corrupt files left untouched."""

from __future__ import annotations

import asyncio
import json
import stat
from pathlib import Path

import pytest

from token_stores import CorruptRecord, FileTokenStore, LockTimeout, Record


@pytest.fixture
def store(tmp_path: Path) -> FileTokenStore:
    return FileTokenStore(tmp_path / "tokens.json")


def record_file(store: FileTokenStore) -> Path:
    (path,) = store.path.glob("*.json")
    return path


async def test_files_are_private_and_no_temp_files_remain(store: FileTokenStore) -> None:
    await store.save("acme", b"secret", None)
    await store.save("acme", b"secret 2", 1)
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o700
    assert stat.S_IMODE(record_file(store).stat().st_mode) == 0o600
    for lock in (store.path / ".locks").iterdir():
        assert stat.S_IMODE(lock.stat().st_mode) == 0o600
    assert [p.name for p in store.path.iterdir() if p.suffix == ".tmp"] == []


async def test_awkward_keys_get_distinct_safe_file_names(store: FileTokenStore) -> None:
    keys = ["../escape", "a/b", "Acme", "acme", ".", "..", "ü€ key", "x" * 200]
    for i, key in enumerate(keys):
        await store.save(key, str(i).encode(), None)
    assert len(list(store.path.glob("*.json"))) == len(keys)
    assert not (store.path.parent / "escape").exists()
    for i, key in enumerate(keys):
        assert await store.load(key) == Record(str(i).encode(), 1)


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda raw: raw[: len(raw) // 2], id="truncated"),
        pytest.param(lambda raw: b"", id="empty"),
        pytest.param(lambda raw: b"\x00\xff garbage", id="garbage"),
        pytest.param(lambda raw: raw.replace(b'"version": 1', b'"version": "1"'), id="bad-version"),
        pytest.param(lambda raw: raw.replace(b'"key": "acme"', b'"key": "other"'), id="other-key"),
    ],
)
async def test_corrupt_file_raises_and_is_never_overwritten(store: FileTokenStore, damage) -> None:  # type: ignore[no-untyped-def]
    await store.save("acme", b"the only refresh token", None)
    path = record_file(store)
    broken = damage(path.read_bytes())
    path.write_bytes(broken)

    with pytest.raises(CorruptRecord) as caught:
        await store.load("acme")
    assert str(path) in str(caught.value)
    assert "the only refresh token" not in str(caught.value)
    for expected in (None, 1):
        with pytest.raises(CorruptRecord):
            await store.save("acme", b"new", expected)
    assert path.read_bytes() == broken
    await store.delete("acme")  # the explicit way out
    assert await store.save("acme", b"fresh", None) == 1


async def test_format_is_readable_json(store: FileTokenStore) -> None:
    await store.save("acme", b"\x00bytes", None)
    doc = json.loads(record_file(store).read_bytes())
    assert doc == {"format": 1, "key": "acme", "version": 1, "data": "AGJ5dGVz"}


async def test_two_store_objects_on_one_directory_exclude_each_other(tmp_path: Path) -> None:
    a, b = FileTokenStore(tmp_path / "t"), FileTokenStore(tmp_path / "t")
    async with a.lock("acme", timeout=1):
        with pytest.raises(LockTimeout):
            async with b.lock("acme", timeout=0.1):
                pass
    async with b.lock("acme", timeout=0.1):
        pass


async def test_lock_waiting_does_not_block_the_event_loop(store: FileTokenStore) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    task = asyncio.create_task(ticker())
    async with store.lock("acme", timeout=1):
        with pytest.raises(LockTimeout):
            async with store.lock("acme", timeout=0.3):
                pass
    task.cancel()
    assert ticks >= 10  # ~30 expected; 0-1 if waiting blocked the loop


async def test_unwritable_directory_is_store_unavailable(tmp_path: Path) -> None:
    from token_stores import StoreUnavailable

    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    store = FileTokenStore(blocker / "tokens")
    with pytest.raises(StoreUnavailable, match="cannot create token store directory"):
        await store.save("acme", b"x", None)
