"""Encryption at rest for any store: Fernet (AES-128-CBC + HMAC-SHA256) from ``cryptography``.

``EncryptedTokenStore(inner, keys)`` encrypts on ``save`` and decrypts on ``load``; versions,
locks, ``delete`` and ``close`` are the inner store's. ``keys`` lists Fernet keys newest first:
records are written with the first and read with any (``MultiFernet``), so rotating a key is
"prepend the new key, deploy, then optionally :meth:`~EncryptedTokenStore.rotate` every key".
Data that no key authenticates (tampered, or written with a key you no longer list) raises
:class:`CorruptRecord`; nothing is rewritten, so the record stays as it was.

Make a key with::

    python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING

from .base import DEFAULT_LOCK_TIMEOUT, DEFAULT_LOCK_TTL, CorruptRecord, Lease, Record, TokenStore

try:
    from cryptography.fernet import Fernet, InvalidToken, MultiFernet
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "EncryptedTokenStore needs the 'cryptography' package: pip install 'ffn-async[crypto]'"
    ) from exc

if TYPE_CHECKING:
    from .queue_encrypted import EncryptedQueue

__all__ = ["EncryptedTokenStore"]


class EncryptedTokenStore:
    """Wraps ``inner`` so that only Fernet ciphertext ever reaches it."""

    def __init__(self, inner: TokenStore, keys: str | bytes | Iterable[str | bytes]) -> None:
        if isinstance(keys, str | bytes):
            keys = [keys]
        try:
            fernets = [Fernet(k) for k in keys]
        except (ValueError, TypeError):
            raise ValueError(
                "every encryption key must be a url-safe base64-encoded 32-byte Fernet key "
                "(make one with Fernet.generate_key())"
            ) from None
        if not fernets:
            raise ValueError("EncryptedTokenStore needs at least one key")
        self.inner = inner
        self._fernet = MultiFernet(fernets)

    def __repr__(self) -> str:
        return f"EncryptedTokenStore({self.inner!r})"

    async def load(self, key: str) -> Record | None:
        record = await self.inner.load(key)
        if record is None:
            return None
        return Record(self._decrypt(key, record.data, record.version), record.version)

    async def save(self, key: str, data: bytes, expected_version: int | None) -> int:
        return await self.inner.save(key, self._fernet.encrypt(data), expected_version)

    async def rotate(self, key: str) -> bool:
        """Re-encrypt the record under the newest key (compare-and-set); ``False`` if none.

        Raises :class:`~token_stores.StoreConflict` if the record changed meanwhile: a record
        written since is under the newest key already.
        """
        record = await self.inner.load(key)
        if record is None:
            return False
        self._decrypt(key, record.data, record.version)  # refuse to rotate what we cannot read
        await self.inner.save(key, self._fernet.rotate(record.data), record.version)
        return True

    def lock(
        self, key: str, *, ttl: float = DEFAULT_LOCK_TTL, timeout: float = DEFAULT_LOCK_TIMEOUT
    ) -> AbstractAsyncContextManager[Lease]:
        return self.inner.lock(key, ttl=ttl, timeout=timeout)

    async def delete(self, key: str) -> None:
        await self.inner.delete(key)

    async def close(self) -> None:
        await self.inner.close()

    def queue(self) -> EncryptedQueue:
        """The inner store's queues, every entry encrypted (:mod:`token_stores.queue_encrypted`)."""
        from .queue import queue_of
        from .queue_encrypted import EncryptedQueue

        return EncryptedQueue(queue_of(self.inner), self._fernet)

    def _decrypt(self, key: str, token: bytes, version: int) -> bytes:
        try:
            return self._fernet.decrypt(token)
        except InvalidToken:
            raise CorruptRecord(
                f"record {key!r} cannot be decrypted: wrong key or tampered data; it was left "
                "untouched (list the key it was written with in `keys`, or authorize again)",
                data=token,
                version=version,
            ) from None
