"""Benchmarks of ffn-async against raw aiohttp, httpx + Authlib, pydantic and msgspec.

Run ``python -m benchmarks`` (see ``benchmarks/README.md``). Each case is a module with
``Params``, ``FULL``/``QUICK`` sizes and ``run(params) -> CaseResult``.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from types import ModuleType

__all__ = ["CASES"]


def _case(module: str) -> Callable[[], ModuleType]:
    return lambda: import_module(f"{__name__}.{module}")


# Imported on demand: a case's heavy dependencies load only when it runs.
CASES: dict[str, Callable[[], ModuleType]] = {
    "overhead": _case("overhead"),
    "decoding": _case("decoding"),
    "storm": _case("storm"),
    "stores": _case("roundtrips"),
    "memory": _case("memory"),
    "fast_path": _case("fast_path"),
    "typed": _case("typed"),
    "tiny": _case("tiny"),
    "instructions": _case("instructions"),
    "accounts": _case("accounts"),
}
