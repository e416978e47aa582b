"""Case 7, typed calls: models through ``FFNClient`` against raw aiohttp returning dicts.

The same local server process as case 1 (see :mod:`benchmarks.server`) answers
``GET /api/v1/fulfiller/outbounds`` with the 100-outbound page and ``GET /api/v1/users/current``
with the tiny body. Compared, each reading and decoding every body:

* **raw aiohttp, ``resp.json()``**: one ``ClientSession``, bearer header, untyped dicts (what
  most integrations write by hand; aiohttp decodes with the stdlib ``json``);
* **ffn-async, typed**: ``ffn.fulfiller.outbounds.list()`` (a ``Page`` of ``Outbound`` models)
  and ``ffn.shared.users.current()`` (a ``User``), with a ``TokenManager`` over a
  ``MemoryTokenStore`` (the real auth path).

Pools are capped at 100 connections for both. Each cell runs ``concurrency`` request loops for
``duration`` seconds; the two stacks alternate, their order swapped every round, and the best
round is reported, with the client CPU µs per request (process CPU time / requests), which does
not depend on how busy the other core is.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import attrs

from .overhead import POOL, TOKEN, Measurement, environment, managed_client, measure
from .page import outbound_page, tiny_body
from .report import CaseResult, Table
from .server import OUTBOUNDS_PATH, USER_PATH, ApiServer, api_server

__all__ = ["FULL", "QUICK", "Params", "run"]

Get = Callable[[str], Awaitable[Any]]
RAW = "raw aiohttp, resp.json()"
TYPED = "ffn-async, typed models"


@attrs.frozen
class Params:
    """Sizes of one run."""

    cells: tuple[tuple[str, int], ...] = (("page", 1), ("page", 100), ("tiny", 1), ("tiny", 100))
    duration: float = 1.0
    rounds: int = 4
    warmup: int = 100


FULL = Params()
QUICK = Params(duration=0.25, rounds=2, warmup=20)


async def _stacks(server: ApiServer) -> tuple[dict[str, dict[str, Get]], list[Any]]:
    base = server.api_url
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=POOL))
    header = {"Authorization": f"Bearer {TOKEN}"}

    async def raw(path: str) -> Any:
        async with session.get(base + path, headers=header) as resp:
            if resp.status != 200:
                raise RuntimeError(f"raw aiohttp got {resp.status}")
            return await resp.json()

    ffn = await managed_client(environment(base))

    async def typed_page(path: str) -> Any:
        page = await ffn.fulfiller.outbounds.list()
        assert len(page.items) == 100
        return page

    def typed_user(path: str) -> Awaitable[Any]:  # the client's coroutine, no adapter frame
        return ffn.shared.users.current()

    stacks = {
        "page": {RAW: raw, TYPED: typed_page},
        "tiny": {RAW: raw, TYPED: typed_user},
    }
    return stacks, [session.close, ffn.aclose]


async def _run(params: Params, server: ApiServer) -> dict[str, Any]:
    stacks, closers = await _stacks(server)
    paths = {"page": OUTBOUNDS_PATH, "tiny": USER_PATH}
    results: dict[str, Any] = {}
    try:
        for body, clients in stacks.items():  # warm up: connections, compiled decoders
            for get in clients.values():
                await asyncio.gather(*(get(paths[body]) for _ in range(params.warmup)))
        for body, concurrency in params.cells:
            clients = stacks[body]
            names = list(clients)
            rounds: dict[str, list[Measurement]] = {n: [] for n in names}
            for r in range(params.rounds):
                for name in names if r % 2 == 0 else names[::-1]:
                    m = await measure(
                        clients[name], paths[body], concurrency, params.duration, server
                    )
                    rounds[name].append(m)
            results[f"{body}@{concurrency}"] = {
                "body": body,
                "concurrency": concurrency,
                "clients": {
                    name: {
                        "best_rps": round(max(m.rps for m in ms), 1),
                        "rounds_rps": [round(m.rps, 1) for m in ms],
                        "errors": sum(m.errors for m in ms),
                        "client_cpu_us_per_request": round(
                            min(m.cpu_us_per_request for m in ms), 1
                        ),
                    }
                    for name, ms in rounds.items()
                },
            }
    finally:
        for close in reversed(closers):
            await close()
    return results


def run(params: Params = FULL) -> CaseResult:
    """Start the server process, measure both stacks per cell, and summarise."""
    started = time.perf_counter()
    with api_server(TOKEN, tiny_body(), outbound_page()) as server:
        results = asyncio.run(_run(params, server))
    rows = []
    notes = [
        f"pool: {POOL} connections for both; {params.rounds} rounds of {params.duration:g} s per "
        "cell, order swapped every round; best round",
        "by CPU: raw aiohttp's client CPU µs per request ÷ ffn-async's (above 1: ffn-async "
        "spends less CPU per request)",
    ]
    targets = {"page": 1.0, "tiny": 0.9}
    for cell in results.values():
        raw, typed = cell["clients"][RAW], cell["clients"][TYPED]
        ratio = typed["best_rps"] / (raw["best_rps"] or 1)
        cpu_ratio = raw["client_cpu_us_per_request"] / (typed["client_cpu_us_per_request"] or 1)
        errors = raw["errors"] + typed["errors"]
        rows.append(
            (
                cell["body"],
                str(cell["concurrency"]),
                f"{raw['best_rps']:,.0f}",
                f"{typed['best_rps']:,.0f}",
                f"{ratio:.2f}x" + (f" ⚠{errors} errors" if errors else ""),
                f"{raw['client_cpu_us_per_request']:,.0f}",
                f"{typed['client_cpu_us_per_request']:,.0f}",
                f"{cpu_ratio:.2f}x",
            )
        )
        if cell["concurrency"] == 100:
            goal = targets[cell["body"]]
            verdict = "met" if ratio >= goal else "MISSED"
            notes.append(
                f"target ({cell['body']} @ 100: typed ≥ {goal}x raw aiohttp with resp.json()): "
                f"{verdict} — {ratio:.2f}x by requests/s, {cpu_ratio:.2f}x by client CPU"
            )
    return CaseResult(
        name="typed",
        title="7. Typed calls: ffn-async models vs raw aiohttp resp.json() dicts",
        tables=(
            Table(
                "Requests per second (best round) and client CPU µs per request (lowest round)",
                (
                    "body",
                    "concurrency",
                    "raw aiohttp req/s",
                    "ffn-async typed req/s",
                    "ratio",
                    "raw CPU µs",
                    "ffn-async CPU µs",
                    "ratio by CPU",
                ),
                tuple(rows),
            ),
        ),
        data={"params": attrs.asdict(params), "results": results},
        notes=tuple(notes),
        seconds=time.perf_counter() - started,
    )
