"""Case 3, refresh storm: many coroutines, and then many processes, hit one expired token.

The strict OAuth server and an API route that accepts only live access tokens run in this
process (``tests/fleet.py``'s ``strict_server``: single-use refresh tokens, the family revoked
on reuse). The account's token is stored already expired. Worker processes (spawned; each its
own store client, ``TokenManager`` and ``FFNClient``) get ready, wait for one start signal, then
fire ``coroutines`` requests at once: every one of them finds the token due. Reported: the time
from the start signal until the last request of the last process completed, token-endpoint
calls (must be 1), refresh-token reuse attempts (must be 0) and failed requests (must be 0).

Stores come from ``benchmarks/stores.py`` (same URLs, unique table and key prefix per run,
cleaned up afterwards); ``memory`` is measured in one process only, since it is not shared.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import secrets
import tempfile
import time
from pathlib import Path
from typing import Any

import attrs

from ffn_async import Environment, FFNClient, Token, TokenManager

from . import stores
from .report import CaseResult, Table

__all__ = ["FULL", "QUICK", "Params", "run"]


@attrs.frozen
class Params:
    """Sizes of one run."""

    coroutines: int = 1000  # per process
    processes: tuple[int, ...] = (1, 8)
    stores: tuple[str, ...] = ("memory", "file", "redis", "postgres", "mysql", "sqlite")


FULL = Params()
QUICK = Params(coroutines=200, processes=(2,))


def _worker(
    spec: stores.Spec,
    key: str,
    env: Environment,
    coroutines: int,
    seed: dict[str, Any] | None,
    ready: Any,
    go: Any,
    out: Any,
) -> None:
    """One storm process: set up, report ready, wait for the signal, fire, report."""
    from tests.fleet import CREDS

    async def main() -> dict[str, Any]:
        store = await stores.build(spec)
        manager = TokenManager(
            CREDS, store, key=key, environment=env, request_timeout=5.0, lock_ttl=10.0
        )
        if seed is not None:  # a memory store lives in this process only
            await manager.store_token(Token.from_dict(seed))
        try:
            async with FFNClient(manager) as ffn:
                ready.put(os.getpid())
                go.wait(60)
                began = time.time()
                outcomes = await asyncio.gather(
                    *(ffn.request("GET", "/v1/users/current") for _ in range(coroutines)),
                    return_exceptions=True,
                )
                ended = time.time()
        finally:
            await store.close()
        errors = [f"{type(o).__name__}: {o}" for o in outcomes if isinstance(o, BaseException)]
        return {"began": began, "ended": ended, "failures": len(errors), "errors": errors[:3]}

    try:
        out.put(asyncio.run(main()))
    except BaseException as exc:
        out.put({"crashed": f"{type(exc).__name__}: {exc}"})
        ready.put(os.getpid())  # do not leave the parent waiting
        raise


async def _wait_get(queue: Any, timeout: float) -> Any:
    return await asyncio.get_running_loop().run_in_executor(None, queue.get, True, timeout)


async def storm(spec: stores.Spec, *, processes: int, coroutines: int) -> dict[str, Any]:
    """Run one storm on the store ``spec`` names; return the figures."""
    from tests.fleet import CREDS, strict_server

    shared = not spec[0].startswith("memory:")
    key = f"storm-{secrets.token_hex(4)}"
    async with strict_server(token_lifetime=1800.0) as (oauth, env):
        # Issued two hours ago: expired for the client, its refresh token still live.
        expired = Token.from_response(oauth.issue_tokens(), now=time.time() - 7200)
        if shared:
            store = await stores.build(spec)
            try:
                await TokenManager(CREDS, store, key=key, environment=env).store_token(expired)
            finally:
                await store.close()
        ctx = multiprocessing.get_context("spawn")
        ready, out, go = ctx.Queue(), ctx.Queue(), ctx.Event()
        seed = None if shared else expired.to_dict()
        workers = [
            ctx.Process(
                target=_worker,
                args=(spec, key, env, coroutines, seed, ready, go, out),
                daemon=True,
            )
            for _ in range(processes)
        ]
        for w in workers:
            w.start()
        try:
            for _ in workers:
                await _wait_get(ready, 120)
            oauth.stats.reset()  # count only what the storm does
            started = time.time()
            go.set()
            results = [await _wait_get(out, 120) for _ in workers]
        finally:
            for w in workers:
                await asyncio.get_running_loop().run_in_executor(None, w.join, 30)
                if w.is_alive():
                    w.terminate()
        crashed = [r["crashed"] for r in results if "crashed" in r]
        if crashed:
            raise RuntimeError(f"a storm worker crashed: {crashed[0]}")
        stats = oauth.stats
        return {
            "processes": processes,
            "coroutines": processes * coroutines,
            "seconds": round(max(r["ended"] for r in results) - started, 4),
            "slowest_process_s": round(max(r["ended"] - r["began"] for r in results), 4),
            "token_requests": stats.token_requests,
            "reuse_attempts": stats.reuse_attempts,
            "failures": sum(r["failures"] for r in results),
            "errors": [e for r in results for e in r["errors"]][:3],
            "api_requests_ok": processes * coroutines - sum(r["failures"] for r in results),
        }


async def _run(params: Params) -> tuple[dict[str, Any], dict[str, str]]:
    results: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        available = stores.specs(Path(tmp))
        chosen = {name: available[name] for name in params.stores}
        try:
            for name, spec in chosen.items():
                if not stores.reachable(spec[0]):
                    skipped[name] = "server unreachable"
                    continue
                counts = (1,) if name == "memory" else params.processes
                for n in counts:
                    results[f"{name}@{n}"] = {
                        "store": name,
                        **await storm(spec, processes=n, coroutines=params.coroutines),
                    }
        finally:
            await stores.cleanup({n: s for n, s in chosen.items() if n not in skipped})
    return results, skipped


def run(params: Params = FULL) -> CaseResult:
    """Storm every reachable store and summarise."""
    started = time.perf_counter()
    results, skipped = asyncio.run(_run(params))
    rows = tuple(
        (
            r["store"],
            str(r["processes"]),
            f"{r['coroutines']:,}",
            f"{r['seconds'] * 1000:,.0f}",
            str(r["token_requests"]),
            str(r["reuse_attempts"]),
            str(r["failures"]),
        )
        for r in results.values()
    )
    ok = all(
        r["token_requests"] == 1 and not r["failures"] and not r["reuse_attempts"]
        for r in results.values()
    )
    notes = [
        "time: from the start signal until the last request of the last process completed "
        "(includes the single refresh and every request against the in-process server)",
        "every storm: exactly 1 token-endpoint call, 0 reuse, 0 failures: "
        + ("yes" if ok else "NO"),
    ]
    notes += [f"{name}: skipped ({why})" for name, why in skipped.items()]
    return CaseResult(
        name="storm",
        title="3. Refresh storm: an expired token hit by every coroutine at once",
        tables=(
            Table(
                "Refresh storm",
                (
                    "store",
                    "processes",
                    "requests",
                    "ms until all done",
                    "token calls",
                    "reuse",
                    "failures",
                ),
                rows,
            ),
        ),
        data={"params": attrs.asdict(params), "results": results, "skipped": skipped, "all_ok": ok},
        notes=tuple(notes),
        seconds=time.perf_counter() - started,
    )
