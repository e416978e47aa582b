"""A holder whose lease ran out must not spend a refresh token a peer may have spent.

Holder A takes the lock and then stalls (a GC pause, a slow store) past its lease. Peer B
takes the expired lease and rotates the token. Without fencing, A would wake up and present
the refresh token B already spent: the strict server counts a reuse and revokes the whole
chain. With fencing, A sees its lease cannot cover a token request, takes the lock again,
re-reads, and adopts B's token; the chain survives.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from ffn_async import FFNClient, Token, TokenManager
from token_stores import Record, from_url

from .. import services
from ..fleet import CREDS, strict_server


class StallOnSecondLoad:
    """Delegates to a store; the second ``load`` (the re-read under the lock) stalls after
    reading, so the holder wakes with a record that may be stale by then."""

    def __init__(self, inner: Any, stall: float) -> None:
        self.inner = inner
        self.stall = stall
        self.loads = 0

    async def load(self, key: str) -> Record | None:
        self.loads += 1
        record: Record | None = await self.inner.load(key)
        if self.loads == 2:
            await asyncio.sleep(self.stall)
        return record

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _store_url(kind: str, tmp_path: Path) -> str:
    if kind == "redis":
        return services.redis_url()
    return f"sqlite+aiosqlite:///{tmp_path / 'tokens.db'}"


@pytest.mark.parametrize("kind", ["redis", "sqlite"])
async def test_stalled_holder_adopts_the_peers_rotation(kind: str, tmp_path: Path) -> None:
    url = _store_url(kind, tmp_path)
    options: dict[str, Any] = (
        {"prefix": services.scratch_prefix("lease")} if kind == "redis" else {}
    )
    key = "acct"
    store_a, store_b = from_url(url, **options), from_url(url, **options)
    if hasattr(store_b, "create_schema"):
        await store_b.create_schema()
    stalling = StallOnSecondLoad(store_a, stall=1.6)
    async with strict_server(token_lifetime=1800) as (oauth, env):
        settings: dict[str, Any] = {"environment": env, "lock_ttl": 1.0, "request_timeout": 0.5}
        a = TokenManager(CREDS, stalling, key=key, **settings)  # type: ignore[arg-type]
        b = TokenManager(CREDS, store_b, key=key, **settings)
        issued = Token.from_response(oauth.issue_tokens())
        await b.store_token(Token(issued.access_token, issued.refresh_token, time.time() - 5))

        task_a = asyncio.ensure_future(a.access_token())
        await asyncio.sleep(1.2)  # A holds the lock, stalled, and its 1 s lease has run out
        token_b = await b.access_token()  # B takes the expired lease and rotates
        token_a = await task_a

        assert token_a == token_b
        assert oauth.stats.refreshes == 1
        assert oauth.stats.reuse_attempts == 0
        assert oauth.families_revoked == 0
        # The chain survives: both can call the API and rotate again later.
        for auth in (a, b):
            async with FFNClient(auth) as ffn:
                assert await ffn.request("GET", "/v1/users/current") == {"userId": "MERC"}
        assert (await b.refresh()).access_token != token_b
        assert oauth.stats.reuse_attempts == 0
    await store_a.close()
    await store_b.close()
