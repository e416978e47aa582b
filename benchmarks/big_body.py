"""Peak memory of a client that receives a huge answer (issue 11, defect 8).

A server process streams ``size_mib`` MiB (chunked, so the client cannot know the size up
front) as a 200 JSON answer and as a 500 error answer. A fresh spawned client process makes
each request and reports its peak resident set size (``VmHWM``) growth: with the default
``max_response_size`` the answer is cut at the limit (``ResponseTooLarge``) and an error keeps
only ``ERROR_BODY_KEEP`` bytes; with the limit raised above the body size the whole answer is
read, as every answer was before the limit existed.

    python -m benchmarks.big_body               # 400 MiB, about 10 s
    python -m benchmarks.big_body --size 100
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

__all__ = ["main", "run"]

_CHUNK = b"x" * (1024 * 1024)


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def _serve(port: int, size_mib: int, seconds: float) -> None:
    from aiohttp import web

    async def stream(request: web.Request) -> web.StreamResponse:
        status = 500 if request.path.endswith("/error") else 200
        resp = web.StreamResponse(status=status, headers={"Content-Type": "application/json"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        try:
            await resp.write(b'{"items": ["')
            for _ in range(size_mib):
                await resp.write(_CHUNK)
            await resp.write(b'"]}')
        except ConnectionError:
            pass  # the client stopped reading: expected with a limit
        return resp

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/api/{tail:.*}", stream)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        await asyncio.sleep(seconds)
        await runner.cleanup()

    asyncio.run(main())


def _client(api_url: str, path: str, limit: int | None) -> dict[str, Any]:
    from ffn_async import Environment, FFNClient, StaticToken
    from ffn_async.errors import FFNError
    from ffn_async.retry import NO_RETRY

    env = Environment(api_url=api_url, authorize_url=api_url, token_url=api_url)

    async def main() -> dict[str, Any]:
        options = {} if limit is None else {"max_response_size": limit}
        async with FFNClient(StaticToken("t"), environment=env, retry=NO_RETRY, **options) as ffn:
            before = _status_kib("VmHWM")
            started = time.perf_counter()
            outcome = "ok"
            kept = 0
            try:
                await ffn.request_raw("GET", path)
            except FFNError as exc:
                outcome = type(exc).__name__
                kept = len(getattr(exc, "body", b"") or b"")
            return {
                "outcome": outcome,
                "body_kept_bytes": kept,
                "peak_growth_mib": round((_status_kib("VmHWM") - before) / 1024, 1),
                "seconds": round(time.perf_counter() - started, 2),
            }

    return asyncio.run(main())


def run(size_mib: int = 400) -> list[dict[str, Any]]:
    """One row per (path, limit): the outcome and the client's peak RSS growth."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctx = get_context("spawn")
    api_url = f"http://127.0.0.1:{port}/api"
    raised = (size_mib + 10) * 1024 * 1024
    cases = [
        ("/answer", None, "200, default limit"),
        ("/answer", raised, "200, limit above the body (reads it all, as before)"),
        ("/error", None, "500 error answer"),
    ]
    rows = []
    server = ctx.Process(target=_serve, args=(port, size_mib, 600), daemon=True)
    server.start()
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        for path, limit, label in cases:
            # A fresh process per case: VmHWM is a high-water mark.
            with ProcessPoolExecutor(1, mp_context=ctx) as pool:
                row = pool.submit(_client, api_url, path, limit).result()
            rows.append({"case": label, "body_mib": size_mib, **row})
    finally:
        server.terminate()
        server.join(10)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=400, help="body size in MiB")
    args = parser.parse_args()
    for row in run(args.size):
        print(row)


if __name__ == "__main__":
    main()
