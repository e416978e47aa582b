"""A store in a SQL database (SQLAlchemy 2 async Core): PostgreSQL, MySQL/MariaDB or SQLite.

One table (default ``ffn_tokens``) holds records and their lease locks. ``await
store.create_schema()`` creates it if missing; to manage it with your own migrations, use::

    -- PostgreSQL
    CREATE TABLE ffn_tokens (
        record_key      VARCHAR(200) PRIMARY KEY,
        data            BYTEA,
        version         INTEGER NOT NULL DEFAULT 0,
        lock_owner      VARCHAR(64),
        lock_expires_at DOUBLE PRECISION,
        updated_at      TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP
    );
    -- MySQL / MariaDB: record_key VARBINARY(800), data LONGBLOB, lock_expires_at DOUBLE,
    --                  updated_at DATETIME (VARBINARY: keys compare byte for byte; create_schema()
    --                  migrates a VARCHAR record_key and a BLOB data column of older versions)
    -- SQLite: data BLOB, lock_expires_at REAL, updated_at DATETIME

Design:

* ``version`` 0 marks a lock-only row: locking a key that has no record yet inserts a row with
  ``version = 0`` and no data, so records and locks share one row and one primary key; ``load``
  treats version 0 as "no record".
* Compare-and-set: ``UPDATE ... SET data, version = version + 1 WHERE record_key = :k AND
  version = :expected`` succeeds on exactly one row or is a conflict. Create-only first fills a
  lock-only row (``version = 0``), else inserts (``ON CONFLICT DO NOTHING`` on PostgreSQL and
  SQLite; a caught duplicate-key error on MySQL); a losing racer gets :class:`StoreConflict`.
* The lease lock is a conditional update of ``lock_owner``/``lock_expires_at`` that succeeds
  only while the lock is free or expired; it is released only by its owner. Expiry is computed
  and compared by the **database's** clock, in seconds since the epoch, because workers' clocks
  drift: PostgreSQL ``extract(epoch from clock_timestamp())``, MySQL/MariaDB
  ``UNIX_TIMESTAMP(NOW(6))`` (independent of the session time zone), SQLite
  ``(julianday('now') - 2440587.5) * 86400`` (embedded: the local clock is the database's).
* SQLite files are private: the database (and so its ``-wal``/``-shm``/``-journal`` files) is
  created ``0600``, a missing directory ``0700``, whatever the umask; existing ones that other
  users can read are logged as a warning.
* SQLite with several processes: engines built here set a 30 s busy timeout and WAL journaling,
  and every statement is its own short transaction, so writers queue instead of failing.
* Operations wait for a free connection of SQLAlchemy's pool (``pool_size`` 5 +
  ``max_overflow`` 10, ``pool_timeout`` 30 s by default; engine options of the store) in
  arrival order (the pool itself lets newcomers overtake waiters): a wait that runs out
  raises :class:`StoreBusy` naming the pool, not an outage.
* Sizes: a record longer than :data:`~token_stores.queue.MAX_ENTRY_BYTES` (8 MiB) raises
  :class:`~token_stores.DataTooLarge` before anything is written, on every database. MySQL's
  ``BLOB`` holds 65,535 bytes and, outside strict mode, cuts longer data silently: new tables
  use ``LONGBLOB``, ``create_schema()`` widens an older ``BLOB`` column, and until it has, a
  save that would not fit raises ``DataTooLarge`` naming that fix instead of being cut.
* The queue capability (``store.queue()``, :mod:`token_stores.queue_sql`) lives in a second
  table, ``<table>_queue``.
* Connection failures raise :class:`StoreUnavailable`. An operation that fails on a connection
  the driver reports as dead is retried once (SQLAlchemy then discards every pooled connection
  of that age), so the same store works again as soon as the database is back; no
  ``pool_pre_ping`` round trip is spent on every checkout. Statement parameters (the secret
  data) are never put into error messages.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from . import _lease
from ._options import check_options
from ._private import check_private, ensure_private_dir, ensure_private_file
from .base import (
    DEFAULT_LOCK_TIMEOUT,
    DEFAULT_LOCK_TTL,
    Lease,
    Record,
    StoreBusy,
    StoreConflict,
    StoreUnavailable,
    validate_key,
)
from .queue import MAX_ENTRY_BYTES, DataTooLarge

try:
    import sqlalchemy as sa
    from sqlalchemy import event
    from sqlalchemy.dialects.mysql import LONGBLOB
    from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError
    from sqlalchemy.exc import TimeoutError as PoolTimeout
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "SQLTokenStore needs SQLAlchemy: pip install 'ffn-async[sql]' (plus 'ffn-async[postgres]', "
        "'ffn-async[mysql]' or 'ffn-async[sqlite]' for the database driver)"
    ) from exc

if TYPE_CHECKING:
    from .queue_sql import SQLQueue

__all__ = ["SQLTokenStore"]

log = logging.getLogger(__name__)

T = TypeVar("T")

# The database's clock as seconds since the epoch, per dialect.
_NOW = {
    "postgresql": "CAST(extract(epoch from clock_timestamp()) AS DOUBLE PRECISION)",
    "mysql": "UNIX_TIMESTAMP(NOW(6))",
    "mariadb": "UNIX_TIMESTAMP(NOW(6))",
    "sqlite": "((julianday('now') - 2440587.5) * 86400.0)",
}


#: Longest key in bytes: 200 characters (``validate_key``) of at most 4 UTF-8 bytes each.
_KEY_BYTES = 800


class _Key(sa.TypeDecorator[str]):
    """The record key, compared byte for byte on every backend.

    PostgreSQL (deterministic collations) and SQLite (``BINARY``) already compare text that way.
    MySQL/MariaDB's default collations ignore case and accents, and even ``utf8mb4_bin`` ignores
    trailing spaces (``PAD SPACE``), so there the key is ``VARBINARY`` holding its UTF-8 bytes.
    """

    impl = sa.String(200)
    cache_ok = True

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name in _BINARY_KEY_DIALECTS:
            return dialect.type_descriptor(sa.VARBINARY(_KEY_BYTES))
        return dialect.type_descriptor(sa.String(200))

    def process_bind_param(self, value: str | None, dialect: sa.Dialect) -> Any:
        if value is not None and dialect.name in _BINARY_KEY_DIALECTS:
            return value.encode()
        return value

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> str | None:
        return bytes(value).decode() if isinstance(value, bytes | bytearray) else value


_BINARY_KEY_DIALECTS = frozenset({"mysql", "mariadb"})

#: Opaque bytes: ``LONGBLOB`` on MySQL/MariaDB, whose ``BLOB`` holds only 65,535 bytes.
DATA = sa.LargeBinary().with_variant(LONGBLOB(), "mysql", "mariadb")
#: What a MySQL ``BLOB`` column holds; a narrower column than ``LONGBLOB`` is migrated.
_NARROW_BLOBS = {"tinyblob": 255, "blob": 65_535, "mediumblob": 16_777_215}


def _table(name: str) -> sa.Table:
    return sa.Table(
        name,
        sa.MetaData(),
        sa.Column("record_key", _Key(), primary_key=True),
        sa.Column("data", DATA, nullable=True),
        sa.Column("version", sa.Integer, nullable=False, server_default="0"),
        sa.Column("lock_owner", sa.String(64), nullable=True),
        sa.Column("lock_expires_at", sa.Double, nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.func.current_timestamp(),
        ),
    )


# SQLite: only INTEGER PRIMARY KEY is the rowid alias that AUTOINCREMENT needs.
_QUEUE_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def queue_table(name: str) -> sa.Table:
    """The table of the store's queues (:mod:`token_stores.queue_sql`), DDL there."""
    table = sa.Table(
        name,
        sa.MetaData(),
        sa.Column("id", _QUEUE_ID, primary_key=True, autoincrement=True),
        sa.Column("queue_key", _Key(), nullable=False),
        sa.Column("data", DATA, nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.func.current_timestamp(),
        ),
        sqlite_autoincrement=True,
    )
    sa.Index(f"ix_{name}_head", table.c.queue_key, table.c.id)
    return table


