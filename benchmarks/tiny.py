"""Case 8, the tiny request: ffn-async against raw aiohttp, measured so that a few µs show.

A tiny authenticated GET costs raw aiohttp ~50-60 µs of client CPU; ffn-async adds a few. On a
shared 2-core machine, one run of cases 1 and 7 (1 s per stack, best of 3-4 rounds) swings more
than that from run to run, so this case is built to resist the noise:

* **Pinned cores.** The server process runs on one CPU, the client process on the other
  (``os.sched_setaffinity``), so the two never compete for a core nor migrate mid-burst.
* **Paired short bursts.** One *round* measures raw aiohttp and the ffn-async stacks back to
  back, ``burst`` seconds each, in an order that rotates every round; each round gives its own
  ratios (ffn-async's requests/s ÷ raw aiohttp's, and raw aiohttp's client CPU µs per request
  ÷ ffn-async's), so a disturbance that slows the whole machine for a second moves both sides
  of the ratio and cancels out.
* **Median of the per-round ratios**, with the interquartile range; with ``rounds`` rounds, a
  few disturbed rounds move the median little.

Compared, against the same route of the server of case 1 (``GET /api/v1/users/current``, the
50-byte body, bearer token checked):

* **raw aiohttp**: ``session.get`` + ``resp.read()`` + ``orjson.loads`` on one ``ClientSession``
  (``TCPConnector(limit=100)``, the same pool as ``FFNClient``'s default);
* **ffn-async, untyped**: ``FFNClient.request("GET", ...)`` (a dict);
* **ffn-async, typed**: ``ffn.shared.users.current()`` (a ``User`` model);

both ffn-async stacks with a ``TokenManager`` over a ``MemoryTokenStore`` (the real auth path).

``python -m benchmarks.tiny --runs 5`` repeats the whole case and prints how far the reported
ratio moves from run to run (the evidence that the method is stable); ``--no-pin`` leaves the
scheduler free to place both processes.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import math
import os
import resource
import statistics
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import aiohttp
import attrs

from .overhead import POOL, TOKEN, environment, managed_client, raw_get, request_loops
from .page import tiny_body
from .report import CaseResult, Table, load_average
from .server import USER_PATH, ApiServer, api_server

__all__ = ["FULL", "QUICK", "Params", "run", "spread"]

Get = Callable[[str], Awaitable[Any]]
RAW = "raw aiohttp"
UNTYPED = "ffn-async request()"
TYPED = "ffn-async users.current()"
TARGET = 0.9


@attrs.frozen
class Params:
    """Sizes of one run."""

    concurrencies: tuple[int, ...] = (1, 100, 1000)
    rounds: int = 80  # paired rounds per concurrency
    burst: float = 0.1  # seconds per stack per round
    warmup: int = 300  # requests per stack before measuring
    pin: bool = True  # server on one CPU, client on another


FULL = Params()
QUICK = Params(concurrencies=(1, 100), rounds=6, burst=0.05, warmup=50)


def spread(values: Sequence[float]) -> dict[str, float]:
    """Median, quartiles, min and max of ``values``."""
    ordered = sorted(values)
    if len(ordered) >= 2:
        q1, _, q3 = statistics.quantiles(ordered, n=4, method="inclusive")
    else:
        q1 = q3 = ordered[0]
    return {
        "median": statistics.median(ordered),
        "q1": q1,
        "q3": q3,
        "min": ordered[0],
        "max": ordered[-1],
    }


@contextmanager
def _pinned(cpu: int | None) -> Iterator[None]:
    """This process on ``cpu`` only, for the duration (``None``: left as it is)."""
    if cpu is None:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def _cpus(pin: bool) -> tuple[int | None, int | None]:
    """(client CPU, server CPU): two distinct CPUs this process may use, else no pinning."""
    allowed = sorted(os.sched_getaffinity(0))
    if not pin or len(allowed) < 2:
        return None, None
    return allowed[0], allowed[1]


async def _stacks(server: ApiServer) -> tuple[dict[str, Get], list[Callable[[], Awaitable[Any]]]]:
    base = server.api_url
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=POOL))
    raw = raw_get(session, base)
    ffn = await managed_client(environment(base))

    # The clients' own coroutines, awaited by the request loop as a caller's code awaits them:
    # no adapter frame of ours on their await chain (raw aiohttp's ``raw`` is the caller's code).
    def untyped(path: str) -> Awaitable[Any]:
        return ffn.request("GET", path)

    def typed(path: str) -> Awaitable[Any]:
        return ffn.shared.users.current()

    return {RAW: raw, UNTYPED: untyped, TYPED: typed}, [session.close, ffn.aclose]


@attrs.frozen
class Burst:
    """One stack's share of a round: requests done, wall seconds, client CPU seconds."""

    requests: int
    seconds: float
    errors: int
    cpu: float  # client process CPU (``time.process_time``: user + kernel, exact)
    user: float  # its user-mode part (``getrusage``, split by 4 ms tick samples: rough)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def us(self, seconds: float) -> float:
        return seconds / self.requests * 1e6 if self.requests else float("inf")


