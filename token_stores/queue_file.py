"""The file store's queues: one file per entry, in shard directories of 1,000 ids each.

Layout under the store's directory: ``.queues/<queue name>/`` holds ``next`` (the next id,
rewritten under ``flock`` on ``.lock``) and ``<id // 1000>/<id>.entry`` per entry. Entries are
written like records (temporary file, fsync, rename, fsync of the directory), so a reader sees
an entry whole or not at all. Sharding keeps reading the head cheap however long the queue is:
a page reads the lowest shard directories only, and a shard more than one below the one ids are
allocated from can receive no new entry, so it is removed once empty.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from ._atomic import fsync_dir, write_atomic
from .base import StoreUnavailable, validate_key
from .queue import QueueItem, check_entry, check_page


class _FileBackend(Protocol):
    """What the queue uses of :class:`~token_stores.FileTokenStore` (no import: no cycle)."""

    path: Path

    def _ensure_dirs(self) -> None: ...

    def _name(self, key: str) -> str: ...


__all__ = ["FileQueue"]

_SHARD = 1000
_SUFFIX = ".entry"


class FileQueue:
    """Entry files in a directory per queue; ids from a counter file under ``flock``."""

    def __init__(self, store: _FileBackend) -> None:
        self._store = store
        self._root = store.path / ".queues"

    def _dir(self, queue: str) -> Path:
        self._store._ensure_dirs()
        path = self._root / self._store._name(validate_key(queue))
        try:
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreUnavailable(
                f"cannot create queue directory {str(path)!r}: {exc.strerror}"
            ) from exc
        return path

    async def append(self, queue: str, data: bytes) -> int:
        data = check_entry(queue, data)
        return await asyncio.to_thread(self._append_sync, self._dir(queue), data)

    async def page(self, queue: str, *, after: int = 0, limit: int = 100) -> list[QueueItem]:
        check_page(after, limit)
        return await asyncio.to_thread(self._page_sync, self._dir(queue), after, limit)

    async def replace(self, queue: str, item_id: int, data: bytes) -> bool:
        data = check_entry(queue, data)
        path = _entry_path(self._dir(queue), item_id)
        return await asyncio.to_thread(self._replace_sync, path, data)

    async def remove(self, queue: str, item_id: int) -> bool:
        path = _entry_path(self._dir(queue), item_id)
        return await asyncio.to_thread(self._remove_sync, path)

    async def count(self, queue: str) -> int:
        return await asyncio.to_thread(self._count_sync, self._dir(queue))

    # -- blocking parts, in a worker thread -----------------------------------------------

    @contextlib.contextmanager
    def _counter(self, folder: Path) -> Iterator[int]:
        """Hold the queue's counter lock; yield the next id (the caller writes it back)."""
        fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield int((folder / "next").read_text() or "1")
            except FileNotFoundError:
                yield 1
        finally:
            os.close(fd)

    def _append_sync(self, folder: Path, data: bytes) -> int:
        try:
            with self._counter(folder) as item_id:
                path = _entry_path(folder, item_id)
                if not path.parent.exists():
                    path.parent.mkdir(mode=0o700)
                    fsync_dir(folder)
                # The counter first: a crash after it leaves a gap, never a reused id.
                write_atomic(folder / "next", str(item_id + 1).encode())
                write_atomic(path, data)
            return item_id
        except OSError as exc:
            raise StoreUnavailable(
                f"cannot append to queue {str(folder)!r}: {exc.strerror}"
            ) from exc

    def _page_sync(self, folder: Path, after: int, limit: int) -> list[QueueItem]:
        try:
            shards = sorted(int(p.name) for p in folder.iterdir() if p.name.isdigit())
            current = self._next_shard(folder)
            items: list[QueueItem] = []
            for shard in shards:
                if (shard + 1) * _SHARD <= after + 1:
                    continue
                ids = sorted(
                    int(name[: -len(_SUFFIX)])
                    for name in os.listdir(folder / str(shard))
                    if name.endswith(_SUFFIX)
                )
                if not ids and shard < current - 1:
                    # Ids are taken in order and the last one taken may still be being written
                    # (its shard is at least current - 1): no id can land here any more.
                    with contextlib.suppress(OSError):
                        (folder / str(shard)).rmdir()
                for item_id in ids:
                    if item_id <= after:
                        continue
                    try:
                        data = _entry_path(folder, item_id).read_bytes()
                    except FileNotFoundError:  # removed meanwhile
                        continue
                    items.append(QueueItem(item_id, data))
                    if len(items) == limit:
                        return items
            return items
        except OSError as exc:
            raise StoreUnavailable(f"cannot read queue {str(folder)!r}: {exc.strerror}") from exc

    def _next_shard(self, folder: Path) -> int:
        try:
            return int((folder / "next").read_text() or "1") // _SHARD
        except FileNotFoundError:
            return 0

    def _replace_sync(self, path: Path, data: bytes) -> bool:
        # Only the queue's one consumer (under its lease) replaces or removes entries, so the
        # entry cannot vanish between this check and the rename.
        if not path.exists():
            return False
        try:
            write_atomic(path, data)
        except OSError as exc:
            raise StoreUnavailable(
                f"cannot write queue entry {str(path)!r}: {exc.strerror}"
            ) from exc
        return True

    def _remove_sync(self, path: Path) -> bool:
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise StoreUnavailable(
                f"cannot remove queue entry {str(path)!r}: {exc.strerror}"
            ) from exc
        fsync_dir(path.parent)
        return True

    def _count_sync(self, folder: Path) -> int:
        return sum(
            1
            for shard in folder.iterdir()
            if shard.name.isdigit()
            for name in os.listdir(shard)
            if name.endswith(_SUFFIX)
        )


def _entry_path(folder: Path, item_id: int) -> Path:
    return folder / str(item_id // _SHARD) / f"{item_id}{_SUFFIX}"
