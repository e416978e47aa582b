"""`ffn-async demo` with a small order count: nothing lost, nothing duplicated, no reuse."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from ffn_async import cli


async def test_demo_syncs_every_order_exactly_once(capsys: pytest.CaptureFixture[str]) -> None:
    code = await asyncio.to_thread(
        cli.main,
        ["demo", "--orders", "60", "--concurrency", "20", "--token-lifetime", "2", "--json"],
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    summary = orjson.loads(captured.out)
    assert summary["ok"] is True
    assert summary["created"] == summary["orders"] == 60
    assert summary["duplicates"] == 0
    assert summary["lost"] == 0
    assert summary["reuse_attempts"] == 0
    assert summary["token_refreshes"] >= 1
    assert summary["token_rotations_stored"] == summary["token_refreshes"]
    assert summary["shipped_seen"] == 60
    assert summary["status_changes"] == 60
    assert summary["requests"] >= 60
    assert summary["store"] == "sqlite+aiosqlite"
    # No progress bar and no log noise when stderr is not a terminal.
    assert "[#" not in captured.err
    assert "Traceback" not in captured.err


async def test_demo_recovers_lost_answers_without_duplicates() -> None:
    """Many lost answers: every order is still created exactly once (lookup before re-create)."""
    from ffn_async.demo import DemoOptions, run_demo

    summary = await run_demo(
        DemoOptions(
            orders=40,
            concurrency=10,
            rate_limit=0.1,
            unavailable=0.15,
            drop=0.1,
            drop_after=0.15,
            seed=3,
        )
    )
    assert summary.answers_lost_found > 0
    assert summary.answers_lost_recreated > 0
    assert summary.retries > 0
    assert (summary.duplicates, summary.lost, summary.reuse_attempts) == (0, 0, 0)
    assert summary.ok
