"""An outbox replayer run in a child process (spawn), to be SIGKILLed mid-replay."""

from __future__ import annotations

import asyncio

from ffn_async import Environment, FFNClient, StaticToken
from ffn_async.ordersync.outbox import Outbox
from ffn_async.retry import RetryPolicy

from .specs import StoreSpec

SCOPES = ("ffn.merchant.read", "ffn.merchant.write")


def replay(spec: StoreSpec, api_url: str, token: str, name: str, lease_ttl: float) -> None:
    """Replay the outbox ``name`` once (the test kills this process while it runs)."""
    asyncio.run(_replay(spec, api_url, token, name, lease_ttl))


async def _replay(spec: StoreSpec, api_url: str, token: str, name: str, lease_ttl: float) -> None:
    store = spec.build()
    env = Environment(api_url=api_url, authorize_url=api_url, token_url=api_url, name="fake")
    retry = RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.05)
    try:
        async with FFNClient(
            StaticToken(token, scopes=SCOPES), environment=env, retry=retry, timeout=60
        ) as ffn:
            await Outbox(store, name, lease_ttl=lease_ttl, commit_margin=0.5).replay(ffn)
    finally:
        await store.close()
