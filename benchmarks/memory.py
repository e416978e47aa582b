"""Case 5, memory: does the process grow with the number of requests made?

A fresh spawned process sends GETs through one ``FFNClient`` (TokenManager over a
MemoryTokenStore, 100 at a time, tiny body) to the local server process and reads its resident
set size (``VmRSS`` from ``/proc/self/status``, after ``gc.collect()``) once ``small`` requests
are done and again after ``large`` in total. Caches that grow per request, leaked responses or
tasks would show as a delta well above allocator noise (a few hundred KiB).
"""

from __future__ import annotations

import asyncio
import gc
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import attrs

from .overhead import TOKEN, environment, managed_client
from .page import tiny_body
from .report import CaseResult, Table
from .server import TINY_PATH, api_server

__all__ = ["FULL", "QUICK", "Params", "rss_kib", "run"]


@attrs.frozen
class Params:
    """Sizes of one run."""

    small: int = 10_000
    large: int = 100_000
    concurrency: int = 100


FULL = Params()
QUICK = Params(small=2_000, large=20_000)


def rss_kib() -> int:
    """This process's resident set size in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def _child(api_url: str, params: Params) -> dict[str, Any]:
    async def main() -> dict[str, Any]:
        ffn = await managed_client(environment(api_url))
        failures = 0

        async def send(count: int) -> None:
            nonlocal failures
            remaining = count

            async def loop() -> None:
                nonlocal remaining, failures
                while remaining > 0:
                    remaining -= 1
                    try:
                        await ffn.request("GET", TINY_PATH)
                    except Exception:
                        failures += 1

            await asyncio.gather(*(loop() for _ in range(params.concurrency)))

        def snapshot() -> int:
            gc.collect()
            return rss_kib()

        try:
            start = snapshot()
            await send(params.small)
            after_small = snapshot()
            began = time.perf_counter()
            await send(params.large - params.small)
            seconds = time.perf_counter() - began
            after_large = snapshot()
        finally:
            await ffn.aclose()
        return {
            "rss_start_kib": start,
            f"rss_after_{params.small}_kib": after_small,
            f"rss_after_{params.large}_kib": after_large,
            "delta_kib": after_large - after_small,
            "failures": failures,
            "rps_second_leg": round((params.large - params.small) / seconds, 1),
        }

    return asyncio.run(main())


def run(params: Params = FULL) -> CaseResult:
    """Measure RSS in a fresh process after ``small`` and after ``large`` requests."""
    started = time.perf_counter()
    with (
        api_server(TOKEN, tiny_body(), b"[]") as server,
        ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool,
    ):
        data = pool.submit(_child, server.api_url, params).result()
    small = data[f"rss_after_{params.small}_kib"]
    large = data[f"rss_after_{params.large}_kib"]
    delta = data["delta_kib"]
    per_request = delta * 1024 / (params.large - params.small)
    return CaseResult(
        name="memory",
        title="5. Memory: RSS after many requests through one FFNClient",
        tables=(
            Table(
                "Resident set size of the client process",
                ("requests done", "RSS (MiB)"),
                (
                    ("0 (client open)", f"{data['rss_start_kib'] / 1024:.1f}"),
                    (f"{params.small:,}", f"{small / 1024:.1f}"),
                    (f"{params.large:,}", f"{large / 1024:.1f}"),
                    ("delta", f"{delta / 1024:+.2f} ({per_request:+.2f} bytes per request)"),
                ),
            ),
        ),
        data={"params": attrs.asdict(params), "results": data},
        notes=(
            f"{data['failures']} failed requests; {data['rps_second_leg']:,.0f} req/s in the "
            "second leg",
        ),
        seconds=time.perf_counter() - started,
    )
