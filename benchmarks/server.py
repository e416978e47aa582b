"""The local API server of the request cases, in its own process so it does not share a core.

Routes answering only ``Authorization: Bearer <token>`` with the expected token:
``GET /api/v1/bench/tiny`` (a tiny JSON body) and ``GET /api/v1/bench/page`` (the 100-outbound
page), and the same bodies where the typed calls find them: ``GET /api/v1/users/current`` and
``GET /api/v1/fulfiller/outbounds``. Bodies are prebuilt bytes so the server does as little as
possible per request.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection, wait
from pathlib import Path

import attrs
from aiohttp import web

__all__ = ["ApiServer", "api_server"]

TINY_PATH = "/v1/bench/tiny"
PAGE_PATH = "/v1/bench/page"
USER_PATH = "/v1/users/current"  # the tiny body, for ffn.shared.users.current()
OUTBOUNDS_PATH = "/v1/fulfiller/outbounds"  # the page, for ffn.fulfiller.outbounds.list()


def _serve(conn: Connection, token: str, tiny: bytes, page: bytes, cpu: int | None) -> None:
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    expected = f"Bearer {token}"

    def route(body: bytes) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handler(request: web.Request) -> web.Response:
            if request.headers.get("Authorization") != expected:
                return web.Response(status=401)
            return web.Response(body=body, content_type="application/json")

        return handler

    app = web.Application()
    app.router.add_get("/api" + TINY_PATH, route(tiny))
    app.router.add_get("/api" + PAGE_PATH, route(page))
    app.router.add_get("/api" + USER_PATH, route(tiny))
    app.router.add_get("/api" + OUTBOUNDS_PATH, route(page))

    async def main() -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=2048)
        await site.start()
        conn.send(runner.addresses[0][1])
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)  # wait for "stop"
        await runner.cleanup()

    asyncio.run(main())


@attrs.frozen
class ApiServer:
    """A running server: its base URL and process id (for CPU accounting)."""

    api_url: str
    pid: int

    def cpu_seconds(self) -> float:
        """User + system CPU time the server process has used so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def api_server(
    token: str, tiny: bytes, page: bytes, *, cpu: int | None = None
) -> Iterator[ApiServer]:
    """Start the server in a spawned process on a free loopback port; stop it on exit.

    ``cpu``: pin the server process to this CPU (``os.sched_setaffinity``).
    """
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    process = ctx.Process(target=_serve, args=(child, token, tiny, page, cpu), daemon=True)
    process.start()
    try:
        ready = wait([parent, process.sentinel], timeout=30)
        if parent not in ready:
            raise RuntimeError("the benchmark API server did not start (see its traceback above)")
        port = parent.recv()
        assert process.pid is not None
        yield ApiServer(f"http://127.0.0.1:{port}/api", process.pid)
    finally:
        if process.is_alive():
            parent.send("stop")
            process.join(5)
        if process.is_alive():
            process.terminate()
            process.join(5)
