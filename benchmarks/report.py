"""Result types every benchmark case returns, machine facts, and the markdown/JSON writers."""

from __future__ import annotations

import datetime as dt
import platform
import statistics
from collections.abc import Iterable, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import attrs
import orjson

__all__ = [
    "CaseResult",
    "Table",
    "load_average",
    "machine",
    "median",
    "render_markdown",
    "write_results",
]

_LIBRARIES = (
    "ffn-async",
    "aiohttp",
    "attrs",
    "cattrs",
    "orjson",
    "httpx",
    "authlib",
    "pydantic",
    "msgspec",
    "redis",
    "sqlalchemy",
    "asyncpg",
    "asyncmy",
    "aiosqlite",
)


@attrs.frozen
class Table:
    """One markdown table: a title, column headers and rows of already formatted cells."""

    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    def markdown(self) -> str:
        lines = [
            f"**{self.title}**",
            "",
            "| " + " | ".join(self.headers) + " |",
            "|" + "|".join("---" if i == 0 else "---:" for i in range(len(self.headers))) + "|",
        ]
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        return "\n".join(lines)


@attrs.frozen
class CaseResult:
    """What one case measured: tables for people, ``data`` (JSON-ready) for machines."""

    name: str
    title: str
    tables: tuple[Table, ...]
    data: dict[str, Any]
    notes: tuple[str, ...] = ()
    seconds: float = 0.0


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def machine() -> dict[str, Any]:
    """The facts a reader needs to compare numbers: CPU, cores, Python, library versions."""
    import os

    return {
        "cpu": _cpu_model(),
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "libraries": {name: _version(name) for name in _LIBRARIES},
    }


def _case_markdown(name: str, case: dict[str, Any]) -> str:
    parts = [f"## {case['title']}", ""]
    for table in case["tables"]:
        parts += [
            Table(
                table["title"], tuple(table["headers"]), tuple(map(tuple, table["rows"]))
            ).markdown(),
            "",
        ]
    parts += [f"- {note}" for note in case["notes"]]
    command = case.get("command", "")
    parts.append(f"\n_case `{name}`: {case['seconds']:.1f} s, run {case['when']} by `{command}`_")
    return "\n".join(parts)


def render_markdown(payload: dict[str, Any]) -> str:
    """The results page for a ``results.json`` payload."""
    info = payload["machine"]
    libs = ", ".join(f"{k} {v}" for k, v in info["libraries"].items())
    header = [
        "# ffn-async benchmark results",
        "",
        f"- when: {payload['when']}"
        + (" (quick run: small sizes, noisy)" if payload["quick"] else ""),
        f"- last command: `{payload['command']}` (each case says which run it comes from)",
        f"- machine: {info['nproc']} x {info['cpu']}, {info['platform']}",
        f"- load average before / after: {payload['load_before']} / {payload['load_after']}",
        f"- Python {info['python']} ({info['implementation']}), default asyncio event loop",
        f"- libraries: {libs}",
        "",
    ]
    cases = [_case_markdown(name, case) for name, case in payload["cases"].items()]
    return "\n".join(header) + "\n" + "\n\n".join(cases) + "\n"


def load_average() -> str:
    """The 1/5/15-minute load averages: other work on the machine skews every number."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def write_results(
    out: Path,
    results: Sequence[CaseResult],
    *,
    quick: bool,
    command: str,
    load_before: str,
    merge: bool,
    order: Sequence[str] = (),
) -> tuple[Path, Path]:
    """Write ``results.json`` and ``results.md`` into ``out``; return both paths.

    With ``merge``, cases already in ``out/results.json`` that were not run now are kept.
    Cases named in ``order`` come first, in that order.
    """
    out.mkdir(parents=True, exist_ok=True)
    md_path, json_path = out / "results.md", out / "results.json"
    when = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    cases: dict[str, Any] = {}
    if merge and json_path.is_file():
        cases = orjson.loads(json_path.read_bytes()).get("cases", {})
    for r in results:
        cases[r.name] = {
            "title": r.title,
            "when": when,
            "command": command,
            "seconds": round(r.seconds, 2),
            "tables": [attrs.asdict(t) for t in r.tables],
            "notes": list(r.notes),
            **r.data,
        }
    rank = {name: i for i, name in enumerate(order)}
    cases = dict(sorted(cases.items(), key=lambda item: rank.get(item[0], len(rank))))
    payload = {
        "when": when,
        "quick": quick,
        "command": command,
        "machine": machine(),
        "load_before": load_before,
        "load_after": load_average(),
        "cases": cases,
    }
    json_path.write_bytes(orjson.dumps(payload, option=orjson.OPT_INDENT_2) + b"\n")
    md_path.write_text(render_markdown(payload))
    return md_path, json_path
