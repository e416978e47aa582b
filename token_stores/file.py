"""A store in a local directory, shared by the processes of one machine (POSIX: Linux, macOS).

Layout: one file per key. ``FileTokenStore("tokens.json")`` uses the directory ``tokens.json``
(created ``0700``, whatever the umask; an existing one that others can reach is logged as a
warning) holding ``<name>.json`` per key and, under ``.locks/``, two lock files per key.
One file per key rather than all keys in one file, because:

* isolation: a truncated or corrupt file costs one account, not all of them, and a save rewrites
  only its own account's few hundred bytes instead of every record (1,000 keys: ~200 B vs ~200 KB
  per save);
* contention: processes refreshing different accounts never wait for each other, since every lock
  is per key.

``<name>`` is the key percent-encoded (readable, truncated) plus a hash of the key, so any key
is a safe file name, also on case-insensitive file systems. Each file repeats its key, and a file
that names another key is reported as corrupt.

Guarantees:

* Atomic writes: a temporary file in the same directory is written, fsynced and renamed over
  the record with ``os.replace``, then the directory is fsynced. A reader sees the old or the
  new record, never half of one, even after a power cut. Files are created with mode ``0600``.
* The lease lock is ``flock`` on ``.locks/<name>.lease``, a file that is never deleted (deleting
  it would let two processes lock two different inodes). The kernel drops it when the holder's
  process dies, so a SIGKILLed holder frees the lock at once. ``flock`` belongs to an open file
  description and each acquisition opens the file anew, so two coroutines of one process
  exclude each other too. Waiters poll with jittered backoff (``asyncio.sleep``), so waiting
  never blocks the event loop and can be cancelled. A lease has no expiry while its holder
  lives: ``ttl`` is accepted for the protocol and ignored; the kernel is a better judge of
  death than a clock, and compare-and-set protects the record from a stuck holder anyway.
* ``save`` is a compare-and-set under its own short exclusive ``flock`` on ``.locks/<name>.write``,
  so it is atomic with or without the caller's lease.
* A corrupt or truncated record raises :class:`CorruptRecord` naming the file, and a save over
  it raises the same instead of overwriting it; ``delete`` is the explicit way to discard it.

Blocking I/O: ``load`` and the lock attempts run inline (a small read or a non-blocking
``flock`` costs ~10-30 µs, less than a hop to a worker thread). ``save`` and ``delete`` run in a
worker thread (``asyncio.to_thread``): their fsyncs can take milliseconds on a real disk, which
would stall every other coroutine. If a caller is cancelled during a save, the thread still
finishes it; compare-and-set keeps that safe.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import errno
import fcntl
import hashlib
import json
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from . import _lease
from ._atomic import fsync_dir, write_atomic
from ._private import check_private, ensure_private_dir
from .base import (
    DEFAULT_LOCK_TIMEOUT,
    DEFAULT_LOCK_TTL,
    CorruptRecord,
    Lease,
    Record,
    StoreConflict,
    StoreUnavailable,
    validate_key,
)

if TYPE_CHECKING:
    from .queue_file import FileQueue

__all__ = ["FileTokenStore"]

_FORMAT = 1
_SUFFIX = ".json"


class FileTokenStore:
    """Records as files in one directory; a kernel file lock per key; atomic, fsynced writes."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._locks = self.path / ".locks"
        self._ready = False
        self._checked: set[Path] = set()

    def __repr__(self) -> str:
        return f"FileTokenStore({str(self.path)!r})"

    # -- public protocol ------------------------------------------------------------------

    async def load(self, key: str) -> Record | None:
        return self._read(self._record_path(validate_key(key)), key)

    async def save(self, key: str, data: bytes, expected_version: int | None) -> int:
        validate_key(key)
        return await asyncio.to_thread(self._save_sync, key, bytes(data), expected_version)

    async def delete(self, key: str) -> None:
        validate_key(key)
        await asyncio.to_thread(self._delete_sync, key)

    async def close(self) -> None:
        return None

    def queue(self) -> FileQueue:
        """This directory's queues (:mod:`token_stores.queue_file`), under ``.queues/``."""
        from .queue_file import FileQueue

        return FileQueue(self)

    @asynccontextmanager
    async def lock(
        self, key: str, *, ttl: float = DEFAULT_LOCK_TTL, timeout: float = DEFAULT_LOCK_TIMEOUT
    ) -> AsyncIterator[Lease]:
        validate_key(key)
        fd = self._open_lock(key, "lease")
        try:

            async def try_acquire() -> bool:
                return _try_flock(fd, key)

            lease = await _lease.acquire(try_acquire, key, timeout, ttl=None)
            yield lease
        finally:
            # Closing the only descriptor of this open file description releases the flock.
            os.close(fd)

    # -- files ----------------------------------------------------------------------------

    def _name(self, key: str) -> str:
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        return f"{quote(key, safe='')[:100]}-{digest}"

    def _record_path(self, key: str) -> Path:
        return self.path / (self._name(key) + _SUFFIX)

    def _ensure_dirs(self) -> None:
        if self._ready:
            return
        try:
            ensure_private_dir(self.path, check=self.path not in self._checked)
            ensure_private_dir(self._locks)
            self._checked.add(self.path)
        except OSError as exc:
            raise StoreUnavailable(
                f"cannot create token store directory {str(self._locks)!r}: {exc.strerror}; "
                "check that the path is writable by this user"
            ) from exc
        self._ready = True

    def _open_lock(self, key: str, kind: str) -> int:
        self._ensure_dirs()
        path = self._locks / f"{self._name(key)}.{kind}"
        try:
            return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise StoreUnavailable(
                f"cannot open lock file {str(path)!r}: {exc.strerror}; "
                "check the permissions of the token store directory"
            ) from exc

    @contextlib.contextmanager
    def _write_lock(self, key: str) -> Iterator[None]:
        # Held only for a read-check-write, so a blocking wait (in a worker thread) is short.
        fd = self._open_lock(key, "write")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _read(self, path: Path, key: str) -> Record | None:
        try:
            with open(path, "rb") as file:
                if path not in self._checked:
                    # Once per file and store: a record written by us is 0600, but one
                    # copied in or written by another tool may not be.
                    if self.path not in self._checked:
                        check_private(self.path, "token store directory")
                    self._checked.update((path, self.path))
                    check_private(path, "token file", os.fstat(file.fileno()).st_mode)
                raw = file.read()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreUnavailable(f"cannot read token file {str(path)!r}: {exc.strerror}") from exc
        try:
            doc = json.loads(raw)
            if doc.get("format") != _FORMAT or doc.get("key") != key:
                raise ValueError("not a record of this key")
            version = doc["version"]
            if type(version) is not int or version < 1:
                raise ValueError("bad version")
            data = base64.b64decode(doc["data"], validate=True)
        except (ValueError, KeyError, TypeError, AttributeError, binascii.Error) as exc:
            # No chained cause: its text could quote file content, which may be a secret.
            raise CorruptRecord(
                f"token file {str(path)!r} for key {key!r} is corrupt or truncated "
                f"({type(exc).__name__}); it was left untouched: restore it from a backup, "
                "or delete it and authorize again",
                data=raw,
            ) from None
        return Record(data, version)

    def _save_sync(self, key: str, data: bytes, expected_version: int | None) -> int:
        path = self._record_path(key)
        with self._write_lock(key):
            current = self._read(path, key)
            actual = None if current is None else current.version
            if actual != expected_version:
                raise StoreConflict(key, expected_version, actual)
            version = 1 if actual is None else actual + 1
            doc = {
                "format": _FORMAT,
                "key": key,
                "version": version,
                "data": base64.b64encode(data).decode(),
            }
            self._replace(path, json.dumps(doc).encode() + b"\n")
        return version

    def _delete_sync(self, key: str) -> None:
        path = self._record_path(key)
        with self._write_lock(key):
            try:
                path.unlink()
                self._fsync_dir()
            except FileNotFoundError:
                return
            except OSError as exc:
                raise StoreUnavailable(
                    f"cannot delete token file {str(path)!r}: {exc.strerror}"
                ) from exc

    def _replace(self, path: Path, content: bytes) -> None:
        try:
            write_atomic(path, content)
        except OSError as exc:
            raise StoreUnavailable(
                f"cannot write token file {str(path)!r}: {exc.strerror}; "
                "check free disk space and permissions"
            ) from exc

    def _fsync_dir(self) -> None:
        fsync_dir(self.path)


def _try_flock(fd: int, key: str) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError as exc:
        if exc.errno in (errno.EAGAIN, errno.EACCES):
            return False
        raise StoreUnavailable(f"cannot lock key {key!r}: {exc.strerror}") from exc
    return True
