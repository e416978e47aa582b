"""Where the real PostgreSQL, MariaDB and Redis of a test run are, and whether they answer.

Each ``*_url()`` helper returns the service's URL after a quick TCP probe; when nothing answers
it fails the test under ``CI=true`` (a CI run must not silently skip its store tests) and skips
it with the reason otherwise. Override the URLs with ``FFN_TEST_POSTGRES_URL``,
``FFN_TEST_MYSQL_URL`` and ``FFN_TEST_REDIS_URL``.
"""

from __future__ import annotations

import atexit
import functools
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import pytest
from yarl import URL

if TYPE_CHECKING:
    from tests.faultproxy import FaultProxy

__all__ = [
    "SCRATCH",
    "RedisCluster",
    "clean_scratch",
    "scratch_prefix",
    "scratch_table",
    "kill_mysql_sessions",
    "kill_postgres_sessions",
    "postgres_session_name",
    "RedisServer",
    "redis_cluster",
    "redis_cluster_url",
    "unavailable",
    "configured_url",
    "mysql_url",
    "postgres_url",
    "redis_url",
    "require",
]

DEFAULTS = {
    "postgres": ("FFN_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"),
    "mysql": ("FFN_TEST_MYSQL_URL", "mysql+asyncmy://root@127.0.0.1:3306/test"),
    "redis": ("FFN_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
}


@functools.cache
def _probe(host: str, port: int) -> str | None:
    """``None`` if something accepts TCP connections at host:port, else why not."""
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return None
    except OSError as exc:
        return f"{host}:{port} unreachable ({exc})"


def configured_url(service: str) -> str:
    """The URL of ``service`` from the environment or the default, without probing it."""
    env, default = DEFAULTS[service]
    return os.environ.get(env, default)


def unavailable(reason: str) -> NoReturn:
    """Fail the test under ``CI=true`` (a CI run must not silently skip), else skip it."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def require(service: str) -> str:
    """The URL of ``service`` ("postgres", "mysql", "redis"), or fail/skip the test."""
    env = DEFAULTS[service][0]
    url = configured_url(service)
    parsed = URL(url)
    problem = _probe(parsed.host or "127.0.0.1", parsed.port or 0)
    if problem is not None:
        unavailable(f"{service} is not available: {problem}; start it or set {env}")
    return url


def postgres_url() -> str:
    return require("postgres")


def mysql_url() -> str:
    return require("mysql")


def redis_url() -> str:
    return require("redis")


class RedisServer:
    """A private redis-server on a free loopback port that a test may stop and start.

    With ``persist_dir`` it keeps an append-only file there (fsync on every write), as a
    token store's Redis should: without persistence a restart forgets every account.
    """

    def __init__(self, persist_dir: Path | None = None) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.persist_dir = persist_dir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        persistence = ["--appendonly", "no"]
        if self.persist_dir is not None:
            persistence = ["--appendonly", "yes", "--appendfsync", "always"]
            persistence += ["--dir", str(self.persist_dir)]
        command = ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", ""]
        try:
            self.proc = subprocess.Popen([*command, *persistence], stdout=subprocess.DEVNULL)
        except FileNotFoundError:
            unavailable("redis-server is not installed")
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.02)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


def _cluster_ports(count: int) -> list[int]:
    """Free loopback ports whose cluster bus ports (port + 10000) are free as well."""
    ports: list[int] = []
    while len(ports) < count:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port > 55535 or port in ports:
            continue
        try:
            with socket.socket() as bus:
                bus.bind(("127.0.0.1", port + 10000))
        except OSError:
            continue
        ports.append(port)
    return ports


class RedisCluster:
    """Three cluster-enabled redis-server masters on free loopback ports, in a temp directory.

    :meth:`start` assigns the 16384 slots in three ranges (``CLUSTER ADDSLOTSRANGE``), joins
    the nodes (``CLUSTER MEET``) and waits until every node reports ``cluster_state:ok``;
    :meth:`stop` terminates them and removes the directory.
    """

    def __init__(self, masters: int = 3) -> None:
        self.ports = _cluster_ports(masters)
        self.dir = Path(tempfile.mkdtemp(prefix="ffn-redis-cluster-"))
        self.procs: list[subprocess.Popen[bytes]] = []

    @property
    def url(self) -> str:
        """A cluster store URL naming one startup node (the client discovers the others)."""
        return f"redis+cluster://127.0.0.1:{self.ports[0]}"

    def start(self, timeout: float = 30.0) -> None:
        import redis

        for port in self.ports:
            command = [
                "redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "",
                "--appendonly", "no", "--cluster-enabled", "yes",
                "--cluster-config-file", f"nodes-{port}.conf", "--cluster-node-timeout", "5000",
                "--dir", str(self.dir),
            ]  # fmt: skip
            self.procs.append(subprocess.Popen(command, stdout=subprocess.DEVNULL))
        deadline = time.monotonic() + timeout
        nodes = [redis.Redis(host="127.0.0.1", port=p, socket_timeout=2) for p in self.ports]
        try:
            for node in nodes:
                while True:
                    try:
                        node.ping()
                        break
                    except redis.ConnectionError:
                        assert time.monotonic() < deadline, "redis-server did not start"
                        time.sleep(0.02)
            bounds = [16384 * i // len(nodes) for i in range(len(nodes) + 1)]
            for i, node in enumerate(nodes):
                node.execute_command("CLUSTER", "ADDSLOTSRANGE", bounds[i], bounds[i + 1] - 1)
            for port in self.ports[1:]:
                nodes[0].execute_command("CLUSTER", "MEET", "127.0.0.1", port)
            while not all(
                b"cluster_state:ok" in n.execute_command("CLUSTER", "INFO") for n in nodes
            ):
                assert time.monotonic() < deadline, "the Redis cluster did not become ready"
                time.sleep(0.05)
            # Every node must know every other before clients route by its slot map.
            while not all(
                len(n.execute_command("CLUSTER", "NODES").decode().strip().splitlines())
                == len(nodes)
                for n in nodes
            ):
                assert time.monotonic() < deadline, "the Redis cluster nodes did not meet"
                time.sleep(0.05)
        except BaseException:
            self.stop()
            raise
        finally:
            for node in nodes:
                node.close()

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.procs = []
        shutil.rmtree(self.dir, ignore_errors=True)


_cluster: RedisCluster | None = None


def redis_cluster() -> RedisCluster:
    """A Redis Cluster started once per test session (stopped at exit).

    Fails under ``CI=true`` and skips otherwise when ``redis-server`` is missing.
    """
    global _cluster
    if _cluster is None:
        if shutil.which("redis-server") is None:
            unavailable("redis-server is not installed (needed for the Redis Cluster run)")
        cluster = RedisCluster()
        cluster.start()
        atexit.register(cluster.stop)
        _cluster = cluster
    return _cluster


def redis_cluster_url() -> str:
    """The store URL of the session's Redis Cluster (see :func:`redis_cluster`)."""
    return redis_cluster().url


# --------------------------------------------------------------------------- scratch names
# The servers are shared (other runs, other developers): a test's Redis keys and SQL tables are
# named under this run's SCRATCH name, and clean_scratch() removes them all when the run ends,
# also those of a test that failed half-way.

#: Unique per test run (and process): every scratch key and table of the run starts with it.
SCRATCH = f"ffntest-{secrets.token_hex(4)}"


def scratch_prefix(label: str) -> str:
    """A Redis key prefix of this run, unique per call (``ffntest-<run>:<label>-<hex>:``)."""
    return f"{SCRATCH}:{label}-{secrets.token_hex(4)}:"


def scratch_table(label: str) -> str:
    """An SQL table name of this run (``ffntest_<run>_<label>``), the same for one label."""
    return f"{SCRATCH.replace('-', '_')}_{label}"


async def clean_scratch() -> list[str]:
    """Delete this run's scratch keys and tables on every reachable server; what went."""
    removed: list[str] = []
    if _probe_url(configured_url("redis")):
        import redis.asyncio as aioredis

        client = aioredis.Redis.from_url(configured_url("redis"))
        try:
            keys = [k async for k in client.scan_iter(match=f"{SCRATCH}:*", count=1000)]
            if keys:
                await client.delete(*keys)
            removed += [k.decode() for k in keys]
        finally:
            await client.aclose()
    prefix = SCRATCH.replace("-", "_")
    for service in ("postgres", "mysql"):
        url = configured_url(service)
        if not _probe_url(url):
            continue
        import sqlalchemy as sa
        from sqlalchemy.ext.asyncio import create_async_engine

        engine = create_async_engine(url)
        try:
            async with engine.begin() as conn:
                tables = await conn.run_sync(lambda c: sa.inspect(c).get_table_names())
                for table in [t for t in tables if t.startswith(prefix)]:
                    await conn.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))
                    removed.append(f"{service}:{table}")
        finally:
            await engine.dispose()
    return removed


