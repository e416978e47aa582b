"""Terminal output: a one-line progress bar on stderr and plain two-column tables."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable
from typing import TextIO

__all__ = ["Progress", "table"]


class Progress:
    """A redrawn ``[#####.....] 120/2000 label`` line on a terminal, silent elsewhere.

    Enabled when ``stream`` is a TTY, unless ``enabled`` forces it on or off. Redraws at most
    ten times a second so a fast loop does not spend its time printing.
    """

    def __init__(self, stream: TextIO | None = None, *, enabled: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self._drawn = 0.0
        self._width = 0

    def update(self, done: int, total: int, label: str = "", *, force: bool = False) -> None:
        """Redraw the bar with ``done`` of ``total`` and a trailing ``label``."""
        now = time.monotonic()
        if not self.enabled or (not force and now - self._drawn < 0.1):
            return
        self._drawn = now
        filled = 30 * done // total if total else 30
        line = f"[{'#' * filled}{'.' * (30 - filled)}] {done}/{total} {label}"
        self.stream.write("\r" + line.ljust(self._width))
        self._width = len(line)
        self.stream.flush()

    def close(self) -> None:
        """End the line so later output starts on a fresh one."""
        if self.enabled and self._width:
            self.stream.write("\n")
            self.stream.flush()
            self._width = 0


def table(rows: Iterable[tuple[str, str]], title: str | None = None) -> str:
    """Rows of ``(name, value)`` as an aligned two-column table."""
    rows = list(rows)
    left = max((len(name) for name, _ in rows), default=0)
    right = max((len(value) for _, value in rows), default=0)
    rule = f"+-{'-' * left}-+-{'-' * right}-+"
    lines = [rule]
    if title:
        lines += [f"| {title.ljust(left + right + 3)} |", rule]
    lines += [f"| {name.ljust(left)} | {value.rjust(right)} |" for name, value in rows]
    lines.append(rule)
    return "\n".join(lines)
