"""The Redis store's queues: a sorted set of ids and a hash of entries, changed by Lua scripts.

Keys of queue ``q`` (one hash tag, so one Cluster slot, the slot of the record ``q``):
``<prefix>{q}:qnext`` the id counter, ``<prefix>{q}:qids`` the ids as a sorted set (score =
id), ``<prefix>{q}:qdata`` the entries as a hash (id -> bytes). Each operation is one script,
so it is atomic and never sees half an entry. Appending writes one field, removing deletes
one, and a page is a ``ZRANGEBYSCORE ... LIMIT`` plus ``HMGET``: no value grows with the queue,
so a long queue never makes Redis copy megabytes (which would stall its other clients).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from .queue import QueueItem, check_entry, check_page

T = TypeVar("T")


class _RedisBackend(Protocol):
    """What the queue uses of :class:`~token_stores.RedisTokenStore` (no import: no cycle)."""

    _client: Any

    def _keys(self, key: str) -> tuple[str, str]: ...

    async def _call(self, op: Callable[[], Awaitable[T]]) -> T: ...


__all__ = ["RedisQueue"]

# KEYS: next, ids, data; ARGV[1] data. Returns the new id.
_APPEND = """
local id = redis.call('INCR', KEYS[1])
redis.call('HSET', KEYS[3], id, ARGV[1])
redis.call('ZADD', KEYS[2], id, id)
return id
"""

# KEYS: ids, data; ARGV[1] after, ARGV[2] limit. Returns {id, data, id, data, ...}.
_PAGE = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[1], '+inf', 'LIMIT', 0, ARGV[2])
local out = {}
for _, id in ipairs(ids) do
  local data = redis.call('HGET', KEYS[2], id)
  if data then
    out[#out + 1] = id
    out[#out + 1] = data
  end
end
return out
"""

# KEYS: data; ARGV[1] id, ARGV[2] data. 1 if replaced, 0 if gone.
_REPLACE = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
"""

# KEYS: ids, data; ARGV[1] id. 1 if removed, 0 if gone.
_REMOVE = """
redis.call('ZREM', KEYS[1], ARGV[1])
return redis.call('HDEL', KEYS[2], ARGV[1])
"""


class RedisQueue:
    """Queue entries in a sorted set and a hash per queue, on the store's Redis client."""

    def __init__(self, store: _RedisBackend) -> None:
        self._store = store
        client = store._client
        self._append = client.register_script(_APPEND)
        self._page = client.register_script(_PAGE)
        self._replace = client.register_script(_REPLACE)
        self._remove = client.register_script(_REMOVE)

    def _keys(self, queue: str) -> tuple[str, str, str]:
        record, _ = self._store._keys(queue)  # validates; "<prefix>{queue}:rec"
        tagged = record[: -len(":rec")]
        return f"{tagged}:qnext", f"{tagged}:qids", f"{tagged}:qdata"

    async def append(self, queue: str, data: bytes) -> int:
        data = check_entry(queue, data)
        keys = list(self._keys(queue))
        return int(await self._store._call(lambda: self._append(keys=keys, args=[data])))

    async def page(self, queue: str, *, after: int = 0, limit: int = 100) -> list[QueueItem]:
        check_page(after, limit)
        _, ids, data = self._keys(queue)
        flat = await self._store._call(lambda: self._page(keys=[ids, data], args=[after, limit]))
        return [QueueItem(int(flat[i]), bytes(flat[i + 1])) for i in range(0, len(flat), 2)]

    async def replace(self, queue: str, item_id: int, data: bytes) -> bool:
        data = check_entry(queue, data)
        _, _, entries = self._keys(queue)
        args: list[bytes | int] = [item_id, data]
        return bool(await self._store._call(lambda: self._replace(keys=[entries], args=args)))

    async def remove(self, queue: str, item_id: int) -> bool:
        _, ids, data = self._keys(queue)
        return bool(await self._store._call(lambda: self._remove(keys=[ids, data], args=[item_id])))

    async def count(self, queue: str) -> int:
        _, _, data = self._keys(queue)
        return int(await self._store._call(lambda: self._store._client.hlen(data)))
