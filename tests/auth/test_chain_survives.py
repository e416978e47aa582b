"""The refresh chain survives pauses, skewed clocks, forks and answers the client dislikes.

Each test is one way the whole chain was lost (issue 19), with real processes where the claim
is about processes: a real SIGSTOP/SIGCONT, a child whose wall clock runs 20 s ahead, a real
``os.fork``. The strict fake server counts a reused refresh token and revokes its family.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest

from ffn_async import Environment, Token, TokenManager
from ffn_async.auth.record import StoredToken, encode_record
from ffn_async.errors import LockTimeout
from ffn_async.observe.events import RefreshEvent
from ffn_async.token import MAX_EXPIRES_IN
from token_stores import FileTokenStore, Lease, MemoryTokenStore

from .. import services
from ..fleet import CREDS, strict_server
from ..stores.specs import StoreSpec
from . import chain_workers
from .test_rotation_in_flight import Outage, expired, oauth_server

_SPAWN = multiprocessing.get_context("spawn")


def _spec(kind: str, tmp_path: Path) -> StoreSpec:
    if kind == "redis":
        prefix = services.scratch_prefix("chain")  # removed when the run ends
        return StoreSpec("redis", services.redis_url(), {"prefix": prefix})
    if kind == "sqlite":
        return StoreSpec("sqlite", f"sqlite+aiosqlite:///{tmp_path / 'tokens.db'}")
    return StoreSpec("file", f"file://{tmp_path / 'tokens'}")


def _state(pid: int) -> str:
    """The process's state letter from /proc (``T``: stopped)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


async def _until(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["redis", "sqlite"])
async def test_a_holder_paused_past_its_lease_does_not_spend_the_old_refresh_token(
    kind: str, tmp_path: Path
) -> None:
    """Item 1. The holder writes its mark and is stopped (real SIGSTOP) for longer than
    lock_ttl + in_flight_timeout (+ the grace); a peer presumes it dead and rotates; SIGCONT.
    The resumed holder must not present the refresh token the peer spent, and adopts the
    peer's token. Leases expire on these stores (a file lock is freed only by the kernel)."""
    spec = _spec(kind, tmp_path)
    settings: dict[str, Any] = {
        "lock_ttl": 1.0,
        "request_timeout": 0.5,
        "in_flight_timeout": 1.0,
        "lock_timeout": 10.0,
    }
    result = tmp_path / "holder.json"
    store = await spec.build_ready()
    async with strict_server(token_lifetime=1800) as (oauth, env):
        peer = TokenManager(CREDS, store, key="acct", environment=env, **settings)
        await peer.store_token(expired(oauth))
        holder = _SPAWN.Process(
            target=chain_workers.paused_holder,
            args=(spec, "acct", env, settings, str(result)),
        )
        holder.start()
        try:
            assert holder.pid is not None
            await _until(lambda: _state(holder.pid) == "T", 30, "the holder to stop")
            # The mark is honoured for in_flight_timeout + request_timeout after the peer
            # first sees it; the holder's lease has run out long before.
            token = await peer.access_token()
            assert oauth.stats.refreshes == 1
            os.kill(holder.pid, signal.SIGCONT)
            await asyncio.get_running_loop().run_in_executor(None, holder.join, 30)
        finally:
            if holder.is_alive():
                holder.kill()
        outcome = orjson.loads(result.read_bytes())
        record = await peer.stored()
        await peer.aclose()
    await store.close()
    assert outcome == {"token": token}  # the holder adopted the peer's rotation
    assert oauth.stats.token_requests == 1  # the fenced holder sent nothing at all
    assert oauth.stats.reuse_attempts == 0
    assert oauth.families_revoked == 0
    assert oauth.stats.refreshes == 1
    assert record.rotation == 1
    assert record.rotating_by is None


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["file", "redis"])
async def test_a_peer_whose_clock_runs_ahead_does_not_presume_a_live_holder_dead(
    kind: str, tmp_path: Path
) -> None:
    """Item 2. The holder rotated, but the store cannot take the new token yet: the mark is
    all that keeps peers from the old refresh token. A peer in another process whose wall
    clock runs 20 s ahead (more than in_flight_timeout) must still wait for the save."""
    spec = _spec(kind, tmp_path)
    inner = await spec.build_ready()
    store: Any = Outage(inner)
    holder_settings: dict[str, Any] = {"lock_ttl": 0.5, "request_timeout": 0.3}
    peer_settings: dict[str, Any] = {
        **holder_settings,
        "in_flight_timeout": 8.0,
        "lock_timeout": 15.0,
    }
    ready, result = tmp_path / "ready", tmp_path / "peer.json"
    async with oauth_server() as (oauth, env):
        holder = TokenManager(CREDS, store, key="acct", environment=env, **holder_settings)
        await holder.store_token(expired(oauth))
        store.down = True
        token = await holder.access_token()  # rotated; kept in memory, its save refused
        assert (await holder.stored()).rotating_by is not None
        peer = _SPAWN.Process(
            target=chain_workers.skewed_peer,
            args=(spec, "acct", env, peer_settings, 20.0, str(ready), str(result)),
        )
        peer.start()
        try:
            await _until(ready.exists, 30, "the peer to start")
            await asyncio.sleep(2.0)  # the skewed peer has read the mark long ago
            assert oauth.stats.refreshes == 1  # it did not present the old refresh token
            store.down = False
            assert await holder.settle(5.0)
            await asyncio.get_running_loop().run_in_executor(None, peer.join, 30)
        finally:
            if peer.is_alive():
                peer.kill()
        outcome = orjson.loads(result.read_bytes())
        await holder.aclose()
    await inner.close()
    assert outcome == {"token": token}
    assert oauth.stats.refreshes == 1
    assert oauth.stats.reuse_attempts == 0
    assert oauth.families_revoked == 0