async def burst(get: Get, path: str, concurrency: int, duration: float) -> Burst:
    """``concurrency`` request loops for ``duration`` seconds; what completed and its cost."""
    user0, cpu0 = resource.getrusage(resource.RUSAGE_SELF).ru_utime, time.process_time()
    start = time.perf_counter()
    done, errors = await request_loops(get, path, concurrency, start + duration)
    elapsed = time.perf_counter() - start
    cpu, user = time.process_time() - cpu0, resource.getrusage(resource.RUSAGE_SELF).ru_utime
    return Burst(done, elapsed, errors, cpu, user - user0)


def _ratios(rounds: list[dict[str, Burst]], name: str) -> dict[str, Any]:
    def rounded(values: list[float]) -> dict[str, float]:
        return {k: round(v, 3) for k, v in spread(values).items()}

    rps = [r[name].rps / r[RAW].rps for r in rounds]
    cpu = [r[RAW].us(r[RAW].cpu) / r[name].us(r[name].cpu) for r in rounds]
    # getrusage counts user time in 4 ms ticks: a short round on a loaded machine can show 0,
    # which measures nothing (and would divide by zero); such rounds are left out.
    user = [
        r[RAW].us(r[RAW].user) / r[name].us(r[name].user)
        for r in rounds
        if r[RAW].user > 0 and r[name].user > 0
    ] or [math.nan]
    return {
        "rps_ratio": rounded(rps),
        "cpu_ratio": rounded(cpu),
        "user_cpu_ratio": rounded(user),
        "rounds_rps_ratio": [round(v, 3) for v in rps],
        "rounds_user_cpu_ratio": [round(v, 3) for v in user],
    }


def _burst_and_rounds(params: Params, concurrency: int) -> tuple[float, int]:
    """Above 200 loops a burst grows (each loop must finish several requests in it, or the
    ramp-up and the last stragglers are the measurement) and the rounds shrink to match."""
    if concurrency <= 200:
        return params.burst, params.rounds
    scale = concurrency / 200
    return params.burst * scale, max(3, round(params.rounds * 2 / scale))


