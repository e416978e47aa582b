"""The residual-window benchmark runs at a tiny size with sane figures (no timing asserts)."""

from __future__ import annotations

import math

from benchmarks import fence_window


async def test_the_window_is_measured_once_per_rotation() -> None:
    fenced, marked = await fence_window.measure(3, keep_alive=True, busy=2)
    assert len(fenced) == len(marked) == 3
    assert all(math.isfinite(x) and x >= 0 for x in fenced + marked)
    # The mark is written before the fence, so its window holds the fence's.
    assert all(m >= f for f, m in zip(fenced, marked, strict=True))
