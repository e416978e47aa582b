"""Entry points of the worker processes (spawn) in test_chain_survives.py.

Each builds its store from a picklable :class:`~tests.stores.specs.StoreSpec`, asks its
TokenManager for a token once, and writes the outcome (the access token, or the error's type
and message) as JSON to ``result``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Any

import orjson

from ffn_async import Environment, TokenManager
from token_stores import Record, TokenStore

from ..fleet import CREDS
from ..stores.specs import StoreSpec


class StopAfterMark:
    """Delegates to a store; right after the first save that marks a rotation in flight, the
    process stops itself with a real SIGSTOP (a pause placed exactly between the mark and the
    token request) and carries on when someone sends SIGCONT."""

    def __init__(self, inner: TokenStore) -> None:
        self.inner = inner
        self.stopped = False

    async def save(self, key: str, data: bytes, expected_version: int | None) -> int:
        version = await self.inner.save(key, data, expected_version)
        if not self.stopped and b'"rotating":{' in data:
            self.stopped = True
            os.kill(os.getpid(), signal.SIGSTOP)
        return version

    async def load(self, key: str) -> Record | None:
        return await self.inner.load(key)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def _one_token(store: Any, key: str, env: Environment, settings: dict[str, Any]) -> Any:
    try:
        async with TokenManager(CREDS, store, key=key, environment=env, **settings) as auth:
            return {"token": await auth.access_token()}
    except Exception as exc:
        return {"error": type(exc).__name__, "message": str(exc)}


def _write(result: str, outcome: Any) -> None:
    Path(result).write_bytes(orjson.dumps(outcome))


def paused_holder(
    spec: StoreSpec, key: str, env: Environment, settings: dict[str, Any], result: str
) -> None:
    """Refresh, stopping (SIGSTOP) right after the rotation mark is written."""

    async def main() -> Any:
        store = spec.build()
        try:
            return await _one_token(StopAfterMark(store), key, env, settings)
        finally:
            await store.close()

    _write(result, asyncio.run(main()))


def skewed_peer(
    spec: StoreSpec,
    key: str,
    env: Environment,
    settings: dict[str, Any],
    skew: float,
    ready: str,
    result: str,
) -> None:
    """Ask for a token with this process's wall clock ``skew`` seconds ahead of the others'."""
    real = time.time
    time.time = lambda: real() + skew  # every time.time() of this process, library included

    async def main() -> Any:
        store = spec.build()
        try:
            Path(ready).touch()
            return await _one_token(store, key, env, settings)
        finally:
            await store.close()

    _write(result, asyncio.run(main()))
