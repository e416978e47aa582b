"""from_url: one setting picks the store; passwords never appear in errors or reprs."""

from __future__ import annotations

from pathlib import Path

import pytest

from token_stores import (
    FileTokenStore,
    InvalidStoreURL,
    MemoryTokenStore,
    RedisTokenStore,
    SQLTokenStore,
    from_url,
)


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


@pytest.mark.parametrize(
    ("url", "names"),
    [
        (
            "postgresql+asyncpg://u:hunter2@127.0.0.1/db?sslmode=bogus",
            ["'sslmode'", "ssl=disable|"],
        ),
        ("postgresql+asyncpg://u:hunter2@127.0.0.1/db?ssl=bogus", ["ssl='bogus'", "verify-full"]),
        ("mysql+asyncmy://u:hunter2@127.0.0.1/db?ssl=bogus", ["'ssl'", "ssl_ca=<a path>"]),
        ("mysql+asyncmy://u:hunter2@127.0.0.1/db?charset=latin1", ["charset='latin1'", "utf8mb4"]),
        ("redis://:hunter2@127.0.0.1:6379/0?socket_timeout=abc", ["socket_timeout='abc'"]),
        ("redis://:hunter2@127.0.0.1:6379/0?bogus=1", ["'bogus'", "socket_timeout=<a number>"]),
        ("redis://127.0.0.1:6379/0?ssl_cert_reqs=none", ["'ssl_cert_reqs'"]),  # rediss:// only
        ("rediss://127.0.0.1:6379/0?ssl_cert_reqs=maybe", ["none|optional|required"]),
        ("sqlite+aiosqlite:///tokens.db?bogus=1", ["'bogus'", "timeout=<a number>"]),
        ("file:///tmp/tokens?mode=0644", ["'mode'", "accepted options: none"]),
    ],
)
def test_bad_url_options_are_a_typed_error_naming_option_and_values(
    url: str, names: list[str]
) -> None:
    with pytest.raises(InvalidStoreURL) as caught:
        from_url(url)
    assert isinstance(caught.value, ValueError)  # as before, for callers catching that
    for name in names:
        assert name in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_stores_built_without_from_url_check_their_options_too() -> None:
    with pytest.raises(InvalidStoreURL, match="sslmode"):
        SQLTokenStore("postgresql+asyncpg://u@127.0.0.1/db?sslmode=require")
    with pytest.raises(InvalidStoreURL, match="db='x'"):
        RedisTokenStore("redis://127.0.0.1:6379/0?db=x")


def test_an_unknown_option_value_is_not_shown() -> None:
    with pytest.raises(InvalidStoreURL) as caught:
        from_url("redis://127.0.0.1:6379/0?password=hunter2")
    assert "hunter2" not in str(caught.value)
    assert "user part" in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+asyncpg://u@127.0.0.1/db?ssl=require&prepared_statement_cache_size=0",
        "mysql+asyncmy://u@127.0.0.1/db?charset=utf8mb4&connect_timeout=5",
        "redis://127.0.0.1:6379/0?socket_timeout=2.5&health_check_interval=10&protocol=3",
        "rediss://127.0.0.1:6379/0?ssl_cert_reqs=required&ssl_ca_certs=/etc/ca.pem",
        "sqlite+aiosqlite:///tokens.db?timeout=5",
    ],
)
async def test_good_url_options_are_accepted(url: str) -> None:
    store = from_url(url)
    await store.close()


# ----------------------------------------------------------------- first-hour traps (issue 23)


@pytest.mark.parametrize(
    ("url", "misspelt", "suggestion"),
    [
        ("redis://127.0.0.1:6379/0", "prefx", "did you mean 'prefix'?"),
        ("redis+cluster://127.0.0.1:7000", "socket_timout", "did you mean 'socket_timeout'?"),
        ("memory://", "prefix", "valid options: none"),
    ],
)
def test_an_unknown_keyword_is_a_type_error_naming_the_valid_ones(
    url: str, misspelt: str, suggestion: str
) -> None:
    # Redis once took it silently and failed at the first command, deep in its connection.
    with pytest.raises(TypeError, match=misspelt) as caught:
        from_url(url, **{misspelt: "x"})
    assert suggestion in str(caught.value)


def test_a_redis_url_carries_the_key_prefix() -> None:
    store = from_url("redis://127.0.0.1:6379/0?prefix=tenant-b:&socket_timeout=2")
    assert isinstance(store, RedisTokenStore)
    assert store.prefix == "tenant-b:"
    with pytest.raises(InvalidStoreURL, match="once"):
        from_url("redis://127.0.0.1:6379/0?prefix=a:", prefix="b:")


@pytest.mark.parametrize(
    "url", ["redis://127.0.0.1:6379/eleven", "rediss://u:hunter2@127.0.0.1:6379/1x"]
)
def test_a_redis_database_must_be_a_number(url: str) -> None:
    with pytest.raises(InvalidStoreURL, match="database number") as caught:
        from_url(url)
    assert "hunter2" not in str(caught.value)
