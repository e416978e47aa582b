"""Case 4, store round trips: runs ``benchmarks/stores.py`` (the stores' own benchmark).

Lock + load + compare-and-set per store: p50/p99 with 1 key and with many keys, and with 1 to 8
processes at once. The measuring is all in :mod:`benchmarks.stores`; this module only picks the
sizes and turns its result into the shared report format.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import time
from typing import Any

import attrs

from .report import CaseResult, Table

__all__ = ["FULL", "QUICK", "Params", "run"]


@attrs.frozen
class Params:
    """Sizes handed to ``benchmarks.stores``."""

    ops: int = 300
    keys: int = 1000
    processes: tuple[int, ...] = (1, 2, 4, 8)
    stores: tuple[str, ...] = (
        "memory",
        "file",
        "redis",
        "postgres",
        "mysql",
        "sqlite",
        "encrypted-sqlite",
    )


FULL = Params()
QUICK = Params(ops=30, keys=50, processes=(4,))


def _cell(entry: dict[str, float] | None) -> str:
    return "n/a" if entry is None else f"{entry['p50_ms']:.2f} / {entry['p99_ms']:.2f}"


def run(params: Params = FULL) -> CaseResult:
    """Run the stores benchmark with ``params`` (if the stores' module is there)."""
    started = time.perf_counter()
    title = "4. Store round trips: lock + load + compare-and-set"
    try:
        from . import stores
    except ImportError as exc:
        return CaseResult(
            "stores", title, (), {"missing": str(exc)}, (f"benchmarks/stores.py missing: {exc}",)
        )
    args = argparse.Namespace(
        ops=params.ops,
        keys=params.keys,
        processes=list(params.processes),
        stores=list(params.stores),
    )
    with contextlib.redirect_stdout(io.StringIO()):  # it prints its own table too
        report: dict[str, Any] = asyncio.run(stores.amain(args))
    results = report["results"]
    many, last = f"keys_{params.keys}", f"procs_{params.processes[-1]}"
    rows = []
    for name, r in results.items():
        row = [name, _cell(r["keys_1"]), _cell(r.get(many))]
        row += [_cell(r.get(f"procs_{n}")) for n in params.processes]
        row.append("n/a" if last not in r else f"{r[last]['ops_per_s']:,.0f}")
        rows.append(tuple(row))
    headers: tuple[str, ...] = ("store", "1 key", f"{params.keys:,} keys")
    headers += tuple(f"{n} proc" + ("s" if n > 1 else "") for n in params.processes)
    headers += (f"round trips/s at {params.processes[-1]} procs",)
    notes = [
        f"{params.ops} round trips per cell; processes each work on their own keys "
        "(load on the store, no lock contention); memory is one process only",
    ]
    notes += [f"{name}: skipped ({why})" for name, why in report.get("skipped", {}).items()]
    return CaseResult(
        name="stores",
        title=title,
        tables=(Table("p50 / p99 in ms", headers, tuple(rows)),),
        data={
            "params": attrs.asdict(params),
            "results": results,
            "skipped": report.get("skipped", {}),
        },
        notes=tuple(notes),
        seconds=time.perf_counter() - started,
    )
