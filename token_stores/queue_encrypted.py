"""The encrypting wrapper's queues: every entry Fernet-encrypted before the inner queue sees it.

An entry no listed key opens (tampered, or written under a key no longer listed) is returned
with ``readable=False`` and its ciphertext, so its owner can set it aside and read on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .queue import MAX_ENTRY_BYTES, Queue, QueueItem, check_entry

if TYPE_CHECKING:
    from cryptography.fernet import MultiFernet

__all__ = ["EncryptedQueue"]

# Fernet ciphertext is base64 of (version, time, IV, padded data, HMAC): about 4/3 of the data
# plus 73 bytes and a padding block. Plaintext is checked against what keeps it within the limit.
_PLAIN_LIMIT = (MAX_ENTRY_BYTES // 4) * 3 - 128


class EncryptedQueue:
    """Encrypts entries on the way in, decrypts them on the way out."""

    def __init__(self, inner: Queue, fernet: MultiFernet) -> None:
        self._inner = inner
        self._fernet = fernet

    async def append(self, queue: str, data: bytes) -> int:
        data = check_entry(queue, data, _PLAIN_LIMIT)
        return await self._inner.append(queue, self._fernet.encrypt(data))

    async def page(self, queue: str, *, after: int = 0, limit: int = 100) -> list[QueueItem]:
        from cryptography.fernet import InvalidToken

        items = []
        for item in await self._inner.page(queue, after=after, limit=limit):
            try:
                items.append(QueueItem(item.id, self._fernet.decrypt(item.data)))
            except InvalidToken:
                items.append(QueueItem(item.id, item.data, readable=False))
        return items

    async def replace(self, queue: str, item_id: int, data: bytes) -> bool:
        data = check_entry(queue, data, _PLAIN_LIMIT)
        return await self._inner.replace(queue, item_id, self._fernet.encrypt(data))

    async def remove(self, queue: str, item_id: int) -> bool:
        return await self._inner.remove(queue, item_id)

    async def count(self, queue: str) -> int:
        return await self._inner.count(queue)
