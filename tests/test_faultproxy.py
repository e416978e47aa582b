"""The fault proxy itself: each fault does what it says, against a tiny echo server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from tests.faultproxy import FaultProxy


class Echo:
    """Answers every line with ``echo:<line>`` and remembers what it received."""

    def __init__(self) -> None:
        self.received: list[bytes] = []
        self.port = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                self.received.append(line)
                writer.write(b"echo:" + line)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()


@pytest.fixture
async def echo() -> AsyncIterator[Echo]:
    server = Echo()
    listener = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    server.port = listener.sockets[0].getsockname()[1]
    yield server
    listener.close()


@pytest.fixture
async def proxy(echo: Echo) -> AsyncIterator[FaultProxy]:
    async with FaultProxy(echo.port) as p:
        yield p


async def _open(proxy: FaultProxy) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.wait_for(asyncio.open_connection("127.0.0.1", proxy.port), 5)


async def _ask(conn: tuple[asyncio.StreamReader, asyncio.StreamWriter], line: bytes) -> bytes:
    reader, writer = conn
    writer.write(line + b"\n")
    await writer.drain()
    return await asyncio.wait_for(reader.readline(), 5)


async def _outcome(conn: tuple[asyncio.StreamReader, asyncio.StreamWriter], line: bytes) -> str:
    """What asking gives: the answer, ``"eof"`` or ``"reset"``."""
    try:
        answer = await _ask(conn, line)
    except ConnectionResetError:
        return "reset"
    return answer.decode() if answer else "eof"


async def test_forwards_both_ways(proxy: FaultProxy, echo: Echo) -> None:
    conn = await _open(proxy)
    assert await _ask(conn, b"hello") == b"echo:hello\n"
    assert await _ask(conn, b"again") == b"echo:again\n"
    assert proxy.accepted == 1
    assert proxy.open_connections == 1
    conn[1].close()


async def test_drop_closes_open_and_new_connections(proxy: FaultProxy) -> None:
    conn = await _open(proxy)
    assert await _ask(conn, b"one") == b"echo:one\n"
    proxy.drop()
    assert await asyncio.wait_for(conn[0].read(), 5) == b""  # EOF
    assert proxy.dropped == 1
    fresh = await _open(proxy)
    assert await _outcome(fresh, b"two") in ("eof", "reset")
    await proxy.heal()
    assert await _ask(await _open(proxy), b"three") == b"echo:three\n"


async def test_delay_holds_each_chunk(proxy: FaultProxy) -> None:
    conn = await _open(proxy)
    proxy.delay(0.2)
    started = time.monotonic()
    assert await _ask(conn, b"slow") == b"echo:slow\n"
    assert time.monotonic() - started >= 0.4  # once each way
    await proxy.heal()
    assert await _ask(conn, b"fast") == b"echo:fast\n"


async def test_cut_after_send_delivers_the_request_but_not_the_answer(
    proxy: FaultProxy, echo: Echo
) -> None:
    conn = await _open(proxy)
    proxy.cut_after_send(count=1)
    answer = await _ask(conn, b"write-me")
    assert answer == b""  # the connection closed before any answer
    assert echo.received == [b"write-me\n"]  # ... but the server got the request
    assert proxy.cuts == 1
    assert proxy.mode == "pass"
    assert await _ask(await _open(proxy), b"next") == b"echo:next\n"


async def test_cut_after_send_without_count_cuts_until_healed(proxy: FaultProxy) -> None:
    proxy.cut_after_send()
    for _ in range(3):
        assert await _ask(await _open(proxy), b"x") == b""
    assert proxy.cuts == 3
    await proxy.heal()
    assert await _ask(await _open(proxy), b"y") == b"echo:y\n"


async def test_refuse_stops_listening_and_heal_listens_on_the_same_port(
    proxy: FaultProxy,
) -> None:
    conn = await _open(proxy)
    assert await _ask(conn, b"first") == b"echo:first\n"
    port = proxy.port
    await proxy.refuse()
    assert await _outcome(conn, b"lost") == "reset"
    with pytest.raises(ConnectionRefusedError):
        await _open(proxy)
    await proxy.heal()
    assert proxy.port == port
    assert await _ask(await _open(proxy), b"back") == b"echo:back\n"


async def test_unreachable_upstream_closes_the_client_connection() -> None:
    async with FaultProxy(1) as proxy:  # nothing listens on port 1
        reader, writer = await _open(proxy)
        with pytest.raises(ConnectionResetError):  # like the refused upstream connection
            await asyncio.wait_for(reader.read(), 5)
        writer.close()


async def test_close_ends_everything_in_bounded_time(echo: Echo) -> None:
    proxy = await FaultProxy(echo.port).start()
    conns = [await _open(proxy) for _ in range(5)]
    for conn in conns:
        assert await _ask(conn, b"hi") == b"echo:hi\n"
    await asyncio.wait_for(proxy.close(), 10)
    assert proxy.open_connections == 0
    for reader, _ in conns:
        assert await asyncio.wait_for(reader.read(), 5) == b""


def test_url_points_at_the_proxy() -> None:
    proxy = FaultProxy(6379, port=4242)
    assert proxy.url("redis://:pw@127.0.0.1:6379/0") == "redis://:pw@127.0.0.1:4242/0"
    assert (
        proxy.url("mysql+asyncmy://root@127.0.0.1:3306/test?x=1")
        == "mysql+asyncmy://root@127.0.0.1:4242/test?x=1"
    )
