"""The fake server's clock: real time plus an offset tests can move forward."""

from __future__ import annotations

import time
from datetime import UTC, datetime

__all__ = ["FakeClock"]


class FakeClock:
    """Wall-clock time that a test can push forward to expire tokens or age objects.

    Only the fake server reads it; clients keep using real time, so advancing it makes the
    server reject tokens the client still believes valid (the 401-then-refresh path).
    """

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        """Unix time in seconds as the server sees it."""
        return time.time() + self.offset

    def now_datetime(self) -> datetime:
        """:meth:`now` as an aware UTC datetime."""
        return datetime.fromtimestamp(self.now(), UTC)

    def advance(self, seconds: float) -> None:
        """Move the server's time forward (negative values move it back)."""
        self.offset += seconds
