"""The aiohttp session that clients built without ``session=`` share, one per event loop.

A process serving many accounts holds one :class:`~ffn_async.FFNClient` per account. With a
session (and so a connection pool) each, 1,000 accounts held 1,000+ sockets and ran out of file
descriptors under ``ulimit -n 1024``; one shared pool keeps the sockets at ``connector_limit``
whatever the number of accounts, and reuses warm connections across accounts.

Clients share a session when they run in the same loop and agree on what a session fixes: the
pool size (``connector_limit``) and the default headers (User-Agent). Everything else is sent
per request (each request carries its own timeout and token). The session closes when the last
client using it closes, so a single client behaves as if it owned it.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Mapping

import aiohttp

__all__ = ["Share", "join"]

_Key = tuple[int, tuple[tuple[str, str], ...]]

_shares: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[_Key, Share]] = (
    weakref.WeakKeyDictionary()
)


class Share:
    """One shared session and how many clients use it."""

    __slots__ = ("_key", "_loop", "session", "users")

    def __init__(
        self, session: aiohttp.ClientSession, loop: asyncio.AbstractEventLoop, key: _Key
    ) -> None:
        self.session = session
        self.users = 0
        self._loop = loop
        self._key = key

    async def leave(self) -> None:
        """One client is done with the session; the last one closes it."""
        self.users -= 1
        if self.users > 0:
            return
        by_key = _shares.get(self._loop, {})
        if by_key.get(self._key) is self:
            del by_key[self._key]
        await self.session.close()


def join(connector_limit: int, headers: Mapping[str, str]) -> Share:
    """The running loop's session for this pool size and these headers (made on first use)."""
    loop = asyncio.get_running_loop()
    key: _Key = (connector_limit, tuple(sorted(headers.items())))
    by_key = _shares.setdefault(loop, {})
    share = by_key.get(key)
    if share is None or share.session.closed:
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=connector_limit), headers=dict(headers)
        )
        share = by_key[key] = Share(session, loop, key)
    share.users += 1
    return share
