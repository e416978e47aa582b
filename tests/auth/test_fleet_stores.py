"""Refresh exactly once per rotation through TokenManager, for every fleet-capable store.

Six worker processes with 50 coroutines each share one account in Redis, a Redis Cluster,
PostgreSQL, MariaDB or SQLite while the strict server's tokens expire every second.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .. import services
from ..fleet import run_fleet


def _sqlite(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'tokens.db'}"


STORES: dict[str, Callable[[Path], str]] = {
    "redis": lambda _: f"{services.redis_url()}?prefix={services.scratch_prefix('fleet')}",
    # Three masters on loopback ports started for this session (tests/services.py).
    "redis-cluster": lambda _: services.redis_cluster_url(),
    "postgres": lambda _: services.postgres_url(),
    "mysql": lambda _: services.mysql_url(),
    "sqlite": _sqlite,
}


async def _create_schema(store: Any) -> None:
    if hasattr(store, "create_schema"):
        await store.create_schema()


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(STORES))
async def test_six_processes_share_one_account_without_reuse(kind: str, tmp_path: Path) -> None:
    # The shared SQL servers get a table of this run, removed when it ends (tests/services.py).
    sql = kind in ("postgres", "mysql")
    result = await run_fleet(
        STORES[kind](tmp_path),
        store_options={"table": services.scratch_table("fleet")} if sql else None,
        key=f"fleet-{uuid.uuid4().hex[:12]}",
        processes=6,
        coroutines=50,
        duration=4.0,
        token_lifetime=1.0,
        setup_store=_create_schema,
    )
    result.assert_exactly_once(kind)
