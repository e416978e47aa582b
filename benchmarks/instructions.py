"""Case 9, the tiny request in instructions: callgrind counts what each stack executes.

Case 8 measures time, and time on a shared VM moves by a few percent between sittings, about
the size of what ffn-async adds to a tiny request. An instruction count does not: callgrind
(valgrind) counts the instructions the client process executes, whatever else the machine
does, so a change of one or two thousand instructions per request (under 1%) shows, and
shows the same tomorrow. Instructions are not time (cache misses and branches are not
counted), so this case says *how much work* each stack does, case 8 what it costs.

How: the API server of case 1 runs natively in its own process; the client runs under
``valgrind --tool=callgrind`` with ``PYTHONHASHSEED=0``. It warms every stack up, then for each
stack zeroes the counters, sends ``requests`` tiny authenticated GETs (``GET
/api/v1/users/current``, ``concurrency`` loops) and dumps the counters
(``callgrind_control``). An empty phase (zero, dump) measures what the two control calls
themselves cost, which is taken off every phase. Stacks as in case 8: raw aiohttp
(``session.get`` + ``resp.read()`` + ``orjson.loads``), ``FFNClient.request("GET", ...)``,
``ffn.shared.users.current()``, both ffn-async stacks on a ``TokenManager``.

``python -m benchmarks --case instructions`` (about two minutes; valgrind slows the client
about 50 times). Without valgrind on the machine, the case says so and measures nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import attrs

from .overhead import TOKEN
from .page import tiny_body
from .report import CaseResult, Table
from .server import USER_PATH, api_server
from .tiny import RAW, TYPED, UNTYPED

__all__ = ["FULL", "QUICK", "Params", "run"]

EMPTY = "control"
# callgrind_control hands a dump's description to a shell: plain words only.
_LABELS = {RAW: "raw", UNTYPED: "untyped", TYPED: "typed"}
_DESC = re.compile(r"^desc: Trigger: dump (\w+)", re.M)
_SUMMARY = re.compile(r"^summary: (\d+)$", re.M)


@attrs.frozen
class Params:
    """Sizes of one run."""

    requests: int = 2000  # per stack and round (three rounds), counted
    concurrency: int = 100
    warmup: int = 300  # per stack, before counting


FULL = Params()
QUICK = Params(requests=200, concurrency=10, warmup=50)
ROUNDS = 3  # one per stack: each stack once in each position


def tools_missing() -> str | None:
    """Why the case cannot run here, or ``None``."""
    for tool in ("valgrind", "callgrind_control"):
        if shutil.which(tool) is None:
            return f"{tool} not found (Debian: apt-get install valgrind)"
    return None


def _control(*args: str) -> None:
    """Ask callgrind about this very process (vgdb reaches it while it waits here)."""
    subprocess.run(
        ["callgrind_control", *args, str(os.getpid())],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def _count(get: Any, requests: int, concurrency: int) -> None:
    per_loop, extra = divmod(requests, concurrency)

    async def loop(n: int) -> None:
        for _ in range(n):
            await get(USER_PATH)

    await asyncio.gather(*(loop(per_loop + (i < extra)) for i in range(concurrency)))


async def _phases(url: str, params: Params) -> None:
    """The child, under callgrind: warm up, then one zeroed-and-dumped phase per stack."""
    from . import tiny
    from .server import ApiServer

    stacks, closers = await tiny._stacks(ApiServer(url, 0))
    try:
        for get in stacks.values():
            await _count(get, params.warmup, min(params.concurrency, params.warmup))
        # Whichever phase a full collection of the import-time heap fell into would pay
        # millions of instructions for it: keep that heap out of the collector's reach.
        gc.collect()
        gc.freeze()
        _control("--instr=on")  # started without instrumentation: imports at 5x, not 50x
        _control("--zero")
        _control(f"--dump={EMPTY}")
        # Rounds in rotated order, each stack once in each position: where a phase falls
        # moves its count (the loop's timer heap and free lists carry over between phases).
        names = list(stacks)
        assert len(names) == ROUNDS
        for r in range(ROUNDS):
            for name in names[r:] + names[:r]:
                gc.collect()
                _control("--zero")
                await _count(stacks[name], params.requests, params.concurrency)
                _control(f"--dump={_LABELS[name]}-{r}")
    finally:
        for close in reversed(closers):
            await close()


def _read_dumps(folder: Path) -> dict[str, int]:
    """Instructions of the dumps in ``folder``, summed by label (``raw-0`` counts as ``raw``)."""
    counts: dict[str, int] = {}
    for path in folder.glob("callgrind.out*"):
        text = path.read_text(errors="replace")
        desc, summary = _DESC.search(text), _SUMMARY.search(text)
        if desc is not None and summary is not None:
            counts[desc.group(1)] = counts.get(desc.group(1), 0) + int(summary.group(1))
    return counts


def measure(params: Params) -> dict[str, Any]:
    """Run the client under callgrind against a native server; instructions per request."""
    with api_server(TOKEN, tiny_body(), b"[]") as server, tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        command = [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            f"--callgrind-out-file={folder}/callgrind.out",
            sys.executable,
            "-m",
            "benchmarks.instructions",
            "--child",
            server.api_url,
            str(params.requests),
            str(params.concurrency),
            str(params.warmup),
        ]
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        counts = _read_dumps(folder)
    missing = {EMPTY, *_LABELS.values()} - set(counts)
    if done.returncode != 0 or missing:
        raise RuntimeError(
            f"the callgrind run failed (exit {done.returncode}, dumps missing: {sorted(missing)}):"
            f"\n{done.stderr[-2000:]}"
        )
    control = counts[EMPTY]
    per_request = {
        name: (counts[label] - ROUNDS * control) / (ROUNDS * params.requests)
        for name, label in _LABELS.items()
    }
    return {"per_request": per_request, "control_calls": control, "dumps": counts}


def run(params: Params = FULL) -> CaseResult:
    """Count, or say why not."""
    started = time.perf_counter()
    title = "9. The tiny request in instructions (callgrind)"
    why = tools_missing()
    if why is not None:
        return CaseResult(
            name="instructions",
            title=title,
            tables=(),
            data={"skipped": why},
            notes=(f"not measured: {why}",),
            seconds=time.perf_counter() - started,
        )
    measured = measure(params)
    per = measured["per_request"]
    raw = per[RAW]
    rows = tuple(
        (
            name,
            f"{count:,.0f}",
            f"{raw / count:.3f}x",
            "" if name == RAW else f"{count - raw:+,.0f}",
        )
        for name, count in per.items()
    )
    return CaseResult(
        name="instructions",
        title=title,
        tables=(
            Table(
                f"Instructions per tiny authenticated GET ({ROUNDS * params.requests:,} counted "
                f"per stack, concurrency {params.concurrency}); ratio: raw aiohttp's count ÷ the "
                "stack's",
                ("stack", "instructions per request", "ratio", "vs raw aiohttp"),
                rows,
            ),
        ),
        data={"params": attrs.asdict(params), **measured},
        notes=(
            "client under valgrind --tool=callgrind, PYTHONHASHSEED=0; server native in its own "
            "process; each stack's phase zeroed and dumped with callgrind_control, the cost of "
            f"those two calls ({measured['control_calls']:,} instructions) taken off",
            "instructions, not time: repeatable to about ±0.3% (the event loop's polling "
            "depends on timing); case 8 gives the time",
        ),
        seconds=time.perf_counter() - started,
    )


def _child(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.instructions --child")
    parser.add_argument("url")
    parser.add_argument("requests", type=int)
    parser.add_argument("concurrency", type=int)
    parser.add_argument("warmup", type=int)
    args = parser.parse_args(argv)
    params = Params(requests=args.requests, concurrency=args.concurrency, warmup=args.warmup)
    asyncio.run(_phases(args.url, params))
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        raise SystemExit(_child(sys.argv[2:]))
    result = run(QUICK if "--quick" in sys.argv else FULL)
    for table in result.tables:
        print(table.markdown())
    print("\n".join(result.notes))
