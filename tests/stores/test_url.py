"""from_url: one setting picks the store; passwords never appear in errors or reprs."""

from __future__ import annotations

from pathlib import Path

import pytest

from token_stores import FileTokenStore, MemoryTokenStore, RedisTokenStore, SQLTokenStore, from_url


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("memory://", MemoryTokenStore),
        ("redis://:hunter2@127.0.0.1:6379/0", RedisTokenStore),
        ("rediss://user:hunter2@cache.internal:6380/1", RedisTokenStore),
        ("postgresql+asyncpg://app:hunter2@127.0.0.1/test", SQLTokenStore),
        ("mysql+asyncmy://app:hunter2@127.0.0.1/test", SQLTokenStore),
        ("sqlite+aiosqlite:///tokens.db", SQLTokenStore),
    ],
)
async def test_scheme_picks_the_store_and_repr_hides_password(url: str, kind: type) -> None:
    store = from_url(url)
    try:
        assert isinstance(store, kind)
        assert "hunter2" not in repr(store)
    finally:
        await store.close()


def test_file_url_names_a_directory(tmp_path: Path) -> None:
    store = from_url(f"file://{tmp_path}/my%20tokens")
    assert isinstance(store, FileTokenStore)
    assert store.path == tmp_path / "my tokens"
    with pytest.raises(ValueError, match="file:///absolute"):
        from_url("file://otherhost/tokens")


def test_options_reach_the_store() -> None:
    store = from_url("redis://127.0.0.1:6379/0", prefix="tenant-a:")
    assert isinstance(store, RedisTokenStore)
    assert store.prefix == "tenant-a:"


@pytest.mark.parametrize(
    "url", ["ftp://u:hunter2@h/x", "postgresql://u:hunter2@h/db", "tokens.json", "sqlite:///x"]
)
def test_unknown_scheme_names_the_supported_ones(url: str) -> None:
    with pytest.raises(ValueError, match="supported: memory://") as caught:
        from_url(url)
    assert "hunter2" not in str(caught.value)
    assert "postgresql+asyncpg://" in str(caught.value)
