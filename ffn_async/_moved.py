"""The import paths of 0.2.0 that 0.3.0 moved into packages, kept working for one release.

0.3.0 grouped the flat modules by what they hold (``ffn_async.outbox`` is now
:mod:`ffn_async.ordersync.outbox`; CHANGELOG, "Changed"). A finder on :data:`sys.meta_path`
answers for each old name with a module that forwards every attribute to the new one, so
``from ffn_async.outbox import Outbox`` still gives the very same class, and warns once with
the new path at the line that imported it. Monkeypatching through an old path does not reach
the new module: patch the new path.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types
import warnings
from collections.abc import Sequence
from typing import Any, Final

__all__ = ["MOVED", "install"]

MOVED: Final = {
    "ffn_async.checkpoint": "ffn_async.ordersync.checkpoint",
    "ffn_async.creates": "ffn_async.api.creates",
    "ffn_async.links": "ffn_async.http.links",
    "ffn_async.oauth": "ffn_async.auth.oauth",
    "ffn_async.odata": "ffn_async.api.odata",
    "ffn_async.outbox": "ffn_async.ordersync.outbox",
    "ffn_async.pagination": "ffn_async.api.pagination",
    "ffn_async.serialization": "ffn_async.codec.serialization",
    "ffn_async.tracing": "ffn_async.observe.tracing",
}
"""Old public module path → where it lives now (private ``_modules`` moved without an alias)."""


class _Forwarder(importlib.abc.Loader):
    def __init__(self, target: str) -> None:
        self.target = target

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        return None  # a plain new module: the moved one keeps its own __spec__

    def exec_module(self, module: types.ModuleType) -> None:
        # stacklevel 2 is the importing line: warnings skips the import system's own frames
        warnings.warn(
            f"{module.__name__} moved to {self.target} in ffn-async 0.3.0; "
            "the old path goes away in 0.4.0",
            DeprecationWarning,
            stacklevel=2,
        )
        target = importlib.import_module(self.target)

        def __getattr__(name: str) -> Any:
            return getattr(target, name)

        module.__getattr__ = __getattr__  # type: ignore[method-assign]
        module.__all__ = list(getattr(target, "__all__", ()))  # type: ignore[attr-defined]
        module.__doc__ = f"Moved to :mod:`{self.target}`."


class _MovedFinder(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        new = MOVED.get(fullname)
        return None if new is None else importlib.machinery.ModuleSpec(fullname, _Forwarder(new))


def install() -> None:
    """Answer for the old paths (idempotent: ``import ffn_async`` calls it once per process)."""
    if not any(isinstance(finder, _MovedFinder) for finder in sys.meta_path):
        sys.meta_path.append(_MovedFinder())
