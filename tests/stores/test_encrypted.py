"""EncryptedTokenStore: ciphertext at rest, tamper and wrong-key detection, key rotation."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from token_stores import CorruptRecord, EncryptedTokenStore, FileTokenStore, Record, StoreConflict

OLD, NEW = Fernet.generate_key(), Fernet.generate_key().decode()
SECRET = b"refresh-token-very-secret"


@pytest.fixture
def inner(tmp_path: Path) -> FileTokenStore:
    return FileTokenStore(tmp_path / "tokens")


async def test_only_ciphertext_reaches_the_inner_store(inner: FileTokenStore) -> None:
    store = EncryptedTokenStore(inner, OLD)
    assert await store.save("acme", SECRET, None) == 1
    raw = await inner.load("acme")
    assert raw is not None
    assert SECRET not in raw.data
    assert SECRET not in b"".join(p.read_bytes() for p in inner.path.glob("*.json"))
    assert await store.load("acme") == Record(SECRET, 1)


async def test_tampered_data_is_typed_and_record_left_as_it_was(inner: FileTokenStore) -> None:
    store = EncryptedTokenStore(inner, OLD)
    await store.save("acme", SECRET, None)
    raw = await inner.load("acme")
    assert raw is not None
    flipped = bytearray(raw.data)
    flipped[40] ^= 1
    await inner.save("acme", bytes(flipped), 1)

    with pytest.raises(CorruptRecord, match="wrong key or tampered") as caught:
        await store.load("acme")
    assert SECRET.decode() not in str(caught.value)
    assert bytes(flipped).decode(errors="replace") not in str(caught.value)
    with pytest.raises(CorruptRecord):
        await store.rotate("acme")
    assert await inner.load("acme") == Record(bytes(flipped), 2)


async def test_wrong_key_is_typed(inner: FileTokenStore) -> None:
    await EncryptedTokenStore(inner, OLD).save("acme", SECRET, None)
    with pytest.raises(CorruptRecord, match="wrong key or tampered"):
        await EncryptedTokenStore(inner, NEW).load("acme")


async def test_rotation_reads_old_keys_and_writes_the_newest(inner: FileTokenStore) -> None:
    await EncryptedTokenStore(inner, OLD).save("acme", SECRET, None)
    rotated = EncryptedTokenStore(inner, [NEW, OLD])
    assert await rotated.load("acme") == Record(SECRET, 1)
    await rotated.save("acme", SECRET + b"2", 1)
    # Written with the newest key: readable without the old one.
    assert await EncryptedTokenStore(inner, NEW).load("acme") == Record(SECRET + b"2", 2)


async def test_rotate_re_encrypts_under_the_newest_key(inner: FileTokenStore) -> None:
    await EncryptedTokenStore(inner, OLD).save("acme", SECRET, None)
    store = EncryptedTokenStore(inner, [NEW, OLD])
    assert await store.rotate("acme") is True
    assert await store.rotate("nobody") is False
    assert await EncryptedTokenStore(inner, NEW).load("acme") == Record(SECRET, 2)


async def test_rotate_loses_to_a_concurrent_writer(inner: FileTokenStore) -> None:
    store = EncryptedTokenStore(inner, [NEW, OLD])
    await store.save("acme", SECRET, None)
    original_load = inner.load

    async def load_then_someone_writes(key: str) -> Record | None:
        record = await original_load(key)
        await store.save(key, b"newer", 1)
        return record

    inner.load = load_then_someone_writes  # type: ignore[method-assign]
    with pytest.raises(StoreConflict):
        await store.rotate("acme")
    inner.load = original_load  # type: ignore[method-assign]
    assert await store.load("acme") == Record(b"newer", 2)


def test_bad_keys_are_rejected_without_echoing_them(inner: FileTokenStore) -> None:
    with pytest.raises(ValueError, match="Fernet key") as caught:
        EncryptedTokenStore(inner, "not-a-key-hunter2")
    assert "hunter2" not in str(caught.value)
    with pytest.raises(ValueError, match="at least one key"):
        EncryptedTokenStore(inner, [])
