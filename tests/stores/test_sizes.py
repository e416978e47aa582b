"""No size limit of a backend is reachable silently: MySQL/MariaDB's BLOB, strict mode or not.

ffn-async 0.1.0 created the token table's ``data`` as ``BLOB`` (65,535 bytes). In strict mode a
longer save failed as ``StoreUnavailable``; without strict mode the server cut the record to
65,535 bytes and reported success. Now a save that would not fit is refused as
``DataTooLarge`` before anything is written, and ``create_schema()`` widens the column.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from tests import services
from token_stores import DataTooLarge, Record, SQLTokenStore, queue_of

from .test_sql import OLD_DDL, TYPES

BIG = bytes(range(256)) * 400  # 102,400 bytes: over BLOB's 65,535


@pytest.fixture(params=["strict", "not strict"])
async def mysql(request: pytest.FixtureRequest) -> AsyncIterator[AsyncEngine]:
    """A MariaDB/MySQL engine whose sessions run in or out of strict mode."""
    engine = create_async_engine(services.require("mysql"))
    if request.param == "not strict":

        @event.listens_for(engine.sync_engine, "connect")
        def _lenient(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("SET SESSION sql_mode=''")  # data too long: cut, with a warning
            cursor.close()

    yield engine
    await engine.dispose()


async def _drop(engine: AsyncEngine, *tables: str) -> None:
    async with engine.begin() as conn:
        for table in tables:
            await conn.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))


async def test_a_record_over_an_old_blob_column_is_refused_then_fits_after_create_schema(
    mysql: AsyncEngine,
) -> None:
    table = f"ffn_old_{secrets.token_hex(4)}"
    store = SQLTokenStore(engine=mysql, table=table)
    try:
        async with mysql.begin() as conn:
            await conn.execute(sa.text(OLD_DDL.format(table=table, **TYPES["mysql"])))
        await store.save("acct", b"small record", None)
        with pytest.raises(DataTooLarge, match=r"create_schema\(\)") as raised:
            await store.save("acct", BIG, 1)
        assert raised.value.limit == 65_535
        assert await store.load("acct") == Record(b"small record", 1)  # kept, not cut

        await store.create_schema()  # widens data to LONGBLOB
        assert await store.save("acct", BIG, 1) == 2
        assert await store.load("acct") == Record(BIG, 2)
    finally:
        await _drop(mysql, table, f"{table}_queue")


async def test_new_tables_hold_long_records_and_queue_entries_whole(mysql: AsyncEngine) -> None:
    table = f"ffn_new_{secrets.token_hex(4)}"
    store = SQLTokenStore(engine=mysql, table=table)
    try:
        await store.create_schema()
        assert await store.save("acct", BIG, None) == 1
        assert await store.load("acct") == Record(BIG, 1)
        queue = queue_of(store)
        await queue.append("acct", BIG)
        assert [i.data for i in await queue.page("acct")] == [BIG]
    finally:
        await _drop(mysql, table, f"{table}_queue")