class SQLTokenStore:
    """Records and lease locks in one SQL table; compare-and-set by conditional ``UPDATE``."""

    def __init__(
        self,
        url: str | None = None,
        *,
        engine: AsyncEngine | None = None,
        table: str = "ffn_tokens",
        **engine_options: Any,
    ) -> None:
        """Connect with a SQLAlchemy async ``url`` or use ``engine``.

        ``engine_options`` go to ``create_async_engine``. An engine passed in stays the caller's
        to dispose; one built from ``url`` is disposed by :meth:`close`.
        """
        if (url is None) == (engine is None):
            raise ValueError("pass exactly one of url= or engine=")
        if engine is None:
            assert url is not None
            check_options(url)
            engine = _create_engine(url, engine_options)
            self._owns_engine = True
        else:
            self._owns_engine = False
        dialect = engine.dialect.name
        if dialect not in _NOW:
            raise ValueError(
                f"SQLTokenStore does not support the {dialect!r} dialect; "
                f"supported: {', '.join(sorted(_NOW))}"
            )
        if dialect == "sqlite" and not event.contains(
            engine.sync_engine, "do_connect", _before_sqlite_connect
        ):
            event.listen(engine.sync_engine, "do_connect", _before_sqlite_connect)
        self._engine = engine
        # Autocommit saves PostgreSQL two round trips per statement; on MySQL and SQLite
        # switching the mode per checkout costs more than it saves (measured).
        self._autocommit = (
            engine.execution_options(isolation_level="AUTOCOMMIT")
            if dialect == "postgresql"
            else engine
        )
        self._table = _table(table)
        self._now = sa.literal_column(_NOW[dialect], sa.Double)
        self._dialect = dialect
        self._capacity, self._pool_wait = _pool_limits(engine)
        self._gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )
        # MySQL/MariaDB: bytes the data column holds, once looked up (None: not yet).
        self._data_capacity: int | None = (
            None if dialect in _BINARY_KEY_DIALECTS else MAX_ENTRY_BYTES
        )

    def __repr__(self) -> str:
        return f"SQLTokenStore({self._where()}, table={self._table.name!r})"

    def _where(self) -> str:
        return self._engine.url.render_as_string(hide_password=True)

    async def create_schema(self) -> None:
        """Create the table if it does not exist (safe to call from many processes at once)."""

        async def create(conn: AsyncConnection) -> None:
            await conn.run_sync(self._table.metadata.create_all, checkfirst=True)

        try:
            await self._run(create)
        except StoreUnavailable:
            # Two processes creating the table at once: the loser fails; fine if it exists now.
            async def exists(conn: AsyncConnection) -> bool:
                return await conn.run_sync(
                    lambda sync: sa.inspect(sync).has_table(self._table.name)
                )

            if not await self._run(exists):
                raise
        await self._migrate_key_column()
        await widen_data_column(self, self._table.name)
        self._data_capacity = MAX_ENTRY_BYTES

    async def _check_size(self, key: str, data: bytes) -> None:
        """Refuse data the table cannot hold, before writing: never a silent truncation."""
        if len(data) > MAX_ENTRY_BYTES:
            raise DataTooLarge(f"the record of key {key!r}", len(data), MAX_ENTRY_BYTES)
        if self._data_capacity is None and len(data) > min(_NARROW_BLOBS.values()):
            self._data_capacity = await data_capacity(self, self._table.name)
        if self._data_capacity is not None and len(data) > self._data_capacity:
            raise DataTooLarge(
                f"the record of key {key!r}",
                len(data),
                self._data_capacity,
                f"the column {self._table.name}.data is too narrow: run create_schema() once "
                "to widen it to LONGBLOB (or ALTER TABLE ... MODIFY data LONGBLOB)",
            )

    async def _migrate_key_column(self) -> None:
        """Make an older MySQL/MariaDB table compare keys byte for byte (idempotent).

        Earlier versions created ``record_key VARCHAR(200)`` with the server's default
        collation, under which ``Acme``, ``acme``, ``acme `` and ``ácme`` are one row. Turning
        the column into ``VARBINARY`` keeps every stored key's UTF-8 bytes and cannot create
        duplicates; keys that were already merged stay merged (the row holds whichever tenant
        wrote last), which is why it is logged.
        """
        if self._dialect not in _BINARY_KEY_DIALECTS:
            return
        name = self._table.name
        column_type = sa.text(
            "SELECT DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() "
            "AND TABLE_NAME = :table AND COLUMN_NAME = 'record_key'"
        )

        async def migrate(conn: AsyncConnection) -> bool:
            found = (await conn.execute(column_type, {"table": name})).scalar()
            if found is None or str(found).lower() == "varbinary":
                return False
            quoted = conn.dialect.identifier_preparer.quote(name)
            await conn.execute(
                sa.text(f"ALTER TABLE {quoted} MODIFY record_key VARBINARY({_KEY_BYTES}) NOT NULL")
            )
            return True

        if await self._run(migrate):
            log.warning(
                "token table %r: record_key migrated to VARBINARY, keys now compare byte for "
                "byte (the old VARCHAR treated keys differing in case, accents or trailing "
                "spaces as one: check that no two accounts shared a record before)",
                name,
            )

    async def _run(
        self, op: Callable[[AsyncConnection], Awaitable[T]], *, single: bool = False
    ) -> T:
        """Run ``op`` in one transaction; retry once on a dead connection; map errors.

        ``single``: ``op`` runs one statement, which is atomic on its own, so where it pays it
        runs in autocommit mode without BEGIN and COMMIT round trips.
        """
        gate = self._gate()
        if gate is None:
            return await self._on_connection(op, single)
        try:
            async with asyncio.timeout(self._pool_wait):
                await gate.acquire()
        except TimeoutError:
            raise self._busy() from None
        try:
            return await self._on_connection(op, single)
        finally:
            gate.release()

    def _gate(self) -> asyncio.Semaphore | None:
        """This loop's queue in front of the pool: first come, first served.

        SQLAlchemy's async pool is not fair: a connection handed back goes to whichever
        coroutine asks next, and a waiter that was woken but beaten to it queues again at the
        back. With 1,000 accounts refreshing at once some waiters starved past
        ``pool_timeout`` (``StoreBusy``) while the pool kept serving others. Waiting here, in
        order, for one of the pool's ``pool_size + max_overflow`` connections keeps every
        wait as long as the queue ahead of it, bounded by the same ``pool_timeout``.
        """
        if not self._capacity:
            return None
        loop = asyncio.get_running_loop()
        gate = self._gates.get(loop)
        if gate is None:
            gate = self._gates[loop] = asyncio.Semaphore(self._capacity)
        return gate

    async def _on_connection(
        self, op: Callable[[AsyncConnection], Awaitable[T]], single: bool
    ) -> T:
        engine = self._autocommit if single else self._engine
        for attempt in (1, 2):
            try:
                async with engine.begin() as conn:
                    return await op(conn)
            except IntegrityError:
                raise  # a contract matter for the caller, not an outage
            except DBAPIError as exc:
                if exc.connection_invalidated and attempt == 1:
                    continue
                raise self._unavailable(exc) from exc.orig
            except PoolTimeout:
                raise self._busy() from None
            except (SQLAlchemyError, OSError, TimeoutError) as exc:
                raise self._unavailable(exc) from None
        raise AssertionError("unreachable")

    def _busy(self) -> StoreBusy:
        pool = self._engine.pool
        size = getattr(pool, "size", lambda: "?")()
        overflow = getattr(pool, "_max_overflow", "?")
        wait = getattr(pool, "_timeout", "?")
        return StoreBusy(
            f"database {self._where()}: every connection of its pool (pool_size {size}, "
            f"max_overflow {overflow}) stayed in use for {wait} s (more statements at once "
            "than the pool allows, or a server too slow to answer them); raise pool_size, "
            "max_overflow or pool_timeout (engine options of SQLTokenStore)"
        )

    def _unavailable(self, exc: BaseException) -> StoreUnavailable:
        # str(DBAPIError) carries the statement's parameters (secret data): use the driver's
        # own message, which does not.
        orig = getattr(exc, "orig", None) or exc
        return StoreUnavailable(
            f"database {self._where()} failed ({type(orig).__name__}: {str(orig)[:300]}); "
            + _hint(orig)
        )

    async def load(self, key: str) -> Record | None:
        t = self._table
        query = sa.select(t.c.data, t.c.version).where(
            t.c.record_key == validate_key(key), t.c.version > 0
        )

        async def op(conn: AsyncConnection) -> Record | None:
            row = (await conn.execute(query)).first()
            return None if row is None else Record(bytes(row.data or b""), row.version)

        return await self._run(op, single=True)

    async def save(self, key: str, data: bytes, expected_version: int | None) -> int:
        t = self._table
        validate_key(key)
        await self._check_size(key, data)
        expected = 0 if expected_version is None else expected_version
        update = (
            t.update()
            .where(t.c.record_key == key, t.c.version == expected)
            .values(data=bytes(data), version=t.c.version + 1, updated_at=sa.func.now())
        )

        if await self._rowcount(update) == 1:
            return expected + 1
        if expected_version is None and await self._insert_new(
            record_key=key, data=bytes(data), version=1
        ):
            return 1
        current = await self.load(key)
        raise StoreConflict(key, expected_version, None if current is None else current.version)

    async def delete(self, key: str) -> None:
        t = self._table
        validate_key(key)
        free = sa.or_(t.c.lock_owner.is_(None), t.c.lock_expires_at <= self._now)

        async def op(conn: AsyncConnection) -> None:
            # Keep the row (as lock-only) while a lease on it is live, so delete never drops
            # somebody's lock.
            gone = await conn.execute(t.delete().where(t.c.record_key == key, free))
            if gone.rowcount == 0:
                await conn.execute(
                    t.update().where(t.c.record_key == key).values(data=None, version=0)
                )

        await self._run(op)

    def queue(self) -> SQLQueue:
        """This database's queues (:mod:`token_stores.queue_sql`), in ``<table>_queue``."""
        from .queue_sql import SQLQueue

        # One per store: it creates (and checks) its table once.
        queue: SQLQueue | None = getattr(self, "_queue", None)
        if queue is None:
            queue = self._queue = SQLQueue(self, queue_table(f"{self._table.name}_queue"))
        return queue

    async def _widen_data_column(self, table: str, *, nullable: bool) -> None:
        await widen_data_column(self, table, nullable=nullable)

    async def close(self) -> None:
        if self._owns_engine:
            await self._engine.dispose()

    @asynccontextmanager
    async def lock(
        self, key: str, *, ttl: float = DEFAULT_LOCK_TTL, timeout: float = DEFAULT_LOCK_TIMEOUT
    ) -> AsyncIterator[Lease]:
        t = self._table
        validate_key(key)
        owner = _lease.new_owner()
        expires = self._now + sa.bindparam("ttl", float(ttl), type_=sa.Double)
        take = (
            t.update()
            .where(
                t.c.record_key == key,
                # ``lock_owner == owner``: an attempt re-sent after its answer was lost (the
                # connection died) finds the lock already ours and renews it.
                sa.or_(
                    t.c.lock_owner.is_(None),
                    t.c.lock_expires_at <= self._now,
                    t.c.lock_owner == owner,
                ),
            )
            .values(lock_owner=owner, lock_expires_at=expires)
        )
        release = (
            t.update()
            .where(t.c.record_key == key, t.c.lock_owner == owner)
            .values(lock_owner=None, lock_expires_at=None)
        )

        async def try_acquire() -> bool:
            try:
                return await self._rowcount(take) == 1 or await self._insert_new(
                    record_key=key, version=0, lock_owner=owner, lock_expires_at=expires
                )
            except (StoreUnavailable, asyncio.CancelledError):
                # The attempt may have taken the lock and only its answer was lost (or we were
                # cancelled meanwhile): free what may be ours at once, else nobody could take
                # it until the lease ran out.
                with suppress(StoreUnavailable):
                    await self._rowcount(release)
                raise

        async def renewer(new_ttl: float) -> bool:
            extend = (
                t.update()
                .where(t.c.record_key == key, t.c.lock_owner == owner)
                .values(lock_expires_at=self._now + sa.bindparam("ttl", new_ttl, type_=sa.Double))
            )
            return await self._rowcount(extend) == 1

        lease = await _lease.acquire(try_acquire, key, timeout, ttl=ttl, renewer=renewer)
        try:
            yield lease
        finally:
            # If this fails, the lease expires on its own after ``ttl`` (as a held one does).
            if not lease.kept:
                with suppress(StoreUnavailable):
                    await self._rowcount(release)

    async def _rowcount(self, statement: sa.Executable) -> int:
        """Run one statement in its own transaction; return the rows it matched.

        One statement per transaction keeps locks short: on MySQL an ``UPDATE`` that finds no
        row takes a gap lock, and a following ``INSERT`` in the same transaction deadlocks with
        other writers of nearby new keys.
        """

        async def op(conn: AsyncConnection) -> int:
            return int((await conn.execute(statement)).rowcount)

        return await self._run(op, single=True)

    async def _insert_new(self, **values: Any) -> bool:
        """Insert a row for a new key; ``False`` (and no server-side error) if the key exists."""
        t = self._table
        if self._dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            stmt: sa.Executable = pg_insert(t).values(**values).on_conflict_do_nothing()
        elif self._dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            stmt = sqlite_insert(t).values(**values).on_conflict_do_nothing()
        else:
            # MySQL: INSERT IGNORE would cost a SHOW WARNINGS round trip per miss, and a
            # duplicate key only rolls back the statement, not the transaction.
            try:
                await self._rowcount(t.insert().values(**values))
            except IntegrityError:
                return False
            return True
        return await self._rowcount(stmt) == 1


