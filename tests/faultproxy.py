"""A fault-injecting TCP proxy on loopback, for outage tests of stores and servers.

Put it between a client and a real service (Redis, PostgreSQL, MariaDB, an HTTP server) and
break the path on purpose, while the service itself keeps running::

    async with FaultProxy(6379) as proxy:                # forwards 127.0.0.1:<proxy.port> -> :6379
        store = RedisTokenStore(proxy.url("redis://127.0.0.1:6379/0"))
        proxy.drop()            # close every open connection; new ones are closed at once
        proxy.delay(0.5)        # forward, each chunk 0.5 s late (both directions)
        proxy.cut_after_send()  # forward requests, close the connection when the answer comes:
                                # the server did the work, the client never learns the result
        await proxy.refuse()    # stop listening (new connections are refused), reset open ones
        await proxy.heal()      # back to plain forwarding, listening again on the same port

Modes last until the next mode call; ``cut_after_send(count=1)`` cuts only the next answer and
then forwards again. Everything is bounded in time: connecting upstream gives up after
``connect_timeout``, and :meth:`close` (or leaving ``async with``) aborts every connection and
waits at most a few seconds for the pumps to finish. Counters (``accepted``, ``cuts``,
``dropped``) let a test prove that the fault really happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from types import TracebackType

from yarl import URL

__all__ = ["FaultProxy"]

_CHUNK = 65536
#: How long close() and refuse() wait for connection tasks to finish.
_SETTLE = 5.0


class _Link:
    """One proxied connection: the client's streams, the upstream's, and the pump tasks."""

    def __init__(
        self,
        client: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    ) -> None:
        self.client_reader, self.client_writer = client
        self.up_reader, self.up_writer = upstream
        # True from a client chunk until the first answer chunk: the answer is "in flight".
        self.awaiting_answer = False
        self.closed = False

    def abort(self, *, reset: bool = False) -> None:
        """Close both sides at once; ``reset`` sends RST to the client instead of FIN."""
        if self.closed:
            return
        self.closed = True
        if reset:
            _set_reset_on_close(self.client_writer)
        self.client_writer.transport.abort()
        self.up_writer.transport.abort()


def _set_reset_on_close(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


class FaultProxy:
    """Forward ``127.0.0.1:<port>`` to ``upstream_host:upstream_port``, with faults on demand."""

    def __init__(
        self,
        upstream_port: int,
        upstream_host: str = "127.0.0.1",
        *,
        port: int = 0,
        connect_timeout: float = 5.0,
    ) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = port
        self.connect_timeout = connect_timeout
        self.mode = "pass"
        self.accepted = 0
        self.cuts = 0
        self.dropped = 0
        self._delay = 0.0
        self._cuts_left: int | None = None
        self._server: asyncio.Server | None = None
        self._links: set[_Link] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        return (
            f"FaultProxy(127.0.0.1:{self.port} -> {self.upstream[0]}:{self.upstream[1]}, "
            f"mode={self.mode!r}, open={len(self._links)})"
        )

    # -- life cycle -------------------------------------------------------------------------

    async def start(self) -> FaultProxy:
        """Listen on loopback (a free port the first time, the same port afterwards)."""
        self._server = await asyncio.start_server(
            self._accept, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        """Stop listening, abort every connection, wait (bounded) for the pumps to end."""
        await self._stop_listening()
        self._abort_all(reset=False)
        await self._settle()

    async def __aenter__(self) -> FaultProxy:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def url(self, url: str) -> str:
        """``url`` with its host and port replaced by the proxy's (user, path, query kept)."""
        return str(URL(url).with_host("127.0.0.1").with_port(self.port))

    @property
    def open_connections(self) -> int:
        return len(self._links)

    def upstream_ports(self) -> list[int]:
        """Local ports of the open connections to the upstream: how the server sees them.

        Lets a test find exactly its own sessions on a shared server (MariaDB's
        ``information_schema.PROCESSLIST.HOST`` is ``127.0.0.1:<port>``) to kill them.
        """
        ports = []
        for link in self._links:
            sockname = link.up_writer.get_extra_info("sockname")
            if sockname is not None and not link.closed:
                ports.append(int(sockname[1]))
        return ports

    # -- faults -----------------------------------------------------------------------------

    def drop(self, *, reset: bool = False) -> None:
        """Close every open connection now and every new one as soon as it is accepted."""
        self.mode = "drop"
        self._abort_all(reset=reset)

    def delay(self, seconds: float) -> None:
        """Forward every chunk, in both directions, ``seconds`` late (connections stay open)."""
        self.mode = "delay"
        self._delay = seconds

    def cut_after_send(self, count: int | None = None) -> None:
        """Forward requests; when an answer arrives, drop it and close that connection.

        The server has received (and begun answering) the request, so a write it carried took
        effect, but the client sees a dead connection. ``count`` limits the cuts, after which
        the proxy forwards again (``None``: until the next mode call). A server greeting sent
        before the client said anything (MySQL) is forwarded, not cut.
        """
        self.mode = "cut"
        self._cuts_left = count

    async def refuse(self) -> None:
        """Stop listening (new connections get ECONNREFUSED) and reset every open connection."""
        self.mode = "refuse"
        await self._stop_listening()
        self._abort_all(reset=True)

    async def heal(self) -> None:
        """Forward normally again; listen again (same port) if :meth:`refuse` stopped it."""
        self.mode = "pass"
        self._delay = 0.0
        self._cuts_left = None
        if self._server is None:
            await self.start()

    # -- plumbing ---------------------------------------------------------------------------

    async def _stop_listening(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
            # On 3.12+ wait_closed also waits for open connections: they are aborted next.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(server.wait_closed(), 0.5)

    def _abort_all(self, *, reset: bool) -> None:
        for link in list(self._links):
            if not link.closed:
                self.dropped += 1
            link.abort(reset=reset)

    async def _settle(self) -> None:
        tasks = [t for t in self._tasks if not t.done()]
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=_SETTLE)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=_SETTLE)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        if self.mode in ("drop", "refuse"):
            self.dropped += 1
            _set_reset_on_close(writer)
            writer.transport.abort()
            return
        try:
            upstream = await asyncio.wait_for(
                asyncio.open_connection(*self.upstream), self.connect_timeout
            )
        except (OSError, TimeoutError):
            _set_reset_on_close(writer)
            writer.transport.abort()
            return
        link = _Link((reader, writer), upstream)
        if self.mode in ("drop", "refuse"):  # the fault began while we were connecting
            self.dropped += 1
            link.abort(reset=True)
            return
        # This handler forgets the link after its pumps end: _settle waits for it too (on
        # 3.12+ it ran after close() had returned, which still counted the link as open).
        handler = asyncio.current_task()
        if handler is not None:
            self._tasks.add(handler)
        self._links.add(link)
        pumps = [
            asyncio.create_task(self._pump(link, answers=False)),
            asyncio.create_task(self._pump(link, answers=True)),
        ]
        self._tasks.update(pumps)
        try:
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            link.abort()
            for pump in pumps:
                pump.cancel()
            await asyncio.wait(pumps, timeout=_SETTLE)
            self._tasks.difference_update(pumps)
            self._links.discard(link)
            if handler is not None:
                self._tasks.discard(handler)

    async def _pump(self, link: _Link, *, answers: bool) -> None:
        """Forward one direction of ``link`` under the current mode: the client's requests
        upstream, or (``answers``) the upstream's answers back to the client."""
        reader, writer = (
            (link.up_reader, link.client_writer)
            if answers
            else (link.client_reader, link.up_writer)
        )
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while not link.closed:
                data = await reader.read(_CHUNK)
                if not data:
                    return
                if self.mode == "delay":
                    await asyncio.sleep(self._delay)
                if self.mode == "drop":
                    return
                if answers and self.mode == "cut" and link.awaiting_answer:
                    self.cuts += 1
                    if self._cuts_left is not None:
                        self._cuts_left -= 1
                        if self._cuts_left <= 0:
                            self.mode = "pass"
                            self._cuts_left = None
                    return  # the caller aborts the link: the answer is never delivered
                link.awaiting_answer = not answers
                writer.write(data)
                await writer.drain()