async def _run(params: Params, server: ApiServer) -> dict[str, Any]:
    stacks, closers = await _stacks(server)
    names = list(stacks)
    results: dict[str, Any] = {}
    try:
        for get in stacks.values():  # warm up: connections, caches, compiled decoders
            await asyncio.gather(*(get(USER_PATH) for _ in range(params.warmup)))
        for concurrency in params.concurrencies:
            seconds, count = _burst_and_rounds(params, concurrency)
            rounds: list[dict[str, Burst]] = []
            for r in range(count):
                gc.collect()  # not inside a burst, and the same for every round
                shift = r % len(names)
                order = names[shift:] + names[:shift]
                if (r // len(names)) % 2:
                    order.reverse()
                rounds.append(
                    {
                        name: await burst(stacks[name], USER_PATH, concurrency, seconds)
                        for name in order
                    }
                )
            errors = sum(m.errors for r in rounds for m in r.values())
            results[str(concurrency)] = {
                "concurrency": concurrency,
                "errors": errors,
                "median_rps": {
                    n: round(statistics.median(r[n].rps for r in rounds), 1) for n in names
                },
                "median_user_us": {
                    n: round(statistics.median(r[n].us(r[n].user) for r in rounds), 2)
                    for n in names
                },
                "median_cpu_us": {
                    n: round(statistics.median(r[n].us(r[n].cpu) for r in rounds), 2) for n in names
                },
                "vs_raw": {n: _ratios(rounds, n) for n in names if n != RAW},
            }
    finally:
        for close in reversed(closers):
            await close()
    return results


def measure_all(params: Params) -> dict[str, Any]:
    """One run of the case: its results and where the processes ran."""
    client_cpu, server_cpu = _cpus(params.pin)
    with api_server(TOKEN, tiny_body(), b"[]", cpu=server_cpu) as server, _pinned(client_cpu):
        cpu0 = server.cpu_seconds()
        began = time.perf_counter()
        results = asyncio.run(_run(params, server))
        server_share = (server.cpu_seconds() - cpu0) / (time.perf_counter() - began)
    return {
        "results": results,
        "client_cpu": client_cpu,
        "server_cpu": server_cpu,
        "server_core_share": round(server_share, 2),
    }


def _cell(s: dict[str, float]) -> str:
    return f"{s['median']:.3f}x ({s['q1']:.3f}-{s['q3']:.3f})"


def run(params: Params = FULL) -> CaseResult:
    """Start the pinned server, measure the paired rounds, and summarise."""
    started = time.perf_counter()
    load_before = load_average()
    measured = measure_all(params)
    results = measured["results"]
    rows = []
    notes = []
    for cell in results.values():
        c = cell["concurrency"]
        for name, ratio in cell["vs_raw"].items():
            rows.append(
                (
                    str(c),
                    name,
                    f"{cell['median_rps'][RAW]:,.0f} / {cell['median_rps'][name]:,.0f}",
                    _cell(ratio["rps_ratio"]),
                    f"{cell['median_cpu_us'][RAW]:.1f} / {cell['median_cpu_us'][name]:.1f}",
                    _cell(ratio["cpu_ratio"]),
                )
            )
            if c == 100:
                r = ratio["rps_ratio"]["median"]
                notes.append(
                    f"target (tiny @ 100, {name} ≥ {TARGET}x raw aiohttp): "
                    f"{'met' if r >= TARGET else 'MISSED'} — {r:.3f}x by requests/s, "
                    f"{ratio['cpu_ratio']['median']:.3f}x by client CPU"
                )
        if cell["errors"]:
            notes.append(f"⚠ {cell['errors']} failed requests at concurrency {c}")
    pinned = measured["client_cpu"] is not None
    notes[:0] = [
        "rounds (seconds per burst) by concurrency: "
        + ", ".join(
            f"{c}: {n} ({b:g} s)"
            for c in params.concurrencies
            for b, n in [_burst_and_rounds(params, c)]
        )
        + "; each round runs every stack once, back to back, order rotated (and reversed "
        "every other cycle); ratio per round, median and interquartile range over the rounds",
        (
            f"client pinned to CPU {measured['client_cpu']}, server to CPU {measured['server_cpu']}"
            if pinned
            else "not pinned: the scheduler placed client and server"
        )
        + f"; the server used {measured['server_core_share']:.0%} of a core over the run",
        "CPU ratio: raw aiohttp's client CPU µs per request ÷ the stack's (process CPU time "
        "of the client; above 1: less CPU than raw)",
        f"load average before: {load_before}, after: {load_average()}",
    ]
    return CaseResult(
        name="tiny",
        title="8. The tiny request, paired: ffn-async vs raw aiohttp on pinned cores",
        tables=(
            Table(
                "Tiny authenticated GET: median of per-round ratios to raw aiohttp (interquartile "
                "range)",
                (
                    "concurrency",
                    "stack",
                    "req/s raw / stack (median)",
                    "req/s ratio",
                    "client CPU µs raw / stack (median)",
                    "CPU ratio",
                ),
                tuple(rows),
            ),
        ),
        data={"params": attrs.asdict(params), **measured},
        notes=tuple(notes),
        seconds=time.perf_counter() - started,
    )


def _old_method(concurrency: int) -> dict[str, float]:
    """The tiny cells of cases 1 and 7 as they measure them (1 s per stack, best round)."""
    from . import overhead, typed

    old = overhead.run(
        overhead.Params(concurrencies=(concurrency,), bodies=("tiny",), warmup=FULL.warmup)
    ).data["results"][f"tiny@{concurrency}"]["clients"]
    raw, ffn = old["raw aiohttp"], old["ffn-async (TokenManager)"]
    cell = typed.run(typed.Params(cells=(("tiny", concurrency),))).data["results"]
    t = cell[f"tiny@{concurrency}"]["clients"]
    t_raw, t_ffn = t[typed.RAW], t[typed.TYPED]
    return {
        f"old case 1 {UNTYPED} rps_ratio": ffn["best_rps"] / raw["best_rps"],
        f"old case 1 {UNTYPED} cpu_ratio": (
            raw["client_cpu_us_per_request"] / ffn["client_cpu_us_per_request"]
        ),
        f"old case 7 {TYPED} rps_ratio": t_ffn["best_rps"] / t_raw["best_rps"],
        f"old case 7 {TYPED} cpu_ratio": (
            t_raw["client_cpu_us_per_request"] / t_ffn["client_cpu_us_per_request"]
        ),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.tiny",
        description="Repeat case 8 and show how far its ratios move from run to run.",
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=FULL.rounds)
    parser.add_argument("--burst", type=float, default=FULL.burst)
    parser.add_argument(
        "--concurrency", type=int, action="append", help="repeatable (default: 1, 100, 1000)"
    )
    parser.add_argument("--no-pin", action="store_true", help="do not pin client and server")
    parser.add_argument(
        "--versus-old",
        action="store_true",
        help="before each run, measure the tiny cells of cases 1 and 7 the way they do (at the "
        "first --concurrency), so both methods' spreads come from the same minutes",
    )
    args = parser.parse_args(argv)
    params = Params(
        concurrencies=tuple(args.concurrency or FULL.concurrencies),
        rounds=args.rounds,
        burst=args.burst,
        pin=not args.no_pin,
    )
    per_run: dict[str, list[float]] = {}
    for i in range(args.runs):
        line = []
        if args.versus_old:
            for key, value in _old_method(params.concurrencies[0]).items():
                per_run.setdefault(key, []).append(value)
                line.append(f"{key} {value:.3f}x")
        results = measure_all(params)["results"]
        for cell in results.values():
            for name, ratio in cell["vs_raw"].items():
                for kind in ("rps_ratio", "cpu_ratio", "user_cpu_ratio"):
                    key = f"c={cell['concurrency']} {name} {kind}"
                    per_run.setdefault(key, []).append(ratio[kind]["median"])
                    line.append(f"{key} {ratio[kind]['median']:.3f}x")
        print(f"run {i + 1} [load {load_average()}]: " + "; ".join(line), flush=True)
    print("\nacross runs (one reported ratio per run): min / median / max, range")
    for key, values in per_run.items():
        s = spread(values)
        print(
            f"  {key:<50} {s['min']:.3f} / {s['median']:.3f} / {s['max']:.3f}  "
            f"range {s['max'] - s['min']:.3f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
