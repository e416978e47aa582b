"""Direct tests of :mod:`ffn_async.retry`: which failures are retried, and how long to wait."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from email.utils import format_datetime

import attrs
import pytest

from ffn_async.retry import IDEMPOTENT_METHODS, NO_RETRY, RetryPolicy, parse_retry_after

NOW = 1_750_000_000.0


def test_idempotent_methods_follow_rfc_9110() -> None:
    assert {"GET", "HEAD", "OPTIONS", "PUT", "DELETE"} == IDEMPOTENT_METHODS
    policy = RetryPolicy()
    for method in ("get", "HEAD", "Options", "PUT", "delete"):
        assert policy.is_idempotent(method)
    for method in ("POST", "patch"):
        assert not policy.is_idempotent(method)
    assert policy.is_idempotent("POST", override=True)  # a caller who knows better wins
    assert not policy.is_idempotent("GET", override=False)


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_retried_statuses_only_for_idempotent_requests(status: int) -> None:
    policy = RetryPolicy()
    assert policy.retries_status(status, idempotent=True)
    assert not policy.retries_status(status, idempotent=False)  # a POST may have been applied


@pytest.mark.parametrize("status", [200, 400, 401, 404, 409, 423, 500, 501])
def test_other_statuses_are_never_retried(status: int) -> None:
    policy = RetryPolicy()
    assert not policy.retries_status(status, idempotent=True)
    assert not policy.retries_status(status, idempotent=False)


def test_custom_statuses_replace_the_default_list() -> None:
    policy = RetryPolicy(statuses=frozenset({500}))
    assert policy.retries_status(500, idempotent=True)
    assert not policy.retries_status(503, idempotent=True)


def test_transport_errors_retry_a_post_only_when_it_was_never_sent() -> None:
    policy = RetryPolicy()
    assert policy.retries_transport_error(sent=False, idempotent=False)
    assert not policy.retries_transport_error(sent=True, idempotent=False)
    assert policy.retries_transport_error(sent=True, idempotent=True)
    assert policy.retries_transport_error(sent=False, idempotent=True)


def test_backoff_doubles_up_to_the_cap_and_passes_the_ceiling_to_jitter() -> None:
    ceilings: list[float] = []

    def jitter(ceiling: float) -> float:
        ceilings.append(ceiling)
        return ceiling

    policy = RetryPolicy(max_attempts=10, base_delay=0.5, max_delay=3.0, jitter=jitter)
    started = time.monotonic()
    waits = [policy.delay(n, started=started) for n in range(1, 7)]
    assert waits == [0.5, 1.0, 2.0, 3.0, 3.0, 3.0]
    assert ceilings == waits


def test_default_jitter_stays_within_zero_and_the_ceiling() -> None:
    policy = RetryPolicy(max_attempts=100, base_delay=0.25, max_delay=8.0)
    started = time.monotonic()
    for attempt in range(1, 8):
        ceiling = min(8.0, 0.25 * 2 ** (attempt - 1))
        for _ in range(50):
            wait = policy.delay(attempt, started=started)
            assert wait is not None
            assert 0.0 <= wait <= ceiling


def test_attempts_are_bounded() -> None:
    policy = RetryPolicy(max_attempts=3, jitter=lambda c: c)
    started = time.monotonic()
    assert policy.delay(1, started=started) is not None
    assert policy.delay(2, started=started) is not None
    assert policy.delay(3, started=started) is None
    assert NO_RETRY.delay(1, started=started) is None


def test_elapsed_time_is_bounded() -> None:
    policy = RetryPolicy(max_elapsed=10.0, base_delay=4.0, max_delay=4.0, jitter=lambda c: c)
    assert policy.delay(1, started=time.monotonic()) == 4.0
    # 7 s gone: another 4 s wait would end past max_elapsed, so give up now.
    assert policy.delay(1, started=time.monotonic() - 7.0) is None


def test_retry_after_seconds_replace_the_backoff() -> None:
    policy = RetryPolicy(jitter=lambda c: 99.0)
    started = time.monotonic()
    assert policy.delay(1, headers={"Retry-After": "3"}, started=started) == 3.0
    assert policy.delay(1, headers={"Retry-After": "0"}, started=started) == 0.0


def test_a_retry_after_beyond_the_limit_gives_up_instead_of_sleeping() -> None:
    policy = RetryPolicy(max_retry_after=120.0, max_elapsed=1000.0)
    started = time.monotonic()
    assert policy.delay(1, headers={"Retry-After": "120"}, started=started) == 120.0
    assert policy.delay(1, headers={"Retry-After": "121"}, started=started) is None


def test_an_unreadable_retry_after_falls_back_to_the_backoff() -> None:
    policy = RetryPolicy(base_delay=0.5, jitter=lambda c: c)
    assert policy.delay(1, headers={"Retry-After": "soon"}, started=time.monotonic()) == 0.5


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("5", 5.0), (" 7 ", 7.0), ("2.5", 2.5), ("-3", 0.0), ("0", 0.0)],
)
def test_parse_retry_after_delta_seconds(value: str, seconds: float) -> None:
    assert parse_retry_after(value, now=NOW) == seconds


def test_parse_retry_after_http_date() -> None:
    later = format_datetime(datetime.fromtimestamp(NOW + 30, UTC), usegmt=True)
    assert parse_retry_after(later, now=NOW) == pytest.approx(30.0)
    earlier = format_datetime(datetime.fromtimestamp(NOW - 30, UTC), usegmt=True)
    assert parse_retry_after(earlier, now=NOW) == 0.0  # a date in the past: no wait
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=NOW) == 0.0


@pytest.mark.parametrize(
    "value", [None, "", "soon", "Wed, 21 Oct 2015 07:28:00", "Mon, 99 Foo 2015 07:28:00 GMT"]
)
def test_parse_retry_after_refuses_what_it_cannot_read(value: str | None) -> None:
    # A date without a zone is not an RFC 9110 date: guessing the zone could mean hours.
    assert parse_retry_after(value, now=NOW) is None


def test_a_policy_is_a_frozen_value() -> None:
    policy = RetryPolicy()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        policy.max_attempts = 9  # type: ignore[misc]
    assert attrs.evolve(policy, max_attempts=9).max_attempts == 9
    assert policy.max_attempts == 4
