"""Versioned, lockable secret storage shared by many coroutines, processes and hosts.

Generic and OAuth-agnostic: a store keeps opaque bytes under a key with a version number and a
lease lock, and ordered queues of opaque entries (:mod:`token_stores.queue`).
``ffn_async.TokenManager`` builds its refresh-exactly-once protocol on top.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from .base import (
    CorruptRecord,
    InvalidKey,
    InvalidStoreURL,
    Lease,
    LockTimeout,
    Record,
    StoreBusy,
    StoreConflict,
    StoreError,
    StoreUnavailable,
    TokenStore,
)
from .memory import MemoryTokenStore
from .queue import MAX_ENTRY_BYTES, DataTooLarge, Queue, QueueItem, queue_of

if TYPE_CHECKING:
    from .encrypted import EncryptedTokenStore
    from .file import FileTokenStore
    from .redis import RedisTokenStore
    from .sql import SQLTokenStore
    from .url import from_url

__all__ = [
    "MAX_ENTRY_BYTES",
    "CorruptRecord",
    "DataTooLarge",
    "EncryptedTokenStore",
    "FileTokenStore",
    "InvalidKey",
    "InvalidStoreURL",
    "Lease",
    "LockTimeout",
    "MemoryTokenStore",
    "Queue",
    "QueueItem",
    "Record",
    "RedisTokenStore",
    "SQLTokenStore",
    "StoreBusy",
    "StoreConflict",
    "StoreError",
    "StoreUnavailable",
    "TokenStore",
    "from_url",
    "queue_of",
]

# A library configures no logging; the application decides what to show (logging HOWTO).
logging.getLogger("token_stores").addHandler(logging.NullHandler())

# Stores with optional dependencies load on first use, so `import token_stores` stays cheap
# and a missing extra only matters to whoever asks for that store.
_LAZY = {
    "FileTokenStore": ".file",
    "RedisTokenStore": ".redis",
    "SQLTokenStore": ".sql",
    "EncryptedTokenStore": ".encrypted",
    "from_url": ".url",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'token_stores' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module, __name__), name)
    globals()[name] = value
    return value
