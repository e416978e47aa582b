"""Where the real PostgreSQL, MariaDB and Redis of a test run are, and whether they answer.

Each ``*_url()`` helper returns the service's URL after a quick TCP probe; when nothing answers
it fails the test under ``CI=true`` (a CI run must not silently skip its store tests) and skips
it with the reason otherwise. Override the URLs with ``FFN_TEST_POSTGRES_URL``,
``FFN_TEST_MYSQL_URL`` and ``FFN_TEST_REDIS_URL``.
"""

from __future__ import annotations

import functools
import os
import socket
import subprocess
import time
from pathlib import Path
from typing import NoReturn

import pytest
from yarl import URL

__all__ = [
    "RedisServer",
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