async def data_capacity(store: SQLTokenStore, table: str) -> int:
    """Bytes a MySQL/MariaDB table's ``data`` column holds (``MAX_ENTRY_BYTES`` if wide)."""
    found = await _data_type(store, table)
    return _NARROW_BLOBS.get(found or "", MAX_ENTRY_BYTES)


async def _data_type(store: SQLTokenStore, table: str) -> str | None:
    query = sa.text(
        "SELECT DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() "
        "AND TABLE_NAME = :table AND COLUMN_NAME = 'data'"
    )

    async def op(conn: AsyncConnection) -> str | None:
        found = (await conn.execute(query, {"table": table})).scalar()
        return None if found is None else str(found).lower()

    return await store._run(op)


async def widen_data_column(store: SQLTokenStore, table: str, *, nullable: bool = True) -> None:
    """Turn an older MySQL/MariaDB ``BLOB`` data column into ``LONGBLOB`` (idempotent)."""
    if store._dialect not in _BINARY_KEY_DIALECTS:
        return
    found = await _data_type(store, table)
    if found not in _NARROW_BLOBS:
        return

    async def widen(conn: AsyncConnection) -> None:
        quoted = conn.dialect.identifier_preparer.quote(table)
        null = "NULL" if nullable else "NOT NULL"
        await conn.execute(sa.text(f"ALTER TABLE {quoted} MODIFY data LONGBLOB {null}"))

    await store._run(widen)
    log.warning("table %r: column data widened from %s to LONGBLOB", table, found.upper())


