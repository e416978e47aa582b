"""A store in Redis (``redis.asyncio``), shared by every process and host that reaches it.

Keys: the record of account ``acme`` is the hash ``{prefix}{acme}:rec`` (fields ``data`` and
``version``) and its lock is the string ``{prefix}{acme}:lock``. The account key sits in a hash
tag (``{...}``), so both keys live in one slot and the store also works on Redis Cluster
(``redis+cluster://node:port``; every operation touches one key, so no cross-slot command).

* ``save`` is one Lua script: compare the version and write, atomically on the server.
* ``lock`` is ``SET lock owner NX PX ttl`` with a random owner; release is a compare-and-delete
  script, so a holder whose lease ran out (and was re-taken by someone else) cannot free the new
  holder's lock. A killed holder's lease simply expires.
* Waiters poll with capped, jittered backoff (at most every 50 ms) rather than subscribing to a
  release channel: a lease that *expires* publishes nothing, so pollers are needed anyway, pub/sub
  would cost a dedicated connection per waiting process, and ``TokenManager`` already collapses
  all waiters of one process into one.
* While Redis is unreachable every call raises :class:`StoreUnavailable`; the connection pool
  reconnects by itself, so the same store object works again as soon as Redis is back. Scripts
  are registered once and re-sent automatically after a Redis restart emptied the script cache.
* A store built from a URL uses a *blocking* pool (``max_connections``, default 100): when many
  accounts refresh at once, a command finding every connection busy waits for one, up to
  ``pool_timeout`` seconds (default 10), instead of failing at once as redis-py's default pool
  does. A wait that runs out raises :class:`StoreBusy` (a ``StoreUnavailable``) naming the
  pool; a pool that is full is not an outage, and the message never says "unreachable".
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from . import _lease
from ._options import check_options
from .base import (
    DEFAULT_LOCK_TIMEOUT,
    DEFAULT_LOCK_TTL,
    CorruptRecord,
    Lease,
    Record,
    StoreBusy,
    StoreConflict,
    StoreUnavailable,
    validate_key,
)

try:
    import redis.asyncio as aioredis
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import MaxConnectionsError, RedisClusterException, RedisError
    from redis.exceptions import TimeoutError as RedisTimeoutError
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "RedisTokenStore needs the 'redis' package: pip install 'ffn-async[redis]'"
    ) from exc

if TYPE_CHECKING:
    from redis.commands.core import AsyncScript

    from .queue_redis import RedisQueue

__all__ = ["DEFAULT_MAX_CONNECTIONS", "DEFAULT_POOL_TIMEOUT", "RedisTokenStore"]

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Connections of the pool a store built from a URL opens at most (redis-py's default).
DEFAULT_MAX_CONNECTIONS = 100
#: Seconds a command waits for a free connection of that pool before :class:`StoreBusy`.
DEFAULT_POOL_TIMEOUT = 10.0


class _PoolWaitTimeout(RedisConnectionError):
    """The blocking pool's wait for a free connection ran out (not a connection failure)."""


