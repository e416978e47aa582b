"""The residual window of a refresh: from the fence's answer to the refresh token on the wire.

Before a refresh token is sent, :class:`~ffn_async.TokenManager` proves in the store that its
lease and its rotation mark are still its own (``Rotation._fence`` in
:mod:`ffn_async.auth.rotation`). A pause that falls
after that proof and before the request's bytes leave the socket cannot be seen by any client;
this measures how long that stretch is. For each rotation it takes the time the fence returned
and the time aiohttp handed the request body (which carries the refresh token) to the socket
(``TraceConfig.on_request_chunk_sent``), against the strict fake token endpoint on 127.0.0.1.

Cases: a kept-alive connection (the usual case after the first refresh) and a new connection
per refresh (``force_close``: the TCP connect falls inside the window); each on an idle event
loop and on one busy with 200 other coroutines (each a few µs of work per turn), which is
what a worker serving requests looks like. Run::

    python -m benchmarks.fence_window            # 200 rotations per case, ~10 s
    python -m benchmarks.fence_window --rotations 50

It prints a table and writes it to ``benchmarks/results/fence_window.md``. Timings on a
shared machine are noisy; the ratios between cases and the order of magnitude are the point.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from ffn_async import ClientCredentials, Environment, Token, TokenManager
from ffn_async.auth.rotation import Rotation
from ffn_async.testing.oauth import OAuthServer
from token_stores import Lease, MemoryTokenStore

_CREDS = ClientCredentials("bench-client", "bench-secret", "http://127.0.0.1/callback")


class _MarkTimes(MemoryTokenStore):
    """Records when each rotation's mark was written: before the fence existed, that write
    was the last store round trip before the spend (the connect came after it)."""

    marked: list[float]
    fenced: list[float]  # the manager's, shared: one mark per fence

    async def save(self, key: str, data: bytes, expected_version: int | None) -> int:
        version = await super().save(key, data, expected_version)
        if b'"rotating":{' in data and len(self.marked) <= len(self.fenced):
            self.marked.append(time.perf_counter())
        return version


class _TimedRotation(Rotation):
    """Records when each fence returned (the last store round trip before the spend)."""

    fenced: list[float]

    async def _fence(self, lease: Lease | None, mark: Any) -> None:
        await super()._fence(lease, mark)
        self.fenced.append(time.perf_counter())


class _Timed(TokenManager):
    """A manager whose rotation records its fences (in :attr:`fenced`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._rotation = _TimedRotation(self, self._record, self._http, self._hooks)

    @property
    def fenced(self) -> list[float]:
        assert isinstance(self._rotation, _TimedRotation)
        return self._rotation.fenced

    @fenced.setter
    def fenced(self, times: list[float]) -> None:
        assert isinstance(self._rotation, _TimedRotation)
        self._rotation.fenced = times


async def _busy(stop: asyncio.Event) -> None:
    while not stop.is_set():
        sum(range(50))  # a few µs of work per turn, like a handler
        await asyncio.sleep(0)


async def measure(
    rotations: int, *, keep_alive: bool, busy: int
) -> tuple[list[float], list[float]]:
    """Microseconds to the token request's body on the socket from each fence's return, and
    from each rotation's mark write (the window without a fence after the connect)."""
    oauth = OAuthServer(
        client_id=_CREDS.client_id,
        client_secret=_CREDS.client_secret,
        redirect_uri=_CREDS.redirect_uri,
    )
    app = web.Application()
    app.add_routes(oauth.routes())
    sent: list[float] = []

    async def on_chunk(_s: aiohttp.ClientSession, _c: SimpleNamespace, _p: Any) -> None:
        if len(sent) < len(auth.fenced):  # the first chunk after a fence: the form body
            sent.append(time.perf_counter())

    trace = aiohttp.TraceConfig()
    trace.on_request_chunk_sent.append(on_chunk)
    stop = asyncio.Event()
    async with TestServer(app, host="127.0.0.1") as server:
        env = Environment(
            api_url=str(server.make_url("/api")),
            authorize_url=str(server.make_url("/authorize")),
            token_url=str(server.make_url("/token")),
            name="bench",
        )
        connector = aiohttp.TCPConnector(force_close=not keep_alive)
        async with aiohttp.ClientSession(connector=connector, trace_configs=[trace]) as session:
            store = _MarkTimes()
            auth = _Timed(_CREDS, store, key="acct", environment=env, session=session)
            auth.fenced = store.fenced = []
            store.marked = []
            await auth.store_token(Token.from_response(oauth.issue_tokens()))
            workers = [asyncio.ensure_future(_busy(stop)) for _ in range(busy)]
            try:
                for _ in range(rotations):
                    await auth.refresh()
            finally:
                stop.set()
                await asyncio.gather(*workers)
    assert oauth.stats.reuse_attempts == 0
    fenced = [(s - f) * 1e6 for f, s in zip(auth.fenced, sent, strict=True)]
    marked = [(s - m) * 1e6 for m, s in zip(store.marked, sent, strict=True)]
    return fenced, marked


def _figures(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"{statistics.median(samples):.0f} | {p99:.0f} | {max(samples):.0f}"


async def run(rotations: int) -> str:
    lines = [
        "| case | rotations | fence→wire median µs | p99 | max | mark→wire median µs | p99 | max |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for keep_alive in (True, False):
        for busy in (0, 200):
            fenced, marked = await measure(rotations, keep_alive=keep_alive, busy=busy)
            connection = "kept-alive connection" if keep_alive else "new connection"
            loop = "idle loop" if not busy else f"{busy} busy coroutines"
            lines.append(
                f"| {connection}, {loop} | {len(fenced)} | {_figures(fenced)} | "
                f"{_figures(marked)} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rotations", type=int, default=200)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    table = asyncio.run(run(args.rotations))
    command = f"python -m benchmarks.fence_window --rotations {args.rotations}"
    text = f"# Residual window of a refresh (fence answer → body on the socket)\n\n`{command}`\n\n"
    text += table + "\n"
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "fence_window.md").write_text(text)


if __name__ == "__main__":
    main()
