"""Token files are 0600 in 0700 directories whatever the umask; exposed ones are logged."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from ffn_async.cli.config import default_store_url, open_store
from token_stores import FileTokenStore, SQLTokenStore


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(params=[0o000, 0o022], ids=["umask000", "umask022"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


async def test_file_store_files_are_private(tmp_path: Path, umask: int) -> None:
    store = FileTokenStore(tmp_path / "new" / "tokens")
    await store.save("acme", b"secret", None)
    async with store.lock("acme"):
        await store.save("acme", b"secret 2", 1)
    assert mode(store.path) == 0o700
    assert mode(store.path / ".locks") == 0o700
    files = [p for p in store.path.rglob("*") if p.is_file()]
    assert len(files) == 3  # the record, its lease lock and its write lock
    assert {p.name: mode(p) for p in files} == {p.name: 0o600 for p in files}


async def _sqlite_modes(url: str) -> dict[str, int]:
    store = SQLTokenStore(url)
    try:
        await store.create_schema()
        await store.save("acme", b"secret", None)
        database = Path(url.removeprefix("sqlite+aiosqlite:///"))
        # While the store is open the WAL and shared-memory files exist beside the database.
        files = [database, *(database.with_name(database.name + s) for s in ("-wal", "-shm"))]
        return {"dir": mode(database.parent), **{p.name: mode(p) for p in files}}
    finally:
        await store.close()


# A new SQLite store: its directory and every file of the database only for the owner.
PRIVATE_SQLITE = {"dir": 0o700, "tokens.db": 0o600, "tokens.db-wal": 0o600, "tokens.db-shm": 0o600}


async def test_sqlite_database_and_wal_are_private(tmp_path: Path, umask: int) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'new' / 'tokens.db'}"
    modes = await _sqlite_modes(url)
    assert modes == PRIVATE_SQLITE


async def test_the_cli_default_store_is_private(tmp_path: Path, umask: int) -> None:
    url = default_store_url(tmp_path / "xdg" / "ffn-async")
    assert url.startswith("sqlite+aiosqlite:///")
    store = await open_store(url)
    await store.close()
    modes = await _sqlite_modes(url)
    assert modes == PRIVATE_SQLITE


def _exposure_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "other users" in r.getMessage()]


async def test_an_exposed_file_store_directory_and_file_are_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    directory = tmp_path / "tokens"
    await FileTokenStore(directory).save("acme", b"secret", None)
    directory.chmod(0o755)
    (record,) = directory.glob("*.json")
    record.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="token_stores"):
        store = FileTokenStore(directory)
        await store.load("acme")
        await store.load("acme")  # once per file, not per read
        await store.save("acme", b"secret 2", 1)
    warnings = _exposure_warnings(caplog)
    assert len(warnings) == 2, warnings
    assert f"chmod 700 {directory}" in warnings[0]
    assert f"chmod 600 {record}" in warnings[1]
    assert "0644" in warnings[1]
    assert mode(record) == 0o600  # the save replaced it with a private file


async def test_an_exposed_sqlite_database_is_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    database = tmp_path / "tokens.db"
    database.touch(0o644)
    database.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="token_stores"):
        store = SQLTokenStore(f"sqlite+aiosqlite:///{database}")
        await store.create_schema()  # the first connection checks
        await store.close()
    (warning,) = _exposure_warnings(caplog)
    assert f"chmod 600 {database}" in warning


async def test_sqlite_rollback_journal_is_private(tmp_path: Path, umask: int) -> None:
    """A caller's engine in rollback-journal mode (PERSIST keeps the -journal file around)."""
    from sqlalchemy import event
    from sqlalchemy.ext.asyncio import create_async_engine

    database = tmp_path / "new" / "tokens.db"
    engine = create_async_engine(f"sqlite+aiosqlite:///{database}")

    @event.listens_for(engine.sync_engine, "connect")
    def _persist(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=PERSIST")
        cursor.close()

    store = SQLTokenStore(engine=engine)
    try:
        await store.create_schema()
        await store.save("acme", b"secret", None)
    finally:
        await store.close()
        await engine.dispose()
    journal = database.with_name("tokens.db-journal")
    assert {p.name: mode(p) for p in (database, journal)} == {
        "tokens.db": 0o600,
        "tokens.db-journal": 0o600,
    }
    assert mode(database.parent) == 0o700
