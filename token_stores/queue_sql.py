"""The SQL store's queues: one row per entry in ``<table>_queue``, read through an index.

Schema (created on first use, ``CREATE TABLE IF NOT EXISTS``; for your own migrations)::

    -- PostgreSQL
    CREATE TABLE ffn_tokens_queue (
        id         BIGSERIAL PRIMARY KEY,
        queue_key  VARCHAR(200) NOT NULL,
        data       BYTEA NOT NULL,
        created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP
    );
    CREATE INDEX ix_ffn_tokens_queue_head ON ffn_tokens_queue (queue_key, id);
    -- MySQL / MariaDB: id BIGINT AUTO_INCREMENT, queue_key VARBINARY(800), data LONGBLOB
    -- SQLite: id INTEGER PRIMARY KEY AUTOINCREMENT (ids never reused), data BLOB

Appending is one ``INSERT``, removing one ``DELETE`` by primary key, and a page one index range
scan: no statement touches more rows than it returns. Ids come from the database's sequence
(auto-increment), so they grow in the order appends commit; two appends racing each other
commit in either order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from .base import StoreUnavailable
from .queue import QueueItem, check_entry, check_page

T = TypeVar("T")

__all__ = ["SQLQueue"]


class _SQLBackend(Protocol):
    """What the queue uses of :class:`~token_stores.SQLTokenStore` (no import: no cycle)."""

    async def _run(
        self, op: Callable[[AsyncConnection], Awaitable[T]], *, single: bool = False
    ) -> T: ...

    async def _rowcount(self, statement: sa.Executable) -> int: ...

    async def _widen_data_column(self, table: str, *, nullable: bool) -> None: ...


class SQLQueue:
    """Queue entries as rows of ``<table>_queue`` in the store's database."""

    def __init__(self, store: _SQLBackend, table: sa.Table) -> None:
        """``table``: the queue table of the store's dialect types (``sql.queue_table``)."""
        self._store = store
        self._table = table
        self._head = f"ix_{self._table.name}_head"
        self._ready = False
        self._preparing = asyncio.Lock()

    async def _prepare(self) -> None:
        """Create the table on first use; widen an older MySQL ``BLOB`` column (idempotent)."""
        if self._ready:
            return
        async with self._preparing:
            if self._ready:
                return

            async def create(conn: AsyncConnection) -> None:
                await conn.run_sync(self._table.metadata.create_all, checkfirst=True)

            try:
                await self._store._run(create)
            except StoreUnavailable:
                # Another process created it between the check and the CREATE: fine if it exists.
                async def exists(conn: AsyncConnection) -> bool:
                    return await conn.run_sync(
                        lambda sync: sa.inspect(sync).has_table(self._table.name)
                    )

                if not await self._store._run(exists):
                    raise
            await self._store._widen_data_column(self._table.name, nullable=False)
            self._ready = True

    async def append(self, queue: str, data: bytes) -> int:
        data = check_entry(queue, data)
        await self._prepare()
        insert = self._table.insert().values(queue_key=queue, data=data)

        async def op(conn: AsyncConnection) -> int:
            result = await conn.execute(insert)
            key = result.inserted_primary_key
            assert key is not None  # a single-row INSERT
            return int(key[0])

        return await self._store._run(op, single=True)

    async def page(self, queue: str, *, after: int = 0, limit: int = 100) -> list[QueueItem]:
        check_page(after, limit)
        check_entry(queue, b"")
        await self._prepare()
        t = self._table
        query = (
            sa.select(t.c.id, t.c.data)
            .where(t.c.queue_key == queue, t.c.id > after)
            .order_by(t.c.id)
            .limit(limit)
        )
        for dialect in ("mysql", "mariadb"):
            # For a queue holding most of the table, MySQL/MariaDB estimate a scan of the
            # primary key in id order cheaper, and skip every other queue's older rows on each
            # read of the head (2x the submit time at 100,000 entries): use the head index.
            query = query.with_hint(t, f"FORCE INDEX ({self._head})", dialect_name=dialect)

        async def op(conn: AsyncConnection) -> list[QueueItem]:
            rows = (await conn.execute(query)).all()
            return [QueueItem(int(row.id), bytes(row.data)) for row in rows]

        return await self._store._run(op, single=True)

    async def replace(self, queue: str, item_id: int, data: bytes) -> bool:
        data = check_entry(queue, data)
        await self._prepare()
        t = self._table
        update = t.update().where(t.c.queue_key == queue, t.c.id == item_id).values(data=data)
        return await self._store._rowcount(update) == 1

    async def remove(self, queue: str, item_id: int) -> bool:
        check_entry(queue, b"")
        await self._prepare()
        t = self._table
        delete = t.delete().where(t.c.queue_key == queue, t.c.id == item_id)
        return await self._store._rowcount(delete) == 1

    async def count(self, queue: str) -> int:
        check_entry(queue, b"")
        await self._prepare()
        t = self._table
        query = sa.select(sa.func.count()).select_from(t).where(t.c.queue_key == queue)

        async def op(conn: AsyncConnection) -> int:
            return int((await conn.execute(query)).scalar() or 0)

        return await self._store._run(op, single=True)