def test_a_child_of_fork_does_not_take_the_parents_mark_for_its_own(tmp_path: Path) -> None:
    """Item 3. A manager built before ``os.fork`` (a pre-fork server building it at import):
    the record holds a rotation mark written under the parent's identity. A child that
    inherited that identity took the mark for its own and spent the refresh token at once;
    it must treat it as a peer's and wait. Each child gets a worker id of its own."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.setblocking(False)
    port = listener.getsockname()[1]
    env = Environment(
        api_url=f"http://127.0.0.1:{port}/api",
        authorize_url=f"http://127.0.0.1:{port}/authorize",
        token_url=f"http://127.0.0.1:{port}/token",
        name="local",
    )
    store = FileTokenStore(tmp_path / "tokens")
    manager = TokenManager(
        CREDS,
        store,
        key="acct",
        environment=env,
        lock_ttl=1.0,
        request_timeout=0.3,
        in_flight_timeout=5.0,
        lock_timeout=1.0,
    )

    async def mark_as_parent() -> None:
        await manager.store_token(Token("old-access", "refresh-1234567890", time.time() - 5))
        stored = await manager.stored()
        parent = manager._account.owner  # the identity every child inherits
        marked = StoredToken(stored.token, None, rotating_by=parent, rotating_since=time.time())
        await store.save("acct", encode_record("acct", marked), stored.version)

    asyncio.run(mark_as_parent())

    def child(write: int) -> None:
        async def main() -> str:
            try:
                await manager.access_token()
                return "spent"
            except LockTimeout as exc:
                return "waited" if "in flight" in str(exc) else f"LockTimeout: {exc}"
            except Exception as exc:  # the old code: it sent the refresh token and failed
                return type(exc).__name__

        outcome = asyncio.run(main())
        os.write(write, orjson.dumps({"owner": manager._account.owner, "outcome": outcome}))

    outcomes = []
    for _ in range(2):
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child
            try:
                os.close(read)
                child(write)
            finally:
                os._exit(0)
        os.close(write)
        os.waitpid(pid, 0)
        with os.fdopen(read, "rb") as pipe:
            outcomes.append(orjson.loads(pipe.read()))
    connections = 0
    while True:
        try:
            conn, _ = listener.accept()
        except BlockingIOError:
            break
        conn.close()
        connections += 1
    listener.close()
    parent = manager._account.owner
    assert [o["outcome"] for o in outcomes] == ["waited", "waited"]
    assert connections == 0  # no child sent the refresh token anywhere
    owners = {o["owner"] for o in outcomes}
    assert len(owners) == 2
    assert parent not in owners


async def test_a_rotated_answer_with_an_absurd_expires_in_keeps_the_chain() -> None:
    """Item 4. The server rotated and answered expires_in = 400 days (beyond what the client
    accepts). The new refresh token must be stored (expires_in clamped, a warning logged), so
    the next refresh presents it and not the spent one."""
    async with strict_server(token_lifetime=400 * 86400) as (oauth, env):
        store = MemoryTokenStore()
        auth = TokenManager(CREDS, store, key="acct", environment=env)
        login, _ = Token.salvage(oauth.issue_tokens())  # 400 days too
        await auth.store_token(Token(login.access_token, login.refresh_token, time.time() - 5))
        first = await auth.access_token()
        record = await auth.stored()
        assert record.rotation == 1
        assert record.token is not None
        assert record.token.access_token == first
        assert 0 < record.token.expires_in() <= MAX_EXPIRES_IN
        second = await auth.refresh()
        await auth.aclose()
    assert second.access_token != first
    assert oauth.stats.refreshes == 2
    assert oauth.stats.reuse_attempts == 0
    assert oauth.families_revoked == 0


class _LeaseLost:
    """Delegates to a store whose lease cannot be renewed (it was lost, or the store is
    away): the holder finds out at the fence, right before its token request."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    @asynccontextmanager
    async def lock(self, key: str, **kwargs: Any) -> AsyncIterator[Lease]:
        async with self.inner.lock(key, **kwargs) as lease:

            async def lost(ttl: float) -> bool:
                return False

            yield Lease(lease.key, lease.deadline, lost)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def test_a_lease_that_cannot_be_renewed_stops_the_rotation_before_the_spend() -> None:
    """Item 1: a failed renewal used to be logged while the token request went out anyway."""
    store: Any = _LeaseLost(MemoryTokenStore())
    events: list[Any] = []
    async with strict_server(token_lifetime=1800) as (oauth, env):
        auth = TokenManager(
            CREDS, store, key="acct", environment=env, lock_timeout=2.0, observer=events.append
        )
        await auth.store_token(expired(oauth))
        with pytest.raises(LockTimeout, match="lease kept running out"):
            await auth.access_token()
        record = await auth.stored()
        await auth.aclose()
    assert oauth.stats.token_requests == 0
    assert [e.outcome for e in events if isinstance(e, RefreshEvent)] == ["fenced"] * 3
    assert record.rotating_by is None  # each attempt lifted its mark
    assert record.rotation == 0
