"""The memory store's queues: a dict of ids to bytes per queue, in this process only."""

from __future__ import annotations

from .queue import QueueItem, check_entry, check_page

__all__ = ["MemoryQueue"]


class MemoryQueue:
    """Entries in insertion-ordered dicts; ids from one counter per queue."""

    def __init__(self) -> None:
        self._queues: dict[str, dict[int, bytes]] = {}
        self._next: dict[str, int] = {}

    async def append(self, queue: str, data: bytes) -> int:
        data = check_entry(queue, data)
        item_id = self._next.get(queue, 1)
        self._next[queue] = item_id + 1
        self._queues.setdefault(queue, {})[item_id] = data
        return item_id

    async def page(self, queue: str, *, after: int = 0, limit: int = 100) -> list[QueueItem]:
        check_page(after, limit)
        items: list[QueueItem] = []
        # Dicts keep insertion order, which is id order here.
        for item_id, data in self._queues.get(queue, {}).items():
            if item_id > after:
                items.append(QueueItem(item_id, data))
                if len(items) == limit:
                    break
        return items

    async def replace(self, queue: str, item_id: int, data: bytes) -> bool:
        data = check_entry(queue, data)
        entries = self._queues.get(queue, {})
        if item_id not in entries:
            return False
        entries[item_id] = data
        return True

    async def remove(self, queue: str, item_id: int) -> bool:
        return self._queues.get(queue, {}).pop(item_id, None) is not None

    async def count(self, queue: str) -> int:
        return len(self._queues.get(queue, {}))