def _private_sqlite_files(database: str | None) -> None:
    """Create a SQLite database file ``0600`` (in a new ``0700`` directory) before SQLite does.

    SQLite creates a database ``0644`` minus the umask (``0666`` under umask 000) and gives its
    ``-wal``, ``-shm`` and ``-journal`` files the database's mode, so creating the empty file
    first makes all of them private. Existing files others can read are logged as a warning.
    """
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    try:
        if not path.parent.exists():
            ensure_private_dir(path.parent, "token database directory")
        ensure_private_file(path, "token database")
    except OSError as exc:
        raise StoreUnavailable(
            f"cannot create the SQLite token database {database!r}: {exc.strerror}; check that "
            "its directory is writable by this user"
        ) from exc
    for suffix in ("-wal", "-shm", "-journal"):
        check_private(Path(database + suffix), "token database file")


def _before_sqlite_connect(_dialect: Any, _record: Any, cargs: Any, _cparams: Any) -> None:
    # SQLite creates the database on its first connection: make it private first.
    if cargs and isinstance(cargs[0], str):
        _private_sqlite_files(cargs[0])


def _pool_limits(engine: AsyncEngine) -> tuple[int, float]:
    """The most connections ``engine``'s pool hands out and its wait (``0``: no limit)."""
    pool = engine.pool
    if not isinstance(pool, sa.pool.QueuePool) or pool._max_overflow < 0:
        return 0, 0.0
    return pool.size() + pool._max_overflow, pool._timeout


def _create_engine(url: str, options: dict[str, Any]) -> AsyncEngine:
    options.setdefault("hide_parameters", True)
    is_sqlite = url.startswith("sqlite")
    if is_sqlite:
        options.setdefault("connect_args", {}).setdefault("timeout", 30.0)
    engine = create_async_engine(url, **options)
    if is_sqlite:

        @event.listens_for(engine.sync_engine, "connect")
        def _wal(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

    return engine


def _hint(orig: BaseException) -> str:
    """What to check, from the driver's error: the login, the table, or the server."""
    text = f"{type(orig).__name__} {orig}".lower()
    if any(
        sign in text
        for sign in ("password", "authentication", "access denied", "invalidauthorization")
    ) or ("role" in text and "does not exist" in text):
        return "check the user name and password in the store URL"
    if "database" in text and ("does not exist" in text or "unknown database" in text):
        return "check the database name in the store URL"
    if any(sign in text for sign in ("no such table", "undefinedtable", "doesn't exist")) or (
        "relation" in text and "does not exist" in text
    ):
        return f"the table is missing: create it with create_schema() (DDL in {__name__})"
    return (
        "check that it is running and reachable; the store reconnects by itself once the "
        "database is back"
    )