async def outside_scratch() -> set[str]:
    """Every Redis key and SQL table on the shared servers that no run's scratch name covers
    (``redis:<key>``, ``postgres:<table>``): what a test left behind, if it grew during a run."""
    found: set[str] = set()
    if _probe_url(configured_url("redis")):
        import redis.asyncio as aioredis

        client = aioredis.Redis.from_url(configured_url("redis"))
        try:
            async for key in client.scan_iter(count=1000):
                if not key.startswith(b"ffntest"):
                    found.add(f"redis:{key.decode(errors='replace')}")
        finally:
            await client.aclose()
    for service in ("postgres", "mysql"):
        url = configured_url(service)
        if not _probe_url(url):
            continue
        import sqlalchemy as sa
        from sqlalchemy.ext.asyncio import create_async_engine

        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                tables = await conn.run_sync(lambda c: sa.inspect(c).get_table_names())
        finally:
            await engine.dispose()
        found.update(f"{service}:{t}" for t in tables if not t.startswith("ffntest"))
    return found


def _probe_url(url: str) -> bool:
    parsed = URL(url)
    return _probe(parsed.host or "127.0.0.1", parsed.port or 0) is None


# --------------------------------------------------------------------------- killing connections
# Outage tests break a store's connections from the server side. Each kills only its own: a
# PostgreSQL session is found by its application_name, a MariaDB one by the proxy it came through.