class _WaitingPool(aioredis.BlockingConnectionPool):
    """redis-py's blocking pool, whose wait running out is told apart from an outage.

    Its own timeout raises a plain ``ConnectionError("No connection available.")``, the same
    class as a refused connection; this one raises :class:`_PoolWaitTimeout` instead.
    """

    async def get_connection(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().get_connection(*args, **kwargs)  # type: ignore[no-untyped-call]
        except RedisConnectionError as exc:
            if isinstance(exc.__cause__, asyncio.TimeoutError):
                raise _PoolWaitTimeout(str(exc)) from exc
            raise


# KEYS[1] record hash; ARGV[1] data, ARGV[2] expected version ("" = create-only).
# Returns {1, new_version} or {0, actual_version} (0 = no record).
_SAVE = """
local cur = redis.call('HGET', KEYS[1], 'version')
if ARGV[2] == '' then
  if cur then return {0, tonumber(cur)} end
  redis.call('HSET', KEYS[1], 'data', ARGV[1], 'version', 1)
  return {1, 1}
end
if cur ~= ARGV[2] then return {0, tonumber(cur) or 0} end
local v = tonumber(cur) + 1
redis.call('HSET', KEYS[1], 'data', ARGV[1], 'version', v)
return {1, v}
"""

# KEYS[1] lock key; ARGV[1] owner, ARGV[2] milliseconds. Extends the lease only if we own it.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""

# KEYS[1] lock key; ARGV[1] owner. Deletes the lock only if we still own it.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisTokenStore:
    """Records as Redis hashes; a ``SET NX PX`` lease lock per key; compare-and-set in Lua."""

    def __init__(
        self,
        url: str | None = None,
        *,
        client: aioredis.Redis | aioredis.RedisCluster | None = None,
        prefix: str = "ffn:",
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        pool_timeout: float = DEFAULT_POOL_TIMEOUT,
        **client_options: Any,
    ) -> None:
        """Connect with ``url`` (``redis://``, ``rediss://``, ``unix://``; Redis Cluster:
        ``redis+cluster://host:port`` or ``rediss+cluster://``, naming any one node) or use
        ``client`` (a ``redis.asyncio.Redis`` or ``RedisCluster``).

        ``max_connections`` and ``pool_timeout`` size the blocking pool of a store built from a
        (non-cluster) ``url``: at most that many connections, and a command finding all busy
        waits up to ``pool_timeout`` seconds for one (then :class:`StoreBusy`). One store
        serves any number of accounts; 100 connections carry a 1,000-account refresh wave
        (see the README's "Many accounts and many workers"). A ``client`` passed in keeps its
        own pool: give it a ``redis.asyncio.BlockingConnectionPool`` for the same behaviour.

        ``client_options`` go to ``Redis.from_url`` (``RedisCluster.from_url``). A client
        passed in stays the caller's to close; one built from ``url`` is closed by
        :meth:`close`.
        """
        if (url is None) == (client is None):
            raise ValueError("pass exactly one of url= or client=")
        self._cluster_node = ""
        if "{" in prefix or "}" in prefix:
            raise ValueError("the Redis key prefix must not contain '{' or '}' (hash tag marks)")
        self.prefix = prefix
        if client is None:
            assert url is not None
            check_options(url)
            client_options.setdefault("socket_connect_timeout", 5.0)
            client_options.setdefault("socket_timeout", 5.0)
            scheme, _, rest = url.partition("://")
            if scheme.lower().endswith("+cluster"):
                plain = f"{scheme[: -len('+cluster')]}://{rest}"
                client = aioredis.RedisCluster.from_url(plain, **client_options)
                self._cluster_node = urlsplit(plain).netloc.rpartition("@")[2]
            else:
                client = aioredis.Redis.from_pool(
                    _WaitingPool.from_url(
                        url, max_connections=max_connections, timeout=pool_timeout,
                        **client_options,
                    )
                )  # fmt: skip
            self._owns_client = True
        else:
            self._owns_client = False
        if _connection_kwargs(client).get("decode_responses"):
            raise ValueError(
                "RedisTokenStore stores bytes: pass a client with decode_responses=False"
            )
        self._client = client
        # redis-py's async RedisCluster, first used by many coroutines at once, races while it
        # discovers the cluster (AttributeError on half-made connections): discover it once,
        # under a lock, before the first command.
        self._cluster_ready = not isinstance(client, aioredis.RedisCluster)
        self._cluster_lock = asyncio.Lock()
        self._save_script: AsyncScript = client.register_script(_SAVE)
        self._release_script: AsyncScript = client.register_script(_RELEASE)
        self._renew_script: AsyncScript = client.register_script(_RENEW)

    def __repr__(self) -> str:
        return f"RedisTokenStore({self._where()}, prefix={self.prefix!r})"

    def _where(self) -> str:
        # Host, port and db only: never the password from the URL.
        kw = _connection_kwargs(self._client)
        if not kw:
            return (
                f"redis+cluster://{self._cluster_node}" if self._cluster_node else "redis-cluster"
            )
        if "path" in kw:
            return f"unix://{kw['path']}"
        return f"redis://{kw.get('host', '?')}:{kw.get('port', '?')}/{kw.get('db', 0)}"

    def _keys(self, key: str) -> tuple[str, str]:
        tagged = f"{self.prefix}{{{validate_key(key)}}}"
        return f"{tagged}:rec", f"{tagged}:lock"

    async def _call(self, op: Callable[[], Awaitable[T]]) -> T:
        task = asyncio.current_task()
        cancels = task.cancelling() if task is not None else 0
        try:
            if not self._cluster_ready:
                await self._discover_cluster()
            result = await op()
        except (_PoolWaitTimeout, MaxConnectionsError) as exc:
            raise self._busy() from exc
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise StoreUnavailable(
                f"Redis at {self._where()} is unreachable ({type(exc).__name__}); check that it "
                "is running and reachable - this store reconnects by itself once it is back"
            ) from exc
        except (RedisError, RedisClusterException) as exc:
            raise StoreUnavailable(
                f"Redis at {self._where()} refused a command ({type(exc).__name__}: {exc})"
            ) from exc
        if task is not None and task.cancelling() > cancels:
            # redis-py (8.1) can swallow a cancellation that arrives mid-command and carry on:
            # deliver it, or a cancelled lock waiter would keep polling (and take the lock).
            raise asyncio.CancelledError
        return result

    def _busy(self) -> StoreBusy:
        pool = getattr(self._client, "connection_pool", None)
        size = getattr(pool, "max_connections", None)
        wait = getattr(pool, "timeout", None) if isinstance(pool, _WaitingPool) else None
        plural = "" if size == 1 else "s"
        held = f"a pool of {size} connection{plural}" if size else "its connection pool"
        waited = f"for {wait:g} s" if wait is not None else "(the pool does not wait)"
        return StoreBusy(
            f"Redis at {self._where()}: every connection of {held} stayed in use {waited} "
            "(more commands at once than the pool allows, or a server too slow to answer "
            "them); raise max_connections or pool_timeout of RedisTokenStore (or give your own "
            "client a redis.asyncio.BlockingConnectionPool)"
        )

    async def _discover_cluster(self) -> None:
        async with self._cluster_lock:
            if not self._cluster_ready:
                client = self._client
                assert isinstance(client, aioredis.RedisCluster)
                await client.initialize()
                self._cluster_ready = True

    async def load(self, key: str) -> Record | None:
        rec, _ = self._keys(key)
        data, version = await self._call(lambda: self._client.hmget(rec, ["data", "version"]))
        if data is None and version is None:
            return None
        try:
            if data is None or version is None:
                raise ValueError("incomplete hash")
            number = int(version)
            if number < 1:
                raise ValueError("bad version")
        except ValueError:
            raise CorruptRecord(
                f"Redis hash {rec!r} is not a token record (missing or bad 'data'/'version' "
                "field); it was left untouched: inspect or delete it",
                data=data if isinstance(data, bytes) else None,
            ) from None
        return Record(data if isinstance(data, bytes) else data.encode(), number)

    async def save(self, key: str, data: bytes, expected_version: int | None) -> int:
        rec, _ = self._keys(key)
        expected = "" if expected_version is None else str(expected_version)
        ok, version = await self._call(
            lambda: self._save_script(keys=[rec], args=[bytes(data), expected])
        )
        if not ok:
            raise StoreConflict(key, expected_version, int(version) or None)
        return int(version)

    async def delete(self, key: str) -> None:
        rec, _ = self._keys(key)
        await self._call(lambda: self._client.delete(rec))

    def queue(self) -> RedisQueue:
        """This Redis's queues (:mod:`token_stores.queue_redis`), under the same prefix."""
        from .queue_redis import RedisQueue

        return RedisQueue(self)

    async def close(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    @asynccontextmanager
    async def lock(
        self, key: str, *, ttl: float = DEFAULT_LOCK_TTL, timeout: float = DEFAULT_LOCK_TIMEOUT
    ) -> AsyncIterator[Lease]:
        _, lock_key = self._keys(key)
        owner = _lease.new_owner()
        px = max(1, int(ttl * 1000))

        async def try_acquire() -> bool:
            try:
                return bool(
                    await self._call(lambda: self._client.set(lock_key, owner, nx=True, px=px))
                )
            except (StoreUnavailable, asyncio.CancelledError):
                # The SET may have reached Redis and only its answer was lost (or we were
                # cancelled meanwhile): free what may be ours at once, else nobody could take
                # the lock until the lease ran out.
                with suppress(StoreUnavailable):
                    await self._call(lambda: self._release_script(keys=[lock_key], args=[owner]))
                raise

        async def renewer(new_ttl: float) -> bool:
            ms = max(1, int(new_ttl * 1000))
            return bool(
                await self._call(lambda: self._renew_script(keys=[lock_key], args=[owner, ms]))
            )

        lease = await _lease.acquire(try_acquire, key, timeout, ttl=ttl, renewer=renewer)
        try:
            yield lease
        finally:
            try:
                if not lease.kept:  # a held lease runs out on its own
                    await self._call(lambda: self._release_script(keys=[lock_key], args=[owner]))
            except StoreUnavailable:
                # Harmless: the lease expires on its own after ``ttl``.
                log.warning("could not release the lock on key %r; its lease will expire", key)


def _connection_kwargs(client: aioredis.Redis | aioredis.RedisCluster) -> dict[str, Any]:
    pool = getattr(client, "connection_pool", None)
    return dict(pool.connection_kwargs) if pool is not None else {}
