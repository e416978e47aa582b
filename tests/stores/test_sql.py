"""SQL specifics: tables created by older versions are migrated to byte-for-byte keys."""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from tests import services
from token_stores import Record, SQLTokenStore

#: The DDL of ffn-async 0.1.0 (``sa.String(200)``: the server's default collation on MySQL).
OLD_DDL = """CREATE TABLE {table} (
    record_key VARCHAR(200) NOT NULL PRIMARY KEY,
    data {blob},
    version INTEGER NOT NULL DEFAULT 0,
    lock_owner VARCHAR(64),
    lock_expires_at {double},
    updated_at {timestamp} NOT NULL DEFAULT CURRENT_TIMESTAMP
)"""
TYPES = {
    "postgres": {"blob": "BYTEA", "double": "DOUBLE PRECISION", "timestamp": "TIMESTAMPTZ"},
    "mysql": {"blob": "BLOB", "double": "DOUBLE", "timestamp": "DATETIME"},
    "sqlite": {"blob": "BLOB", "double": "REAL", "timestamp": "DATETIME"},
}


def _url(kind: str, tmp_path: Path) -> str:
    if kind == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    return services.require(kind)


@pytest.mark.parametrize("kind", list(TYPES))
async def test_a_table_of_the_old_ddl_is_migrated_to_byte_for_byte_keys(
    kind: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = _url(kind, tmp_path)
    table = f"ffn_old_{secrets.token_hex(4)}"
    engine = create_async_engine(url)
    store = SQLTokenStore(engine=engine, table=table)
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.text(OLD_DDL.format(table=table, **TYPES[kind])))
            await conn.execute(
                sa.text(f"INSERT INTO {table} (record_key, data, version) VALUES ('Acme', :d, 3)"),
                {"d": b"token of Acme"},
            )
        with caplog.at_level(logging.WARNING, logger="token_stores.sql"):
            await store.create_schema()
            await store.create_schema()  # idempotent: migrates (and warns) once
        migrated = [r for r in caplog.records if "VARBINARY" in r.getMessage()]
        assert len(migrated) == (1 if kind == "mysql" else 0)
        assert await store.load("Acme") == Record(b"token of Acme", 3)
        for other in ("acme", "ACME", "Acme ", "Ácme", "A\u0301cme"):
            assert await store.load(other) is None
            assert await store.save(other, other.encode(), None) == 1
        assert await store.load("Acme") == Record(b"token of Acme", 3)
        assert await store.save("Acme", b"rotated", 3) == 4
        assert await store.load("acme") == Record(b"acme", 1)
    finally:
        async with engine.begin() as conn:
            await conn.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))
        await engine.dispose()