def postgres_session_name(prefix: str = "ffntest") -> tuple[str, dict[str, object]]:
    """A unique ``application_name`` and the ``connect_args`` that give a store's sessions it."""
    name = f"{prefix}-{secrets.token_hex(4)}"
    return name, {"server_settings": {"application_name": name}}


async def kill_postgres_sessions(admin_url: str, application_name: str) -> int:
    """``pg_terminate_backend`` every PostgreSQL session named ``application_name``; the count."""
    import sqlalchemy as sa
    from sqlalchemy.ext.asyncio import create_async_engine

    admin = create_async_engine(admin_url)
    try:
        async with admin.begin() as conn:
            result = await conn.execute(
                sa.text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name = :name"
                ),
                {"name": application_name},
            )
            return int(result.scalar_one())
    finally:
        await admin.dispose()


async def kill_mysql_sessions(admin_url: str, proxy: FaultProxy) -> int:
    """``KILL CONNECTION`` every MariaDB session that came through ``proxy`` (only ours)."""
    import sqlalchemy as sa
    from sqlalchemy.ext.asyncio import create_async_engine

    ports = {str(p) for p in proxy.upstream_ports()}
    admin = create_async_engine(admin_url)
    killed = 0
    try:
        async with admin.connect() as conn:
            rows = await conn.execute(
                sa.text("SELECT ID, HOST FROM information_schema.PROCESSLIST")
            )
            for session_id, host in rows.all():
                if host and host.rpartition(":")[2] in ports:
                    await conn.execute(sa.text(f"KILL CONNECTION {int(session_id)}"))
                    killed += 1
    finally:
        await admin.dispose()
    return killed
