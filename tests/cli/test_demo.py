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
    # The refresh chain died mid-run: writes were kept, a re-login followed, all replayed.
    assert summary["chain_revoked"] is True
    assert summary["relogins"] == 1
    assert summary["outbox_kept"] >= 1
    assert summary["outbox_replayed"] == summary["outbox_kept"]
    assert summary["outbox_left"] == 0
    # The feed worker was SIGKILLed mid-batch; its successor missed nothing and repeated only
    # what the killed one had not committed.
    assert summary["feed_worker_kills"] == 1
    assert summary["feed_missed"] == 0
    assert summary["feed_delivered"] == summary["feed_final_versions"] == 60
    assert summary["feed_redelivered_otherwise"] == 0
    # No progress bar and no log noise when stderr is not a terminal.
    assert "[#" not in captured.err
    assert "Traceback" not in captured.err


async def test_demo_recovers_lost_answers_without_duplicates() -> None:
    """Many lost answers: every order is still created exactly once (safe creates)."""
    from ffn_async.cli.demo import DemoOptions, run_demo

    summary = await run_demo(
        DemoOptions(
            orders=40,
            concurrency=10,
            rate_limit=0.1,
            unavailable=0.15,
            drop=0.1,
            drop_after=0.15,
            seed=3,
            revoke_at=None,  # this test is about lost answers only
            kill_feed_worker=False,
        )
    )
    assert summary.answers_lost_found > 0
    assert summary.answers_lost_recreated > 0
    assert summary.retries > 0
    assert (summary.duplicates, summary.lost, summary.reuse_attempts) == (0, 0, 0)
    assert summary.ok


def test_any_loss_or_duplicate_fails_the_demo() -> None:
    import attrs

    from ffn_async.cli.demo import DemoSummary

    fields = {f.name: 0 for f in attrs.fields(DemoSummary)}
    fields |= {"orders": 5, "created": 5, "shipped_seen": 5, "faults": {}, "store": "x"}
    fields |= {"chain_revoked": True, "feed_final_versions": 5, "feed_delivered": 5}
    good = DemoSummary(**fields)
    assert good.ok
    for broken in (
        {"duplicates": 1},
        {"lost": 1},
        {"reuse_attempts": 1},
        {"outbox_left": 1},
        {"feed_missed": 1},
        {"feed_redelivered_otherwise": 1},
        {"shipped_seen": 4},
    ):
        assert not attrs.evolve(good, **broken).ok, broken
